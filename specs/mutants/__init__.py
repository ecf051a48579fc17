"""The spec mutants: known bugs as small textual changes of a TLA+ spec (specs/mutants/raft.py,
specs/mutants/pbft.py), and TLC run on one of them. A protocol names its module in its descriptor's
`spec_mutants` (meshcheck/protocol.py).

Two users: tests/test_raft_spec.py and tests/test_pbft_spec.py check that every mutant breaks the
one property it must (the spec's invariants have teeth), and `meshcheck mutants PROTOCOL --all`
puts TLC on the mutated spec beside the implementation's checks, as the kill matrix's first column,
for every implementation mutant that has a spec mutant of the same bug (`for_bug`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class SpecKill:
    """TLC on a mutated spec: whether the property the mutant must break failed, and how."""

    killed: bool
    seconds: float
    steps: int | None  # the counterexample's steps (states - 1); None when TLC found none
    detail: str = ""  # what TLC said, when the mutant was not killed


def _module(protocol: str) -> Any | None:
    """The module of a registered protocol's spec mutants (its descriptor's `spec_mutants`)."""
    from meshcheck import registry

    return registry.get(protocol).load("spec_mutants")


def for_bug(protocol: str, bug: str) -> Any | None:
    """The spec mutant of the implementation mutant `bug`: the one whose `impl` names it (Raft),
    or of the same name (PBFT); None when the spec has none."""
    module = _module(protocol)
    if module is None:
        return None
    for mutant in module.MUTANTS:
        if getattr(mutant, "impl", None) == bug or mutant.name == bug:
            return mutant
    return None


def equivalent(protocol: str, bug: str) -> str | None:
    """Why an implementation mutant has no spec mutant TLC can kill, when the catalogue says so."""
    module = _module(protocol)
    reasons = getattr(module, "EQUIVALENT", {}) if module is not None else {}
    reason = reasons.get(bug)
    return str(reason) if reason is not None else None


def run_tlc(protocol: str, mutant: Any) -> SpecKill:
    """TLC on the spec with `mutant`'s changes, on its model, one worker (as the spec tests run
    it): killed when the property it must break fails."""
    from meshcheck.specs.tlc.check import Outcome
    from meshcheck.specs.tlc.check import Violation
    from meshcheck.specs.tlc.check import check

    module = _module(protocol)
    assert module is not None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"meshcheck-{protocol}-mutant-") as folder:
        cfg = module.mutate(Path(folder), mutant)
        spec = next(Path(folder).glob("*.tla"))
        result = check(spec, cfg, workers=1, deadlock=False)
    seconds = time.perf_counter() - start
    kind = getattr(mutant, "kind", "property" if mutant.liveness else "invariant")
    if result.outcome is Outcome.VIOLATED and result.violation == Violation(kind, mutant.catches):
        steps = len(result.trace) - 1 if result.trace is not None else None
        return SpecKill(True, seconds, steps)
    what = result.violation.name if result.violation is not None else result.message
    return SpecKill(False, seconds, None, f"{result.outcome.name.lower()}: {what}".strip(": "))

"""The regression corpus: every stored counterexample of the implementation, and its replay.

Two kinds of entry (traces/counterexamples/README.md says why each is kept):

- each mutant's shortest counterexample, a lockstep path of the spec, in traces/<corpus>/ (the
  folder a registered protocol's descriptor names as its `corpus`: raft, pbft, hybrid; its `stored`
  replays them; `meshcheck mutants PROTOCOL --save traces` writes them). The fixed implementation must follow it to the end;
  with its mutant (`#meta.bugs`) switched on, it must diverge.
- each bug found and fixed, in traces/counterexamples/<corpus>/: the run that showed it, with
  `#meta.fixed` saying what the bug was. A free run (`#meta.source` "impl") is re-run from its seed
  by the check that found it (`#meta.rerun`, property_tests/record.py); a lockstep path is
  followed as above. It must hold on today's implementation; when a mutant switch reproduces the
  bug (`#meta.bugs`), it must fail with it.

tests/test_corpus.py replays every entry both ways; `meshcheck verify` replays them on the
implementation (its "traces" rows) as well as on the spec.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.traces import itf
from meshcheck.traces.model import Trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "traces"
FIXED = TRACES / "counterexamples"


@attrs.frozen
class Entry:
    path: Path
    package: str  # the protocol whose stored-trace replayer (or record.py rerun) replays it
    bugs: frozenset[str]  # the mutants it must fail with (none for a bug without a switch)
    fixed: bool  # a bug found and fixed (traces/counterexamples/), not a mutant's
    name: str  # the path from the project root


def _folders() -> list[tuple[str, str]]:
    """(protocol, corpus folder) of the registered protocols with a corpus and a stored-trace
    replayer (their descriptors' `corpus` and `stored`), by protocol name."""
    from meshcheck import registry

    return [
        (name, p.corpus)
        for name, p in registry.protocols().items()
        if p.corpus is not None and p.stored is not None
    ]


def _bugs(trace: Trace) -> frozenset[str]:
    bugs = trace.meta.get("bugs", ())
    return frozenset(str(b) for b in bugs) if isinstance(bugs, tuple) else frozenset()


def _entry(root: Path, path: Path, package: str, *, fixed: bool) -> Entry:
    name = str(path.relative_to(root))
    return Entry(path, package, _bugs(itf.read(path)), fixed, name)


def entries(root: Path = ROOT) -> list[Entry]:
    """Every corpus trace, mutants' first (by package, then name), then the fixed bugs'."""
    found = []
    folders = _folders()
    for protocol, folder in folders:
        for path in sorted((root / "traces" / folder).glob("*.itf.json")):
            found.append(_entry(root, path, protocol, fixed=False))
    for protocol, folder in folders:
        for path in sorted((root / "traces" / "counterexamples" / folder).glob("*.itf.json")):
            found.append(_entry(root, path, protocol, fixed=True))
    return found


@attrs.frozen
class Replayed:
    holds: bool
    steps: int  # the steps followed (a re-run: the stored run's length when it holds)
    problem: str = ""


def replay(entry: Entry, bugs: frozenset[str]) -> Replayed:
    """Replay an entry on the implementation with `bugs` switched on (a free run: re-run from
    its seed, with the mutants it ran with and `bugs`)."""
    from meshcheck.property_tests import record

    trace = itf.read(entry.path)
    where = str(entry.path)
    if trace.meta.get("source") == "impl":
        from meshcheck.impl.base.errors import TraceFormatError

        meta = trace.meta.get("rerun")
        if meta is None:
            raise TraceFormatError(where, "#meta.rerun", "missing: a free run needs it to re-run")
        spec = record.Rerun.from_meta(meta, where)
        spec = attrs.evolve(spec, bugs=tuple(sorted({*spec.bugs, *bugs})))
        failed = record.rerun(spec)
        if failed is None:
            return Replayed(True, len(trace.steps) - 1)
        return Replayed(False, failed.steps, failed.message)
    from meshcheck import registry

    stored = registry.get(entry.package).load("stored")
    try:
        return Replayed(True, stored.replay_on_impl(trace, bugs, where=where))
    except CheckFailed as failed:
        return Replayed(False, failed.steps, failed.message)

"""The regression corpus: every stored counterexample of the implementation, and its replay.

Two kinds of entry (traces/counterexamples/README.md says why each is kept):

- each mutant's shortest counterexample, a lockstep path of the spec, in traces/<corpus>/ (the
  folder a registered protocol's harness names: raft, pbft, hybrid; `Harness.replay_on_impl`
  replays them; `meshcheck mutants PROTOCOL --save traces` writes them). The fixed implementation must follow it to the end;
  with its mutant (`#meta.bugs`) switched on, it must diverge.
- each bug found and fixed, in traces/counterexamples/<corpus>/: the run that showed it, with
  `#meta.fixed` saying what the bug was. A free run (`#meta.source` "impl") is re-run from its seed
  by the check that found it (`#meta.rerun`, property_tests/record.py); a lockstep path is
  followed as above. It must hold on today's implementation; when a mutant switch reproduces the
  bug (`#meta.bugs`), it must fail with it.

A third kind, for an implementation meshcheck did not write (impl/adapters/): each discrepancy
found in it and not fixed here, in traces/<corpus>/findings/ (`findings`): the free run that shows
it, which must still fail on the implementation as released (a finding that no longer reproduces
has been fixed upstream, or the adapter changed: renew or retire it).

tests/test_corpus.py replays every entry both ways; `meshcheck verify` replays them on the
implementation (its "traces" rows) as well as on the spec.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from meshcheck.impl.base.trace import Trace
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.traces import itf

if TYPE_CHECKING:
    from meshcheck.property_tests.harness import Harness

# meshcheck's own bugs found and fixed, and their index (README.md), wherever it is installed
FIXED = Path(str(files("meshcheck.traces").joinpath("counterexamples")))


@attrs.frozen
class Entry:
    path: Path
    package: str  # the protocol whose harness (or record.py's rerun) replays it
    bugs: frozenset[str]  # the mutants it must fail with (none for a bug without a switch)
    fixed: bool  # a bug found and fixed (traces/counterexamples/), not a mutant's
    name: str  # the path in the repository: traces/raft/x.itf.json


def _harnesses(protocols: Iterable[str] | None) -> list[tuple[str, Harness]]:
    """(protocol, harness) of the registered protocols with a harness (all, or those named), by
    protocol name."""
    from meshcheck import registry

    chosen = registry.names() if protocols is None else tuple(protocols)
    found = [(name, registry.get(name).load("harness")) for name in chosen]
    return [(name, harness) for name, harness in found if harness is not None]


def _bugs(trace: Trace) -> frozenset[str]:
    bugs = trace.meta.get("bugs", ())
    return frozenset(str(b) for b in bugs) if isinstance(bugs, tuple) else frozenset()


def _entry(harness: Harness, path: Path, protocol: str, *, fixed: bool) -> Entry:
    # the path in the repository: the traces package's folder (meshcheck.traces: traces/)
    folder = harness.traces.removeprefix("meshcheck.").replace(".", "/")
    inner = ("counterexamples",) if fixed else ()
    name = "/".join((folder, *inner, harness.protocol, path.name))
    return Entry(path, protocol, _bugs(itf.read(path)), fixed, name)


def entries(protocols: Iterable[str] | None = None) -> list[Entry]:
    """Every corpus trace of the registered protocols (or of those named), read through their
    harnesses (importlib.resources: an installed copy has them too): mutants' first (by protocol,
    then name), then the fixed bugs'."""
    harnesses = _harnesses(protocols)
    found = [
        _entry(harness, path, protocol, fixed=False)
        for protocol, harness in harnesses
        for path in harness.corpus()
    ]
    found += [
        _entry(harness, path, protocol, fixed=True)
        for protocol, harness in harnesses
        for path in harness.fixed()
    ]
    return found


def findings(protocols: Iterable[str] | None = None) -> list[Entry]:
    """The discrepancies found in third-party implementations (traces/<corpus>/findings/), by
    protocol, then name."""
    from meshcheck.property_tests.harness import resource

    found: list[Entry] = []
    for protocol, harness in _harnesses(protocols):
        folder = resource(harness.traces, harness.protocol, "findings")
        for path in sorted(folder.glob("*.itf.json")) if folder.is_dir() else ():
            base = harness.traces.removeprefix("meshcheck.").replace(".", "/")
            name = f"{base}/{harness.protocol}/findings/{path.name}"
            found.append(Entry(path, protocol, frozenset(), False, name))
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

    harness: Harness = registry.get(entry.package).load("harness")
    try:
        return Replayed(True, harness.replay_on_impl(trace, bugs, where=where))
    except CheckFailed as failed:
        return Replayed(False, failed.steps, failed.message)

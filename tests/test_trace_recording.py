"""Recorded traces are the traces the recorder that kept every abstract state wrote
(tests/trace_reference.py), for seeded runs of every protocol's simulator under faults: the
recorder keeps deltas and builds states when asked (impl/sim/recorder.py), and a plug-in with
`abstract_state_since` maps only the nodes that stepped (impl/raft/refinement.py).

Equal values of different Python types (True and 1) would be written differently in ITF, so the
states are compared by value and type at every level (`_same`), and the ITF text of a prefix of
each trace is compared too (writing a whole trace of hundreds of steps takes the ITF writer
seconds per protocol).
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from bench.bench_trace import PROTOCOLS
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.sim import cluster
from meshcheck.impl.sim import recorder
from meshcheck.traces import itf
from tests.trace_reference import ReferenceRecorder

SEEDS = (1, 2)
SCALE = 0.15  # of the benchmark's runs: a few hundred steps each
PREFIX = 30  # the steps of each trace whose ITF text is compared


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same type at every level (so written the same in ITF)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, FrozenDict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, frozenset):
        return {(type(x), x) for x in a} == {(type(y), y) for y in b}
    return bool(a == b)


def _agree(new: Trace, old: Trace) -> None:
    """Fails naming the first step that differs. Never `assert new == old` on whole traces: on a
    failure pytest diffs their reprs, and where it does not truncate that diff (with CI set in
    the environment) difflib runs for hours on traces of hundreds of steps."""
    head = (new.vars, new.loop, new.meta, len(new.steps))
    assert head == (old.vars, old.loop, old.meta, len(old.steps)), "vars, loop, meta or length"
    for k, (x, y) in enumerate(zip(new.steps, old.steps, strict=True)):
        same = x == y and _same(x.state, y.state) and _same(x.meta, y.meta)
        assert same, f"step {k} differs"
    assert itf.dumps(attrs.evolve(new, steps=new.steps[:PREFIX])) == itf.dumps(
        attrs.evolve(old, steps=old.steps[:PREFIX])
    )


def _recorded(protocol: str, seed: int, *, reference: bool, mp: pytest.MonkeyPatch) -> Any:
    with mp.context() as m:
        if reference:
            m.setattr(cluster, "TraceRecorder", ReferenceRecorder)
        sim, go = PROTOCOLS[protocol](seed, True, SCALE)
    if reference:
        sim._since = None  # the full mapping after every action, as before
    go()
    return sim


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_trace_recording_matches_reference(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed in SEEDS:
        new = _recorded(protocol, seed, reference=False, mp=monkeypatch)
        old = _recorded(protocol, seed, reference=True, mp=monkeypatch)
        assert isinstance(old.recorder, ReferenceRecorder)
        assert isinstance(new.recorder, recorder.TraceRecorder)
        trace, expected = new.trace(), old.trace()
        assert len(trace.steps) > 20, f"{protocol} seed {seed}: too short a run to compare"
        _agree(trace, expected)
        # asked again after more steps, the trace builds on what it built (and still agrees)
        new.run(until=new.now + 200)
        old.run(until=old.now + 200)
        _agree(new.trace(), old.trace())


def test_trace_recording_comparison_catches_a_lost_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above fails on a recorder that loses a change: here one whose trace keeps,
    at every 10th step, the value the step before had of the first variable the step changed."""
    trace = recorder.TraceRecorder.trace

    def lossy(self: recorder.TraceRecorder, *args: Any) -> Trace:
        built = trace(self, *args)
        steps = list(built.steps)
        for k in range(10, len(steps), 10):
            before, state = steps[k - 1].state, steps[k].state
            first = next(v for v in state if state[v] != before[v])
            steps[k] = attrs.evolve(steps[k], state=FrozenDict({**state, first: before[first]}))
        return attrs.evolve(built, steps=tuple(steps))

    monkeypatch.setattr(recorder.TraceRecorder, "trace", lossy)
    new = _recorded("raft", 1, reference=False, mp=monkeypatch)
    old = _recorded("raft", 1, reference=True, mp=monkeypatch)
    with pytest.raises(AssertionError):
        _agree(new.trace(), old.trace())
    prefix = attrs.evolve(new.trace(), steps=new.trace().steps[:PREFIX])
    assert itf.dumps(prefix) != itf.dumps(attrs.evolve(prefix, steps=old.trace().steps[:PREFIX]))


def test_delta_encoding_round_trips() -> None:
    """What a delta keeps of a changed variable (`recorder._encode`) rebuilds the new value
    (`recorder._decode`) of the same type at every level: a grown tuple, a function with
    arguments changed, added and removed, an argument whose value is equal but of another type."""
    log = tuple(FrozenDict({"term": 1, "value": k}) for k in range(10))
    cases = [
        (log, (*log, FrozenDict({"term": 2, "value": 10}))),  # appended: kept as what it gained
        (log, log[:5]),  # truncated: kept whole
        (
            FrozenDict({f"s{k}": log for k in range(5)}),
            FrozenDict({f"s{k}": log[: 5 + k] for k in range(5)}),
        ),
        (
            FrozenDict({**{f"m{k}": 1 for k in range(10)}, "x": 1}),
            FrozenDict({**{f"m{k}": 1 for k in range(1, 10)}, "x": True, "y": 2}),
        ),
        (FrozenDict({"s1": log, "s2": log}), FrozenDict({"s1": (*log, log[0]), "s2": log})),
        (frozenset(range(300)), frozenset(range(301))),  # a long set grown: what it gained
        (frozenset(range(300)), frozenset(range(1, 301))),  # not only grown: kept whole
    ]
    coded = 0
    for old, new in cases:
        kept = recorder._encode(old, new)
        coded += kept is not new
        built = recorder._decode(old, kept) if isinstance(kept, recorder._CODED) else kept
        assert _same(built, new)
    assert coded >= 3  # the cases do exercise the coded forms


def test_trace_recording_comparison_catches_a_bad_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild of a grown tuple that loses what it gained is caught by the comparison."""
    monkeypatch.setattr(recorder, "_decode", lambda before, coded: before)
    new = _recorded("raft", 1, reference=False, mp=monkeypatch)
    old = _recorded("raft", 1, reference=True, mp=monkeypatch)
    with pytest.raises(AssertionError):
        _agree(new.trace(), old.trace())


def test_gossip_trace_follows_partitions_and_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gossip mapping keeps `cut`, `alive` and `crashed` until what they read changes: a run
    partitioned, cut one way, healed, with a member crashed and back, records the reference's
    trace (the seeded runs above may draw no partition)."""
    sims = [_recorded("gossip", 3, reference=ref, mp=monkeypatch) for ref in (False, True)]
    for sim in sims:
        ids = sim.node_ids
        sim.run(until=sim.now + 500)
        sim.partition([ids[:2], ids[2:]])
        sim.run(until=sim.now + 800)
        sim.heal()
        sim.cut(ids[0], ids[1])
        sim.crash(ids[3])
        sim.run(until=sim.now + 800)
        sim.heal()
        sim.partition([ids[:1], ids[1:]])
        sim.recover(ids[3])
        sim.run(until=sim.now + 800)
    new, old = (sim.trace() for sim in sims)
    cuts = {step.state["cut"] for step in old.steps}
    crashed = {step.state["crashed"] for step in old.steps}
    assert len(cuts) >= 3 and len(crashed) >= 2, "the run should partition and crash"
    _agree(new, old)

"""The linearizability search (traces/history/checker.py `_search`) against the search it replaced:
the same verdict on every part of real Raft free-run histories (correct runs, runs with a mutant
switched on, the same runs with one read made stale, their prefixes), of the stored histories
(traces/histories/), and of random histories under Hypothesis; every linearization it returns is
one (real-time order, the model accepts it, every completed operation in it); and it visits far
fewer configurations on a five-node Raft history whose writes overlap for many ticks.

`reference_search` is the search as it stood before operations alike to the model were tried once
per configuration, earliest invoked first (Wing and Gong's search with Lowe's cache, every minimal
operation a child, the latest invoked tried first)."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Hashable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.histories import to_ops
from meshcheck.property_tests.raft import free_runs as raft
from meshcheck.traces.history import jepsen
from meshcheck.traces.history import stored
from meshcheck.traces.history.checker import _Budget
from meshcheck.traces.history.checker import _search
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import numbered
from meshcheck.traces.history.history import prefix
from meshcheck.traces.history.models import MODELS
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.models import Rsm
from tests.test_linearizability import custom_histories
from tests.test_linearizability import histories

ROOT = Path(__file__).resolve().parents[1]
RSM = MODELS["rsm"]
UNLIMITED = _Budget(math.inf)


def reference_search(history: Sequence[Op], model: Model, counter: list[int]) -> list[Op] | None:
    """The search before: every minimal operation is a child of a configuration."""
    ops = model.prune(
        [o for o in history if o.status != "fail" and not (o.pending and model.read_only(o))]
    )
    n = len(ops)
    if n == 0:
        return []
    by_call = sorted(range(n), key=lambda i: ops[i].call)
    by_ret = sorted(range(n), key=lambda i: ops[i].ret)
    calls = [ops[i].call for i in by_call]
    full = (1 << n) - 1
    init = model.init()
    seen: set[tuple[int, Hashable]] = {(0, init)}
    stack: list[tuple[int, Hashable, int, int, Any]] = [(0, init, 0, 0, None)]
    while stack:
        mask, state, lo_call, lo_ret, path = stack.pop()
        if mask == full:
            out: list[Op] = []
            node = path
            while node is not None:
                i, node = node
                out.append(ops[i])
            return out[::-1]
        counter[0] += 1
        while (mask >> by_ret[lo_ret]) & 1:
            lo_ret += 1
        while (mask >> by_call[lo_call]) & 1:
            lo_call += 1
        end = bisect.bisect_right(calls, ops[by_ret[lo_ret]].ret)
        for pos in range(lo_call, end):
            i = by_call[pos]
            if (mask >> i) & 1:
                continue
            bit = mask | (1 << i)
            for nxt in model.step(state, ops[i]):
                if (bit, nxt) not in seen:
                    seen.add((bit, nxt))
                    stack.append((bit, nxt, lo_call, lo_ret, (i, path)))
    return None


def is_linearization(order: Sequence[Op], part: Sequence[Op], model: Model) -> bool:
    """`order` is a linearization of `part`: its operations are operations of the part that did
    not fail (by index; the model's prune may have rewritten an unobserved value), every completed
    one among them, in an order that respects real time and the model accepts."""
    indexes = [o.index for o in order]
    live = {o.index for o in part if o.status != "fail"}
    done = {o.index for o in part if o.status == "ok"}
    if len(set(indexes)) != len(indexes) or not done <= set(indexes) <= live:
        return False
    if any(b.ret < a.call for k, a in enumerate(order) for b in order[k + 1 :]):
        return False
    states = {model.init()}
    for o in order:
        states = {after for s in states for after in model.step(s, o)}
    return bool(states)


def same_answers(history: Sequence[Op], model: Model) -> list[bool]:
    """Each part's verdict (True: linearizable), after asserting that both searches agree on it
    and that the new search's linearization is one."""
    verdicts = []
    for _, part in model.partition(numbered(history)):
        found = _search(part, model, UNLIMITED, [0])
        before = reference_search(part, model, [0])
        assert (found is None) == (before is None), part
        if found is not None:
            assert is_linearization(found, part, model), found
        verdicts.append(found is not None)
    return verdicts


def run_history(schedule: Schedule, nodes: int, bugs: frozenset[str] = frozenset()) -> list[Op]:
    """A Raft free run's client history, less the reads of the applied count (which the
    client-history check decides apart, property_tests/histories.py)."""
    sim = raft.cluster(schedule, nodes, bugs)
    raft.run(sim, schedule, schedule.ticks)
    assert sim.history is not None
    return [o for o in to_ops(sim.history.history()) if not (o.f == "read" and o.input == "")]


def made_stale(ops: list[Op], rng: random.Random) -> list[Op]:
    """The history with one ok read of a key answering the value of a write invoked after the
    read returned (the free runs' values are unique: no linearization has it)."""
    reads = [o for o in ops if o.f == "read" and isinstance(o.output, FrozenDict)]
    rng.shuffle(reads)
    for r in reads:
        later = [
            o.input["value"]
            for o in ops
            if o.f == "write" and isinstance(o.input, FrozenDict) and o.call > r.ret
        ]
        if later:
            stale = FrozenDict({"ok": True, "value": rng.choice(later)})
            return [attrs.evolve(o, output=stale) if o is r else o for o in ops]
    raise AssertionError("no read to make stale")


# five-node runs whose slow commits (one entry per append, a fifth of messages lost) keep a dozen
# writes running at once: the shape of the property tests' costliest histories
OVERLAPPING = dict(
    ticks=2500, drop=0.2, every=10, reads=0.2, snapshot_interval=5, max_entries=1,
    down=(200, 2000), timeout=(150, 300),
)  # fmt: skip
CHAOS = dict(
    ticks=3000, drop=0.1, duplicate=0.05, delay=0.2, crash=0.3, partition=0.3, reads=0.3,
    every=10, snapshot_interval=3, down=(1, 100),
)  # fmt: skip
RUNS = [
    (Schedule(seed=1, **CHAOS), 3, frozenset[str]()),
    (Schedule(seed=2, **CHAOS), 5, frozenset[str]()),
    (Schedule(seed=3, **CHAOS), 3, frozenset({"read_without_quorum"})),
    (Schedule(seed=5, **{**OVERLAPPING, "crash": 0.1, "max_entries": 2}), 5,
     frozenset({"read_without_quorum"})),
    (Schedule(seed=4, **{**CHAOS, "max_entries": 1}), 5, frozenset({"install_stale_snapshot"})),
]  # fmt: skip


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"seed{r[0].seed}-{r[1]}nodes")
def test_free_run_histories_get_the_same_verdicts(
    run: tuple[Schedule, int, frozenset[str]],
) -> None:
    schedule, nodes, bugs = run
    ops = run_history(schedule, nodes, bugs)
    rng = random.Random(schedule.seed)
    verdicts = same_answers(ops, RSM)
    verdicts += same_answers(made_stale(ops, rng), RSM)
    for _ in range(3):
        verdicts += same_answers(prefix(ops, rng.choice([o.call for o in ops])), RSM)
    assert False in verdicts and True in verdicts  # both answers are compared, not one


@pytest.mark.parametrize("entry", stored.entries(stored.folder(ROOT)), ids=lambda e: e.path.name)
def test_stored_histories_get_the_same_verdicts(entry: stored.Stored) -> None:
    model = MODELS[entry.model]
    history = jepsen.read(entry.path, model)
    verdicts = same_answers(history, model)
    assert all(verdicts) == (entry.expect == "linearizable")


@settings(max_examples=300, deadline=None)
@given(histories(with_cas=True), st.integers(1, 3))
def test_random_cas_histories_get_the_same_verdicts(h: list[Op], copies: int) -> None:
    # copies of the history one after another: more operations than the brute force can take,
    # and many alike ones (a value written twice, reads of one value)
    span = max(o.call for o in h) + 10
    longer = [
        attrs.evolve(o, call=o.call + k * span, ret=o.ret + k * span)
        for k in range(copies)
        for o in h
    ]
    same_answers(longer, CasRegister())


@settings(max_examples=300, deadline=None)
@given(custom_histories())
def test_random_rsm_histories_get_the_same_verdicts(h: list[Op]) -> None:
    same_answers(h, RSM)


class Coarse(Rsm):
    """A model that says every write is alike (as if a write's answer did not matter)."""

    def alike(self, op: Op) -> Hashable:
        return op.f if op.f == "write" else super().alike(op)


def test_the_comparison_catches_a_model_that_lumps_unlike_operations() -> None:
    # the property above is not vacuous: trying one of two writes that answer differently as if
    # they were alike loses the linearization that needs the other first
    create = FrozenDict({"op": "Custom", "key": "k", "value": 1})
    again = FrozenDict({"op": "Custom", "key": "k", "value": 2})
    h = [
        Op("a", "write", again, FrozenDict({"ok": True, "key": "k", "existed": True}), 0, 5),
        Op("b", "write", create, FrozenDict({"ok": True, "key": "k", "existed": False}), 1, 6),
    ]
    assert same_answers(h, RSM) == [True]
    with pytest.raises(AssertionError):
        same_answers(h, Coarse())


def test_alike_operations_cut_the_configurations_of_an_overlapping_run() -> None:
    ops = run_history(Schedule(seed=576330, **OVERLAPPING), 5)
    assert len(ops) > 200
    before, after = [0], [0]
    for _, part in RSM.partition(ops):
        assert reference_search(part, RSM, before) is not None
        assert _search(part, RSM, UNLIMITED, after) is not None
    # measured: 236,769 configurations before, 3,626 after
    assert after[0] * 20 < before[0], (before, after)


@pytest.mark.parametrize(("model", "write", "read"), [
    (CasRegister(), "1", "{}"),
    (MODELS["kv"], '["x", 1]', '["x", {}]'),
])  # fmt: skip
def test_a_read_of_no_value_after_a_completed_write_is_not_linearizable(
    model: Model, write: str, read: str
) -> None:
    """An `ok` read that answers no value saw the register (the key) absent: after a completed
    write, that is a lost write. The models took such a read as observing nothing (Knossos's
    convention), so a write lost with its whole key (an etcd member that came back empty after a
    power failure, docs/findings.md) could not show; a read of no value before any write holds."""
    from meshcheck.traces.history import checker

    def history(value: str, first: bool = False) -> list[Op]:
        w = [
            f'{{"process": 0, "type": "{t}", "f": "write", "value": {write}}}'
            for t in ("invoke", "ok")
        ]
        r = [
            f'{{"process": 1, "type": "invoke", "f": "read", "value": {read.format("null")}}}',
            f'{{"process": 1, "type": "ok", "f": "read", "value": {read.format(value)}}}',
        ]
        return jepsen.parse(r + w if first else w + r, model)

    assert checker.check(history("null"), model, 10).verdict == "not linearizable"
    assert checker.check(history("1"), model, 10).verdict == "linearizable"
    assert checker.check(history("null", first=True), model, 10).verdict == "linearizable"

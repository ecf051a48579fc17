"""How fast the linearizability checker (traces/history/checker.py) decides client histories.

Workload: histories generated deterministically (seeded) from a linearizable run: P processes
against one atomic object; each operation is invoked, takes effect at a later event and completes
at a later one still, the processes' events interleaved at random, so up to P operations overlap.
Operations as Jepsen's cas-register workloads: read, write and cas of values 0..4 (a small domain:
many configurations of the search share a state), 1 in 200 left pending (info: the client never
learnt the outcome). Times are event numbers, as in a history file.

Rows:
- single key (cas-register), 1,000 and 10,000 operations, 5 processes; baseline: stepping the
  model once through the linearization the checker found (the least work any checker does);
- per key (kv), 1,000 operations on 10 keys and 10,000 on 100 keys, 10 processes; baseline: the
  same history checked as one object whose state is the whole map (no P-compositionality);
- not linearizable: a 10,000-operation single-key history with one read made stale, the check
  plus the smallest window (traces/history/window.py); baseline: the check of the linearizable
  original. Without info operations the stale read sits at op 5,000; with them (0.5%) at op 1,000:
  to prove that no linearization exists the search must try every subset of the pending
  operations that may have taken effect, so its cost grows with how many are pending at once
  (at op 2,000 it takes about 110 s on this machine).

- a five-node Raft free run's client history (property_tests/raft/free_runs.py, the schedule
  RAFT_SCHEDULE: a fifth of messages lost, one entry per append, a write every 10 ticks, so a
  dozen writes run at once; 239 operations, three keys), checked against the rsm model as the
  free runs' client-history check does (property_tests/histories.py): seconds, and the search's
  configurations; baseline: the same search with every operation unlike every other (`Unlike`:
  every minimal operation a child of a configuration, as the search was before `Model.alike`),
  one run (about 13 s).

The kv baseline without the split gives up after UNSPLIT_BUDGET seconds: its ratio is then a
lower bound.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Hashable
from collections.abc import Sequence

import attrs

from bench.common import Row
from bench.interleaving import Interleaving
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.histories import to_ops
from meshcheck.property_tests.raft import free_runs as raft
from meshcheck.traces.history import checker
from meshcheck.traces.history import window
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.history.models import Rsm

GROUP = "History"
BUDGET = 120.0  # seconds per check; past it the row says unknown
UNSPLIT_BUDGET = 10.0  # the baseline without the split gives up sooner: a lower bound then
CAS = CasRegister()
KV = KeyValue()


def generate(n: int, processes: int, keys: int, seed: int, pending: float = 0.005) -> list[Op]:
    """A linearizable history of n operations (see the module's docstring)."""
    rng = random.Random(seed)
    state: dict[Hashable, Hashable] = {}
    # process -> (f, key, input, output, call, applied)
    clients: Interleaving[tuple[str, int | None, Hashable, Hashable, int, bool]]
    clients = Interleaving(n, processes, rng)
    running = clients.running
    ops: list[Op] = []
    for p, starting in clients.turns():
        now = clients.now
        if starting:
            key = rng.randrange(keys) if keys > 1 else None
            f = rng.choice(("read", "write", "cas", "cas"))
            inp: Hashable = None
            if f == "write":
                inp = rng.randrange(5)
            elif f == "cas":
                inp = (rng.randrange(5), rng.randrange(5))
            running[p] = (f, key, inp, None, now, False)
            continue
        f, key, inp, out, call, applied = running[p]
        if not applied:  # the linearization point
            value = state.get(key)
            if f == "read":
                out = value
            elif f == "write":
                state[key] = inp
            else:
                assert isinstance(inp, tuple)
                out = value == inp[0]
                if out:
                    state[key] = inp[1]
            running[p] = (f, key, inp, out, call, True)
            continue
        del running[p]
        if rng.random() < pending:  # the client never learns the outcome
            ops.append(Op(p, f, inp, None, call, math.inf, "info", key))
            clients.renew(p)
        elif f == "cas" and not out:
            ops.append(Op(p, f, inp, None, call, now, "fail", key))
        else:
            ops.append(Op(p, f, inp, out if f == "read" else None, call, now, "ok", key))
    ops.sort(key=lambda o: o.call)
    return [attrs.evolve(o, index=i) for i, o in enumerate(ops)]


def make_stale(ops: Sequence[Op], start: int) -> list[Op]:
    """The history with one read past the middle answering a value written earlier but overwritten
    before the read began: after the last write completed before the read, nothing (no write, no
    cas that may have taken effect) wrote that value again before the read returned."""
    out = list(ops)
    for i in range(start, len(ops)):
        r = ops[i]
        if r.f != "read" or r.status != "ok":
            continue
        last = max(
            (w for w in ops if w.f == "write" and w.status == "ok" and w.ret < r.call),
            key=lambda w: w.ret,
            default=None,
        )
        if last is None:
            continue
        since = [
            o
            for o in ops
            if o.status != "fail" and o.f != "read" and o.call < r.ret and o.ret > last.call
        ]
        fresh = {o.input if o.f == "write" else o.input[1] for o in since}  # type: ignore[index]
        earlier = [
            w.input for w in ops if w.f == "write" and w.status == "ok" and w.ret < last.call
        ]
        stale = [v for v in earlier if v not in fresh]
        if stale:
            out[i] = attrs.evolve(r, output=stale[-1])
            return out
    raise AssertionError("no read to make stale")


class WholeMap(KeyValue):
    """kv checked as one object: the state is the whole map (sorted pairs), no split by key."""

    name = "kv-unsplit"

    def init(self) -> Hashable:
        return ()

    def step(self, state: Hashable, op: Op) -> tuple[Hashable, ...]:
        assert isinstance(state, tuple)
        current = dict(state)
        out = []
        for value in CasRegister.step(self, current.get(op.key), op):
            current[op.key] = value
            out.append(tuple(sorted(current.items(), key=repr)))
        return tuple(out)

    def partition(self, ops: Sequence[Op]) -> list[tuple[Hashable, list[Op]]]:
        return [(None, list(ops))]


def _check(
    ops: Sequence[Op], model: KeyValue | CasRegister, budget: float = BUDGET
) -> tuple[float, checker.Result]:
    start = time.perf_counter()
    result = checker.check(ops, model, budget)
    return time.perf_counter() - start, result


def _replay(order: Sequence[Op], model: CasRegister) -> float:
    start = time.perf_counter()
    states = {model.init()}
    for o in order:
        states = {s2 for s in states for s2 in model.step(s, o)}
    assert states
    return time.perf_counter() - start


def _median(
    runs: int, ops: Sequence[Op], model: KeyValue | CasRegister, budget: float = BUDGET
) -> tuple[float, str]:
    times, verdicts = [], set()
    for _ in range(runs):
        t, result = _check(ops, model, budget)
        times.append(t)
        verdicts.add(result.verdict)
    return statistics.median(times), "/".join(sorted(verdicts))


def bench(runs: int) -> list[Row]:
    rows: list[Row] = []
    single = {n: generate(n, 5, 1, seed=n) for n in (1_000, 10_000)}
    for n, ops in single.items():
        t, verdict = _median(runs, ops, CAS)
        _, result = _check(ops, CAS)
        base = statistics.median(_replay(result.linearization, CAS) for _ in range(runs))
        rows.append(
            Row(
                GROUP,
                f"cas-register, {n:,} ops, 5 processes: check ({verdict})",
                t,
                "s",
                runs,
                baseline="model replay of its linearization",
                ratio=base / t,
            )
        )
    for n, keys, unsplit_runs in ((1_000, 10, runs), (10_000, 100, 1)):
        ops = generate(n, 10, keys, seed=n + keys)
        t, verdict = _median(runs, ops, KV)
        base, base_verdict = _median(unsplit_runs, ops, WholeMap(), UNSPLIT_BUDGET)
        at_least = ">=" if base_verdict != "linearizable" else ""
        rows.append(
            Row(
                GROUP,
                f"kv, {n:,} ops on {keys} keys, 10 processes: check ({verdict})",
                t,
                "s",
                runs,
                baseline=f"one object, no split: {base_verdict} in {base:.2f} s",
                ratio=base / t,
                note=at_least,
            )
        )
    clean = generate(10_000, 5, 1, seed=10_000, pending=0.0)
    rows.append(_stale_row(runs, clean, 5_000, "no info ops, stale read at op 5,000"))
    rows.append(_stale_row(runs, single[10_000], 1_000, "0.5% info ops, stale read at op 1,000"))
    rows.extend(_raft_rows(runs))
    return rows


RAFT_SCHEDULE = Schedule(
    seed=5, ticks=2500, drop=0.2, every=10, reads=0.2, snapshot_interval=5, max_entries=1,
    down=(200, 2000), timeout=(150, 300),
)  # fmt: skip
RAFT_BUDGET = 20_000_000  # configurations: far above what either search needs


class Unlike(Rsm):
    """The rsm model with no two operations alike: the search tries every minimal operation."""

    def alike(self, op: Op) -> Hashable:
        return (super().alike(op), op.index)


def raft_history() -> list[Op]:
    """RAFT_SCHEDULE's client history on five nodes, as the client-history check reads it."""
    sim = raft.cluster(RAFT_SCHEDULE, 5, frozenset())
    raft.run(sim, RAFT_SCHEDULE, RAFT_SCHEDULE.ticks)
    assert sim.history is not None
    return [o for o in to_ops(sim.history.history()) if not (o.f == "read" and o.input == "")]


def _raft_rows(runs: int) -> list[Row]:
    ops = raft_history()

    def checked(model: Rsm) -> tuple[float, checker.Result]:
        start = time.perf_counter()
        result = checker.check(ops, model, math.inf, configurations=RAFT_BUDGET)
        return time.perf_counter() - start, result

    results = [checked(Rsm()) for _ in range(runs)]
    t = statistics.median(r[0] for r in results)
    result = results[0][1]
    base_t, base = checked(Unlike())
    what = f"rsm, five-node Raft free run, {len(ops)} ops"
    baseline = f"every minimal op a child: {base.verdict}, {base.configurations:,} configurations"
    return [
        Row(
            GROUP,
            f"{what}: check ({result.verdict})",
            t,
            "s",
            runs,
            baseline=f"{baseline} in {base_t:.2f} s",
            ratio=base_t / t,
        ),
        Row(
            GROUP,
            f"{what}: configurations searched",
            result.configurations,
            "configurations",
            1,
            baseline=baseline,
            ratio=base.configurations / result.configurations,
        ),
    ]


def _stale_row(runs: int, original: list[Op], at: int, what: str) -> Row:
    stale = make_stale(original, at)
    times, found_sizes, verdicts = [], set(), set()
    for _ in range(runs):
        start = time.perf_counter()
        result = checker.check(stale, CAS, BUDGET)
        verdicts.add(result.verdict)
        if result.verdict == "not linearizable":
            found = window.smallest(window.part_of(result, stale, CAS), CAS, BUDGET)
            found_sizes.add(f"{len(found.ops)}{'' if found.minimal else ' (not minimal)'}")
        times.append(time.perf_counter() - start)
    base, _ = _median(runs, original, CAS)
    t = statistics.median(times)
    answer = "/".join(sorted(verdicts))
    if found_sizes:
        answer += ", window of " + "/".join(sorted(found_sizes)) + " ops"
    return Row(
        GROUP,
        f"cas-register, 10,000 ops, {what}: check + smallest window ({answer})",
        t,
        "s",
        runs,
        baseline="check of the linearizable original",
        ratio=base / t,
    )

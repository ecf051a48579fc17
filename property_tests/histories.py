"""The client-history checks every free run (and lockstep run with clients) ends with.

The simulator keeps a run's client history (impl/sim/history.py) and what every node applied with,
after each step that applied something, its state machine's applied count and state digest
(impl/sim/checker.py, the `AppliedState` hook of impl/base/node.py). Five checks read them; each
failure names its check:

- `linearizable`: the history is linearizable against the case store's sequential model (the "rsm"
  model of traces/history/models.py); a verdict of unknown within the budget is a failure too,
  reported as such, never a pass.
- `applied at most once`: no client operation takes effect twice at a node. An operation that is
  an impl/rsm op is identified by its value (the free runs' writes are unique) and must not be at
  two indexes of one node's applied entries, unless the protocol re-proposes requests and skips
  the copies (PBFT: `dedup=True`); in every case the node's state machine must have applied
  exactly as many entries as there are distinct operations (each no-op or opaque value counts
  once per index) up to the index it reached: a copy applied again shows as one too many.
- `no answer withdrawn`: an operation answered `fail` (it took no effect and never will) is
  applied nowhere; an operation answered `ok` is applied on the nodes that applied its index
  (State Machine Safety gives the one value per index), and no answer was contradicted by a later
  one (`HistoryRecorder.anomalies`).
- `applied index monotone`: within one incarnation of a node, the indexes it applies strictly
  increase and its state machine's applied count never goes down (a state installed from an
  older snapshot or checkpoint is a step back). After a restart a node rebuilds its machine from
  what it persisted and may apply again the entries after its snapshot: incarnations are checked
  one by one, and a restarted node's state at each index is held to the others' by the next check.
- `same state at same index`: honest nodes that applied up to the same index hold equal state
  digests there (the digest covers the state machine's whole state, the applied count included).

A failing check leaves the run's history behind (`last_failure`): under pytest,
property_tests/record.py writes it to reports/failures/ as JSON lines, the shape `meshcheck
history check FILE --model rsm` reads, and the failure ends with that command.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck import coverage
from meshcheck.impl.pbft.messages import NOOP as PBFT_NOOP
from meshcheck.impl.rsm import NOOP
from meshcheck.impl.sim import ClientOp
from meshcheck.impl.sim import Simulator
from meshcheck.traces.history.checker import check as check_linearizable
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import MODELS

CHECKS = (
    "linearizable",
    "applied at most once",
    "no answer withdrawn",
    "applied index monotone",
    "same state at same index",
)
# The linearizability search's budget for one run's history, in the search's configurations
# (traces/history/checker.py), not seconds, so the verdict does not depend on how loaded the
# machine is: a `make verify` on every core once ran out of a 30 s budget on a five-node Raft
# history (239 operations, linearizable) that took 8 s alone, 1.1 million configurations, before
# the search tried operations alike to the model once per configuration; it now takes 10,000
# configurations (0.04 s), and the costliest of a few hundred free runs' histories (five nodes,
# with and without a stale read) under 150,000. "unknown" fails the run, so the budget stays far
# above what such histories cost: 7 million configurations, about 30 s on a quiet core (the search
# visits about 235,000 a second on these histories, measured in CPU time; 140,000 before, when
# the step was not shared between alike operations), with a wall-clock guard only against a
# search that stops counting.
BUDGET = 7_000_000
LOCKSTEP_BUDGET = 240_000  # a lockstep path's history: a handful of operations (about 1 s)
GUARD_SECONDS = 600.0
COUNTER_READS = "linearizable: not linearizable (object the applied count):"


@attrs.frozen
class Failed:
    """A client-history check that failed: its message, and the history it read (as the
    linearizability checker's operations: the ones `meshcheck history check` re-checks)."""

    problem: str
    ops: tuple[Op, ...]


_last: list[Failed] = []


def last_failure() -> Failed | None:
    """The last client-history check that failed in this process (since `forget`), or None."""
    return _last[-1] if _last else None


def forget() -> None:
    """Forget the last failure (a test starts)."""
    _last.clear()


def to_ops(history: Iterable[ClientOp]) -> list[Op]:
    """The simulator's client history as the checker's operations."""
    out: list[Op] = []
    for o in history:
        if o.status == "info" or o.ret is None:
            out.append(
                Op(o.process, o.kind, o.value, None, o.call, math.inf, "info", None, len(out))
            )
        else:
            output = o.result if o.status == "ok" else None
            out.append(
                Op(o.process, o.kind, o.value, output, o.call, o.ret, o.status, None, len(out))
            )
    return out


def _is_op(value: Any) -> bool:
    return isinstance(value, Mapping) and "op" in value


def _rsm_op(value: Any) -> Hashable | None:
    return value if _is_op(value) else None


def ops_of(value: Any) -> tuple[Any, ...]:
    """The client operations an applied entry holds: a Raft entry's value is one; a PBFT batch's is
    its requests' names (one name, or a tuple of them; PBFT's "noop" for an empty batch)."""
    if value in (NOOP, PBFT_NOOP):
        return ()
    if isinstance(value, tuple):
        return value
    return (value,)


def check_history(
    sim: Simulator[Any],
    *,
    honest: Collection[str] | None = None,
    dedup: bool = False,
    identity: Callable[[Any], Hashable] | None = None,
    budget: int = BUDGET,
    entry_ops: Callable[[Any], tuple[Any, ...]] = ops_of,
    once: Callable[[Any], Hashable | None] | None = None,
    op_key: Callable[[ClientOp], Hashable] | None = None,
    linearize: Callable[[Simulator[Any]], str | None] | None = None,
) -> str | None:
    """The first client-history check that fails on this run, as "check name: what", else None.

    `honest`: the nodes whose states are compared (default: all). `dedup`: the protocol may apply
    a request's copy as nothing (PBFT). `identity`: how an applied operation names the client
    operation (default: its value). For a protocol whose applied entries name the client's
    proposal rather than carry its value (the hybrid layer's): `entry_ops`, the proposals an
    applied value holds (default `ops_of`); `op_key`, the proposal a history operation is (default:
    `identity` of its value); `once`, the client operation an applied value is, which a node
    applies at most once (default: the value, when it is an impl/rsm op). `linearize`: the
    `linearizable` check (default: against the rsm model, on impl/rsm's answers; a plug-in's
    answers are its implementation's own, property_tests/plugin.py's `own_answers`)."""
    if sim.history is not None:  # counted for the coverage report's "client histories" row
        coverage.tally(str(sim.plugin.name), "histories")
        coverage.tally(str(sim.plugin.name), "history operations", len(sim.history.history()))
    nodes = list(honest) if honest is not None else list(sim.node_ids)
    name = identity or (lambda v: v)
    key_of = op_key or (lambda o: name(o.value))
    first: dict[int, Any] = {}  # index -> the value honest nodes applied there
    for node in nodes:
        for index, value in sim.applied_by_index[node].items():
            first.setdefault(index, value)
    problem = (
        (linearize(sim) if linearize is not None else _linearizable(sim, budget))
        or _at_most_once(sim, first, nodes, dedup, once or _rsm_op)
        or _not_withdrawn(sim, first, key_of, entry_ops)
        or _monotone(sim, nodes)
        or _same_state(sim, nodes)
    )
    if problem is not None:
        _last[:] = [Failed(problem, _checked_ops(sim, problem))]
    return problem


def _checked_ops(sim: Simulator[Any], problem: str) -> tuple[Op, ...]:
    """The operations the linearizability check reads: the reads of the applied count when they
    are what failed, else the rest (`_linearizable` checks the two apart)."""
    assert sim.history is not None
    ops = to_ops(sim.history.history())
    counter = problem.startswith(COUNTER_READS)
    return tuple(o for o in ops if (o.f == "read" and o.input == "") == counter)


def _linearizable(sim: Simulator[Any], budget: int) -> str | None:
    assert sim.history is not None, "the run kept no client history (SimConfig.history)"
    ops = to_ops(sim.history.history())
    counter = [o for o in ops if o.f == "read" and o.input == "" and o.status == "ok"]
    problem = _counter_reads(counter)
    if problem is not None:
        return problem
    rest = [o for o in ops if not (o.f == "read" and o.input == "")]
    result = check_linearizable(rest, MODELS["rsm"], GUARD_SECONDS, configurations=budget)
    if result.verdict == "linearizable":
        return None
    if result.verdict == "unknown":
        return (
            f"linearizable: unknown within {budget:,} configurations of the search "
            f"({result.seconds:.1f} s; {result.ops} operations; the first "
            f"{result.prefix_ops} are linearizable)"
        )
    window = "; ".join(
        f"{o.process}#{o.index} {o.f} {o.input!r} -> {o.status} {o.output!r}"
        for o in result.window[-6:]
    )
    return f"linearizable: not linearizable (object {result.partition!r}): ... {window}"


def _counter_reads(reads: Sequence[Op]) -> str | None:
    """The reads of "" (the applied count, a counter that never goes down; see the rsm model):
    they have a linearization exactly when no read completed before another was invoked and
    returned more (order them by value, ties by invocation: that order extends real time). The
    model's general search finds the same, exponentially slower on many concurrent reads."""
    done = sorted(reads, key=lambda o: o.ret)
    best: Op | None = None
    k = 0
    for o in sorted(reads, key=lambda o: o.call):
        while k < len(done) and done[k].ret < o.call:
            if best is None or _count(done[k]) > _count(best):
                best = done[k]
            k += 1
        if best is not None and _count(best) > _count(o):
            return (
                f"{COUNTER_READS} a read of '' returned {_count(best)} (op {best.index}) before op {o.index} was invoked, "
                f"which returned {_count(o)}"
            )
    return None


def _count(o: Op) -> int:
    value = o.output.get("value") if isinstance(o.output, Mapping) else None
    return value if isinstance(value, int) else -1


def _expected_counts(first: Mapping[int, Any], dedup: bool) -> dict[int, int]:
    """Index -> how many entries a state machine has applied after that index: one per index
    whose entry is not a client operation, one per distinct client operation."""
    counts: dict[int, int] = {}
    seen: set[Any] = set()
    total = 0
    for index in sorted(first):
        value = first[index]
        items = ops_of(value) if dedup else (value,)
        for item in items:
            if dedup or _is_op(item):
                if item not in seen:
                    seen.add(item)
                    total += 1
            else:
                total += 1
        counts[index] = total
    return counts


def _at_most_once(
    sim: Simulator[Any],
    first: Mapping[int, Any],
    nodes: Sequence[str],
    dedup: bool,
    once: Callable[[Any], Hashable | None],
) -> str | None:
    if sim.divergences:
        return None  # State Machine Safety already fails: the free run reports that
    if not dedup:
        for node in nodes:
            where: dict[Any, int] = {}
            for index, value in sim.applied_by_index[node].items():
                op = once(value)
                if op is not None:
                    earlier = where.setdefault(op, index)
                    if earlier != index:
                        return (
                            f"applied at most once: {node} applied {value!r} at index {earlier} "
                            f"and at index {index}"
                        )
    expected = _expected_counts(first, dedup)
    for node in nodes:
        for entry in sim.applied[node]:
            if entry.state is None:
                continue
            count, _ = entry.state
            if count != expected[entry.index]:
                return (
                    f"applied at most once: {node}'s state machine applied {count} entries by "
                    f"index {entry.index} (t={entry.time}), the log up to there holds "
                    f"{expected[entry.index]} distinct ones"
                )
    return None


def _not_withdrawn(
    sim: Simulator[Any],
    first: Mapping[int, Any],
    key_of: Callable[[ClientOp], Hashable],
    entry_ops: Callable[[Any], tuple[Any, ...]],
) -> str | None:
    assert sim.history is not None
    if sim.history.anomalies:
        a = sim.history.anomalies[0]
        return f"no answer withdrawn: {a.process} request {a.request_id}: {a.what} (t={a.time})"
    applied: dict[Hashable, int] = {}
    for index, value in sorted(first.items()):
        for item in entry_ops(value):
            applied.setdefault(item, index)
    writes = [o for o in sim.history.history() if o.kind == "write"]
    # a value written twice (a lockstep model's v1, v2): which of the two was applied is not
    # known, so a failed one of them is not held against the other's commit
    twice = {k for k, n in Counter(key_of(o) for o in writes).items() if n > 1}
    for o in writes:
        key = key_of(o)
        if o.status == "fail" and key in applied and key not in twice:
            return (
                f"no answer withdrawn: {o.process} request {o.request_id} ({o.value!r}) was "
                f"answered {o.error!r} at t={o.ret_time}, and applied at index {applied[key]}"
            )
        if o.status == "ok" and key not in applied:
            return (
                f"no answer withdrawn: {o.process} request {o.request_id} ({o.value!r}) was "
                f"answered ok at t={o.ret_time}, and no node applied it"
            )
    return None


def _monotone(sim: Simulator[Any], nodes: Sequence[str]) -> str | None:
    for node in nodes:
        last: tuple[int, int, int] | None = None  # (incarnation, index, count)
        for entry in sim.applied[node]:
            count = entry.state[0] if entry.state is not None else -1
            if last is not None and last[0] == entry.incarnation:
                if entry.index <= last[1]:
                    return (
                        f"applied index monotone: {node} applied index {entry.index} at "
                        f"t={entry.time} after index {last[1]}, in one incarnation"
                    )
                if 0 <= count < last[2]:
                    return (
                        f"applied index monotone: {node}'s state machine went back from "
                        f"{last[2]} applied entries to {count} (index {entry.index}, t={entry.time})"
                    )
            prev = last[2] if last is not None and last[0] == entry.incarnation else -1
            last = (entry.incarnation, entry.index, max(count, prev))
    return None


def _same_state(sim: Simulator[Any], nodes: Sequence[str]) -> str | None:
    first: dict[int, tuple[str, bytes]] = {}
    for node in nodes:
        for entry in sim.applied[node]:
            if entry.state is None:
                continue
            digest = entry.state[1]
            other = first.setdefault(entry.index, (node, digest))
            if other[1] != digest:
                return (
                    f"same state at same index: {node} and {other[0]} applied up to index "
                    f"{entry.index} and hold different states (t={entry.time})"
                )
    return None

"""Hand-driven runs of PySyncObj that show one finding in the fewest steps.

`stale_append`: PySyncObj's follower truncates its log after an AppendEntries' prevLogIndex
whenever it holds more, conflict or not (`SyncObj.__onMessageReceived`), so a late copy of an
AppendEntries the follower already took deletes entries it has acknowledged. Three nodes, leader
L and followers A and B, every other message dropped:

1. L appends v1 at index k and sends A AppendEntries(prev k-1, [k]): the network keeps a copy;
2. L appends v2 at k+1 and sends A AppendEntries(prev k, [k+1]); A takes both, acknowledges k+1;
3. L counts A: k+1 is committed (L and A of three), L applies it and answers the client ok;
4. a late copy of the first AppendEntries reaches A (handed to A as the network would deliver a
   duplicate: `Simulator.duplicate` puts a copy in flight at once, this one must wait): A deletes k+1 (PySyncObj logs "truncating
   already-applied log entries" when A had applied it);
5. L crashes; A and B elect A (its log is the longer), whose log lacks the committed k+1:
   LeaderCompleteness (Raft paper, section 5.4), and A's no-op at k+1 then diverges from v2.
"""

from __future__ import annotations

from typing import Any

from meshcheck.impl.adapters.pysyncobj import pysyncobj_cluster
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import to_value
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import divergence
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.pysyncobj.bugs import injected
from meshcheck.property_tests.pysyncobj.free_runs import RAFT_ACTIONS
from meshcheck.property_tests.pysyncobj.free_runs import violated


def _leader(sim: Simulator[Any]) -> str | None:
    leaders = [i for i, n in sim.nodes.items() if n.state()["role"] == "Leader" and sim.up[i]]
    return leaders[0] if len(leaders) == 1 else None


def _appends_to(sim: Simulator[Any], dest: str, index: int) -> list[int]:
    """The AppendEntries in flight to `dest` whose last entry is at PySyncObj index `index`."""
    return [
        e.id
        for e in sim.in_flight()
        if e.dest == dest
        and e.message.body.get("type") == "append_entries"
        and e.message.body.get("entries")
        and e.message.body["entries"][-1][1] == index
    ]


def _sent(sim: Simulator[Any], dest: str, index: int) -> int:
    """Run until the leader has sent `dest` the entry at `index` (nothing else is delivered to
    `dest` meanwhile: every message is dropped as it comes due, as a partition would)."""
    for _ in range(200):
        found = _appends_to(sim, dest, index)
        if found:
            return found[-1]
        for e in sim.in_flight():
            if e.deliver_at <= sim.now + 1:
                sim.drop(e.id)
        sim.run(until=sim.now + 1)
    raise AssertionError(f"the leader never sent {dest} entry {index}")


def run_stale_append(seed: int = 1, bugs: frozenset[str] = frozenset()) -> Simulator[Any]:
    """The scenario above on a fresh cluster of three (the seed picks the first leader)."""
    with injected(bugs):
        sim = pysyncobj_cluster(3, seed=seed, actions=RAFT_ACTIONS)
        sim.run(until=1000, stop=lambda s: _leader(s) is not None)
        sim.run(until=sim.now + 200)  # the followers take the leader's no-op
        leader = _leader(sim)
        assert leader is not None, "no leader within a second"
        a = sorted(i for i in sim.node_ids if i != leader)[0]
        for e in sim.in_flight():
            sim.drop(e.id)
        k = len(sim.nodes[leader].state()["log"]) + 2  # PySyncObj's index of the next entry
        sim.inject(leader, ClientRequest(to_value(Custom("k1", 1)), 1))
        first = _sent(sim, a, k)
        copy = next(e.message for e in sim.in_flight() if e.id == first)
        sim.deliver(first)
        sim.inject(leader, ClientRequest(to_value(Custom("k2", 2)), 2))
        second = _sent(sim, a, k + 1)
        sim.deliver(second)
        for e in sim.in_flight():  # A's acknowledgements reach the leader
            if e.dest == leader and e.source == a:
                sim.deliver(e.id)
        sim.fire(leader, "tick")  # commits v2 with A, applies it, answers the client
        # the network delivers a second copy of the first AppendEntries, late: A truncates v2
        sim.inject(a, Deliver(leader, copy))
        for e in sim.in_flight():
            sim.drop(e.id)
        sim.crash(leader)
        sim.run(until=sim.now + 1500)
    return sim


def check_stale_append(schedule: Schedule, nodes: int, bugs: frozenset[str]) -> None:
    """The scenario as a check (its `schedule` gives the seed; `nodes` is 3): CheckFailed at the
    first step that breaks an invariant."""
    sim = run_stale_append(schedule.seed, bugs)
    trace = sim.trace()
    for k in range(1, len(trace.steps)):
        names = violated(trace.steps[k].state, trace.steps[k - 1].state)
        if names:
            raise failure(f"violates {', '.join(names)}", schedule, trace, k)
    diverged = divergence(sim)
    if diverged is not None:
        raise failure(
            diverged,
            schedule,
            trace,
        )

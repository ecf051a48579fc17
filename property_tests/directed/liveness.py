"""CommitLiveness: the promise a directed scenario's run is watched for while it waits.

Raft section 5.3 and 5.4.2: once an entry of the leader's own term is stored on a majority, the
leader commits it, and every entry before it. So a leader of term T that holds an entry of term T
on a majority of nodes that are up and connected to it both ways, while no message rule of the
scenario is in force (the set-ups that hold messages back, or drop them, on purpose), must raise
its commitIndex to that entry within a few heartbeats. A leader whose commit loop stops at an
older term's entry (one it may not commit by counting replicas, Figure 8) keeps its commitIndex
below its own entry for good: every wait of the scenario then runs out, and without this watch
the run ends as a set-up that was never reached, an overloaded cluster, or a write never
answered, none of which names what broke.

The watch samples the cluster every `EVERY` ticks of a wait (`Script._go`). The situation counts
as stalled from the first sample that shows it until one that does not (another leader, its
commitIndex moved, a node down or cut off, a rule in force); stalled for the target's bound
(`Bounds.stall`: twice its longest election timeout, 600 ticks for the reference
core) is the property broken, and so is a run cut short by the target's storm bound once stalled
for a third of that (a stall younger than that is an answer still on its way). Without an entry
of its own term on a majority, a leader commits nothing, rightly (an implementation whose new
leader appends no no-op waits for a client write): nothing stalls.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.directed.target import LEADER
from meshcheck.property_tests.directed.target import REFERENCE
from meshcheck.property_tests.directed.target import Bounds
from meshcheck.property_tests.directed.target import NodeView

# Ticks between two samples, and how long a stall may last: the target's (`Bounds.stall`, twice
# its longest election timeout: 600 ticks for the reference core). A correct cluster commits an
# entry stored on a majority at the next answer to an AppendEntries, within a heartbeat or two (50
# ticks each for the reference core); the longest any passing scenario of the Raft-shaped
# protocols stalled is measured by tests/test_scenarios_cmd.py, well under this.
EVERY = 10
BOUND = Bounds.of(REFERENCE).stall  # the reference core's
# A run cut short by the target's storm bound is reported as CommitLiveness when a stall had
# lasted this share of the bound by then (the storm, then, what the stuck leader's cluster did
# meanwhile)
STORM_SHARE = 3
PROPERTY = "CommitLiveness"


@attrs.frozen
class Stall:
    """A leader with an entry of its term on a majority and its commitIndex below it."""

    leader: str
    term: int
    last: int  # the leader's last index
    index: int  # the highest entry of its term stored on a majority
    commit: int
    holders: tuple[str, ...]
    since: int  # the tick of the first sample that showed it
    events: int  # the node events the simulator had taken then

    def key(self) -> tuple[str, int, int]:
        return (self.leader, self.term, self.commit)

    def describe(self, now: int, events: int) -> str:
        return (
            f"{PROPERTY}: leader {self.leader} of term {self.term} holds entries up to "
            f"{self.last}, its entry of term {self.term} at {self.index} stored on "
            f"{', '.join(self.holders)} (a majority, up and connected to it); commitIndex "
            f"{self.commit} for {now - self.since} ticks ({events - self.events} node events) "
            f"after t={self.since} (Raft sections 5.3 and 5.4.2: an entry of the leader's term "
            "on a majority is committed, and every entry before it)"
        )


def stalled(
    sim: Simulator[Any],
    ids: Sequence[str],
    view: Callable[[str], NodeView],
    leader: str | None,
) -> Stall | None:
    """The stall the cluster shows now, if any (`since`: now)."""
    if leader is None or not sim.up[leader]:
        return None
    mine = view(leader)
    if mine.role != LEADER:
        return None
    reach = sim.network.reachable
    peers = [i for i in ids if i == leader or (sim.up[i] and reach(leader, i) and reach(i, leader))]
    views = {i: view(i) for i in peers}
    quorum = len(ids) // 2 + 1
    for index in range(len(mine.log), mine.commit, -1):
        entry = mine.log[index - 1]
        if entry[0] != mine.term:
            break  # entries before are of older terms: committed only through one of this term
        holders = tuple(i for i in peers if views[i].has(index, entry))
        if len(holders) >= quorum:
            return Stall(
                leader, mine.term, len(mine.log), index, mine.commit, holders, sim.now, sim.events
            )
    return None


class CommitWatch:
    """The stall in progress across the samples of a scenario's waits."""

    def __init__(self, bound: int = BOUND) -> None:
        self.bound = bound  # how long a stall may last (the target's `Bounds.stall`)
        self.storm_stall = bound // STORM_SHARE  # the part of it a storm may cut short
        self.stall: Stall | None = None
        self._sampled = -EVERY

    def sample(self, found: Callable[[], Stall | None], now: int, force: bool = False) -> None:
        """Take a sample (at most one every EVERY ticks, unless `force`)."""
        if not force and now - self._sampled < EVERY:
            return
        self._sampled = now
        current = found()
        if current is None:
            self.stall = None
        elif self.stall is None or self.stall.key() != current.key():
            self.stall = current
        else:  # the same stall: keep when it began, with what it now holds
            self.stall = attrs.evolve(current, since=self.stall.since, events=self.stall.events)

    def broken(self, now: int, bound: int | None = None) -> bool:
        """Whether a stall has lasted `bound` ticks (default: the watch's bound) by `now`."""
        limit = self.bound if bound is None else bound
        return self.stall is not None and now - self.stall.since >= limit

    def reset(self) -> None:
        self.stall = None

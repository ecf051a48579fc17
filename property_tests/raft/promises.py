"""Raft.tla's liveness promises, kept by any Raft once the faults of a run end, read off the spec's
variables alone (what an adapter's `state()` gives), so that a plug-in gets them by default.

Raft promises progress only while a majority is up and connected with message delays well below
the election timeout (the Raft paper, section 5.6). A run's faults end at a chaos round
(`Faults.until`: every partition healed, every node up), its client keeps writing, and from then
on, each within its bound (property_tests/raft/targets.py, at the run's configured timing):

1. EventuallyLeader: exactly one node leads in the highest term any node has;
2. LeaderCommitsStoredEntries: that leader commits an entry of its own term. An entry of its term
   stored on a quorum (read from the logs: a node stores index n when its entry there has the
   leader's term at n, which by LogMatching is the leader's entry) that it has not committed
   when the bound runs out breaks the promise (section 5.3; section 5.4.2's rule never makes it
   stop at an entry of an earlier term below one of its own); none of its term on a quorum at
   all breaks EventuallyAllCommitted: it did not replicate what its client sent it;
3. EventuallyAllCommitted: every node's commitIndex reaches what the leader had committed.

A leader of a Raft without a no-op entry of its own may hold entries of earlier terms it cannot
commit until an entry of its term is stored on a quorum; the client writing after the faults end
gives it one. Each failure names its promise first, then the numbers: who leads, in which term,
what it holds and has committed, and for how long after the network healed.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from meshcheck.impl.base.values import Value
from meshcheck.property_tests.raft.targets import Timing
from meshcheck.property_tests.raft.targets import election_bound
from meshcheck.property_tests.raft.targets import recovery_bound

State = Mapping[str, Value]
LEADER = "Leader"
NAMES = ("EventuallyLeader", "LeaderCommitsStoredEntries", "EventuallyAllCommitted")
# what the promises read: a Raft adapter that gives less has them undecided
READS = ("role", "currentTerm", "log", "commitIndex")


def _last(state: State, i: str) -> int:
    return int(state.get("snapshotIndex", {}).get(i, 0)) + len(state["log"][i])


def _term_at(state: State, i: str, n: int) -> int | None:
    """The term of i's entry at index n, None when i holds none there (past its log, or folded
    into its snapshot, other than the snapshot's last entry)."""
    si = int(state.get("snapshotIndex", {}).get(i, 0))
    if n == si and si:
        return int(state["snapshotTerm"][i])
    if si < n <= _last(state, i):
        return int(state["log"][i][n - si - 1]["term"])
    return None


def sole_leader(state: State) -> str | None:
    """The one node leading in the highest term any node has, if exactly one does."""
    terms = state["currentTerm"]
    top = max(int(t) for t in terms.values())
    leaders = [i for i, r in state["role"].items() if r == LEADER and int(terms[i]) == top]
    return leaders[0] if len(leaders) == 1 else None


def stored_of_own_term(state: State, leader: str) -> int:
    """The highest index of the leader's own term that a quorum stores (the leader counts
    itself), read from the logs; its commitIndex when none lies above it."""
    term, commit = int(state["currentTerm"][leader]), int(state["commitIndex"][leader])
    servers = list(state["role"])
    quorum = len(servers) // 2 + 1
    stored = commit
    for n in range(commit + 1, _last(state, leader) + 1):
        if _term_at(state, leader, n) != term:
            continue
        if sum(_term_at(state, j, n) == term for j in servers) >= quorum:
            stored = n
    return stored


def committed_own_term(state: State, leader: str) -> bool:
    """The leader has committed an entry of its own term."""
    term, commit = int(state["currentTerm"][leader]), int(state["commitIndex"][leader])
    return any(_term_at(state, leader, n) == term for n in range(1, commit + 1))


@attrs.frozen
class Bounds:
    """Ticks after the faults end by which each promise must be kept."""

    leader: int
    committed: int


def bounds(timing: Timing, state: State) -> Bounds:
    """The bounds of a run at the pace `timing` (its nodes' election timeout and heartbeat: the
    reference core's heartbeat of 50 ticks unless the implementation declares its own, latency 1
    to 10), from the state at the end of its faults: the election target, and the recovery target
    for the backlog (entries some node holds past the lowest commitIndex)."""
    commits = [int(c) for c in state["commitIndex"].values()]
    backlog = max(_last(state, i) for i in state["role"]) - min(commits)
    return Bounds(election_bound(timing), recovery_bound(timing, backlog))


class Watch:
    """The promises, followed step by step from the end of the faults (`see(state, elapsed)`,
    elapsed ticks since then): True once every one is kept, or one is broken (`broken`)."""

    def __init__(self, limits: Bounds) -> None:
        self.limits = limits
        self.broken: str | None = None
        self.leader: str | None = None  # the sole leader, once there is one
        self.target: int | None = None  # the leader's commitIndex every node must reach
        self.kept_at: dict[str, int] = {}  # promise -> elapsed ticks when it was kept
        self.done = False

    @property
    def limit(self) -> int:
        """Ticks after the faults end by which every promise is kept or one is broken."""
        return max(self.limits.leader, self.limits.committed)

    def end(self, state: State) -> None:
        """The run stopped at the limit: a promise not kept by then is broken."""
        if not self.done and self.broken is None:
            self.see(state, self.limit + 1)

    def see(self, state: State, elapsed: int) -> bool:
        self.done = self.done or self._see(state, elapsed)
        return self.done

    def _see(self, state: State, elapsed: int) -> bool:
        if self.broken is not None:
            return True
        leader = sole_leader(state)
        if self.leader is None or leader != self.leader:
            self.leader, self.target = leader, None
        if leader is None:
            if elapsed > self.limits.leader:
                self.broken = self._no_leader(state, elapsed)
            return self.broken is not None
        self.kept_at.setdefault("EventuallyLeader", elapsed)
        if self.target is None:
            if committed_own_term(state, leader):
                self.target = int(state["commitIndex"][leader])
                self.kept_at["LeaderCommitsStoredEntries"] = elapsed
            elif elapsed > self.limits.committed:
                self.broken = self._not_committing(state, leader, elapsed)
                return True
            else:
                return False
        behind = sorted(i for i, c in state["commitIndex"].items() if int(c) < self.target)
        if not behind:
            self.kept_at["EventuallyAllCommitted"] = elapsed
            return True
        if elapsed > self.limits.committed:
            i = behind[0]
            self.broken = (
                f"EventuallyAllCommitted: {i}'s commitIndex {state['commitIndex'][i]} is below "
                f"{self.target}, which the leader {leader} of term {state['currentTerm'][leader]} "
                f"committed, {elapsed:,} ticks after the network healed"
            )
            return True
        return False

    def _no_leader(self, state: State, elapsed: int) -> str:
        shown = ", ".join(
            f"{i} {state['role'][i]} of term {state['currentTerm'][i]}"
            for i in sorted(state["role"])
        )
        return (
            f"EventuallyLeader: no single leader of the highest term {elapsed:,} ticks after the "
            f"network healed ({shown})"
        )

    def _not_committing(self, state: State, leader: str, elapsed: int) -> str:
        term, commit = state["currentTerm"][leader], state["commitIndex"][leader]
        last, stored = _last(state, leader), stored_of_own_term(state, leader)
        holds = f"leader {leader} of term {term} holds entries up to {last}"
        if stored > int(commit):
            return (
                f"LeaderCommitsStoredEntries: {holds}, those of its term up to {stored} stored on "
                f"a quorum; commitIndex {commit} for {elapsed:,} ticks after the network healed"
            )
        return (
            f"EventuallyAllCommitted: {holds}, none of its term stored on a quorum; commitIndex "
            f"{commit} for {elapsed:,} ticks after the network healed"
        )


@attrs.frozen
class Promises:
    """A shape's liveness promises: their names, the variables they read, how to bound them and
    follow them (property_tests/shapes.py)."""

    names: tuple[str, ...]
    reads: tuple[str, ...]

    def bounds(self, timing: Timing, state: State) -> Bounds:
        return bounds(timing, state)

    def watch(self, limits: Bounds) -> Watch:
        return Watch(limits)


RAFT = Promises(NAMES, READS)

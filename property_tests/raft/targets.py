"""Raft's liveness bounds: the stated targets, derived from the configured timing, never measured.

Simulated time. The simulator's clock counts ticks and so do every timer and latency of impl/raft and
impl/sim; meshcheck reads **one tick as one millisecond** (`TICK_MS`). The defaults then are the
ones the Raft paper suggests (section 9.3: election timeouts drawn from 150-300 ms, a broadcast time
well below them): `RaftConfig.election_timeout` = (150, 300) ticks, `heartbeat_interval` = 50 ticks,
and the simulator's one-way latency 1..10 ticks (`raft_cluster`'s `latency`).

The targets (what a user of the cluster is promised, at the configured timeouts, under an unreliable
network that drops, delays and reorders messages):

- a leader within 2 s of losing one (`ELECTION_TARGET_MS`);
- a write committed within 500 ms of the leader accepting it (`REPLICATION_TARGET_MS`);
- every node agreeing on everything within 5 s of the network healing and every node being up, a
  follower hundreds of entries behind or holding a long conflicting suffix included
  (`RECOVERY_TARGET_MS`).

Each bound is what the protocol's timing promises at the configuration, and never more than its
target: a faster configuration gets a tighter bound, a slower one (an election timeout too long for
2 s) is held to the target and fails. A bound that came from measuring the implementation would let
a slow implementation set its own bar; these do not move when the implementation gets slower (the
one-entry-at-a-time backup, `backup_one_at_a_time` in impl/raft/mutants.py, fails them).
"""

from __future__ import annotations

import math

import attrs

from meshcheck.impl.raft.config import RaftConfig

TICK_MS = 1  # one simulated tick is one millisecond

ELECTION_TARGET_MS = 2000
REPLICATION_TARGET_MS = 500
RECOVERY_TARGET_MS = 5000

# Election rounds the election bound allows: a round is an election timeout and a round trip. A round
# fails on split votes, lost or delayed votes, or (Raft without PreVote, thesis section 9.6) a node
# whose log is behind timing out first and moving everyone to a term it cannot win; randomised
# timeouts (section 5.2) make each next failure less likely. Six rounds at the defaults is 1.9 s.
ELECTION_ROUNDS = 6
# Heartbeats the replication bound allows: an entry rides on every heartbeat until its follower acks
# it (impl/raft/node.py sends the whole unacknowledged suffix), so a write commits once a quorum's
# copies of one of them got through; nine heartbeats and a round trip is 0.5 s at the defaults.
REPLICATION_HEARTBEATS = 9
# Replication rounds recovery allows after the election: with fast backup (Raft paper, end of section
# 5.3) a follower costs one rejected round trip per conflicting term and one batch, whatever the
# number of entries; six replication bounds leave room for several terms and lost messages.
RECOVERY_REPLICATIONS = 6


def ticks(ms: int) -> int:
    return math.ceil(ms / TICK_MS)


@attrs.frozen
class Timing:
    """The configured timing the bounds derive from, in ticks."""

    election_timeout: tuple[int, int] = (150, 300)
    heartbeat: int = 50
    latency: tuple[int, int] = (1, 10)  # one way
    max_entries: int | None = None  # entries per AppendEntries (None: the whole suffix)

    @classmethod
    def of(cls, config: RaftConfig, latency: tuple[int, int] = (1, 10)) -> Timing:
        return cls(config.election_timeout, config.heartbeat_interval, latency, config.max_entries)

    @property
    def round_trip(self) -> int:
        return 2 * self.latency[1]


DEFAULT = Timing()


def election_bound(t: Timing) -> int:
    """Ticks within which a cluster that lost its leader has a new one."""
    return min(ticks(ELECTION_TARGET_MS), ELECTION_ROUNDS * (t.election_timeout[1] + t.round_trip))


def replication_bound(t: Timing) -> int:
    """Ticks within which a leader that keeps leading commits a write it accepted."""
    return min(ticks(REPLICATION_TARGET_MS), REPLICATION_HEARTBEATS * t.heartbeat + t.round_trip)


def recovery_bound(t: Timing, backlog: int = 0) -> int:
    """Ticks after healing within which every node has applied the leader's whole log. A batch limit
    (`max_entries`) is a configuration that ships `backlog` entries in that many more round trips,
    by construction, so those are added; with whole-suffix batches (the default) the bound is the
    target's."""
    base = min(
        ticks(RECOVERY_TARGET_MS),
        election_bound(t) + RECOVERY_REPLICATIONS * replication_bound(t),
    )
    if t.max_entries is None:
        return base
    return base + math.ceil(backlog / t.max_entries) * t.round_trip

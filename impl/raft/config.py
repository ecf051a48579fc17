"""A Raft node's configuration: the cluster, its timing, its limits, and the mutants switched on."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.config import bug_set
from meshcheck.impl.base.config import check_bugs
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.raft.mutants import BUGS
from meshcheck.impl.raft.mutants import QUORUM_HALF_AT_EVEN_N


def _sorted(servers: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(servers))


@attrs.frozen
class RaftConfig:
    """`servers` holds every member, this node included (section 5.1: a fixed configuration)."""

    id: str
    servers: tuple[str, ...] = attrs.field(converter=_sorted)
    election_timeout: tuple[int, int] = (
        150,
        300,
    )  # ticks, drawn afresh at every reset (section 5.2)
    heartbeat_interval: int = 50  # ticks; well below the election timeout (section 5.6)
    snapshot_interval: int = 10_000  # compact once this many entries are applied past the snapshot
    # Entries per AppendEntriesRequest. None (all from nextIndex) is what the spec's AppendEntries
    # sends; a limit is faster for long logs, but its messages are no longer spec steps.
    max_entries: int | None = None
    # Section 8: a new leader appends a no-op of its term, so that it commits what earlier terms
    # left (and can serve reads, thesis 6.4) without waiting for a client's write. False: the
    # paper's Figure 2 alone, as many libraries run it (specs/Raft.tla's LeaderNoOp = FALSE).
    leader_noop: bool = True
    # Thesis section 9.6: an election timeout first runs a pre-election, which changes no term and
    # no vote, and the election follows only with pre-votes from a quorum; a server cut off from
    # the others then cannot disrupt the leader when it rejoins (etcd-io/raft's PreVote; specs/
    # Raft.tla's PreVote = TRUE). False: the election starts at the timeout (PreVote = FALSE).
    pre_vote: bool = False
    bugs: frozenset[str] = attrs.field(default=frozenset(), converter=bug_set)

    def __attrs_post_init__(self) -> None:
        if self.id not in self.servers:
            raise ImplError(f"node {self.id} is not one of the servers {list(self.servers)}")
        if len(set(self.servers)) != len(self.servers):
            raise ImplError(f"servers must be distinct: {list(self.servers)}")
        lo, hi = self.election_timeout
        if not 1 <= lo <= hi:
            raise ImplError(
                f"election_timeout must be a range 1 <= lo <= hi, not {self.election_timeout}"
            )
        if not 1 <= self.heartbeat_interval < lo:
            raise ImplError(
                f"heartbeat_interval ({self.heartbeat_interval}) must be at least 1 and below the "
                f"election timeout ({lo}), or followers start elections against a live leader"
            )
        if self.snapshot_interval < 1 or (self.max_entries is not None and self.max_entries < 1):
            raise ImplError("snapshot_interval and max_entries must be at least 1")
        check_bugs(self.bugs, BUGS, "Raft")

    @functools.cached_property
    def peers(self) -> tuple[str, ...]:
        return tuple(s for s in self.servers if s != self.id)

    @functools.cached_property
    def quorum(self) -> int:
        """A majority (section 5.2): any two quorums share a server."""
        if QUORUM_HALF_AT_EVEN_N in self.bugs:
            return (len(self.servers) + 1) // 2
        return quorum.majority(len(self.servers))

"""What gossip nodes send each other, and the events a host hands a node besides the shared ones.

Every message carries its sender and receiver (the spec's records name both) and the sender's
heartbeat: its boot count (persisted, one more at every restart) and its round counter (one more at
every gossip round, `Heartbeat(i)`). A receiver counts a message as a heartbeat arrival from its
sender only when that pair is newer than the last it counted, so a duplicate, a reordered old
message, or a second message of the same round is not a second arrival (the gossip-style failure
detector of van Renesse, Minsky and Hayden, "A Gossip-Style Failure Detection Service",
Middleware 1998: a heartbeat counter per node, newer counters are arrivals).

Gossip.tla's messages are `Push` (a non-empty set of entries) and `Pull` (a digest). `Beat` is the
failure detector's bare heartbeat (FailureDetector.tla's heartbeat message), sent to a round's
fanout peers when the round has nothing to push and as the answer to a pull with nothing to send.
Membership has no messages of its own: a node learns of a member from its push or pull (node.py).

Entries and digests travel as tuples of pairs (immutable, and the same tuple is shared by the copies
of one round's push to its fanout peers).
"""

from __future__ import annotations

import attrs

from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.entries import Rank


@attrs.frozen
class Push:
    """`source` sends `dest` entries it holds: its round's delta, or the answer to a pull."""

    source: str
    dest: str
    entries: tuple[tuple[str, Entry], ...]
    boot: int
    beat: int


@attrs.frozen
class Pull:
    """`source` sends `dest` its digest (the rank it holds per key): answer with what I lack."""

    source: str
    dest: str
    digest: tuple[tuple[str, Rank], ...]
    boot: int
    beat: int
    back: bool = False  # a pull back (node.py): answered, never pulled back again


@attrs.frozen
class Beat:
    """A bare heartbeat: nothing to push this round (or nothing to answer a pull with)."""

    source: str
    dest: str
    boot: int
    beat: int


Message = Push | Pull | Beat


@attrs.frozen
class JoinVia:
    """Host event: the node (outside the cluster, or after it left) joins, knowing the seeds, and
    pulls from `seed` first."""

    seed: str
    now: int = attrs.field(default=0, repr=False)


@attrs.frozen
class LeaveCluster:
    """Host event: the node leaves the cluster and goes quiet (it tells nobody)."""

    now: int = attrs.field(default=0, repr=False)


@attrs.frozen
class Round:
    """Host event: a gossip round now, toward `peers` (members of the node's view) instead of a
    random fanout: how the lockstep driver makes a node take Push(i, j) and Pull(i, j)."""

    peers: tuple[str, ...]
    now: int = attrs.field(default=0, repr=False)

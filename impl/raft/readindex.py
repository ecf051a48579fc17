"""ReadIndex bookkeeping (Raft thesis section 6.4): linearizable reads without writing to the log.

The thesis's four steps: (1) the leader records its commit index as the read index, having committed
an entry of its own term (the no-op of section 8 sees to that); (2) it must confirm it was still the
leader when the read arrived, (3) by a round of heartbeats that a quorum acknowledges; (4) it serves
the read once it has applied up to the read index (here at once: a node applies as it commits).

Step 3 is the subtle one: only acknowledgements of heartbeats sent *after* the read was registered
prove anything about the time of the read. So every registered read gets the next sequence number
`seq`; while a read is pending every AppendEntriesRequest carries that `seq` (`mreadSeq`; 0 when none
is) and its response echoes it; only responses echoing the pending `seq` count as acknowledgements.

One round at a time, as in the spec (specs/Raft.tla: `reads[i]` is [seq, index, acks, served]): client
reads that arrive while a round is pending wait, and all of them ride on the next round together.
"""

from __future__ import annotations

from typing import Any

import attrs

from meshcheck.impl.base.quorum import reaches


@attrs.frozen
class ClientReadRequest:
    request_id: int
    query: Any


class ReadIndex:
    """A leader's ReadIndex state in one term of leadership (a new one each time it becomes leader)."""

    def __init__(self, leader: str) -> None:
        self.leader = leader
        self.seq = 0  # rounds registered so far in this leadership
        self.index = 0  # the read index of the current round (0: no round yet)
        self.acks: frozenset[str] = frozenset()  # who confirmed the current round (the leader too)
        self.served = False
        self.batch: list[ClientReadRequest] = []  # the client reads of the current round
        self.waiting: list[ClientReadRequest] = []  # client reads for the next round

    @property
    def pending(self) -> bool:
        """A round is registered and not yet served (the spec's ReadPending)."""
        return self.seq > 0 and not self.served

    @property
    def tag(self) -> int:
        """What an AppendEntriesRequest carries: the pending round's seq, else 0 (the spec's ReadTag)."""
        return self.seq if self.pending else 0

    def register(self, index: int) -> None:
        """Start a round at read index `index` for every waiting client read (step 1)."""
        self.seq += 1
        self.index = index
        self.acks = frozenset({self.leader})
        self.served = False
        self.batch, self.waiting = self.waiting, []

    def ack(self, peer: str, seq: int) -> None:
        """A response echoing `seq` from `peer` (step 3): counts if it is the pending round's."""
        if self.pending and seq == self.seq:
            self.acks |= {peer}

    def confirmed(self, quorum: int) -> bool:
        return self.pending and reaches(self.acks, quorum)

    def serve(self) -> list[ClientReadRequest]:
        """Mark the round served and hand back its client reads (step 4)."""
        self.served = True
        self.acks = frozenset()
        batch, self.batch = self.batch, []
        return batch

    def abandon(self) -> list[ClientReadRequest]:
        """Every client read held, pending or waiting (the leader is stepping down)."""
        held = self.batch + self.waiting
        self.batch, self.waiting = [], []
        return held

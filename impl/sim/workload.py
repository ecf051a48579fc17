"""The workload: the simulated client, an open-loop load that follows the leader hints it gets back.

Protocol-agnostic: it only knows the shared `ClientRequest`/`ClientRead` events and `Reply` effects.
It sends each request to the node it believes leads (the last hint), or to a random live node when it
has no hint; a request sent to a crashed node is lost, as a real client's would be.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.node import Workload


class Client:
    def __init__(self, workload: Workload, nodes: Sequence[str], rng: random.Random) -> None:
        self.workload = workload
        self._nodes = tuple(nodes)
        self._rng = rng
        self._leader: str | None = None
        self._next_id = 0
        self._writes = 0
        self._reads = 0
        self._is_read: dict[int, bool] = {}  # outstanding request id -> is it a read
        self.sent = 0
        self.writes_ok = 0
        self.reads_ok = 0
        self.errors = 0

    def due(self, now: int) -> bool:
        """Whether the workload still sends at time `now` (see `Workload.until`)."""
        return self.workload.until is None or now <= self.workload.until

    def next_request(self, up: Sequence[str]) -> tuple[str, ClientRequest | ClientRead] | None:
        """The next request and the node it goes to (None when no node is up)."""
        target = self._leader
        if target is None or target not in up:
            if not up:
                return None
            target = self._rng.choice(list(up))
        self._next_id += 1
        self.sent += 1
        read = self._rng.random() < self.workload.reads
        self._is_read[self._next_id] = read
        if read:
            self._reads += 1
            return target, ClientRead(self.workload.query(self._reads), self._next_id)
        self._writes += 1
        return target, ClientRequest(self.workload.make(self._writes), self._next_id)

    def on_reply(self, node: str, reply: Reply) -> None:
        """Count a reply to one of this client's requests (replies to others' requests are ignored)."""
        read = self._is_read.pop(reply.request_id, None)
        if read is None:
            return
        if reply.ok:
            self._leader = node
            if read:
                self.reads_ok += 1
            else:
                self.writes_ok += 1
            return
        self.errors += 1
        self._leader = reply.leader if reply.leader != node else None

"""What a behaviour sees of the replica it corrupts (`Context`): the honest core (its key and its
state), the node's random generator, what the node has heard, and a memory per behaviour.

The node (node.py) keeps one per core (twins have two) and feeds it every message delivered to
that core and every message the core sends; behaviours (behaviours.py) read it and sign through it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from typing import Final

from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.replica import Replica

Slot = tuple[int, int]  # (view, sequence number)


class Context:
    """What a behaviour may use: the honest core it corrupts (its key, its state), the node's random
    generator, what the node has heard, and a memory per behaviour. One per core (twins have two)."""

    _KEEP: Final = 2000  # messages kept for Replay

    def __init__(self, core: Replica, rng: Callable[[], random.Random]) -> None:
        self.core = core
        self.id = core.id
        self.replicas = core.config.replicas
        self.peers = core.config.peers
        self.clients = core.config.clients
        self._rng = rng
        self.requests: dict[tuple[str, int], Signed[Request]] = {}  # client-signed, as heard
        self.stories: dict[Slot, dict[bytes, Signed[PrePrepare]]] = {}  # pre-prepares heard
        self.heard: list[Signed[Any]] = []  # messages received and sent, oldest first
        self._heard: set[Signed[Any]] = set()
        self.memory: dict[object, Any] = {}
        self.event: Any = None  # the event the core is handling (the node sets it)

    @property
    def rng(self) -> random.Random:
        return self._rng()

    def chance(self, p: float) -> bool:
        """True with probability p (no draw at all for 0 and 1, so such runs draw less)."""
        if p >= 1.0:
            return True
        if p <= 0.0:
            return False
        return self.rng.random() < p

    def sign(self, body: Any) -> Signed[Any]:
        return self.core.sign(body)

    def mine(self, m: Any) -> bool:
        """Whether `m` is a message this replica signed (what it may rewrite and sign again)."""
        return isinstance(m, Signed) and m.signer == self.id

    def remember(self, m: Any) -> None:
        """Note a message the node received or its core sent."""
        if not isinstance(m, Signed):
            return
        try:
            if m in self._heard:
                return
        except TypeError:  # unhashable garbage another Byzantine node sent
            return
        self._heard.add(m)
        self.heard.append(m)
        if len(self.heard) > self._KEEP:  # forget the older half
            self.heard = self.heard[self._KEEP // 2 :]
            self._heard = set(self.heard)
        # Only what checks out is material: a lie built on a forgery would be refuted at once.
        body = m.body
        if isinstance(body, Request):
            self._request(m)
        elif (
            isinstance(body, PrePrepare)
            and m.signer == body.src
            and self.core.verify(m)
            and batch_digest(body.batch) == body.digest
        ):
            self.stories.setdefault((body.view, body.seq), {}).setdefault(body.digest, m)
            for r in body.batch:
                self._request(r)

    def _request(self, r: Any) -> None:
        if (
            isinstance(r, Signed)
            and isinstance(r.body, Request)
            and r.signer == r.body.client
            and self.core.verify(r)
        ):
            self.requests.setdefault((r.body.client, r.body.timestamp), r)

    def forget_below(self, seq: int) -> None:
        """Drop the stories of sequence numbers at or below `seq` (the core's stable checkpoint)."""
        for slot in [s for s in self.stories if s[1] <= seq]:
            del self.stories[slot]

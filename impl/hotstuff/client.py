"""The sans-IO HotStuff client: it signs each request, sends it to every replica (any replica may
lead the next view, and the leader batches what it holds), and accepts a result once f+1 distinct
replicas replied with the same result for it: at least one of them is correct (Yin et al., PODC
2019, section 4.1; as PBFT's client, Castro and Liskov section 4.1). A reply carries no signature:
it counts for the sender of the link it came on, and only when it names that sender
(`_replier`). Outstanding requests are sent again to every replica after `timeout` ticks.
property_tests/hotstuff/client_replies.py holds it to this against replicas that lie in their
replies (impl/hotstuff/replies.py).

Requests come from a workload (`Tick("next")` every `workload.every` ticks) or a driver
(`ClientRequest(value)`). HotStuff.tla has no client: the client's steps are no spec actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.client import CLOCK as CLOCK  # re-exported: the client's timers and key
from meshcheck.impl.base.client import NEXT as NEXT
from meshcheck.impl.base.client import RETRY as RETRY
from meshcheck.impl.base.client import RetryingClient
from meshcheck.impl.base.client import check_not_a_replica
from meshcheck.impl.base.config import ids
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Invoke
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply as Answer
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import Request
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import malformed
from meshcheck.impl.hotstuff.messages import request_bytes


@attrs.frozen
class ClientConfig:
    id: str
    replicas: tuple[str, ...] = attrs.field(converter=ids)
    workload: Workload | None = None
    timeout: int = 600
    bugs: frozenset[str] = frozenset()  # impl/hotstuff/mutants.py: the client's own (CLIENT_*)

    def __attrs_post_init__(self) -> None:
        check_not_a_replica(self.id, self.replicas)
        if self.timeout < 1:
            raise ImplError("the client's timeout must be at least 1")

    @property
    def f(self) -> int:
        return (len(self.replicas) - 1) // 3


class Client(RetryingClient):
    config: ClientConfig

    def __init__(self, config: ClientConfig, keys: KeyRing) -> None:
        self.config = config
        self.id = config.id
        self.keys = keys
        self._signer = keys.signer(self.id)
        self.now = 0
        self.timestamp = 0
        self.issued = 0
        self.started = False
        self.outstanding: dict[int, SignedRequest] = {}
        self.accepted: dict[int, Value] = {}  # timestamp -> the result accepted
        self._replies: dict[tuple[int, Value], list[str]] = {}  # distinct voters
        self._first: dict[int, Value] = {}  # the first result heard per request (the mutant's)
        self._retry_pending = False
        self._out: list[Effect] = []

    def __repr__(self) -> str:
        return f"<HotStuffClient {self.id} sent={self.timestamp} accepted={len(self.accepted)}>"

    def step(self, event: Any) -> list[Effect]:
        self._out = []
        self.now = getattr(event, "now", self.now)
        if isinstance(event, Restart):
            self._restart(event.persisted)
        elif not self.started:
            raise RuntimeError(f"{self.id}: step({event!r}) before Restart")
        elif isinstance(event, ClientRequest):
            self._request(event.value)
        elif isinstance(event, Tick) and event.timer == NEXT:
            self._next()
        elif isinstance(event, Tick) and event.timer == RETRY:
            self._retry()
        elif isinstance(event, Deliver):
            self._on_reply(event.source, event.message)
        return self._out

    def _restart(self, persisted: Mapping[str, Any]) -> None:
        self.timestamp, self.issued = persisted.get(CLOCK, (0, 0))
        if mutants.CLIENT_TIMESTAMP_RESET in self.config.bugs:
            self.timestamp = 0
        self.started = True
        if self.config.workload is not None:
            self._out.append(SetTimer(NEXT, self.config.workload.every))

    def _request(self, op: Value) -> None:
        self.timestamp += 1
        body = Request(self.id, self.timestamp, op)
        request = SignedRequest(body, self._signer.sign(request_bytes(body)))
        self._out.insert(0, Persist((Put(CLOCK, (self.timestamp, self.issued)),)))
        self._out.append(Invoke(self.timestamp, op))
        self.outstanding[self.timestamp] = request
        for r in self.config.replicas:
            self._out.append(Send(r, request))
        self._arm_retry()

    def _on_reply(self, source: str, m: Any) -> None:
        """Accept a result once f+1 distinct replicas sent it for the request."""
        if not isinstance(m, ReplyMsg) or malformed(m) is not None:
            return  # a replica may send a string for a timestamp: not a reply
        replica = self._replier(source, m)
        if not (
            replica in self.config.replicas
            and m.client == self.id
            and m.timestamp in self.outstanding
        ):
            return
        if (
            mutants.CLIENT_FIRST_REPLY_DECIDES in self.config.bugs
            and self._first.setdefault(m.timestamp, m.result) != m.result
        ):
            return  # the bug: the first reply's result is the one to confirm, the others ignored
        key: tuple[int, Value] = (m.timestamp, m.result)
        if mutants.CLIENT_REPLY_RESULT_NOT_MATCHED in self.config.bugs:
            key = (m.timestamp, None)  # the bug: every result of the request alike
        voters = self._replies.setdefault(key, [])
        if replica not in voters or mutants.CLIENT_COUNTS_DUPLICATE_REPLIES in self.config.bugs:
            voters.append(replica)
        if len(voters) < self.config.f + 1:  # one of them is correct
            return
        del self.outstanding[m.timestamp]
        self.accepted[m.timestamp] = m.result
        self._replies = {k: v for k, v in self._replies.items() if k[0] != m.timestamp}
        self._first.pop(m.timestamp, None)
        self._out.append(Answer(m.timestamp, m.result))

    def _replier(self, source: str, m: ReplyMsg) -> str | None:
        """The replica a reply counts for: the link's sender, when the reply names it (a reply
        carries no signature; the channel authenticates its sender). None: it names another."""
        if mutants.CLIENT_REPLY_SRC_NOT_CHECKED in self.config.bugs:
            return m.src  # the bug: whoever the reply says sent it
        return source if m.src == source else None

"""The sans-IO PBFT client (Castro and Liskov, OSDI 1999, section 4.1): `step(event) -> effects`.

It signs each request (operation, timestamp, its id) and sends it to the replica it believes is the
primary; if no result comes within a timeout it sends every outstanding request to all replicas
(backups that have not seen it start their timers, and suspect the primary if it does not order
it). It accepts a result once f+1 distinct replicas replied with the same sequence number, request
and result: at least one of them is correct.

Requests come from a workload (`Tick("next")` every `workload.every` ticks; the spec's Request(r))
or from a driver (`ClientRequest(value)`). The spec names a request by its operation, so a run
checked against the spec uses distinct operations. What the client sent and accepted is persisted,
so a restarted client neither reuses a timestamp nor forgets an accepted result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.client import CLOCK as CLOCK  # re-exported: the client's timers and key
from meshcheck.impl.base.client import NEXT as NEXT
from meshcheck.impl.base.client import RETRY as RETRY
from meshcheck.impl.base.client import RetryingClient
from meshcheck.impl.base.client import check_not_a_replica
from meshcheck.impl.base.config import ids
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Invoke
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply as Answer
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft import actions
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import malformed
from meshcheck.impl.pbft.messages import request_name
from meshcheck.impl.pbft.messages import signing_bytes

# keys of the durable store, besides CLOCK (impl/base/client.py)
REQUESTS: Final = "requests"  # every signed request sent
ACCEPTED: Final = "accepted"  # (sequence number, request name, timestamp) accepted


@attrs.frozen
class ClientConfig:
    id: str
    replicas: tuple[str, ...] = attrs.field(converter=ids)
    workload: Workload | None = None
    timeout: int = 600  # ticks before outstanding requests go to every replica
    max_outstanding: int | None = None  # a closed loop: no new workload request beyond this
    bugs: frozenset[str] = frozenset()  # impl/pbft/mutants.py: the client's own (CLIENT_*)

    def __attrs_post_init__(self) -> None:
        check_not_a_replica(self.id, self.replicas)
        if self.timeout < 1 or (self.max_outstanding is not None and self.max_outstanding < 1):
            raise ImplError("timeout and max_outstanding must be at least 1")

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
        self.now = 0  # the `now` of the event being handled (the workload's `until`)
        self.timestamp = 0
        self.issued = 0  # workload requests so far
        self.requested: list[Value] = []  # the spec's `requested`, in order
        self.accepted: list[tuple[int, Value]] = []  # the spec's `accepted`: (seq, request)
        self.outstanding: dict[int, Signed[Request]] = {}  # by timestamp
        self.started = False
        self._sent: dict[int, Signed[Request]] = {}
        self._accepted: set[tuple[int, Value]] = set()
        self._votes: dict[tuple[int, int, Value], set[str]] = {}
        self._views: dict[str, int] = {}
        self._retry_pending = False
        self._out: list[Effect] = []
        self._writes: list[Write] = []

    def __repr__(self) -> str:
        return f"<Client {self.id} sent={self.timestamp} accepted={len(self.accepted)}>"

    @property
    def primary(self) -> str:
        """The primary of the view that f+1 replicas have reached (`_view`)."""
        return self.config.replicas[self._view() % len(self.config.replicas)]

    def _view(self) -> int:
        """The highest view f+1 replicas' replies name: one of them is correct (section 4.1)."""
        if mutants.CLIENT_VIEW_FROM_ONE_REPLY in self.config.bugs:
            return max(self._views.values(), default=0)
        return quorum.quorum_value(self._views.values(), quorum.one_correct(self.config.f)) or 0

    def step(self, event: Any) -> list[Effect]:
        self._out, self._writes = [], []
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
            self._on_reply(event.message)
        elif not isinstance(event, Tick):
            raise TypeError(f"{self.id}: not a PBFT client event: {event!r}")
        out = self._out
        return actions.lead([Persist(tuple(self._writes)), *out] if self._writes else out)

    def _restart(self, persisted: Mapping[str, Any]) -> None:
        self.timestamp, self.issued = persisted.get(CLOCK, (0, 0))
        if mutants.CLIENT_TIMESTAMP_RESET in self.config.bugs:
            self.timestamp = 0
        requests: tuple[Signed[Request], ...] = persisted.get(REQUESTS, ())
        self._sent = {r.body.timestamp: r for r in requests}
        self.requested = []
        for r in requests:
            name = request_name(r.body)
            if name not in self.requested:
                self.requested.append(name)
        done = persisted.get(ACCEPTED, ())
        self.accepted = [(seq, name) for seq, name, _ in done]
        self._accepted = set(self.accepted)
        finished = {timestamp for _, _, timestamp in done}
        self.outstanding = {t: r for t, r in self._sent.items() if t not in finished}
        self.started = True
        if self.config.workload is not None:
            self._out.append(SetTimer(NEXT, self.config.workload.every))
        self._arm_retry_if_outstanding()

    def _may_issue(self) -> bool:
        """A closed loop (`max_outstanding`) issues no new workload request beyond its limit."""
        limit = self.config.max_outstanding
        return limit is None or len(self.outstanding) < limit

    def _request(self, operation: Value) -> None:
        """Request(r): sign the request and send it to the primary."""
        self.timestamp += 1
        body = Request(self.id, self.timestamp, operation)
        request = Signed(body, self.id, self._signer.sign(signing_bytes(body)))
        name = request_name(body)
        self._writes.append(Put(CLOCK, (self.timestamp, self.issued)))
        self._writes.append(Splice(REQUESTS, len(self._sent), (request,)))
        self._mark(actions.REQUEST, r=name)
        self._out.append(Invoke(self.timestamp, operation))  # the client history's invocation
        self._sent[self.timestamp] = request
        self.outstanding[self.timestamp] = request
        if name not in self.requested:
            self.requested.append(name)
        self._out.append(Send(self.primary, request))
        self._arm_retry()

    def _on_reply(self, m: Any) -> None:
        """Accept(n, r) once f+1 distinct replicas sent the same (n, request, result)."""
        if not (
            isinstance(m, Signed)
            and isinstance(m.body, Reply)
            and m.signer in self.config.replicas
            and m.body.src == m.signer
            and (
                self.keys.verify(m.signer, m.signature, signing_bytes(m.body))
                or mutants.CLIENT_REPLY_SIGNATURE_NOT_CHECKED in self.config.bugs
            )
            and isinstance(m.body.request, Request)
            and malformed(m) is None  # a replica may sign a string for a view: not a reply
        ):
            return
        reply: Reply = m.body
        sent = self._sent.get(reply.request.timestamp)
        if sent is None or sent.body != reply.request:
            return
        self._views[m.signer] = max(self._views.get(m.signer, 0), reply.view)
        timestamp = reply.request.timestamp
        if mutants.CLIENT_REPLY_REQUEST_NOT_MATCHED in self.config.bugs:
            timestamp = 0  # every request alike
        key = (reply.seq, timestamp, reply.result)
        voters = self._votes.setdefault(key, set())
        voters.add(m.signer)
        name = request_name(reply.request)
        needed = quorum.one_correct(self.config.f)
        if mutants.CLIENT_ACCEPTS_ON_F_REPLIES in self.config.bugs:
            needed = self.config.f
        if not quorum.reaches(voters, needed) or (reply.seq, name) in self._accepted:
            return
        self._mark(actions.ACCEPT, n=reply.seq, r=name)
        self._writes.append(
            Splice(ACCEPTED, len(self.accepted), ((reply.seq, name, reply.request.timestamp),))
        )
        self.accepted.append((reply.seq, name))
        self._accepted.add((reply.seq, name))
        self.outstanding.pop(reply.request.timestamp, None)
        del self._votes[key]
        self._out.append(Answer(reply.request.timestamp, reply.result))  # its completion

    def _mark(self, name: str, **params: Value) -> None:
        self._out.append(Action(name, FrozenDict(params)))

"""tinyraft under meshcheck: one tinyraft server behind meshcheck's adapter contract, written from
meshcheck's docs/tutorial-your-raft.md alone.

The adapter says nothing of the properties tinyraft must keep: the harness
(meshcheck.property_tests.plugin) attaches the property set of the spec the descriptor names,
Raft.tla's. It hands over tinyraft's own values as they are (lists, dicts: the harness freezes
them) and its own answers to clients (tinyraft keeps its own state machine, a dict).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from tinyraft import BUGS as TINYRAFT_BUGS
from tinyraft import Config
from tinyraft import Outbox
from tinyraft import Server

from meshcheck.impl.adapters.contract import Collected
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import SetTimer
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import checks

NAME = "tinyraft"
ROLES = {"follower": "Follower", "candidate": "Candidate", "leader": "Leader"}


class TinyDriver:
    """One tinyraft server: boot, deliver, fire, submit, collect, state."""

    def __init__(
        self,
        node_id: str,
        servers: tuple[str, ...],
        bugs: frozenset[str],
        timeout: tuple[int, int] = (150, 300),
    ) -> None:
        self.config = Config(node_id, servers, timeout, bugs)
        self.server: Server | None = None

    def _server(self) -> Server:
        assert self.server is not None
        return self.server

    def boot(self, persisted: Mapping[str, Any], now: int, rng: random.Random) -> None:
        self.server = Server(self.config, rng)
        self.server.start(dict(persisted), now)

    def deliver(self, source: str, message: Any, now: int) -> None:
        self._server().receive(source, message, now)

    def fire(self, timer: str, now: int) -> None:
        self._server().timer(timer, now)

    def submit(self, request_id: int, value: Any, read: bool, now: int) -> None:
        self._server().propose(request_id, value, read, now)

    def collect(self, event: Any) -> Collected:
        server = self._server()
        out, server.out = server.out, Outbox()
        return Collected(
            writes=tuple(Put(k, v) for k, v in out.durable.items()),
            sends=tuple(out.messages),
            applied=tuple(out.applied),
            replies=tuple(
                Reply(
                    request,
                    result=result if ok else None,
                    error="" if ok else str(result),
                    leader=hint,
                )
                for request, ok, result, hint in out.answers
            ),
            timers=tuple(SetTimer(name, after) for name, after in out.timers.items()),
        )

    def state(self) -> Mapping[str, Any]:
        s = self._server()
        return {
            "currentTerm": s.term,
            "votedFor": "None" if s.voted_for is None else s.voted_for,
            "role": ROLES[s.role],
            "log": [{"term": e["term"], "value": e["command"]} for e in s.log],
            "commitIndex": s.commit,
            "matchIndex": dict(s.match),
            "nextIndex": dict(s.next),
        }


def message_record(message: dict[str, Any]) -> Mapping[str, Any]:
    """A tinyraft message as Raft.tla's record of it."""
    kind = message["type"]
    record: dict[str, Any] = {
        "mterm": message["term"],
        "msource": message["from"],
        "mdest": message["to"],
    }
    if kind == "vote":
        record.update(
            mtype="RequestVoteRequest",
            mlastLogTerm=message["last_term"],
            mlastLogIndex=message["last_index"],
        )
    elif kind == "voted":
        record.update(mtype="RequestVoteResponse", mvoteGranted=message["granted"])
    elif kind == "append":
        record.update(
            mtype="AppendEntriesRequest",
            mprevLogIndex=message["prev_index"],
            mprevLogTerm=message["prev_term"],
            mentries=[{"term": e["term"], "value": e["command"]} for e in message["entries"]],
            mcommitIndex=message["commit"],
        )
    else:
        record.update(
            mtype="AppendEntriesResponse", msuccess=message["ok"], mmatchIndex=message["index"]
        )
    return record


ADAPTER = Adapter(NAME, TinyDriver, message_record)
# tinyraft's known bugs, which `meshcheck mutants tinyraft` switches on one at a time
BUGS = TINYRAFT_BUGS
# the checks that must kill each: free runs with Raft's whole property set, from the descriptor
CHECKS = checks(ADAPTER)

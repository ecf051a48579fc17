"""meshcheck's own Raft core (impl/raft/node.py) behind the adapter contract: `CoreDriver`.

The core is created, stepped and read only through impl/adapters/contract.py's `Driver` (boot,
deliver, fire, submit, collect, state), as a third party's library would be, never through
impl/raft's simulator plug-in or refinement mapping. It is the worked example of
docs/adding-an-implementation.md (tests/adapter_example.py) and the "library" of
docs/tutorial-your-raft.md, whose package subclasses it: an installed module, so that a package
outside meshcheck's tree can import it.

Differences between the core and the contract, which the driver absorbs (what a third party's
adapter documents in its own driver):

- the core cancels timers (`CancelTimer`); the contract only sets them (`Collected.timers`). The
  driver keeps the set of timers the core has armed and ignores a firing of one it cancelled;
- the core names its spec actions itself (`Action` effects, with the message as `m`); the driver
  turns each into a `SpecStep` owning the sends that follow it;
- the core reports a client operation it turns away (not the leader) as ClientRequest or
  ClientRead, a step that changes nothing; the spec's actions need a leader, so the driver marks
  it as no spec step (`in_spec=False`: named in traces, left out of the NDJSON log);
- `state()` exposes what a library typically can: currentTerm, votedFor, role, log, commitIndex,
  snapshotIndex and snapshotTerm. votesGranted, nextIndex, matchIndex and the read records are
  left out: unknown to every check (a partial refinement). Log compaction is off (snapshot
  interval beyond any run here), which the ghost `committed` (`raft_committed`) assumes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.adapters.contract import Collected
from meshcheck.impl.adapters.contract import SpecStep
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import RaftConfig
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import Message
from meshcheck.impl.raft.messages import RequestVoteRequest
from meshcheck.impl.raft.messages import RequestVoteResponse
from meshcheck.impl.raft.node import ELECTION
from meshcheck.impl.raft.node import Replicate

__all__ = ["HANDLED", "TAKES", "CoreDriver", "core_message"]


class CoreDriver:
    """One impl/raft node behind the contract (a `Driver`)."""

    def __init__(
        self,
        node_id: str,
        servers: tuple[str, ...],
        bugs: frozenset[str],
        timeout: tuple[int, int] = (150, 300),
    ) -> None:
        self.id = node_id
        self.config = RaftConfig(
            node_id, servers, election_timeout=timeout, snapshot_interval=10**9, bugs=bugs
        )
        self.node: RaftNode | None = None
        self.out: list[Effect] = []
        self.armed: set[str] = set()  # the timers the core has set and not cancelled
        self.requests = 0  # client requests made by `take`

    def _step(self, event: Any) -> None:
        assert self.node is not None
        self.out.extend(self.node.step(event))

    def boot(self, persisted: Mapping[str, Any], now: int, rng: random.Random) -> None:
        self.node, self.out, self.armed = RaftNode(self.config, rng), [], set()
        self._step(Restart(persisted, now))

    def deliver(self, source: str, message: Any, now: int) -> None:
        self._step(Deliver(source, message, now))

    def fire(self, timer: str, now: int) -> None:
        if timer in self.armed:  # a timer the core cancelled fires here as nothing
            self.armed.discard(timer)
            self._step(Tick(timer, now))

    def submit(self, request_id: int, value: Any, read: bool, now: int) -> None:
        if read:
            self._step(ClientRead(value, request_id, now))
        else:
            self._step(ClientRequest(value, request_id, now))

    def take(self, action: str, params: Mapping[str, Value], now: int) -> bool:
        """The spec action `action(params)` alone (a `StepDriver`, for adapted lockstep): the
        core's election timer for Timeout, a client write, `Replicate(j, entries=n)` for an
        AppendEntries of n entries (the core sends to one peer on request), and the spec's
        message `m` made the core's own and delivered for a HandleX. InstallSnapshot,
        TakeSnapshot, the reads and Restart are not taken here (False): the example runs without
        compaction and keeps no durable store of its own to restart from."""
        m = params.get("m")
        if params.get("i") != self.id:
            return False
        if action == "Timeout":
            self._step(Tick(ELECTION, now))
        elif action == "ClientRequest":
            self.requests += 1
            self._step(ClientRequest(params["v"], self.requests, now))
        elif action == "AppendEntries" and isinstance(m, Mapping):
            entries = m["mentries"]
            count = len(entries) if isinstance(entries, tuple) else None
            self._step(Replicate(str(params["j"]), entries=count))
        elif action in HANDLED and isinstance(m, Mapping) and m.get("mtype") == HANDLED[action]:
            self._step(Deliver(str(params["j"]), core_message(m), now))
        else:
            return False
        return any(isinstance(e, Action) and e.name == action for e in self.out)

    def collect(self, event: Any) -> Collected:
        writes: list[Write] = []
        sends: list[tuple[str, Any]] = []
        applied: list[tuple[int, Any, Any]] = []
        replies: list[Reply] = []
        timers: list[SetTimer] = []
        steps: list[SpecStep] = []
        for action, part in split_actions(self.out):
            owned: list[int] = []
            for e in part:
                if isinstance(e, Persist):
                    writes.extend(e.writes)
                elif isinstance(e, Send):
                    owned.append(len(sends))
                    sends.append((e.dest, e.message))
                elif isinstance(e, Apply):
                    applied.append((e.index, e.value, e.result))
                elif isinstance(e, Reply):
                    replies.append(e)
                elif isinstance(e, SetTimer):
                    self.armed.add(e.timer)
                    timers.append(e)
                elif isinstance(e, CancelTimer):
                    self.armed.discard(e.timer)
            if isinstance(action, Action):
                # a client operation the node turned away (not the leader) changes nothing: the
                # spec has no such step (its ClientRequest needs a leader), so it is not logged
                refused = action.name in ("ClientRequest", "ClientRead") and any(
                    isinstance(e, Reply) and not e.ok for e in part
                )
                steps.append(
                    SpecStep(action.name, action.params, tuple(owned), in_spec=not refused)
                )
        self.out = []
        return Collected(
            tuple(writes), tuple(sends), tuple(applied), tuple(replies), tuple(timers), tuple(steps)
        )

    def state(self) -> Mapping[str, Value]:
        n = self.node
        assert n is not None
        return {
            "currentTerm": n.term,
            "votedFor": "None" if n.voted_for is None else n.voted_for,
            "role": n.role,
            "log": tuple(FrozenDict({"term": e.term, "value": e.value}) for e in n.log.entries),
            "commitIndex": n.commit_index,
            "snapshotIndex": n.log.snapshot_index,
            "snapshotTerm": n.log.snapshot_term,
        }

    def applied_state(self) -> tuple[int, bytes]:
        assert self.node is not None
        return self.node.applied_state()


# The spec's handlers `take` delivers their message to, by the message's type
HANDLED = {
    "HandleRequestVoteRequest": "RequestVoteRequest",
    "HandleRequestVoteResponse": "RequestVoteResponse",
    "HandleAppendEntriesRequest": "AppendEntriesRequest",
    "HandleAppendEntriesResponse": "AppendEntriesResponse",
}
# The actions `take` takes (adapted lockstep offers only these) besides the network's faults
TAKES = ("Timeout", "ClientRequest", "AppendEntries", *HANDLED, "DropMessage", "DuplicateMessage")


def core_message(m: Mapping[str, Value]) -> Message:
    """The spec's record of a message (`message_record`'s image) as the core's message."""
    kind, src, dst, term = m["mtype"], str(m["msource"]), str(m["mdest"]), int(m["mterm"])
    if kind == "RequestVoteRequest":
        return RequestVoteRequest(src, dst, term, int(m["mlastLogTerm"]), int(m["mlastLogIndex"]))
    if kind == "RequestVoteResponse":
        return RequestVoteResponse(src, dst, term, bool(m["mvoteGranted"]))
    if kind == "AppendEntriesRequest":
        entries = m["mentries"]
        assert isinstance(entries, tuple)
        return AppendEntriesRequest(
            src,
            dst,
            term,
            int(m["mprevLogIndex"]),
            int(m["mprevLogTerm"]),
            tuple(Entry(int(e["term"]), e["value"]) for e in entries),
            int(m["mcommitIndex"]),
            int(m["mreadSeq"]),
        )
    if kind == "AppendEntriesResponse":
        return AppendEntriesResponse(
            src,
            dst,
            term,
            bool(m["msuccess"]),
            int(m["mmatchIndex"]),
            int(m["mreadSeq"]),
            int(m["mconflictTerm"]),
            int(m["mconflictIndex"]),
        )
    raise ValueError(f"no core message for the spec's {kind}")

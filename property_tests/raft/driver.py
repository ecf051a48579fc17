"""Drive the implementation through a given spec step: the half of lockstep that touches the code.

A spec step (an action instance, the state before and the state after) becomes one event at one node
of a simulated cluster, and the refinement mapping of the cluster after it must be the state after.
Lockstep (`lockstep.py`: Hypothesis picks the step among TLC's successors) and stored-trace replay
(stored traces, property_tests/harness.py: the steps come from an ITF file) both go through `Driver.take`.

How each action of specs/Raft.tla is forced (the node's timers are named for the actions they are,
impl/raft/node.py):

    Timeout(i)            fire i's election timer
    PreVoteTimeout(i)     fire i's election timer (a cluster with pre_vote on)
    ClientRequest(i, v)   a client write of v at i
    ClientRead(i)         a client read at i
    CompleteRead(i)       fire i's read timer
    TakeSnapshot(i)       fire i's snapshot timer
    Restart(i)            crash i and start it from its durable store
    AppendEntries(i, j)   `Replicate(j, entries=n)` at i, n the length of the batch the spec sent
    InstallSnapshot(i, j) `Replicate(j)` at i
    HandleX(i, j)         deliver to i the message from j that left the spec's bag
    DropMessage           lose the message that left the bag
    DuplicateMessage      copy the message whose count grew

The spec's handlers and faults choose their message inside the action, so TLC's label names no
message: it is read off the difference of the bags before and after (`bag_change`).

The implementation sends more than a spec step does: a leader answers a response with the next
batch, and sends to every peer when elected or when a read starts. Those sends are spec steps of
their own (AppendEntries(i, j)), taken when the spec takes them, so the driver withholds every
AppendEntries and InstallSnapshot request except while it forces one (`Simulator.send_filter`). A
withheld send changes nothing in the node, which is what makes this sound: sends are separate steps
in the spec for the same reason.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import InstallSnapshotRequest
from meshcheck.impl.raft.node import ELECTION
from meshcheck.impl.raft.node import READ
from meshcheck.impl.raft.node import SNAPSHOT
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.node import Replicate
from meshcheck.impl.raft.refinement import Budget
from meshcheck.impl.raft.simulation import raft_cluster
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.property_tests.lockstep import differences as shared_differences

TIMERS = {
    "Timeout": ELECTION,
    "PreVoteTimeout": ELECTION,
    "CompleteRead": READ,
    "TakeSnapshot": SNAPSHOT,
}
SENDS = ("AppendEntries", "InstallSnapshot")


class DriverError(Exception):
    """The implementation could not take the step the spec took (e.g. it has no such message)."""


def bag(messages: Value) -> Counter[Value]:
    """The spec's `messages` (a record -> count function, or () when empty) as a Counter."""
    return Counter(dict(messages)) if isinstance(messages, Mapping) else Counter()


def bag_change(
    before: Mapping[str, Value], after: Mapping[str, Value]
) -> tuple[list[Value], list[Value]]:
    """(records that left the bag, records added), one entry per copy."""
    old, new = bag(before["messages"]), bag(after["messages"])
    return list((old - new).elements()), list((new - old).elements())


def the_one(records: list[Value], what: str, label: str) -> FrozenDict:
    if len(records) != 1 or not isinstance(records[0], FrozenDict):
        raise DriverError(f"{label}: expected one message {what} the bag, found {len(records)}")
    return records[0]


class Driver:
    """A simulated cluster that takes the spec's steps. Nothing in it runs on its own: no clock
    advances, no timer fires, no message moves unless a step says so."""

    def __init__(
        self,
        servers: Iterable[str],
        *,
        budget: Budget,
        bugs: frozenset[str] = frozenset(),
        pre_vote: bool = False,
    ) -> None:
        self.sim: Simulator[RaftNode] = raft_cluster(
            sorted(servers),
            seed=0,
            budget=budget,
            bugs=bugs,
            pre_vote=pre_vote,
            lossless_restart_is_step=True,
        )
        self._forcing = False
        self.sim.send_filter = self._allow
        self._requests = 0

    def _allow(self, node: str, message: Any) -> bool:
        return self._forcing or not isinstance(
            message, AppendEntriesRequest | InstallSnapshotRequest
        )

    def state(self) -> FrozenDict:
        """The refinement mapping of the cluster now."""
        return self.sim.abstract_state()

    def about_to_serve(self) -> list[str]:
        """The nodes that would answer a client read if their due read timer fired now.

        The other direction of lockstep: the refinement check sees what the implementation did, this
        sees what it is about to do on its own (a zero-delay timer it set). The spec must allow
        that step too (CompleteRead(i)); the timer is fired on a copy of the node, so nothing here
        changes the run.
        """
        ready = []
        for node_id, node in self.sim.nodes.items():
            if self.sim.up[node_id] and self.sim.timer_pending(node_id, READ):
                effects = copy.deepcopy(node).step(Tick(READ))
                if any(isinstance(e, Reply) and e.ok for e in effects):
                    ready.append(node_id)
        return ready

    def take(
        self,
        action: str,
        params: Mapping[str, Value],
        before: Mapping[str, Value],
        after: Mapping[str, Value],
    ) -> None:
        """Make the implementation take the spec's step `action(params)` from `before` to `after`."""
        sim = self.sim
        label = f"{action}({', '.join(f'{k}={format_value(v)}' for k, v in params.items())})"
        i = str(params.get("i", ""))
        j = str(params.get("j", ""))
        if action in TIMERS:
            sim.fire(i, TIMERS[action])
        elif action == "Restart":
            sim.restart(i)
        elif action == "ClientRequest":
            self._requests += 1
            sim.inject(i, ClientRequest(params["v"], self._requests))
        elif action == "ClientRead":
            self._requests += 1
            sim.inject(i, ClientRead("", self._requests))
        elif action in SENDS:
            sent = the_one(bag_change(before, after)[1], "added to", label)
            entries = sent.get("mentries")
            count = len(entries) if isinstance(entries, tuple) else None
            self._forcing = True
            try:
                sim.inject(i, Replicate(j, entries=count))
            finally:
                self._forcing = False
        elif action.startswith("Handle") or action in ("DropMessage", "DuplicateMessage"):
            gone, added = bag_change(before, after)
            record = the_one(added if action == "DuplicateMessage" else gone, "taken from", label)
            found = sim.find(record)
            if not found:
                raise DriverError(
                    f"{label}: the implementation has no message {format_value(record)} in flight"
                )
            if action == "DropMessage":
                sim.drop(found[0].id)
            elif action == "DuplicateMessage":
                sim.duplicate(found[0].id)
            else:
                sim.deliver(found[0].id)
        else:
            raise DriverError(f"the driver does not know the spec action {action}")


def differences(spec: Mapping[str, Value], impl: Mapping[str, Value]) -> list[str]:
    """Where the implementation's abstract state differs from the spec's, one line per variable
    (for functions over servers, only the servers that differ; for the bag of messages, the
    copies only one side has)."""
    return shared_differences(spec, impl, bags=("messages",))

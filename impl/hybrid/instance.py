"""One epoch's protocol instance inside a hybrid node: a RaftNode, or the BFT protocol the config
chooses (impl/hybrid/bft.py: a PBFT Replica or a HotStuff replica), run under the epoch's name.

The node hosts one instance per epoch it entered (the current one, and the earlier ones, which
still answer catch-up for lagging nodes). The instance's effects are renamed so that instances never
meet: its timers and durable keys carry the prefix "e<epoch>/", its Raft messages leave sealed by
the node (entries.RaftPayload: a leader's AppendEntries numbered per term and follower, with the
leader's clock at sending) and its BFT messages wrapped with the epoch (entries.PbftWire,
entries.HotStuffWire).
Its `Apply` and `Reply` effects stay inside: the node answers clients from the replicated state.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.node import Node
from meshcheck.impl.hybrid import bft
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import HybridState
from meshcheck.impl.hybrid.threat import Verify
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.node import RaftNode


def prefix(epoch: int) -> str:
    return f"e{epoch}/"


class Instance:
    """The protocol core of one epoch, and what the node needs to run it."""

    def __init__(
        self,
        config: HybridConfig,
        keys: Keys,
        verify: Verify,
        start: HybridState,
        rng: random.Random,
    ) -> None:
        self.epoch = start.epoch
        self.protocol = start.protocol
        self.start = start
        self.node = config.id
        self.keys = keys
        self.prefix = prefix(self.epoch)
        self.now = 0  # the time of the event being stepped (the node's clock)
        # a Raft leader's heartbeat numbers: (term, follower) -> the last AppendEntries' number
        self.beats: dict[tuple[int, str], int] = {}

        def machine() -> HybridMachine:
            return HybridMachine(start, keys, verify, config.bugs)

        self.core: RaftNode | Replica | bft.HybridHotStuff
        self.bft: bft.Bft | None = None
        if self.protocol == RAFT:
            raft = RaftConfig(
                config.id,
                config.nodes,
                election_timeout=config.election_timeout,
                heartbeat_interval=config.heartbeat_interval,
                max_entries=config.max_entries,
                snapshot_interval=1 << 40,  # never compact: see HybridMachine.snapshot
            )
            self.core = RaftNode(raft, rng, machine)
        else:
            self.bft = bft.make(config, keys, self.epoch, machine)
            self.core = self.bft.core
        # what actually steps: the core, or a Byzantine wrapper around it
        self.runner: Node = self.core

    @property
    def machine(self) -> HybridMachine:
        machine = self.core.machine
        assert isinstance(machine, HybridMachine)
        return machine

    @property
    def is_raft(self) -> bool:
        return self.protocol == RAFT

    def step(self, event: Any) -> tuple[list[Write], list[Effect]]:
        """Step the core (the event carries the node's time); its durable writes (renamed) and its
        other effects (renamed, wrapped)."""
        writes: list[Write] = []
        out: list[Effect] = []
        self.now = getattr(event, "now", self.now)
        for e in self.runner.step(event):
            if isinstance(e, Persist):
                writes.extend(self._rekey(w) for w in e.writes)
            elif isinstance(e, SetTimer):
                out.append(SetTimer(self.prefix + e.timer, e.after))
            elif isinstance(e, CancelTimer):
                out.append(CancelTimer(self.prefix + e.timer))
            elif isinstance(e, Send):
                wrapped = self._wrap(e)
                if wrapped is not None:
                    out.append(wrapped)
            # Apply and Reply stay inside: the node answers from the replicated state
        return writes, out

    def _wrap(self, send: Send) -> Send | None:
        if self.is_raft:
            payload = RaftPayload(self.epoch, self.node, send.message)
            m = send.message
            if isinstance(m, AppendEntriesRequest):
                # the leader's heartbeat number to this follower in this term, and its clock:
                # what a follower's timing evidence rests on (entries.RaftPayload)
                beat = self.beats.get((m.term, send.dest), 0) + 1
                self.beats[(m.term, send.dest)] = beat
                payload = attrs.evolve(payload, beat=beat, sent=self.now)
            return Send(send.dest, self.keys.seal(self.epoch, self.node, payload))
        if send.dest not in self.keys.nodes:
            return None  # a BFT reply to a node's client identity: the node reads its own state
        assert self.bft is not None
        return Send(send.dest, self.bft.wire(send.message))

    def _rekey(self, w: Write) -> Write:
        if isinstance(w, Put):
            return Put(self.prefix + w.key, w.value)
        return Splice(self.prefix + w.key, w.start, w.items)

    def persisted(self, store: Mapping[str, Any]) -> dict[str, Any]:
        """This instance's part of the node's durable store, under the core's own key names."""
        return {k[len(self.prefix) :]: v for k, v in store.items() if k.startswith(self.prefix)}

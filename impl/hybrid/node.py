"""The sans-IO hybrid node: `step(event) -> list[Effect]`, one protocol instance per epoch.

Theory of operation (the hybrid layer's shared design, which specs/Hybrid.tla also follows).

- Epoch e runs one instance (instance.py): Raft in epoch 1, then whatever `protocol(level)` says;
  a BFT epoch runs the BFT protocol `config.bft` names (PBFT or HotStuff, behind bft.py's
  interface: a "PBFT" below is that protocol).
  Every message carries its epoch and goes to that epoch's instance; a message of an epoch this
  node does not keep (a later one: it lags and will get there by catching up in its own) is dropped.
- The instance's state machine is the replicated state (machine.py). When applying a committed
  entry makes the level call for the other protocol, that machine closes at the entry (`Switch`):
  the node starts epoch e+1 with the other protocol, from the state after that entry, keeps the old
  instances running for laggards (a node that was down across several switches catches up epoch
  by epoch, each from the instance that ordered it), and answers every client op still waiting
  for epoch e as rejected (nothing beyond the switch entry is ever applied, so it can never commit
  there), and proposes the ops it held for epoch e+1.
- Proposals. A client's op carries the epoch the client believes current (`ClientOp.epoch`, signed
  by the client; it learns epochs from the answers it gets) and is proposed in that epoch only: a
  node in it proposes it there (in a Raft epoch the leader appends it and a follower forwards it, a
  sealed `Proposal`; in a PBFT epoch the node submits it as a PBFT request under its client
  identity, to every replica); a node in a later epoch answers "rejected: epoch e ended" at once
  (it applied epoch e's switch entry without the op before it, and an entry is applied only in
  its own epoch, so that proposal can never commit); a node in an earlier epoch holds it until it
  gets there. So every "rejected" answer is final for its (op, epoch) proposal (Hybrid.tla's
  Reject), and the client proposes the op again tagged with the next epoch. Evidence and clock
  entries go to the current epoch. What is not committed is proposed again every `retry_every`
  ticks. A Raft leader appends an entry once per term, not once: a leader that stepped down may
  have had its uncommitted copy overwritten by the next leader (Raft paper, section 5.3), and when
  it leads again in the same epoch the client's retries and the followers' forwards all come to
  it, so only its appending the op again can commit it (`_append`).
- Detectors. The BFT protocol's (PBFT's audit log, impl/pbft/evidence.py; HotStuff's checks of
  proposals and votes, bft.HotStuffDetector) and, in Raft epochs, the node's own checks of
  what it receives: a seal that does not verify (bad_signature against the link's sender), a sealed
  message carrying an entry whose signature fails (tampering, self-proving), two sealed
  AppendEntries of one leader and term that disagree at an index (equivocation, self-proving), a
  leader's two consecutive heartbeats that it signed as sent further apart than `timing_bound`
  (timing: `_inspect_beat`; never from arrival times, which the network makes late for honest
  leaders too). A record becomes an evidence
  entry, signed by this node, and changes nothing until it is committed and applied. An
  AppendEntries caught tampering or equivocating is not followed: taking it would give this
  follower a log the other honest nodes do not share (Hybrid.tla's one chain per epoch).
- In a Raft epoch, evidence of this node's that stays uncommitted for `evidence_timeout` (a leader
  that censors it) makes the node stop following that leader and campaign. The timeout counts
  from when the node began following its current leader (as this node's retries see it), so each
  leader gets a whole one: a laggard that campaigned against every new leader at once deposed each
  before it could catch the laggard up (one probe per round trip, Raft paper section 5.3), and
  nothing committed again.

Durability: the start state and the protocol of every epoch entered ("hybrid/..."), each
instance's own keys under "e<epoch>/", the PBFT request counter. Everything else is rebuilt: the
instances replay what they committed into fresh machines from their epochs' start states.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base import probes
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.bft import PBFT
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import OpKey
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.entries import epoch_of
from meshcheck.impl.hybrid.entries import raft_well_formed
from meshcheck.impl.hybrid.instance import Instance
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import protocol
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import REJECTED
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import HybridState
from meshcheck.impl.hybrid.machine import op_name
from meshcheck.impl.hybrid.proofs import RAFT_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import RAFT_TAMPERING
from meshcheck.impl.hybrid.proofs import appended
from meshcheck.impl.hybrid.proofs import carried
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.impl.hybrid.threat import Verify
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import InstallSnapshotRequest
from meshcheck.impl.raft.node import ELECTION
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.roles import LEADER

CLOCK: Final = "h/clock"
RETRY: Final = "h/retry"
EPOCHS: Final = "hybrid/epochs"  # ((epoch, start state), ...) of every epoch entered
PROTOCOLS: Final = "hybrid/protocols"  # ((epoch, protocol), ...) of every epoch entered
TIMESTAMP: Final = "hybrid/ts"  # per epoch: the last PBFT request timestamp used

NOT_SIGNED: Final = "bad client signature"
# heartbeat numbers a follower keeps per (epoch, leader, term, follower) to pair consecutive ones
BEATS_KEPT: Final = 16


def ended(epoch: int) -> tuple[str, FrozenDict]:
    """The answer to an op proposed in `epoch` that epoch's switch entry left out: the error and
    the result (the epoch that ended, for the client to propose the op again in the next)."""
    reason = f"epoch {epoch} ended"
    result = FrozenDict({"ok": False, "status": REJECTED, "reason": reason, "ended": epoch})
    return f"{REJECTED}: {reason}", result


def _replayed(reported: list[FrozenDict | None], rebuilt: list[FrozenDict | None]) -> int:
    """How many of `rebuilt`'s entries the node has reported already, when an instance's core
    rebuilt its machine from the factory and replayed its history into it: a restart (the fresh
    instance had reported nothing) or a PBFT state transfer (impl/pbft/replica.py `_install`, which
    replays every batch up to the adopted checkpoint, the ones this machine applied and reported
    included). A replay that starts with what was reported repeats it: only the rest is new. One
    that does not is reported whole, for the refinement to flag as reports at positions the epoch's
    chain already holds (Hybrid.tla has no step that takes an applied entry back)."""
    if rebuilt[: len(reported)] == reported:
        return len(reported)
    return 0


@attrs.frozen
class Waiting:
    """A client op this node holds for the epoch it is tagged with, and the requests to answer."""

    op: ClientOp
    requests: tuple[int, ...]

    @property
    def epoch(self) -> int:
        return self.op.epoch


class HybridNode:
    """One hybrid node. Read its state through the attributes; change it only through `step`."""

    def __init__(
        self, config: HybridConfig, keys: Keys, verify: Verify, rng: random.Random
    ) -> None:
        self.config = config
        self.id = config.id
        self.keys = keys
        self.verify = verify
        self.rng = rng
        self.now = 0  # the `now` of the event being handled: time reaches the node only in events
        self.started = False
        self.epoch = 0
        self.protocols: dict[int, str] = {}
        self.instances: dict[int, Instance] = {}
        self.behaviours: list[Any] = []  # Byzantine behaviours on this node's output (byzantine.py)
        self.memory: dict[object, Any] = {}  # what those behaviours remember between steps
        # Once Byzantine, its state is not the service's, even after the behaviours are taken away:
        # its Apply effects no longer reach the simulator's State Machine Safety record.
        self.tainted = False
        self.pbft_wrapper: Any = None  # wraps this node's PBFT cores (impl/pbft/byzantine)
        self.hotstuff_wrapper: Any = None  # wraps its HotStuff cores (impl/hotstuff/byzantine)
        self.reported: list[Evidence] = []  # every record this node's detectors produced
        self._reset_volatile()
        self._out: list[Effect] = []
        self._writes: list[Write] = []

    def _reset_volatile(self) -> None:
        self.waiting: dict[tuple[OpKey, int], Waiting] = {}  # (op, its epoch tag) -> the op
        self.pending: dict[tuple[Any, ...], tuple[Evidence, int]] = {}  # key -> (record, since)
        self._timestamps: dict[int, int] = {}
        self._last_report: dict[tuple[str, str], int] = {}
        self._reported_keys: set[tuple[Any, ...]] = set()
        self._seen: dict[tuple[int, str, int], dict[int, tuple[Any, Signed[Any]]]] = {}
        # (epoch, leader, term, follower) -> heartbeat number -> (its signed send time, the seal)
        self._beats: dict[tuple[int, str, int, str], dict[int, tuple[int, Signed[Any]]]] = {}
        self._arrivals: dict[tuple[int, str, int], int] = {}  # the timing_from_receipt mutant's
        # (epoch, entry) -> the last term this node appended the entry in, as that term's leader
        self._appended: dict[tuple[int, Any], int] = {}
        self._placed: dict[tuple[int, Any], int] = {}  # the reappend_checks_index_only mutant's
        self._submitted: dict[tuple[int, Any], Any] = {}  # BFT requests made
        self._history_out = 0  # committed ops already announced as Apply effects
        # the Raft leader this node follows, (epoch, term, leader), and since when (the evidence
        # timeout counts from then: each leader gets a whole one)
        self._following: tuple[int, int, str] | None = None
        self._following_since = 0
        self._clock_proposed: tuple[int, int] | None = None  # (epoch, time) of the last reading

    def __repr__(self) -> str:
        proto = self.protocols.get(self.epoch, "?")
        return f"<HybridNode {self.id} epoch={self.epoch} {proto} level={self.level.title}>"

    # -- reading the replicated state ----------------------------------------------------------------

    @property
    def current(self) -> Instance:
        return self.instances[self.epoch]

    @property
    def machine(self) -> HybridMachine:
        return self.current.machine

    @property
    def threat(self) -> ThreatModel:
        return self.machine.threat

    @property
    def level(self) -> Level:
        return self.machine.threat.level if self.instances else Level.NONE

    @property
    def history(self) -> tuple[OpKey, ...]:
        return tuple(self.machine.history)

    def current_protocol(self) -> str:
        return self.protocols[self.epoch]

    # -- the one entry point ---------------------------------------------------------------------------

    def applied_state(self) -> tuple[int, bytes]:
        """The `AppliedState` hook (impl/base/node.py): the client ops the replicated state holds
        (the position of the last `Apply`) and its digest (HybridMachine.digest)."""
        return len(self.machine.history), self.machine.digest()

    def step(self, event: Any) -> list[Effect]:
        self._out, self._writes = [], []
        self.now = getattr(event, "now", self.now)
        if self.started:
            for behaviour in self.behaviours:  # a Byzantine node's own doings (byzantine.py)
                before = getattr(behaviour, "before", None)
                if before is not None and not before(self, event):
                    return []  # the behaviour swallowed the event
        if isinstance(event, Restart):
            self._restart(event.persisted)
        elif not self.started:
            raise RuntimeError(f"{self.id}: step({event!r}) before Restart: start the node first")
        elif isinstance(event, Deliver):
            self._receive(event.source, event.message)
        elif isinstance(event, Tick):
            self._tick(event.timer)
        elif isinstance(event, ClientRequest):
            self._client_request(event)
        else:
            raise TypeError(f"{self.id}: not a hybrid event: {event!r}")
        self._settle()
        out, writes = self._out, self._writes
        self._out, self._writes = [], []
        effects: list[Effect] = [Persist(tuple(writes)), *out] if writes else out
        for behaviour in self.behaviours:
            effects = behaviour.act(self, effects)
        if self.tainted or self.behaviours:
            effects = [e for e in effects if not isinstance(e, Apply)]
        return effects

    # -- start and restart -----------------------------------------------------------------------------

    def _restart(self, persisted: Mapping[str, Any]) -> None:
        self._reset_volatile()
        threat = ThreatModel(self.config.f, self.config.th, self.config.bugs)
        kept: tuple[tuple[int, HybridState], ...] = persisted.get(
            EPOCHS, ((1, HybridState.initial(threat)),)
        )
        self.protocols = dict(persisted.get(PROTOCOLS, ((1, kept[0][1].protocol),)))
        self._timestamps = dict(persisted.get(TIMESTAMP, ()))
        self.instances = {}
        for epoch, start in kept:
            instance = self._instance(start)
            self.instances[epoch] = instance
            self._run(instance, Restart(instance.persisted(persisted)))
        self.epoch = max(self.instances)
        self.started = True
        self._out.append(SetTimer(CLOCK, self.config.clock_every))
        self._out.append(SetTimer(RETRY, self.config.retry_every))

    def _instance(self, start: HybridState) -> Instance:
        instance = Instance(self.config, self.keys, self.verify, start, self.rng)
        wrapper = self.bft_wrapper(instance)
        if wrapper is not None:
            instance.runner = wrapper(instance.core)
        return instance

    def bft_wrapper(self, instance: Instance) -> Any:
        """The Byzantine wrapper the test put around this node's cores of the instance's BFT
        protocol (`pbft_wrapper`, `hotstuff_wrapper`), None for none or a Raft instance."""
        if instance.bft is None:
            return None
        return self.pbft_wrapper if instance.bft.name == PBFT else self.hotstuff_wrapper

    # -- running an instance ---------------------------------------------------------------------------

    def _run(self, instance: Instance, event: Any) -> None:
        machine, seen = instance.machine, len(instance.machine.spec_entries)
        writes, out = instance.step(attrs.evolve(event, now=self.now))
        self._writes.extend(writes)
        self._out.extend(out)
        if instance.machine is not machine:
            seen = _replayed(machine.spec_entries, instance.machine.spec_entries)
        self._report_applied(instance, instance.machine.spec_entries[seen:])
        if instance.bft is not None:
            self._read_evidence(instance)

    def _report_applied(self, instance: Instance, entries: list[FrozenDict | None]) -> None:
        """Hybrid.tla's steps of the entries the instance's machine just applied, where they
        happen: for each entry the spec sees, the order that put it in the epoch's chain
        (OrderOp, OrderEvidence, OrderQuiet: this node applying it is what commits it to the spec's
        chain; the first honest node to do so takes the spec's step, the others find it there),
        then Apply(i) when the instance is this node's current epoch's."""
        e = instance.epoch
        for entry in entries:
            if entry is None:
                continue
            if entry["type"] == "op":
                self._out.append(Action("OrderOp", {"e": e, "o": entry["op"]}))
            elif entry["type"] == "evidence":
                self._out.append(Action("OrderEvidence", {"e": e, "k": entry["kind"]}))
            else:
                self._out.append(Action("OrderQuiet", {"e": e}))
            if e == self.epoch:
                self._out.append(Action("Apply", {"i": self.id}))

    def _answer(self, op: ClientOp, request: int, result: Any, error: str = "") -> None:
        """Answer the client's request for `op`: Hybrid.tla's Reply(o) when it committed, Reject(o)
        when rejected (the answer is one client learning it; the spec's step is taken when the
        client knows, see impl/hybrid/refinement.py)."""
        status = result.get("status") if isinstance(result, Mapping) else None
        if status == COMMITTED:
            self._out.append(Action("Reply", {"o": op_name(op.key)}))
        elif status == REJECTED:
            self._out.append(Action("Reject", {"o": op_name(op.key)}))
        self._out.append(Reply(request, result, error=error))

    # -- messages ----------------------------------------------------------------------------------------

    def _receive(self, source: str, message: Any) -> None:
        epoch = epoch_of(message)
        instance = self.instances.get(epoch) if epoch is not None else None
        if instance is None:
            if epoch is None:  # not even a hybrid message: nobody honest sends that
                self._report(BAD_SIGNATURE, source, (), "", self.epoch)
            return
        if isinstance(message, PbftWire | HotStuffWire):
            inner = instance.bft.unwrap(message) if instance.bft is not None else None
            if inner is not None:
                self._read_evidence(instance, source, inner)
                self._run(instance, Deliver(source, inner))
            return
        assert epoch is not None
        # a value that is no seal may carry an epoch too (a bare RaftPayload, an OpEntry): only a
        # seal has a signer to compare, so the seal is checked first
        if not self.keys.sealed_ok(epoch, message) or message.signer != source:
            self._report(BAD_SIGNATURE, source, (), "a seal that does not verify", epoch)
            return
        body = message.body
        if isinstance(body, Proposal):
            self._on_proposal(instance, message)
        elif isinstance(body, RaftPayload) and instance.is_raft:
            inner = body.message
            if getattr(inner, "source", None) != source or isinstance(
                inner, InstallSnapshotRequest
            ):
                return  # hybrid Raft never compacts, so never ships a snapshot
            if not raft_well_formed(inner):
                # a string for a term, None for an index: what no honest node seals, and what
                # would stop this node's step in the detectors or the Raft core; the seal proves it
                self._report(TAMPERING, source, (message,), RAFT_TAMPERING, epoch)
                return
            if isinstance(inner, AppendEntriesRequest):
                followed = self._inspect_append(epoch, message, inner)
                if not followed and mutants.FOLLOW_CAUGHT_APPEND not in self.config.bugs:
                    return  # a lie the detectors caught never reaches this node's log
            if getattr(inner, "dest", None) != self.id:
                # A Raft message is its sender's statement to one node. A leader's AppendEntries
                # to another follower, replayed here, may put at an index this node does not hold
                # yet what only that follower was told: the first entry this node sees there, so
                # no detector flags it, and its log leaves the others'. Read by the detectors
                # above (a sealed statement proves as much whoever it was sent to), never followed.
                return
            self._run(instance, Deliver(source, inner))

    def _inspect_append(self, epoch: int, sealed: Signed[Any], m: AppendEntriesRequest) -> bool:
        """The Raft-side detectors on a leader's sealed AppendEntries; whether to follow it.

        Raft's Log Matching (Raft paper, Figure 3) holds only while every follower takes each
        index and term from one leader's one statement. A Byzantine leader breaks it if a follower
        takes what the detectors just caught: an entry whose own signature fails (the machine
        skips it on apply, so that follower's history lacks an op the others applied at the same
        index: the epoch's committed chain is no longer one), or a second, different entry for an
        index and term. Such a message is evidence, and the follower does not follow it (neither
        its entries nor its commit index, nor as a heartbeat: the leader's election timeout runs
        on). The detectors only ever flag what an honest leader never sends."""
        leader = sealed.signer
        followed = True
        if any(not self.keys.entry_ok(v) for v in carried(sealed)):
            self._report(TAMPERING, leader, (sealed,), RAFT_TAMPERING, epoch)
            followed = False
        # Leader Append-Only (Raft paper, Figure 3): one leader, one term, one entry per index.
        seen = self._seen.setdefault((epoch, leader, m.term), {})
        for index, entry in appended(sealed).items():
            first = seen.setdefault(index, (entry, sealed))
            if first[0] != entry:
                self._report(EQUIVOCATION, leader, (first[1], sealed), RAFT_EQUIVOCATION, epoch)
                followed = False
        # a leader that withholds its heartbeats (section 5.2: it must send them periodically)
        if mutants.TIMING_FROM_RECEIPT in self.config.bugs:
            # the bug: heartbeats that *arrive* far apart, which loss, partitions and delays make
            # of an honest leader's too
            beat = (epoch, leader, m.term)
            last = self._arrivals.get(beat)
            if last is not None and self.now - last > self.config.timing_bound:
                detail = f"{self.now - last} ticks between heartbeats"
                self._report(TIMING, leader, (), detail, epoch)
            self._arrivals[beat] = self.now
        else:
            self._inspect_beat(epoch, sealed, m)
        return followed

    def _inspect_beat(self, epoch: int, sealed: Signed[Any], m: AppendEntriesRequest) -> None:
        """Timing evidence from what the leader signed, never from when its messages arrive.

        The leader numbers its AppendEntries to each follower in each term and seals its own clock
        with each (entries.RaftPayload, impl/hybrid/instance.py). An honest leader sends one to
        every follower at least every `heartbeat_interval` of its clock (Raft paper, section 5.2;
        impl/raft/node.py), so two consecutive numbers whose signed send times are further apart
        than `timing_bound` are the leader's own two statements that it withheld its heartbeats:
        the record carries both seals. A gap in the numbers is a lost message, a late arrival a
        delayed one: neither proves anything, and neither is reported (an honest leader cut off by
        the network is no threat; its followers' election timers deal with it). Like PBFT's view
        change timer (Castro and Liskov, section 4.4) this catches a slow primary; a Byzantine
        leader that skips numbers or lies about its clock is left to those timers. Sealed
        statements to other followers count as much as those to this one: the key holds the
        follower."""
        body = sealed.body
        beat, sent = getattr(body, "beat", 0), getattr(body, "sent", 0)
        if type(beat) is not int or type(sent) is not int or beat < 1:
            return  # not numbered (or a Byzantine leader's ill-typed number): nothing to compare
        beats = self._beats.setdefault((epoch, sealed.signer, m.term, m.dest), {})
        if beat in beats:
            return  # a duplicate (or a second statement for one number: no timing either way)
        beats[beat] = (sent, sealed)
        for earlier, later in (
            (beats.get(beat - 1), (sent, sealed)),
            ((sent, sealed), beats.get(beat + 1)),
        ):
            if (
                earlier is not None
                and later is not None
                and later[0] - earlier[0] > self.config.timing_bound
            ):
                detail = f"heartbeats signed {later[0] - earlier[0]} ticks apart"
                self._report(TIMING, sealed.signer, (earlier[1], later[1]), detail, epoch)
        while len(beats) > BEATS_KEPT:  # enough to pair the reordered ones; a window, not a log
            del beats[min(beats)]

    def _on_proposal(self, instance: Instance, sealed: Signed[Any]) -> None:
        entry = sealed.body.entry
        if not self.keys.entry_ok(entry):
            self._report(TAMPERING, sealed.signer, (sealed,), RAFT_TAMPERING, instance.epoch)
            return
        if instance.is_raft and instance.epoch == self.epoch:
            self._append(instance, entry)

    # -- timers --------------------------------------------------------------------------------------------

    def _tick(self, timer: str) -> None:
        if timer == CLOCK:
            self._out.append(SetTimer(CLOCK, self.config.clock_every))
            if self._clock_on_its_way():
                return
            self._clock_proposed = (self.epoch, self.now)
            self._propose(self.keys.sign_clock(ClockEntry(self.id, self.now)))
        elif timer == RETRY:
            self._out.append(SetTimer(RETRY, self.config.retry_every))
            self._retry()
        else:
            name, _, inner = timer.partition("/")
            epoch = int(name[1:]) if name.startswith("e") and name[1:].isdigit() else None
            instance = self.instances.get(epoch) if epoch is not None else None
            if instance is not None:
                self._run(instance, Tick(inner))

    def _clock_on_its_way(self) -> bool:
        """In a BFT epoch: this node's last clock reading is not applied yet, and was proposed
        less than `retry_every` ago, so the next one waits. The ThreatModel keeps only a node's
        latest reading (threat.py `clock`), so a reading queued behind an uncommitted one adds
        load and no time; without this wait a BFT epoch whose commits are slower than
        `clock_every` (HotStuff: one block of `batch_size` requests a view, fewer views while a
        Byzantine leader's time out) takes in readings faster than it commits them, its queue
        grows without bound and a client's op waits behind it past any bound
        (property_tests/hybrid/test_free_runs.py, CLOCK_BACKLOG). One slower than n readings
        every `retry_every` (a silent replica's views timing out) still would: there HotStuff's
        replicas keep each node's newest reading only (bft.py `HybridHotStuff._on_request`). A
        Raft epoch has no such queue: its leader appends a proposal at once, and AppendEntries
        carries up to `max_entries`."""
        last = self._clock_proposed
        if last is None or last[0] != self.epoch or self.current.is_raft:
            return False
        at = last[1]
        return self.threat.clocks.get(self.id, -1) < at and self.now - at < self.config.retry_every

    def _retry(self) -> None:
        for waiting in list(self.waiting.values()):
            if waiting.epoch == self.epoch:
                self._propose(OpEntry(waiting.op, waiting.epoch))
        core = self.current.core
        leader = getattr(core, "leader", None)
        following = (
            (self.epoch, core.term, leader) if isinstance(core, RaftNode) and leader else None
        )
        if following != self._following:
            self._following, self._following_since = following, self.now
        stuck = False
        for record, since in list(self.pending.values()):
            self._propose(EvidenceEntry(record))
            start = max(since, self._following_since)
            stuck = stuck or self.now - start >= self.config.evidence_timeout
        if stuck and isinstance(core, RaftNode) and core.role != LEADER and core.leader is not None:
            # The leader has not committed our evidence for evidence_timeout: stop following it
            # and stand for election (the contract: f Byzantine nodes cannot block a switch).
            # Once per timeout, and only against a leader: a node that campaigned at every retry
            # would itself keep the cluster without one.
            self.pending = {k: (r, self.now) for k, (r, _) in self.pending.items()}
            self._run(self.current, Tick(ELECTION))

    # -- proposing ------------------------------------------------------------------------------------------

    def _client_request(self, event: ClientRequest) -> None:
        op = event.value
        if not isinstance(op, ClientOp) or not self.keys.op_ok(op):
            self._out.append(Reply(event.request_id, error=NOT_SIGNED))
            return
        # Submit(o): the client proposes o as it tagged it (refinement.py: counted unless the tag's
        # epoch ended or o committed already)
        self._out.append(Action("Submit", {"o": op_name(op.key)}))
        done = self.machine.outcome(op.key)
        if done is not None:
            self._answer(op, event.request_id, done)
            return
        if op.epoch < self.epoch:
            # This node applied epoch op.epoch's switch entry and the op was not before it (it has
            # no result): that proposal can never commit, and a proposal goes only to its epoch.
            error, result = ended(op.epoch)
            self._answer(op, event.request_id, result, error)
            return
        held = self.waiting.get((op.key, op.epoch))
        requests = (*held.requests, event.request_id) if held else (event.request_id,)
        self.waiting[(op.key, op.epoch)] = Waiting(op, requests)
        if op.epoch == self.epoch:  # a later tag waits until this node gets to that epoch
            self._propose(OpEntry(op, op.epoch))

    def _propose(self, entry: Any) -> None:
        instance = self.current
        core = instance.core
        if isinstance(core, RaftNode):
            if core.role == LEADER:
                self._append(instance, entry)
            elif core.leader is not None and core.leader != self.id:
                body = Proposal(instance.epoch, self.id, entry)
                self._out.append(Send(core.leader, self.keys.seal(instance.epoch, self.id, body)))
            return
        bft = instance.bft
        assert bft is not None
        epoch = instance.epoch
        me = client_id(self.id)
        request = self._submitted.get((epoch, entry))
        if request is None:
            # a new request; a retry sends the same one again (PBFT and HotStuff dedup by client
            # and timestamp)
            ts = self._timestamps.get(epoch, 0) + 1
            self._timestamps[epoch] = ts
            self._writes.append(Put(TIMESTAMP, tuple(sorted(self._timestamps.items()))))
            request = bft.request(me, ts, entry)
            self._submitted[(epoch, entry)] = request
        self._run(instance, Deliver(me, request))
        for peer in self.config.peers:
            self._out.append(Send(peer, bft.wire(request)))

    def _append(self, instance: Instance, entry: Any) -> None:
        """Leader: append `entry` once per term (proposals arrive again with every retry).

        Once per term, not once per epoch: this node may have led an earlier term of the epoch,
        appended the entry then, and stepped down before it committed; the next leader put its own
        entries at that index (Raft paper, section 5.3: a follower's conflicting suffix is
        overwritten), and now that this node leads again the entry is nowhere in its log. Whatever
        else this node remembers of that term does not say the entry is still there
        (property_tests/hybrid/leader_reelected.py)."""
        core = instance.core
        assert isinstance(core, RaftNode)
        key = (instance.epoch, entry)
        last = self._appended.get(key)
        if mutants.REAPPEND_CHECKS_INDEX_ONLY in self.config.bugs:
            # the bug: "my log still holds it" read off the index it went to, without the term
            # there (an entry is its index and its term: Log Matching, Raft paper Figure 3)
            placed = self._placed.get(key)
            if placed is not None and placed <= core.log.last_index:
                return
        elif last == core.term:
            return
        if isinstance(entry, OpEntry) and (
            entry.epoch != instance.epoch
            or entry.op.epoch != instance.epoch
            or instance.machine.outcome(entry.op.key) is not None
        ):
            return  # an op goes only to the epoch its client tagged it with
        if (
            last is not None
            and isinstance(entry, OpEntry)
            and all(e.value != entry for e in core.log.entries)
        ):
            # led an earlier term of the epoch, and that term's copy of the op was overwritten
            probes.hit("hybrid", "op_reappended_after_overwrite")
        self._appended[key] = core.term
        self._run(instance, ClientRequest(entry, 0))
        if mutants.REAPPEND_CHECKS_INDEX_ONLY in self.config.bugs:
            self._placed[key] = core.log.last_index

    # -- evidence -------------------------------------------------------------------------------------------

    def _report(
        self, kind: str, accused: str, messages: tuple[Any, ...], detail: str, epoch: int
    ) -> None:
        if accused == self.id or accused not in self.config.nodes:
            return
        # At most one report per (kind, accused) every report_every ticks, self-proving kinds too:
        # one proof demands the level its kind demands, and a misbehaviour that goes on is
        # reported again. A Raft leader that equivocates in every AppendEntries while censoring
        # the evidence leaves each follower hundreds of distinct proofs pending; proposed at once
        # in the next epoch they filled its blocks for longer than an op in flight may wait
        # (property_tests/hybrid: Schedule(seed=917, ..., behaviours=('censor', 'equivocate'))).
        # The limit counts reports filed: a proof filed before (the same message delivered
        # again) files nothing, so it does not restart the wait for the next proof either.
        record = Evidence(kind, self.id, accused, messages, self.now, epoch, detail)
        key = record.key()
        if key in self._reported_keys:
            return
        last = self._last_report.get((kind, accused))
        if last is not None and self.now - last < self.config.report_every:
            return
        self._last_report[(kind, accused)] = self.now
        self._reported_keys.add(key)
        record = self.keys.sign_evidence(record)
        self.reported.append(record)
        self.pending[key] = (record, self.now)
        if mutants.SWITCH_ON_OWN_EVIDENCE in self.config.bugs:
            self._switch_on_own(record)
        if self.started:
            self._propose(EvidenceEntry(record))
        # else: restarting, a PBFT instance replays its audit log before this node knows its
        # current epoch (nowhere to propose yet); the retry timer proposes what is pending

    def _read_evidence(
        self, instance: Instance, source: str | None = None, message: Any = None
    ) -> None:
        """The BFT protocol's detectors (impl/hybrid/bft.py): PBFT's audit log after each step,
        HotStuff's checks of each message received; each record becomes hybrid evidence."""
        assert instance.bft is not None
        for kind, accused, messages, detail in instance.bft.evidence(source, message):
            self._report(kind, accused, messages, detail, instance.epoch)

    def _switch_on_own(self, record: Evidence) -> None:
        """The mutant: the node's own view of the threat, with its own record, decides; if it
        calls for the other protocol the node switches now, at a position of its own, not at the
        committed switch entry every honest node applies."""
        machine = self.machine
        threat, _ = machine.threat.intake(record, self.verify)
        wanted = protocol(threat.level)
        if wanted == self.protocols[self.epoch]:
            return
        self._switch(
            attrs.evolve(machine.state(), epoch=self.epoch + 1, protocol=wanted, threat=threat)
        )

    # -- after every event: switch, answers, pending evidence -----------------------------------------

    def _settle(self) -> None:
        while True:
            closed = self.machine.closed
            if closed is None or closed.epoch in self.instances:
                break
            self._switch(closed)
        machine = self.machine
        for held, waiting in list(self.waiting.items()):
            done = machine.outcome(waiting.op.key)
            if done is not None:
                for request in waiting.requests:
                    self._answer(waiting.op, request, done)
                del self.waiting[held]
        self._forget_committed(machine)
        history = machine.history
        if self._history_out > len(history):
            self._history_out = len(history)  # restarted from an epoch's start
        for position in range(self._history_out, len(history)):
            # the op and the epoch it committed in (its client's tag: a client's rejection
            # answers one (op, epoch) proposal, and the history checks tell them apart)
            key = history[position]
            record = machine.results.get(key)
            epoch = record.get("epoch") if record is not None else None
            self._out.append(Apply(position + 1, (*key, epoch), record))
        self._history_out = len(history)

    def _forget_committed(self, machine: HybridMachine) -> None:
        """Stop proposing the records of this node that `machine`'s chain took in, accepted or
        refused (proposing one again cannot change its verdict)."""
        for key in list(self.pending):
            if key in machine.evidence_seen or key in machine.threat.keys:
                del self.pending[key]

    def _switch(self, start: HybridState) -> None:
        """Switch(i): the epoch ended at the entry just applied; enter the next one."""
        self._out.append(Action("Switch", {"i": self.id}))
        # what the closing epoch took in (the switch entry among it, when that is this node's own
        # record) would be applied again by the next epoch if proposed there
        self._forget_committed(self.machine)
        was = self.protocols.get(self.epoch)
        self.epoch = start.epoch
        self.protocols[start.epoch] = start.protocol
        instance = self._instance(start)
        self.instances[start.epoch] = instance
        kept = tuple((e, i.start) for e, i in sorted(self.instances.items()))
        self._writes.append(Put(EPOCHS, kept))
        self._writes.append(Put(PROTOCOLS, tuple(sorted(self.protocols.items()))))
        self._run(instance, Restart({}))
        machine = instance.machine
        if any(machine.outcome(w.op.key) is None for w in self.waiting.values()):
            probes.hit("hybrid", "switch_with_op_in_flight")
            if was == RAFT and start.protocol == BFT:
                probes.hit("hybrid", "escalation_with_op_in_flight")
        for held, waiting in list(self.waiting.items()):
            if machine.outcome(waiting.op.key) is not None:
                continue  # committed before the switch entry: _settle answers it
            if waiting.epoch < start.epoch:  # left beyond the switch entry: never applied
                error, result = ended(waiting.epoch)
                for request in waiting.requests:
                    self._answer(waiting.op, request, result, error)
                del self.waiting[held]
            elif waiting.epoch == start.epoch:  # held for this epoch: its proposal goes now
                self._propose(OpEntry(waiting.op, waiting.epoch))
        # the new epoch's leader gets a whole evidence_timeout before this node gives up on it
        self.pending = {k: (r, self.now) for k, (r, _) in self.pending.items()}
        for record, _since in list(self.pending.values()):
            self._propose(EvidenceEntry(record))

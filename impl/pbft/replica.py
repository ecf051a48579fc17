"""The sans-IO PBFT replica: `step(event) -> list[Effect]` (Castro and Liskov, OSDI 1999, section 4).

Theory of operation. One event at a time: a delivered message (always a `Signed` envelope), a timer
(`Tick`), or `Restart(persisted)`. A message's signature is checked first (a bad one is evidence
against the link's sender, evidence.py); a replica in quarantine is not listened to; then the
message is stored (log.py) or acted on. What the protocol does next is decided at the end of the
step (`_follow_up`), from the state alone:

- at most one action that changes the replica's spec state, and only as the step's first action:
  Execute(i) (the next sequence number is committed-local), StableCheckpoint(i, n) (2f+1 matching
  checkpoints), NewView(i) (the new primary holds 2f+1 view-change messages), or StartViewChange(i)
  (f+1 others have moved past this view: section 4.5.2); AcceptNewView(i, v) and the timeouts are
  the first action of their own steps;
- then any number of actions that only send: Prepare(i, v, n) for an acceptable pre-prepare,
  Commit(i, v, n) once prepared, and the primary's PrePrepare(i, r) for a batch.
Anything else that became possible waits for the zero-delay `progress` timer, so each step is at
most one spec action that changes state (actions.py). The step returns what it did as `Action` effects.

Timers: one per request a backup waits for (`request <client> <timestamp>`; its expiry starts a
view change), `view-change` (the wait for the new view, started once 2f+1 replicas asked for it, so
that a replica that timed out alone does not run ahead through the views; firing it is
StartViewChange(i)), `batch` (the primary's batch delay), `progress` (the next deferred action) and
`status` (section 5.2 of the TOCS paper: tell the peers how far this replica got; they answer with
what it lacks, which is how lost messages are made good). The view-change timeout doubles with every
view change that brings no execution, up to a cap (section 4.5.2).

View change (section 4.4). A view-change message claims, per sequence number above the stable
checkpoint, the prepared certificate of the highest view this replica sent a commit for (it commits
exactly when it becomes prepared, so these are its prepared certificates). A new view starts from
its checkpoint min-s: the new primary and every backup adopt it (with a state transfer if they
executed less), as the spec's NewView and AcceptNewView do, so nothing at or below it is accepted
in the new view.

Durability. The spec has no crash: a restart must be a stutter. So everything a replica vouched for
is persisted before the step's sends (one `Persist`, first): its view and status, what it executed,
its stable checkpoint and proof, every message it sent, the certificates its commits rest on (the
pre-prepare and prepares, the claims of its next view-change message), and its audit log. Messages
received from others and not yet vouched for are volatile; peers send them again on request.

Execution. A batch committed at n is executed at n even if it holds requests executed before (the
spec executes a re-proposed request at its new sequence number); only their operations are not
applied twice: the replica keeps each request's result by (client, timestamp) and replies with it.

A final machine (beyond the paper and the spec; a plain StateMachine is never final). A machine
that takes nothing after some entry (a hybrid epoch after its switch entry, impl/hybrid/machine.py)
ends the instance's useful life there: nothing after it executes, so no multiple of K may come, and
no view change may ever again carry a replica that fell behind. The replica checkpoints where its
machine became final, and takes a final state past its own on f+1 matching checkpoints
(`_final_transfer`), without making it stable.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Mapping
from functools import partial
from typing import Any
from typing import ClassVar
from typing import Final

import attrs

from meshcheck.impl.base import probes
from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft import actions
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.evidence import BAD_NEW_VIEW
from meshcheck.impl.pbft.evidence import BAD_SIGNATURE
from meshcheck.impl.pbft.evidence import BAD_STATE
from meshcheck.impl.pbft.evidence import BAD_VIEW_CHANGE
from meshcheck.impl.pbft.evidence import EQUIVOCATION
from meshcheck.impl.pbft.evidence import FORGED_REQUEST
from meshcheck.impl.pbft.evidence import MALFORMED
from meshcheck.impl.pbft.evidence import WRONG_PRIMARY
from meshcheck.impl.pbft.evidence import AuditLog
from meshcheck.impl.pbft.log import MessageLog
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import batch_name
from meshcheck.impl.pbft.messages import history_digest
from meshcheck.impl.pbft.messages import malformed
from meshcheck.impl.pbft.messages import next_state_digest
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.messages import state_matches
from meshcheck.impl.pbft.storage import AUDIT
from meshcheck.impl.pbft.storage import EXECUTED
from meshcheck.impl.pbft.storage import STABLE
from meshcheck.impl.pbft.storage import VIEW
from meshcheck.impl.pbft.storage import Store
from meshcheck.impl.pbft.viewchange import Plan
from meshcheck.impl.pbft.viewchange import check_new_view
from meshcheck.impl.pbft.viewchange import check_view_change
from meshcheck.impl.pbft.viewchange import plan_new_view
from meshcheck.impl.pbft.viewchange import relayed_intact
from meshcheck.impl.rsm.machine import StateMachine

NORMAL: Final = "normal"
CHANGING: Final = "changing"

# timers
VIEW_CHANGE: Final = "view-change"
BATCH: Final = "batch"
PROGRESS: Final = "progress"
STATUS: Final = "status"
REQUEST_TIMER: Final = "request"  # "request <client> <timestamp>"

RequestKey = tuple[str, int]  # (client, timestamp)

_epochs = itertools.count(1)  # versions of `executed`, unique across every replica of the process

# Globals that keep no replica's state (property_tests/restarts.py, core purity): `_epochs` hands
# out version stamps, unique in the process so that a reader's cache keyed by one never mistakes
# another replica's history for this one; no replica's behaviour depends on a stamp's value.
PURE_GLOBALS = ("_epochs",)


def request_timer(key: RequestKey) -> str:
    return f"{REQUEST_TIMER} {key[0]} {key[1]}"


def _claimed_signer(body: Any) -> str | None:
    if isinstance(body, Request):
        return body.client
    src = getattr(body, "src", None)
    return src if isinstance(src, str) else None


def _seq_of(m: Signed[Any]) -> int | None:
    seq: Any = getattr(m.body, "seq", None)
    return seq if isinstance(seq, int) else None


class Replica:
    """One PBFT replica. Read its state through the attributes; change it only through `step`.

    The first step must be a Restart (any other raises), which sets what it restores from disk
    (`_restart`): those fields are declared here, not given values in `__init__` that nothing
    could read."""

    # Fields that are process-unique stamps, not state: a replica rebuilt from the same persisted
    # state holds other stamps, and is the same replica (property_tests/restarts.py).
    PROCESS_STAMPS: ClassVar[tuple[str, ...]] = ("history_epoch",)

    # the spec's variables
    view: int
    status: str
    executed: list[Batch]
    stable: int
    # the rest of the durable state
    stable_digest: bytes
    stable_proof: tuple[Signed[Checkpoint], ...]
    log: MessageLog
    audit: AuditLog
    # volatile, rebuilt from the executed history
    state_digest: bytes
    results: dict[RequestKey, tuple[int, Value]]  # (seq executed at, result)
    executed_requests: dict[RequestKey, Request]  # the request executed under each key
    history_epoch: int  # new when `executed` is replaced (readers cache on it)

    def __init__(
        self,
        config: PbftConfig,
        keys: KeyRing,
        machine: Callable[[], StateMachine] = StateMachine,
    ) -> None:
        self.config = config
        self.id = config.id
        self.keys = keys
        self._signer = keys.signer(self.id)
        self._machine_factory = machine
        self._bugs = config.bugs
        self.now = 0  # the `now` of the event being handled (audit records only)
        self.own_checkpoints: dict[int, Signed[Checkpoint]] = {}
        self.view_changes: dict[int, dict[str, Signed[ViewChange]]] = {}
        # This replica's own view-change message of every view it moved to: a peer still
        # changing to an earlier view may have lost it, and without it may never gather 2f+1
        # (see _on_status). Durable (`_keep`, `_reload`): a replica that crashed after it moved
        # on must still be able to send it again.
        self.own_view_changes: dict[int, Signed[ViewChange]] = {}
        self.new_views: dict[int, Signed[NewView]] = {}
        # volatile; the machine is there before Restart replaces it (the hybrid layer reads it
        # to know which of its entries a restart replays)
        self.machine = machine()
        self.pending: dict[RequestKey, Signed[Request]] = {}  # known, not executed
        self.queue: list[RequestKey] = []  # primary: waiting for a sequence number
        self.proposed: set[RequestKey] = set()  # primary: pre-prepared in this view
        self.next_seq = 1  # primary: the next sequence number to assign in this view
        self.vc_attempts = 0  # view changes since the last execution (the timeout doubles)
        self.started = False
        self._request_timers: set[RequestKey] = set()
        self._view_timer = False
        self._batch_timer = False
        self._batch_now = False
        self._states: dict[tuple[int, bytes], tuple[Batch, ...]] = {}  # checked transfer states
        # the keys of `_states` whose history leaves the machine final (`_final_transfer`)
        self._final_states: set[tuple[int, bytes]] = set()
        self._verified: dict[Signed[Any], bool] = {}
        # this step's output
        self._out: list[Effect] = []
        self.store = Store()  # what is durable, and what this step changed of it

    def __repr__(self) -> str:
        return (
            f"<Replica {self.id} view={self.view} {self.status} executed={len(self.executed)} "
            f"stable={self.stable}>"
        )

    @property
    def is_primary(self) -> bool:
        return self.config.primary(self.view) == self.id

    # -- the one entry point --------------------------------------------------------------------------

    def applied_state(self) -> tuple[int, bytes]:
        """The `AppliedState` hook (impl/base/node.py): requests the state machine applied, and the
        digest of its state."""
        return self.machine.applied, self.machine.digest()

    def step(self, event: Any) -> list[Effect]:
        """Handle one event; the effects to carry out, in order (one Persist first, if any)."""
        self._out = []
        self.now = getattr(event, "now", self.now)
        if isinstance(event, Restart):
            self._restart(event.persisted)
        elif not self.started:
            raise RuntimeError(
                f"{self.id}: step({event!r}) before Restart: start the replica first"
            )
        else:
            if isinstance(event, Deliver):
                self._receive(event.source, event.message)
            elif isinstance(event, Tick):
                self._tick(event.timer)
            else:
                raise TypeError(f"{self.id}: not a PBFT replica event: {event!r}")
            self._follow_up()
        out = self._out
        persist = self._flush()
        self._out = []
        return actions.lead([persist, *out] if persist is not None else out)

    # -- signatures ------------------------------------------------------------------------------------

    def sign(self, body: Any) -> Signed[Any]:
        """`body` signed by this replica (what a Byzantine wrapper uses to speak in its name)."""
        return Signed(body, self.id, self._signer.sign(signing_bytes(body)))

    def verify(self, m: Signed[Any]) -> bool:
        """Whether `m` carries a valid signature of its signer (remembered: duplicates are free)."""
        if mutants.SIGNATURES_NOT_CHECKED in self._bugs:
            return True  # the bug: whatever the signature says
        try:
            known = self._verified.get(m)
        except TypeError:  # unhashable: no body of this protocol, so nobody signed it
            return False
        if known is None:
            try:
                known = self.keys.verify(m.signer, m.signature, signing_bytes(m.body))
            except TypeError:  # not a body this protocol has: nothing can have signed it
                known = False
            if len(self._verified) >= 50_000:
                self._verified.clear()
            self._verified[m] = known
        return known

    def _valid_request(self, r: Any) -> bool:
        return (
            isinstance(r, Signed)
            and isinstance(r.body, Request)
            and r.signer == r.body.client
            and r.signer in self.config.clients
            and self.verify(r)
        )

    # -- receiving -------------------------------------------------------------------------------------

    def _receive(self, source: str, m: Any) -> None:
        if self.audit.is_quarantined(source):
            return  # section "quarantine": nothing a replica caught misbehaving says is heard
        if not isinstance(m, Signed) or _claimed_signer(m.body) != m.signer or not self.verify(m):
            self._report(source, BAD_SIGNATURE, (m,), "a missing, misattributed or bad signature")
            return
        if self.audit.is_quarantined(m.signer):
            return
        if m.signer not in self.config.replicas and not isinstance(m.body, Request):
            return  # a client's key signs requests only: a vote it signs counts for no replica
        why = malformed(m)
        if why is not None:  # signed, so its signer made it: a string for a number, and the like
            self._report(m.signer, MALFORMED, (m,), why)
            return
        body = m.body
        if isinstance(body, Request):
            self._on_request(m)
        elif isinstance(body, PrePrepare):
            self._on_pre_prepare(m)
        elif isinstance(body, Prepare):
            self._on_prepare(m)
        elif isinstance(body, Commit):
            self._on_commit(m)
        elif isinstance(body, Checkpoint):
            self._on_checkpoint(m, source)
        elif isinstance(body, ViewChange):
            self._on_view_change(m, source)
        elif isinstance(body, NewView):
            self._on_new_view(m, source)
        elif isinstance(body, Status):
            self._on_status(m)

    def _on_request(self, m: Signed[Request]) -> None:
        """Section 4.1: a request already executed gets its reply again; a new one is remembered
        (the primary queues it for a sequence number, a backup starts its timer)."""
        if not self._valid_request(m):
            return
        key = (m.body.client, m.body.timestamp)
        if key in self.results:
            if self.executed_requests.get(key) != m.body:
                # Another request under the timestamp of one executed: a correct client never
                # reuses a timestamp (section 4.1), and the reply would sign that this request
                # was executed, with the other's result. Nothing to execute, nothing to answer.
                return
            probes.hit("pbft", "retry_of_executed")
            seq, result = self.results[key]
            self._send_reply(m.body, seq, result)
            return
        self._learn(m)

    def _learn(self, m: Signed[Request]) -> None:
        key = (m.body.client, m.body.timestamp)
        if key in self.results:
            return
        self.pending.setdefault(key, m)
        if self.status != NORMAL:
            return
        if self.is_primary:
            if key not in self.proposed and key not in self.queue:
                self.queue.append(key)
        else:
            self._start_request_timer(key)

    def _on_pre_prepare(self, m: Signed[PrePrepare]) -> None:
        """Section 4.2. Stored here (for this view or a later one); accepted, with a Prepare, at the
        end of the step if it is in this view and window. Evidence: a pre-prepare signed by a
        replica that is not the primary of its view, one that holds a forged request, and a second
        one for the same view and sequence number (equivocation)."""
        pp = m.body
        if pp.view < self.view or pp.seq <= self.stable:
            return
        if (
            m.signer != self.config.primary(pp.view)
            and mutants.PREPREPARE_FROM_NON_PRIMARY not in self._bugs
        ):
            self._report(m.signer, WRONG_PRIMARY, (m,), f"not the primary of view {pp.view}")
            return
        if (
            batch_digest(pp.batch) != pp.digest
            and mutants.RELAYED_BATCH_NOT_CHECKED not in self._bugs
        ):
            return  # the batch is not signed, only its digest: whoever relayed it changed it
        if not all(self._valid_request(r) for r in pp.batch):
            self._report(m.signer, FORGED_REQUEST, (m,), "a request its client did not sign")
            return
        held = self.log.add_pre_prepare(m)
        if held is not None:
            if held.signer == m.signer:
                self._report(m.signer, EQUIVOCATION, (held, m), f"two at ({pp.view}, {pp.seq})")
            return
        if pp.view == self.view:
            for r in pp.batch:
                self._learn(r)

    def _on_prepare(self, m: Signed[Prepare]) -> None:
        p = m.body
        # The primary does not prepare its own pre-prepare (section 4.2): its vote is the pre-prepare.
        if self._in_window(p.seq) and m.signer != self.config.primary(p.view):
            self.log.add_prepare(m)

    def _on_commit(self, m: Signed[Commit]) -> None:
        if self._in_window(m.body.seq):
            self.log.add_commit(m)

    def _on_checkpoint(self, m: Signed[Checkpoint], source: str) -> None:
        """Section 4.3. A checkpoint past what this replica executed also carries the state, which
        is checked against the digest once, here, for a state transfer later.

        The state is not signed (messages.py), so whoever relayed the message may have changed
        it: a state that does not match proves nothing against the signer, only against the
        link's sender, and the signed vote still counts (with the state left out). The check
        comes before the vote is counted, so that a changed copy that arrives first does not
        keep the true one's state out."""
        c = m.body
        if c.seq <= self.stable:
            return
        key = (c.seq, c.digest)
        if c.seq > len(self.executed) and key not in self._states and c.history is not None:
            if state_matches(c.history, c.seq, c.digest):
                self._states[key] = c.history
                # only a final checkpoint falls off the multiples of K (`_execute`)
                if c.seq % self.config.checkpoint_every and self._final_after(c.history):
                    self._final_states.add(key)
            else:
                if mutants.CHECKPOINT_STATE_BLAMES_SIGNER in self._bugs:
                    self._report(m.signer, BAD_STATE, (m,), "its state does not match its digest")
                    self.log.add_checkpoint(m)
                    return
                self._report(source, BAD_STATE, (m,), "the state it relayed does not match")
                m = attrs.evolve(m, body=attrs.evolve(c, history=None))
        self.log.add_checkpoint(m)

    def _on_view_change(self, m: Signed[ViewChange], source: str) -> None:
        vc = m.body
        if vc.view < self.view or (vc.view == self.view and self.status == NORMAL):
            return
        if not self._intact(m, source):
            return
        why = check_view_change(m, self.config, self.verify)
        if why is not None:
            self._report(m.signer, BAD_VIEW_CHANGE, (m,), why)
            return
        self.view_changes.setdefault(vc.view, {}).setdefault(m.signer, m)

    def _intact(self, m: Signed[Any], source: str) -> bool:
        """A view-change or new-view message carries pre-prepares whose batches no signature
        covers: changed on the way, the message is not what its signer signed, and that is
        evidence against the link's sender (as a bad signature is), never against the signer."""
        if relayed_intact(m) or mutants.VIEW_CHANGE_BLAMES_SIGNER in self._bugs:
            return True
        self._report(source, BAD_SIGNATURE, (m,), "a batch inside changed on its way")
        return False

    def _on_new_view(self, m: Signed[NewView], source: str) -> None:
        """Section 4.4: a backup accepts a new-view message for a later view (or for its view while
        it waits for one) from that view's primary once it has recomputed O itself."""
        nv = m.body
        stale = nv.view < self.view and mutants.STALE_NEW_VIEW_ACCEPTED not in self._bugs
        if stale or (nv.view == self.view and self.status == NORMAL):
            return
        if m.signer != self.config.primary(nv.view):
            self._report(m.signer, WRONG_PRIMARY, (m,), f"not the primary of view {nv.view}")
            return
        if m.signer == self.id:
            return  # its own, sent back by a peer
        if not self._intact(m, source):
            return
        plan = check_new_view(m, self.config, self.verify)
        if isinstance(plan, str):
            self._report(m.signer, BAD_NEW_VIEW, (m,), plan)
            return
        if self._can_adopt(plan.min_s, plan.ckpt_digest, plan.ckpt_proof):
            self._accept_new_view(m, plan)

    def _on_status(self, m: Signed[Status]) -> None:
        """Answer a peer's status with what it lacks (TOCS 2002 section 5.2): the new-view message
        or view-change message of this view, this view's messages above what it executed, and
        this replica's checkpoints above its stable one."""
        st, peer = m.body, m.signer
        if peer not in self.config.replicas or peer == self.id:
            return
        answer: list[Signed[Any]] = []
        behind = st.view < self.view or (st.view == self.view and st.changing)
        if behind and self.status == NORMAL and self.view in self.new_views:
            answer.append(self.new_views[self.view])
        elif behind and self.status == CHANGING and self.id in self.view_changes.get(self.view, {}):
            answer.append(self.view_changes[self.view][self.id])
        if st.changing and st.view < self.view and st.view in self.own_view_changes:
            # The peer waits for view st.view, which this replica left when its timer ran out.
            # If this replica's message for that view was lost, the peer may hold 2f of the 2f+1
            # it needs, start no timer, and see fewer than f+1 replicas ahead to follow: the
            # group would wait forever. The message is still true (a signed statement this
            # replica made), so sending it again is safe, and it lets the peer complete the view
            # change or time out of it.
            answer.append(self.own_view_changes[st.view])
        if st.view == self.view and not st.changing and self.status == NORMAL:
            for v, n in self.log.slots():
                if v != self.view or n <= st.executed:
                    continue
                pp = self.log.pre_prepares[(v, n)]
                answer.append(pp)
                for votes in (self.log.prepares, self.log.commits):
                    mine = votes.get((v, n, pp.body.digest), {}).get(self.id)
                    if mine is not None:
                        answer.append(mine)
        if mutants.LAGGING_REPLICA_WAITS_FOR_VIEW_CHANGE not in self._bugs:
            # a peer behind this replica's checkpoints gets them again, with their state: its
            # state transfer (section 4.3), when the originals were lost
            answer.extend(c for seq, c in sorted(self.own_checkpoints.items()) if seq > st.stable)
        for message in answer:
            self._out.append(Send(peer, message))

    # -- timers ----------------------------------------------------------------------------------------

    def _tick(self, timer: str) -> None:
        if timer == VIEW_CHANGE:
            self._start_view_change()
        elif timer.startswith(REQUEST_TIMER + " "):
            _, client, timestamp = timer.split(" ")
            key = (client, int(timestamp))
            self._request_timers.discard(key)
            if key in self.pending and self.status == NORMAL:
                self._start_view_change()  # section 4.4: the primary let a request wait too long
        elif timer == BATCH:
            self._batch_timer = False
            self._batch_now = True
        elif timer == STATUS:
            self._send_status()
        # PROGRESS: nothing of its own; _follow_up does what was deferred

    def _timeout(self, doublings: int) -> int:
        """Section 4.5.2: the wait doubles with every view change that executed nothing."""
        base, cap = self.config.view_change_timeout, self.config.view_change_timeout_cap
        # a shift by cap's bit length already passes the cap (base >= 1): no larger int is built
        doubled: int = base << min(max(doublings, 0), cap.bit_length())
        return min(doubled, cap)

    def _start_request_timer(self, key: RequestKey) -> None:
        if key not in self._request_timers:
            self._request_timers.add(key)
            self._out.append(SetTimer(request_timer(key), self._timeout(self.vc_attempts)))

    def _stop_request_timer(self, key: RequestKey) -> None:
        if key in self._request_timers:
            self._request_timers.discard(key)
            self._out.append(CancelTimer(request_timer(key)))

    def _stop_request_timers(self) -> None:
        for key in sorted(self._request_timers):
            self._out.append(CancelTimer(request_timer(key)))
        self._request_timers = set()

    def _send_status(self) -> None:
        if self.config.retransmit_every is None:
            return
        status = Status(
            self.view, self.status == CHANGING, self.stable, len(self.executed), self.id
        )
        self._broadcast(self.sign(status))
        self._out.append(SetTimer(STATUS, self.config.retransmit_every))

    # -- what follows from the state: one state-changing action, then sends ---------------------------

    def _follow_up(self) -> None:
        if not any(isinstance(e, Action) for e in self._out):
            action = self._due()
            if action is not None:
                action()
        self._sends()
        if self._due() is not None:
            self._out.append(SetTimer(PROGRESS, 0))
        if (
            self.status == CHANGING
            and not self._view_timer
            and quorum.reaches(self._view_changes_heard(self.view), self.config.quorum)
        ):
            # Section 4.5.2: the wait for the new view starts once 2f+1 replicas want it, so a
            # replica that timed out alone does not run ahead through the views on its own.
            self._view_timer = True
            self._out.append(SetTimer(VIEW_CHANGE, self._timeout(self.vc_attempts - 1)))

    def _due(self) -> Callable[[], None] | None:
        """The state-changing action the replica can take now, if any."""
        n = len(self.executed) + 1
        for v in self.log.views_at.get(n, ()):
            if self.log.committed_local(v, n) is not None:
                return partial(self._execute, v, n)
        candidate = self.log.stable_candidate(self.stable)
        if candidate is not None:
            seq, digest, proof = candidate
            if seq <= len(self.executed) or (seq, digest) in self._states:
                return partial(self._stable_checkpoint, seq, digest, proof)
        final = self._final_transfer()
        if final is not None:
            return partial(self._install, self._states[final], final[1])
        if self.status == CHANGING and self.is_primary:
            chosen = self._new_view_quorum()
            if chosen is not None:
                plan = plan_new_view([vc.body for vc in chosen], self.config)
                if self._can_adopt(plan.min_s, plan.ckpt_digest, plan.ckpt_proof):
                    return partial(self._new_view, chosen, plan)
        beyond = {
            s
            for v, held in self.view_changes.items()
            if v > self.view
            for s in held
            if s != self.id and not self.audit.is_quarantined(s)
        }
        if quorum.reaches(beyond, quorum.one_correct(self.config.f)):
            return self._start_view_change  # section 4.5.2: f+1 others moved on, so do we
        return None

    def _view_changes_heard(self, view: int) -> dict[str, Signed[ViewChange]]:
        held = self.view_changes.get(view, {})
        return {s: held[s] for s in sorted(held) if not self.audit.is_quarantined(s)}

    def _new_view_quorum(self) -> tuple[Signed[ViewChange], ...] | None:
        """The new primary's own view-change message and 2f others (None: not yet)."""
        held = self._view_changes_heard(self.view)
        if self.id not in held or not quorum.reaches(held, self.config.quorum):
            return None
        others = [held[s] for s in held if s != self.id][: self.config.quorum - 1]
        return (held[self.id], *others)

    def _sends(self) -> None:
        """Prepare what the primary of this view pre-prepared, commit what is prepared (section
        4.2); the primary pre-prepares its queue."""
        if self.status != NORMAL:
            return
        primary = self.config.primary(self.view)
        for slot in self.log.open_slots(self.view):
            v, n = slot
            pp = self.log.pre_prepares[slot]
            # A null request is prepared only as part of a new view's O (AcceptNewView): the
            # client never sent it, so a pre-prepare of it on its own comes from no correct primary.
            if (
                primary != self.id
                and slot not in self.log.accepted
                and self._in_window(n)
                and pp.body.batch
            ):
                self._mark(actions.PREPARE, i=self.id, v=v, n=n)
                self._send_prepare(pp)
            if slot in self.log.accepted and slot not in self.log.commit_sent:
                proof = self.log.prepared(v, n)
                if proof is not None:
                    self._mark(actions.COMMIT, i=self.id, v=v, n=n)
                    self._send_commit(proof)
        if primary == self.id:
            self._pre_prepare_queue()

    def _in_window(self, seq: int) -> bool:
        """The watermarks (section 4.2): h < n <= h + L."""
        return self.stable < seq <= self.stable + self.config.window

    # -- the normal case (section 4.2) -----------------------------------------------------------------

    def _pre_prepare_queue(self) -> None:
        """PrePrepare(i, r): a batch of batch_size queued requests, or fewer once the batch delay
        ran out (at once with batch_delay 0), while the window has room."""
        self.queue = [k for k in self.queue if k in self.pending and k not in self.proposed]
        while self.queue:
            seq = max(self.next_seq, self.stable + 1)
            if seq > self.stable + self.config.window:
                # the window is full: wait for a stable checkpoint. A batch whose delay already
                # ran out stays due (`_batch_now`): it goes as soon as the window has room
                return
            size = self.config.batch_size
            if len(self.queue) < size and self.config.batch_delay > 0 and not self._batch_now:
                if not self._batch_timer:
                    self._batch_timer = True
                    self._out.append(SetTimer(BATCH, self.config.batch_delay))
                break
            keys, self.queue = self.queue[:size], self.queue[size:]
            batch = tuple(self.pending[k] for k in keys)
            pp = self.sign(PrePrepare(self.view, seq, batch_digest(batch), self.id, batch))
            self._mark(actions.PRE_PREPARE, i=self.id, r=batch_name(batch))
            self.log.add_pre_prepare(pp)
            self.log.accepted[(self.view, seq)] = pp.body.digest
            self.proposed.update(keys)
            self.next_seq = seq + 1
            self.store.add(pp)
            self._broadcast(pp)
        self._batch_now = False

    def _send_prepare(self, pp: Signed[PrePrepare]) -> None:
        body = pp.body
        prepare = self.sign(Prepare(body.view, body.seq, body.digest, self.id))
        self.log.add_prepare(prepare)
        self.log.accepted[(body.view, body.seq)] = body.digest
        self.store.add(prepare)
        self._broadcast(prepare)

    def _send_commit(self, proof: PreparedProof) -> None:
        """Commit once prepared; the certificate becomes a claim of the next view-change message,
        so it is persisted with the commit."""
        commit = self.sign(Commit(proof.view, proof.seq, proof.digest, self.id))
        self.log.add_commit(commit)
        self.log.mark_committed((proof.view, proof.seq))
        # this view's certificate (_sends commits only in the current view, and views only grow):
        # newer than any held for the same number
        self.log.certificates[proof.seq] = proof
        self.store.add(proof.pre_prepare)
        for m in (*proof.prepares, commit):
            self.store.add(m)
        self._broadcast(commit)

    def _execute(self, view: int, seq: int) -> None:
        """Execute(i): run the batch committed at `seq`, reply to each client, and checkpoint at
        multiples of K (section 4.3) and where the machine became final."""
        pp = self.log.pre_prepares[(view, seq)]
        self._mark(actions.EXECUTE, i=self.id)
        was_final = self.machine.final
        results: list[Value] = []
        for r in pp.body.batch:
            key = (r.body.client, r.body.timestamp)
            if key in self.results and mutants.EXECUTE_AGAIN not in self._bugs:
                result = self.results[key][1]  # executed before: the operation is not re-applied
            else:
                result = self.machine.apply_entry(r.body.operation)
                self.results[key] = (seq, result)
                self.executed_requests[key] = r.body
            results.append(result)
            if self.executed_requests[key] == r.body:  # not another request under its key
                self._send_reply(r.body, seq, result)
            self.pending.pop(key, None)
            self._stop_request_timer(key)
        self._append_executed(pp.body.batch, pp.body.digest)
        self._out.append(Apply(seq, batch_name(pp.body.batch), tuple(results)))
        self.vc_attempts = 0  # progress: the view-change timeout starts from its base again
        # Checkpoints at multiples of K, and where the machine became final: past that point the
        # group orders nothing it will execute, so no later multiple of K may ever come, and a
        # replica that fell behind there (alone in a later view, its view change never joined)
        # has no other checkpoint to transfer the final state from (impl/rsm/machine.py `final`;
        # property_tests/hybrid/test_free_runs.py, ALONE_IN_A_LATER_VIEW_AT_THE_SWITCH).
        if seq % self.config.checkpoint_every == 0 or (self.machine.final and not was_final):
            if seq == self.stable + self.config.window:
                probes.hit("pbft", "checkpoint_at_window_edge")
            checkpoint = self.sign(
                Checkpoint(seq, self.state_digest, self.id, tuple(self.executed))
            )
            self.log.add_checkpoint(checkpoint)
            self.own_checkpoints[seq] = checkpoint
            self.store.add(checkpoint)
            self._broadcast(checkpoint)

    def _append_executed(self, batch: Batch, digest: bytes) -> None:
        self.store.append_executed(len(self.executed))
        self.executed.append(batch)
        self.state_digest = next_state_digest(self.state_digest, digest)

    def _send_reply(self, request: Request, seq: int, result: Value) -> None:
        if request.client in self.config.clients:
            reply = self.sign(Reply(self.view, seq, request, result, self.id))
            self._out.append(Send(request.client, reply))

    # -- checkpoints (section 4.3) ---------------------------------------------------------------------

    def _stable_checkpoint(
        self, seq: int, digest: bytes, proof: tuple[Signed[Checkpoint], ...]
    ) -> None:
        """StableCheckpoint(i, n): the checkpoint is stable; the log at and below it goes. A replica
        that executed less takes the state the checkpoint's digest certifies (state transfer)."""
        self._mark(actions.STABLE_CHECKPOINT, i=self.id, n=seq)
        self._adopt(seq, digest, proof)

    def _can_adopt(self, seq: int, digest: bytes, proof: tuple[Signed[Checkpoint], ...]) -> bool:
        """Whether this replica has the state of a proven checkpoint (or needs none): it executed
        that far, or a checkpoint message of the proof carried a state that matches the digest."""
        if seq <= self.stable or seq <= len(self.executed) or (seq, digest) in self._states:
            return True
        for c in proof:
            history = c.body.history
            if history is not None and state_matches(history, seq, digest):
                self._states[(seq, digest)] = history
                return True
        return False

    def _adopt(self, seq: int, digest: bytes, proof: tuple[Signed[Checkpoint], ...]) -> None:
        """The spec's AdoptCheckpoint: a proven checkpoint above this replica's becomes its stable
        one (the low watermark moves, the log below it goes), and a replica that executed less
        takes its state (state transfer). Callers check `_can_adopt` first."""
        if seq <= self.stable and (
            seq == self.stable or mutants.STABLE_CHECKPOINT_MOVES_BACK not in self._bugs
        ):
            return
        if seq > len(self.executed):
            self._install(self._states[(seq, digest)], digest)
        self.stable, self.stable_digest, self.stable_proof = seq, digest, proof
        self.store.stable_changed = True
        self.log.collect(seq)
        self.own_checkpoints = {k: c for k, c in self.own_checkpoints.items() if k >= seq}
        self._states = {k: s for k, s in self._states.items() if k[0] > seq}
        self.store.log_collected = True

    def _final_after(self, history: tuple[Batch, ...]) -> bool:
        """Whether executing `history` leaves a fresh machine final (impl/rsm/machine.py)."""
        machine = self._machine_factory()
        if type(machine).final is StateMachine.final:
            return False  # a machine that is never final: nothing to replay
        seen: set[RequestKey] = set()
        for batch in history:
            for r in batch:
                key = (r.body.client, r.body.timestamp)
                if key not in seen:
                    seen.add(key)
                    machine.apply_entry(r.body.operation)
        return machine.final

    def _final_transfer(self) -> tuple[int, bytes] | None:
        """A final state (the machine takes nothing after it) past what this replica executed,
        vouched for by f+1 matching checkpoints, so by one correct replica at least, as a reply is
        to a PBFT client (TOCS 2002 section 4.1): the replica takes that state without making it
        stable. A stable checkpoint needs 2f+1 (its proof must convince others in a view change),
        and when f of the 2f+1 that executed the last batch are faulty and withhold theirs, a
        replica that fell behind there would never get it: no later batch executes, so no view
        change comes to carry it along (property_tests/hybrid/test_free_runs.py,
        ALONE_IN_A_LATER_VIEW_AT_THE_SWITCH). Its state is final, so this replica executes and
        proves nothing past it; what it holds of the instance's views is left as it is."""
        needed = quorum.one_correct(self.config.f)
        for key in sorted(self._final_states, reverse=True):
            seq, digest = key
            votes = self.log.checkpoints.get(seq, {}).get(digest, {})
            if seq > len(self.executed) and quorum.reaches(votes, needed):
                return key
        return None

    def _install(self, history: tuple[Batch, ...], digest: bytes) -> None:
        self.executed = list(history)
        self.history_epoch = next(_epochs)
        self.store.executed_replaced = True
        self._replay()
        self.state_digest = digest
        for key in [k for k in self.pending if k in self.results]:
            self.pending.pop(key)
            self._stop_request_timer(key)

    def _replay(self) -> None:
        """The state machine and the reply cache from the executed history (restart, transfer)."""
        self.machine = self._machine_factory()
        self.results = {}
        self.executed_requests = {}
        for seq, batch in enumerate(self.executed, 1):
            for r in batch:
                key = (r.body.client, r.body.timestamp)
                if key not in self.results:
                    self.results[key] = (seq, self.machine.apply_entry(r.body.operation))
                    self.executed_requests[key] = r.body

    # -- view change (section 4.4) ---------------------------------------------------------------------

    def _start_view_change(self) -> None:
        """StartViewChange(i): move to the next view, stop accepting messages of the old one, and
        send a view-change message with the stable checkpoint and the prepared certificates."""
        self._mark(actions.START_VIEW_CHANGE, i=self.id)
        self.view += 1
        self.status = CHANGING
        self.store.view_changed = True
        self._stop_request_timers()
        self._out.append(CancelTimer(BATCH))
        self._batch_timer = False
        self.queue, self.proposed = [], set()
        claims = tuple(self.log.certificates[n] for n in sorted(self.log.certificates))
        vc = self.sign(
            ViewChange(
                self.view,
                self.stable,
                self.stable_digest,
                self.stable_proof,
                tuple(c for c in claims if c.seq > self.stable),
                self.id,
            )
        )
        self.view_changes = {v: h for v, h in self.view_changes.items() if v >= self.view}
        self.view_changes.setdefault(self.view, {})[self.id] = vc
        self.own_view_changes[self.view] = vc
        self.store.add(vc)
        self._broadcast(vc)
        self._view_timer = False  # set once 2f+1 view-change messages for the view are in
        self.vc_attempts += 1

    def _new_view(self, chosen: tuple[Signed[ViewChange], ...], plan: Plan) -> None:
        """NewView(i): the new primary, with its own and 2f other view-change messages, computes
        O from them, adopts the checkpoint min-s, and pre-prepares O in the new view (inside the
        new-view message)."""
        self._mark(actions.NEW_VIEW, i=self.id)
        self._adopt(plan.min_s, plan.ckpt_digest, plan.ckpt_proof)
        pre_prepares = []
        for seq, batch in plan.pre_prepares:
            pp = self.sign(PrePrepare(self.view, seq, batch_digest(batch), self.id, batch))
            self.log.add_pre_prepare(pp)
            self.log.accepted[(self.view, seq)] = pp.body.digest
            self.proposed.update((r.body.client, r.body.timestamp) for r in batch)
            pre_prepares.append(pp)
        nv = self.sign(NewView(self.view, chosen, tuple(pre_prepares), self.id))
        self.new_views = {self.view: nv}
        self._enter_view(self.view)
        self.next_seq = plan.max_s + 1
        self.queue = [k for k in self.pending if k not in self.proposed]
        self.store.add(nv)
        self._broadcast(nv)

    def _accept_new_view(self, m: Signed[NewView], plan: Plan) -> None:
        """AcceptNewView(i, v): enter the view, adopt the checkpoint min-s, and prepare every
        pre-prepare of O in the window."""
        nv = m.body
        self._mark(actions.ACCEPT_NEW_VIEW, i=self.id, v=nv.view)
        self._stop_request_timers()
        self.queue, self.proposed = [], set()  # a primary of an older view is one no longer
        self._adopt(plan.min_s, plan.ckpt_digest, plan.ckpt_proof)
        self._enter_view(nv.view)
        self.new_views = {nv.view: m}
        for pp in nv.pre_prepares:
            held = self.log.add_pre_prepare(pp)
            slot = (nv.view, pp.body.seq)
            if held is not None:
                if held.signer == pp.signer:
                    self._report(pp.signer, EQUIVOCATION, (held, pp), "a new-view pre-prepare")
                # O is what the view-change messages certify (recomputed in check_new_view): a
                # pre-prepare of this view that came before the new-view message does not stand
                # against it, or a primary that sent one early would have it prepared in place
                # of a request that may have committed in an earlier view.
                self.log.pre_prepares[slot] = pp
            if slot not in self.log.accepted and self._in_window(pp.body.seq):
                self._send_prepare(pp)
            for r in pp.body.batch:
                if (r.body.client, r.body.timestamp) not in self.results:
                    self.pending.setdefault((r.body.client, r.body.timestamp), r)
        for r in sorted(self.pending.values(), key=lambda r: (r.body.client, r.body.timestamp)):
            self._learn(r)

    def _enter_view(self, view: int) -> None:
        self.view, self.status = view, NORMAL
        if mutants.VIEW_CHANGE_TIMEOUT_RESET_ON_NEW_VIEW in self._bugs:
            self.vc_attempts = 0  # the bug: a new view taken for progress before it executes
        self.store.view_changed = True
        self.view_changes = {v: h for v, h in self.view_changes.items() if v > view}
        self._out.append(CancelTimer(VIEW_CHANGE))
        self._view_timer = False

    # -- evidence --------------------------------------------------------------------------------------

    def _report(self, accused: str, kind: str, messages: tuple[Any, ...], detail: str) -> None:
        record = self.audit.report(accused, kind, messages, self.now, detail)
        if record is not None:
            self.store.audit_new.append(record)

    # -- sending and persisting ------------------------------------------------------------------------

    def _mark(self, name: str, **params: Value) -> None:
        self._out.append(Action(name, FrozenDict(params)))

    def _broadcast(self, m: Signed[Any]) -> None:
        for peer in self.config.peers:
            self._out.append(Send(peer, m))

    def _flush(self) -> Persist | None:
        return self.store.flush(
            (self.view, self.status),
            self.executed,
            (self.stable, self.stable_digest, self.stable_proof),
            self._keep,
        )

    def _keep(self, m: Signed[Any]) -> bool:
        """What garbage collection keeps of the durable log: messages above the stable checkpoint,
        this replica's checkpoint at it, and the view-change and new-view messages of this view."""
        seq = _seq_of(m)
        if isinstance(m.body, Checkpoint):
            return m.body.seq >= self.stable
        if seq is not None:
            return seq > self.stable
        if isinstance(m.body, ViewChange) and m.signer == self.id:
            # Of an earlier view too: _on_status sends it again to a peer still changing to that
            # view, which may need it to complete the view change (section 4.5.2 lets a replica
            # follow only f+1 others past its view; its own timer waits for 2f+1 of its view).
            return m.body.view >= self.view or self.own_view_changes.get(m.body.view) == m
        return getattr(m.body, "view", -1) >= self.view

    # -- restart ---------------------------------------------------------------------------------------

    def _restart(self, persisted: Mapping[str, Any]) -> None:
        """Start from what was persisted; received messages not vouched for are gone (peers send
        them again when the status timer tells them what is missing)."""
        self.view, self.status = persisted.get(VIEW, (0, NORMAL))
        self.executed = list(persisted.get(EXECUTED, ()))
        self.history_epoch = next(_epochs)
        self._replay()
        self.state_digest = history_digest(tuple(self.executed))
        self.stable, self.stable_digest, self.stable_proof = persisted.get(STABLE, (0, GENESIS, ()))
        self.log = MessageLog(self.config)
        for m in self.store.load(persisted):
            self._reload(m)
        self.log.open -= self.log.commit_sent
        for v, n in sorted(self.log.commit_sent):  # by view: a number's highest comes last
            proof = self.log.prepared(v, n)
            if proof is not None:
                self.log.certificates[n] = proof
        self.audit = AuditLog(self.config)
        self.audit.restore(persisted.get(AUDIT, ()))
        self.started = True
        if self.config.retransmit_every is not None:
            self._out.append(SetTimer(STATUS, self.config.retransmit_every))
        self._out.append(SetTimer(PROGRESS, 0))

    def _reload(self, m: Signed[Any]) -> None:
        """Put one persisted message back where it was (it was checked when it first came)."""
        body, mine = m.body, m.signer == self.id
        if isinstance(body, PrePrepare):
            self.log.add_pre_prepare(m)
            if mine:
                self._reload_own_pre_prepare(m)
        elif isinstance(body, Prepare):
            self.log.add_prepare(m)
            if mine:
                self.log.accepted[(body.view, body.seq)] = body.digest
        elif isinstance(body, Commit):
            self.log.add_commit(m)
            if mine:
                self.log.mark_committed((body.view, body.seq))
        elif isinstance(body, Checkpoint):
            if body.seq > self.stable:  # the one at h is kept to answer peers, not as a vote
                self.log.add_checkpoint(m)
            self.own_checkpoints[body.seq] = m
        elif isinstance(body, ViewChange):
            self.own_view_changes[body.view] = m
            if body.view >= self.view:
                self.view_changes.setdefault(body.view, {})[self.id] = m
        elif isinstance(body, NewView):
            self.new_views = {body.view: m}
            for pp in body.pre_prepares:
                self.log.add_pre_prepare(pp)
                self._reload_own_pre_prepare(pp)

    def _reload_own_pre_prepare(self, pp: Signed[PrePrepare]) -> None:
        body = pp.body
        self.log.accepted[(body.view, body.seq)] = body.digest
        if body.view == self.view:
            self.proposed.update((r.body.client, r.body.timestamp) for r in body.batch)
            self.next_seq = max(self.next_seq, body.seq + 1)

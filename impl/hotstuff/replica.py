"""The sans-IO chained-HotStuff replica: `step(event) -> effects`.

Yin, Malkhi, Reiter, Gueta and Abraham, "HotStuff: BFT Consensus with Linearity and
Responsiveness" (PODC 2019): chained HotStuff (section 5) in the event-driven form of Algorithm 4
(section 6), with Algorithm 3's view change. specs/HotStuff.tla is the spec; each transition
returns an `Action` effect with its name and parameters, before that action's effects:

- `Propose(i, v)`: the leader of v, holding the QC of view v - 1 (it formed it), proposes a block
  of v extending it, once per view;
- `Vote(i, b)`: a replica votes for b (a proposal signed by b's view's leader, whose justify QC,
  checked on receipt, certifies b's parent) when b's view is not below its own, above the last
  view it voted in, and safeNode holds (b extends the lock, or b's justify is newer than the
  lock); voting it enters b's view and runs Algorithm 4's update(b): highQC from b's justify, the
  lock from the two-chain, and the commit of the head of a three-chain of consecutive views
  (section 5's direct parents), whose blocks it then executes in order;
- `FormQC(i, b)`: the leader of view(b) + 1 has 2f+1 distinct valid votes for b: the QC is its
  highQC if higher, and it enters view(b) + 1 if behind;
- `Timeout(i)`: the view timer ran out: the next view, and a NEW-VIEW with the highest QC to its
  leader;
- `NewView(i, v)`: the leader of v with 2f+1 NEW-VIEWs for v proposes on the highest QC among
  them and its own (Algorithm 3).

What the spec abstracts and the replica does (no `Action`): requests from clients (kept until
executed, batched into the leader's next block), replies to clients after execution, block
fetching (a replica that missed a proposal asks a peer for the blocks a proposal, a vote or a
NEW-VIEW names and checks them against the hashes: a block is stored only once its parent is), and
the pacemaker: the view timer starts at `timeout` ticks and doubles with each timeout since the
replica last committed a block (section 4: "exponential back-off"), up to `timeout << max_backoff`:
a vote is no progress to reset it on, since the back-off must outlast the views it made long
enough until a three-chain commits (property_tests/hotstuff/free_runs.py, "liveness under slow
links"); aptos-core counts it likewise, in rounds since the last ordered one
(consensus/src/liveness/round_state.rs, `setup_deadline`). With view
synchronisation (`HotStuffConfig.view_sync`), a replica that timed out into view v starts that
timer only once 2f+1 replicas (itself among them) sent NEW-VIEWs for v or above, and until then
sends its NEW-VIEW again every `timeout` ticks (`Replica._join`), as PBFT's view change does
(Castro and Liskov, OSDI 1999, section 4.5.2): doubling alone does not bring the views together,
since replicas that time out in step keep whatever gap between their views a partition left.

What the replica persists before it sends (the simulator's Persist contract): its view, last voted
view, highQC, lock, the views it proposed in and its committed heads (all of the spec's
variables), and every block it stores, so a crash and restart is a stutter of the spec; on restart
it executes its committed chain again from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import ClassVar
from typing import Final

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.config import ids
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.probes import hit
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import FETCH_DEPTH
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import BlockRequest
from meshcheck.impl.hotstuff.messages import BlockResponse
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import Request
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import malformed
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.rsm.machine import StateMachine

VIEW_TIMER: Final = "view"
# a tick after a (re)start or a QC: Propose(i, v), the leader's step of its own after FormQC
PROPOSE_TIMER: Final = "propose"

# keys of the durable store
SAFETY: Final = "safety"  # (view, last_voted, high_qc, locked, proposed, commits)
BLOCKS: Final = "blocks"  # every block stored, in the order stored


@attrs.frozen
class Snapshot:
    """A replica's spec variables after one action: view, lastVoted, the block of highQC, the
    locked block and the committed heads."""

    view: int
    last_voted: int
    high_qc: bytes
    locked: bytes
    commits: tuple[bytes, ...]


# what an honest replica records against the link's sender (`Replica.accusations`); honest
# replicas send only their own signed messages and QCs they verified, so each proves the sender
# Byzantine (property_tests/hotstuff/oracle.py checks that no honest replica is ever accused)
BAD_SIGNATURE: Final = "bad_signature"  # the message's own signature does not check
BAD_QC: Final = "bad_qc"  # a QC inside has a vote whose signature does not check
BAD_REQUEST: Final = "bad_request"  # a request inside is not its client's
MALFORMED: Final = "malformed"  # no message, or one with a field of another type (`malformed`)


@attrs.frozen
class Accusation:
    accused: str
    kind: str
    detail: str


@attrs.frozen
class HotStuffConfig:
    id: str
    replicas: tuple[str, ...] = attrs.field(converter=ids)
    clients: tuple[str, ...] = attrs.field(default=("c1",), converter=ids)
    bugs: frozenset[str] = frozenset()
    batch_size: int = 4
    timeout: int = 100  # the view timer's first duration, in ticks
    max_backoff: int = 5  # the timer doubles at most this many times
    fetch_retry: int = 50  # ticks before a block asked for may be asked for again
    # view synchronisation: NEW-VIEWs go to every replica, and a replica that hears them for
    # higher views from f+1 replicas times out up to there (`Replica._catch_up`); without it
    # (lockstep, whose driver delivers a NEW-VIEW only to its view's leader) they go to the
    # leader alone
    view_sync: bool = True
    # the leaders of views 1..len(leaders), chosen by a test scenario (property_tests/hotstuff/
    # twins.py: the Twins paper's scenario-chosen leader per round); round-robin after them
    leaders: tuple[str, ...] = attrs.field(default=(), converter=ids)

    def __attrs_post_init__(self) -> None:
        if self.id not in self.replicas:
            raise ImplError(f"{self.id} is not one of the replicas {self.replicas}")
        if len(self.replicas) < 4:
            raise ImplError("HotStuff needs at least 4 replicas (n >= 3f + 1 with f >= 1)")
        unknown = self.bugs - set(mutants.BUGS)
        if unknown:
            raise ImplError(f"unknown HotStuff mutants: {sorted(unknown)}")
        if self.timeout < 1 or self.batch_size < 1:
            raise ImplError("timeout and batch_size must be at least 1")

    @property
    def f(self) -> int:
        return (len(self.replicas) - 1) // 3

    @property
    def quorum(self) -> int:
        """Votes in a QC, and NEW-VIEWs a new leader waits for: ceil((n+f+1)/2), 2f+1 at
        n = 3f+1 (impl/base/quorum.py). The mutant takes one vote fewer (2f at n = 3f+1)."""
        q = quorum.byzantine_quorum(len(self.replicas), self.f)
        return q - 1 if mutants.QC_OF_2F_VOTES in self.bugs else q

    def leader(self, view: int) -> str:
        """Round-robin: the leader of view v is replica (v mod n) + 1 (specs/HotStuff.tla)."""
        if 1 <= view <= len(self.leaders):
            return self.leaders[view - 1]
        return self.replicas[view % len(self.replicas)]


class Replica:
    # the one cache of checked signatures of every replica: used only with the catalogue bug
    # VERIFIED_CACHE_ON_CLASS on (core purity, property_tests/restarts.py, sees it change)
    _VERIFIED_BY_ALL: ClassVar[set[Any]] = set()

    def __init__(self, config: HotStuffConfig, keys: KeyRing) -> None:
        self.config = config
        self.id = config.id
        self.keys = keys
        self._signer = keys.signer(self.id)
        self.started = False
        self.now = 0
        # the host's observers, called after every step with (replica, event, effects): a free
        # run's monitor reads what the replica sent there (nothing is kept when there are none)
        self.observers: list[Callable[[Replica, Any, list[Effect]], None]] = []
        self.accusations: list[Accusation] = []  # kept across restarts (a log, not state)
        self._reset()

    def _reset(self) -> None:
        self.blocks: dict[bytes, Block] = {GENESIS.hash: GENESIS}
        self.view = 1
        self.last_voted = 0
        self.high_qc: QC = GENESIS_QC
        self.locked: bytes = GENESIS.hash
        self.proposed: tuple[int, ...] = ()  # views this replica proposed in (as their leader)
        self.commits: tuple[bytes, ...] = ()  # committed heads: each not an ancestor of another
        self.executed: bytes = GENESIS.hash  # the last block executed
        self.machine = StateMachine()
        self.applied = 0  # the index of the last request applied
        self.results: dict[tuple[str, int], Value] = {}  # executed requests' results
        self.executed_requests: dict[tuple[str, int], Request] = {}  # the request under each key
        self.pending: dict[tuple[str, int], SignedRequest] = {}  # requests not yet executed
        # as the next leader: (block, view) -> voter -> signature
        self.votes: dict[tuple[bytes, int], dict[str, bytes]] = {}
        self.new_views: dict[int, dict[str, QC]] = {}  # as leader of v: sender -> its QC
        self.heard: dict[str, int] = {}  # the highest view each replica sent a NEW-VIEW for
        self.waiting: dict[bytes, Proposal] = {}  # proposals whose parent is not stored yet
        self.orphans: dict[bytes, Block] = {}  # fetched blocks whose parent is not stored yet
        self.asked: dict[bytes, int] = {}  # block hash -> when it was last asked for
        self.backoff = 0  # timeouts since the last commit (each doubles the view timer)
        # the NEW-VIEW of the view this replica timed out into, while fewer than 2f+1 replicas
        # are heard in that view or above (the view timer then only sends it again: `_join`)
        self.joining: NewView | None = None
        self._verified: set[Any] = set()  # QCs and requests whose signatures were checked
        if mutants.VERIFIED_CACHE_ON_CLASS in self.config.bugs:  # the bug: a cache on the class
            self._verified = Replica._VERIFIED_BY_ALL
        self._stored: int = 0  # blocks persisted so far
        self._out: list[Effect] = []
        self._writes: list[Write] = []
        self._dirty = False

    def __repr__(self) -> str:
        return f"<HotStuff {self.id} view={self.view} voted={self.last_voted}>"

    # -- the sans-IO step ----------------------------------------------------------------------

    def step(self, event: Any) -> list[Effect]:
        self._out, self._writes, self._dirty = [], [], False
        self.snapshots: list[Snapshot] = []  # the spec's state after each action of this step
        self.now = getattr(event, "now", self.now)
        if isinstance(event, Restart):
            self._restart(event.persisted)
        elif not self.started:
            raise RuntimeError(f"{self.id}: step({event!r}) before Restart")
        elif isinstance(event, Tick):
            if event.timer == VIEW_TIMER:
                if self.joining is not None:
                    self._resend_new_view(self.joining)
                else:
                    self._timeout()
            elif event.timer == PROPOSE_TIMER:
                self._propose(self.view)
        elif isinstance(event, Deliver):
            self._deliver(event.source, event.message)
        else:
            raise TypeError(f"{self.id}: not a HotStuff replica event: {event!r}")
        effects = self._effects()
        for observe in self.observers:
            observe(self, event, effects)
        return effects

    def _effects(self) -> list[Effect]:
        """The step's effects with its one Persist before the first Send, within the first action
        when the step starts with one (a Persist before it would be a segment of no action)."""
        if self._dirty:
            self.snapshots.append(self.snapshot())
            self._writes.append(Put(SAFETY, self._safety()))
        if not self._writes:
            return self._out
        persist = Persist(tuple(self._writes))
        out = self._out
        if out and isinstance(out[0], Action):  # the persist is the first action's own effect
            return [out[0], persist, *out[1:]]
        return [persist, *out]

    def _safety(self) -> tuple[Any, ...]:
        return (
            self.view,
            self.last_voted,
            self.high_qc,
            self.locked,
            self.proposed,
            self.commits,
        )

    def snapshot(self) -> Snapshot:
        """The spec's variables of this replica now (impl/hotstuff/refinement.py maps them)."""
        return Snapshot(self.view, self.last_voted, self.high_qc.block, self.locked, self.commits)

    def _mark(self, name: str, **params: Value) -> None:
        """Report spec action `name`; the state after the action before it is its snapshot."""
        if self._dirty:
            self.snapshots.append(self.snapshot())
        self._dirty = True
        self._out.append(Action(name, FrozenDict({"i": self.id, **params})))

    def _send(self, dest: str, message: Any) -> None:
        self._out.append(Send(dest, message))

    def _broadcast(self, message: Any) -> None:
        for r in self.config.replicas:
            self._send(r, message)

    def _timer(self) -> None:
        """Start the view timer of the view this replica is in (it takes part in that view)."""
        self.joining = None
        after = self.config.timeout << min(self.backoff, self.config.max_backoff)
        self._out.append(SetTimer(VIEW_TIMER, after))

    # -- restart ---------------------------------------------------------------------------------

    def _restart(self, persisted: Mapping[str, Any]) -> None:
        self._reset()
        for block in persisted.get(BLOCKS, ()):
            self.blocks[block.hash] = block
        self._stored = len(persisted.get(BLOCKS, ()))
        if SAFETY in persisted:
            (
                self.view,
                self.last_voted,
                self.high_qc,
                self.locked,
                self.proposed,
                self.commits,
            ) = persisted[SAFETY]
        self.started = True
        for head in self.commits:
            if self.extends(head, self.executed):
                self._execute(head, reply=False)
        self._timer()
        self._out.append(SetTimer(PROPOSE_TIMER, 1))

    # -- blocks ----------------------------------------------------------------------------------

    def block_view(self, h: bytes) -> int:
        return self.blocks[h].view

    def parent(self, h: bytes) -> bytes:
        """The parent's hash (genesis is its own parent)."""
        return self.blocks[h].parent if h != GENESIS.hash else h

    def extends(self, b: bytes, a: bytes) -> bool:
        """b extends a (or is a): a is an ancestor of b. Both stored."""
        view = self.blocks[a].view
        while self.blocks[b].view > view:
            b = self.blocks[b].parent
        return b == a

    def _store(self, block: Block) -> None:
        """Store a block whose parent is stored, persisting it."""
        if block.hash in self.blocks:
            return
        self.blocks[block.hash] = block
        self._writes.append(Splice(BLOCKS, self._stored, (block,)))
        self._stored += 1
        self.asked.pop(block.hash, None)

    def _want(self, h: bytes, source: str, qc: QC | None = None) -> None:
        """Ask `source` for block h (and its ancestors) unless asked recently, and, when `qc`
        certifies h, f+1 of its voters besides: a correct voter stored h before it voted, and f+1
        of them include one, so a Byzantine sender that will not answer (a leader that proposes on
        a block it never sent) cannot keep a correct replica from the chain. DiemBFT and Aptos do
        the same: `BlockRetriever::retrieve_block_for_qc` (aptos-core,
        consensus/src/block_storage/sync_manager.rs) asks the QC's signers, the proposer first."""
        last = self.asked.get(h)
        if last is not None and self.now - last < self.config.fetch_retry:
            return
        self.asked[h] = self.now
        ask = [source]
        if qc is not None and qc.block == h:
            voters = [v for v, _ in qc.votes if v != source and v in self.config.replicas]
            ask += voters[: self.config.f + 1]
        for peer in ask:
            if peer != self.id:
                self._send(peer, BlockRequest(h))

    # -- checks on receipt -----------------------------------------------------------------------

    def valid_qc(self, qc: QC) -> bool:
        """2f+1 distinct replicas' valid signatures over (block, view); genesis's QC."""
        if qc == GENESIS_QC:
            return True
        if qc in self._verified:
            return True
        distinct = len({v for v, _ in qc.votes})
        if mutants.QC_COUNTS_VOTES in self.config.bugs:
            distinct = len(qc.votes)  # the bug: a repeated vote counted again
        if distinct != len(qc.votes) or distinct < self.config.quorum or qc.view < 1:
            return False
        data = vote_bytes(qc.block, qc.view)
        for voter, signature in qc.votes:
            if voter not in self.config.replicas or not self.keys.verify(voter, signature, data):
                return False
        self._verified.add(qc)
        return True

    def _valid_request(self, r: SignedRequest) -> bool:
        if r in self._verified:
            return True
        if r.request.client not in self.config.clients or not self.keys.verify(
            r.request.client, r.signature, request_bytes(r.request)
        ):
            return False
        self._verified.add(r)
        return True

    def _valid_proposal(self, p: Proposal) -> bool:
        b = p.block
        qc = b.justify
        return (
            b.view >= 1
            and b.proposer == self.config.leader(b.view)
            and qc is not None
            and qc.block == b.parent
            and qc.view < b.view
            and self.keys.verify(b.proposer, p.signature, proposal_bytes(b))
            and self.valid_qc(qc)
            and len({r.key for r in b.batch}) == len(b.batch)
            and all(self._valid_request(r) for r in b.batch)
        )

    def _accuse(self, source: str, kind: str, detail: str) -> None:
        self.accusations.append(Accusation(source, kind, detail))
        del self.accusations[:-100]

    def _bad_votes(self, qc: QC) -> bool:
        """Some vote in qc has a signature that does not check (not: too few votes)."""
        data = vote_bytes(qc.block, qc.view)
        return any(
            voter in self.config.replicas and not self.keys.verify(voter, signature, data)
            for voter, signature in qc.votes
        )

    def _blame_proposal(self, source: str, p: Proposal) -> None:
        """An invalid proposal: its signature, a vote of its justify or a request of its batch
        that does not check is recorded against the link's sender (whoever signed it, honest
        replicas send no proposal but their own, on QCs and requests they checked)."""
        b = p.block
        if not self.keys.verify(b.proposer, p.signature, proposal_bytes(b)):
            self._accuse(source, BAD_SIGNATURE, f"a proposal of view {b.view}")
        elif (
            b.justify is not None and b.justify not in self._verified and self._bad_votes(b.justify)
        ):
            self._accuse(source, BAD_QC, f"the justify of a proposal of view {b.view}")
        elif any(
            r.request.client in self.config.clients and not self._valid_request(r) for r in b.batch
        ):
            self._accuse(source, BAD_REQUEST, f"in a proposal of view {b.view}")

    # -- messages --------------------------------------------------------------------------------

    def _deliver(self, source: str, m: Any) -> None:
        why = malformed(m)
        if why is not None:  # read as what it claims to be, it would stop this step
            self._accuse(source, MALFORMED, why)
            return
        if isinstance(m, Proposal):
            # a block already stored (the leader's own, a fetched one) may still be voted for
            if m in self._verified or self._valid_proposal(m):
                self._verified.add(m)
                self._on_proposal(source, m)
            else:
                self._blame_proposal(source, m)
        elif isinstance(m, Vote):
            self._on_vote(source, m)
        elif isinstance(m, NewView):
            self._on_new_view(source, m)
        elif isinstance(m, SignedRequest):
            self._on_request(source, m)
        elif isinstance(m, BlockRequest):
            self._on_block_request(source, m)
        elif isinstance(m, BlockResponse):
            self._on_block_response(source, m)

    def _on_proposal(self, source: str, p: Proposal) -> None:
        if p.block.parent not in self.blocks:
            self.waiting[p.block.hash] = p
            self._want(p.block.parent, source, p.block.justify)
            return
        self._store(p.block)
        self._consider_vote(p.block)
        self._progress()

    def _consider_vote(self, b: Block) -> None:
        """Vote(i, b) when the spec's guard holds: view(b) >= view, view(b) > lastVoted, safeNode."""
        if b.view < self.view:
            return
        if mutants.VOTE_TWICE_IN_VIEW in self.config.bugs:
            if b.view < self.last_voted:
                return
        elif b.view <= self.last_voted:
            if b.view == self.last_voted:
                hit("hotstuff", "second_block_of_view_refused")
            return
        if not self.safe_node(b):
            return
        if not self.extends(b.hash, self.locked):
            hit("hotstuff", "vote_by_liveness_clause")
        self._vote(b)

    def safe_node(self, b: Block) -> bool:
        """Algorithm 1's safeNode(b, b.justify): b extends the locked block (safety), or its
        justify, the QC for its parent, is newer than the lock (liveness)."""
        safety = self.extends(b.hash, self.locked)
        liveness = self.block_view(b.parent) > self.block_view(self.locked)
        if mutants.SAFE_NODE_WITHOUT_LIVENESS_CLAUSE in self.config.bugs:
            return safety
        if mutants.SAFE_NODE_WITHOUT_SAFETY_CLAUSE in self.config.bugs:
            return liveness
        return safety or liveness

    def _vote(self, b: Block) -> None:
        self._mark("Vote", b=b.hash)
        self.view = b.view
        self.last_voted = b.view
        if mutants.BACKOFF_RESET_ON_VOTE in self.config.bugs:
            self.backoff = 0  # the bug: a vote taken for progress, as a commit is
        self._timer()
        vote = Vote(b.hash, b.view, self.id, self._signer.sign(vote_bytes(b.hash, b.view)))
        self._send(self.config.leader(b.view + 1), vote)
        self._update(b)

    def _update(self, bstar: Block) -> None:
        """Algorithm 4's update(b*): b'' = b*.justify.node, b' = b''.justify.node, b =
        b'.justify.node (chained HotStuff: each its child's parent)."""
        b2 = bstar.parent
        b1 = self.parent(b2)
        b0 = self.parent(b1)
        assert bstar.justify is not None
        if bstar.justify.view > self.high_qc.view:  # updateQCHigh
            self.high_qc = bstar.justify
        higher = self.block_view(b1) > self.block_view(self.locked)
        if mutants.LOCK_MOVES_DOWN in self.config.bugs:  # the bug: b' as it is, even if lower
            higher = True
        if mutants.LOCK_NOT_UPDATED not in self.config.bugs and higher:
            self.locked = b1
        v2, v1, v0 = self.block_view(b2), self.block_view(b1), self.block_view(b0)
        if mutants.COMMIT_ON_TWO_CHAIN in self.config.bugs:
            if b1 != GENESIS.hash and v2 == v1 + 1:
                self._commit(b1)
        elif b0 != GENESIS.hash and v2 == v1 + 1 and v1 == v0 + 1:
            self._commit(b0)

    def _commit(self, b: bytes) -> None:
        """Commit b and its ancestors; execute them if they extend what was executed."""
        if any(self.extends(head, b) for head in self.commits):
            return  # already committed
        self.commits = (*(h for h in self.commits if not self.extends(b, h)), b)
        if mutants.BACKOFF_NOT_RESET_ON_COMMIT not in self.config.bugs:
            self.backoff = 0  # progress: the view timer starts from its base again
        if self.extends(b, self.executed):
            self._execute(b, reply=True)

    def _execute(self, head: bytes, *, reply: bool) -> None:
        """Execute the blocks from the last executed one (exclusive) to head, in order."""
        chain = []
        h = head
        while h != self.executed:
            chain.append(self.blocks[h])
            h = self.blocks[h].parent
        for block in reversed(chain):
            for r in block.batch:
                key = r.key
                if key in self.results:
                    continue  # a request in two blocks of one chain runs once
                result = self.machine.apply_entry(r.request.op)
                self.applied += 1
                self.results[key] = result
                self.executed_requests[key] = r.request
                self.pending.pop(key, None)
                self._out.append(Apply(self.applied, r.request.op, result))
                if reply:
                    self._send(
                        r.request.client,
                        ReplyMsg(r.request.client, r.request.timestamp, result, self.id),
                    )
        self.executed = head

    def applied_state(self) -> tuple[int, bytes]:
        return self.machine.applied, self.machine.digest()

    def _on_vote(self, source: str, v: Vote) -> None:
        if v.voter != source or v.voter not in self.config.replicas:
            return
        if v not in self._verified:
            if not self.keys.verify(v.voter, v.signature, vote_bytes(v.block, v.view)):
                self._accuse(source, BAD_SIGNATURE, f"a vote of view {v.view}")
                return
            self._verified.add(v)
        if (
            self.config.leader(v.view + 1) != self.id
            or v.view <= self.high_qc.view
            or v.voter in self.votes.get((v.block, v.view), {})
        ):
            return
        self.votes.setdefault((v.block, v.view), {})[v.voter] = v.signature
        if v.block not in self.blocks:
            self._want(v.block, source)
        self._progress()

    def _try_form_qc(self) -> None:
        """FormQC(i, b) for each block with 2f+1 votes that is stored and above highQC."""
        for (h, view), voters in sorted(self.votes.items(), key=lambda kv: kv[0][1]):
            if view <= self.high_qc.view:
                del self.votes[h, view]
                continue
            if len(voters) < self.config.quorum or h not in self.blocks:
                continue
            del self.votes[h, view]
            if self.blocks[h].view != view:
                continue  # votes signed for another view than the block's: no QC
            qc = QC(h, view, tuple(sorted(voters.items())))
            self._verified.add(qc)
            self._mark("FormQC", b=h)
            self.high_qc = qc
            if self.view <= view:
                self.view = view + 1
                self._timer()
            if self.config.leader(view + 1) == self.id:
                self._out.append(SetTimer(PROPOSE_TIMER, 1))

    def _propose(self, v: int) -> None:
        """Propose(i, v): leader of v, view <= v, highQC of view v - 1, not proposed in v."""
        if (
            self.config.leader(v) != self.id
            or self.view > v
            or self.high_qc.view != v - 1
            or v in self.proposed
        ):
            return
        self._mark("Propose", v=v)
        self.view = v
        self._send_proposal(v, self.high_qc)

    def _send_proposal(self, v: int, qc: QC) -> None:
        self.proposed = (*self.proposed[-7:], v)
        block = Block(qc.block, v, qc, self.id, self._batch(qc.block))
        self._store(block)
        proposal = Proposal(block, self._signer.sign(proposal_bytes(block)))
        self._broadcast(proposal)

    def _batch(self, parent: bytes) -> tuple[SignedRequest, ...]:
        """Up to batch_size pending requests that the parent's uncommitted chain does not hold."""
        if not self.pending:
            return ()
        held: set[tuple[str, int]] = set()
        h = parent
        while h != GENESIS.hash and not self.extends(self.executed, h):
            held.update(r.key for r in self.blocks[h].batch)
            h = self.blocks[h].parent
        out = []
        for key, r in self.pending.items():
            if key not in held and key not in self.results:
                out.append(r)
                if len(out) == self.config.batch_size:
                    break
        return tuple(out)

    def _on_new_view(self, source: str, m: NewView) -> None:
        if m.src != source or m.src not in self.config.replicas or m.qc.view >= m.view:
            return
        if not self.valid_qc(m.qc):
            if self._bad_votes(m.qc):
                self._accuse(source, BAD_QC, f"the QC of a NEW-VIEW for view {m.view}")
            return
        if self.config.view_sync and m.view > self.heard.get(m.src, 0):
            self.heard[m.src] = m.view
        if (
            self.config.leader(m.view) == self.id
            and m.view not in self.proposed
            and m.view >= self.view
        ):
            senders = self.new_views.setdefault(m.view, {})
            held = senders.get(m.src)
            # a sender's highest QC for the view: a Byzantine one may send two NEW-VIEWs, and the
            # rule takes the highest QC of every NEW-VIEW heard (Algorithm 3), not the last one
            if held is None or m.qc.view > held.view:
                senders[m.src] = m.qc
            if m.qc.block not in self.blocks:
                self._want(m.qc.block, source, m.qc)
        self._progress()
        if self.config.view_sync:
            self._catch_up()
            if self.joining is not None and self._joined():
                self._timer()

    def _catch_up(self) -> None:
        """The pacemaker's view synchronisation: f+1 replicas (one of them correct) sent NEW-VIEWs
        for views above this one; time out view after view up to the lowest of those (each step a
        Timeout, each with its NEW-VIEW), but not into a view this replica leads, which its
        NEW-VIEWs take it to (NewView). A view skipped to join the others did not fail for this
        replica: it does not add to the back-off. Counted, a replica that caught up several views
        after a partition came back with a timer several doublings too long, and a silent leader's
        view after healing cost up to the cap twice over (property_tests/hotstuff/free_runs.py,
        LIVENESS_BOUND: the worst of 1000 runs went from 5944 ticks to 3971)."""
        views = sorted(self.heard.values(), reverse=True)
        if len(views) <= self.config.f:
            return
        target = views[self.config.f]
        if self.config.leader(target) == self.id:
            target -= 1
        while self.view < target:
            self._timeout(catching_up=True)

    def _try_new_view(self) -> None:
        """NewView(i, v): 2f+1 NEW-VIEWs for v, the highest QC among them and this replica's."""
        for v in sorted(self.new_views):
            senders = self.new_views[v]
            if v in self.proposed or v < self.view:
                del self.new_views[v]
                continue
            if len(senders) < self.config.quorum:
                continue
            qcs = [*senders.values(), self.high_qc]
            highest = max(qcs, key=lambda q: q.view)
            if mutants.PROPOSE_FROM_LOWER_QC in self.config.bugs:
                highest = self.high_qc
            if highest.block not in self.blocks:
                continue  # asked for when its NEW-VIEW came
            del self.new_views[v]
            self._mark("NewView", v=v)
            self.high_qc = highest
            self.view = v
            self._timer()
            self._send_proposal(v, highest)
            return

    def _progress(self) -> None:
        """What stored blocks, votes and NEW-VIEWs now allow: waiting proposals, QCs, proposals."""
        if self.orphans:
            for block in sorted(self.orphans.values(), key=lambda b: b.view):
                if block.parent in self.blocks:
                    del self.orphans[block.hash]
                    self._store(block)
        ready = [p for p in self.waiting.values() if p.block.parent in self.blocks]
        for p in sorted(ready, key=lambda p: p.block.view):
            del self.waiting[p.block.hash]
            self._store(p.block)
            self._consider_vote(p.block)
        if self.votes:
            self._try_form_qc()
        if self.new_views:
            self._try_new_view()

    def _timeout(self, catching_up: bool = False) -> None:
        """Timeout(i): the next view, a NEW-VIEW with highQC to its leader."""
        self._mark("Timeout")
        self.view += 1
        if not catching_up:
            self.backoff += 1
        new_view = NewView(self.view, self.high_qc, self.id)
        if self.config.view_sync:  # every replica hears it (view synchronisation)
            self._broadcast(new_view)
            self._join(new_view)
        else:
            self._timer()
            self._send(self.config.leader(self.view), new_view)
        # proposals of views now passed can never be voted for
        for h, p in list(self.waiting.items()):
            if p.block.view < self.view:
                del self.waiting[h]

    def _joined(self) -> bool:
        """2f+1 replicas, this one among them, sent NEW-VIEWs for this view or a higher one."""
        here = sum(1 for r, v in self.heard.items() if r != self.id and v >= self.view)
        return here + 1 >= self.config.quorum

    def _join(self, new_view: NewView) -> None:
        """After a timeout into a view, its timer starts once 2f+1 replicas are heard there
        (PBFT, OSDI 1999, section 4.5.2: a replica that timed out in view v "waits for 2f+1
        VIEW-CHANGE messages for view v+1 and then starts its timer"). A replica whose timer ran
        on alone would time out view after view ahead of the others, each of its timeouts as
        long as theirs once the doubling reaches its cap: after a partition, f honest replicas
        two views ahead of the rest (too few for the rest to follow, `_catch_up`) never share a
        view with them, and no view gathers the 2f+1 NEW-VIEWs or votes it needs. Until then
        the NEW-VIEW goes out again every `timeout` ticks (`_resend_new_view`): one lost during
        the faults is what the others may be missing."""
        if self._joined():
            self._timer()
            return
        self.joining = new_view
        self._out.append(SetTimer(VIEW_TIMER, self.config.timeout))

    def _resend_new_view(self, new_view: NewView) -> None:
        """The NEW-VIEW this replica timed out with, to every replica again: the same message
        (the spec's `msgs` holds it already, so this is a stutter), not one with a newer QC."""
        self._broadcast(new_view)
        self._out.append(SetTimer(VIEW_TIMER, self.config.timeout))

    def _on_request(self, source: str, r: SignedRequest) -> None:
        if not self._valid_request(r):
            self._accuse(source, BAD_SIGNATURE, f"a request of {r.request.client}")
            return
        key = r.key
        if key in self.results:
            if self.executed_requests.get(key) != r.request:
                # Another request under the (client, timestamp) of one executed: a correct
                # client never reuses a timestamp, and a reply (which names the timestamp, not
                # the request) would tell the client this one ran, with the other's result.
                return
            self._send(
                r.request.client,
                ReplyMsg(r.request.client, r.request.timestamp, self.results[key], self.id),
            )
        elif key not in self.pending:
            self.pending[key] = r

    def _on_block_request(self, source: str, m: BlockRequest) -> None:
        if m.hash not in self.blocks or m.hash == GENESIS.hash:
            return
        out: list[Block] = []
        h = m.hash
        while h != GENESIS.hash and len(out) < FETCH_DEPTH and h in self.blocks:
            out.append(self.blocks[h])
            h = self.blocks[h].parent
        self._send(source, BlockResponse(tuple(out)))

    def _valid_justify(self, source: str, block: Block) -> bool:
        """A fetched block's justify is a valid QC for its parent, of a lower view. The hash
        covers the justify's block, not its view or votes, so without this check a Byzantine
        responder could have a block stored (and relayed, and voted for when its proposal comes)
        under a justify that certifies nothing; DiemBFT's `BlockRetrievalResponse::verify` checks
        every retrieved block's QC likewise. Bad signatures in it are recorded against the
        responder (a correct one stores only blocks it checked)."""
        qc = block.justify
        if block.view < 1 or qc is None or qc.block != block.parent or qc.view >= block.view:
            return False
        if self.valid_qc(qc):
            return True
        if self._bad_votes(qc):
            self._accuse(source, BAD_QC, f"the justify of a fetched block of view {block.view}")
        return False

    def _on_block_response(self, source: str, m: BlockResponse) -> None:
        """Keep the chain given if it is one asked for: the first block's hash was asked for, and
        each next one is the one before's parent, of a lower view. A block is stored once its
        parent is (`_progress`); until then it is an orphan, and its parent is asked for."""
        if not m.blocks or m.blocks[0].hash not in self.asked:
            return
        chain: list[Block] = []
        for block in m.blocks:
            if chain and (block.hash != chain[-1].parent or block.view >= chain[-1].view):
                break
            if not self._valid_justify(source, block):
                break
            chain.append(block)
        if not chain:
            return
        for block in chain:
            if block.hash not in self.blocks:
                self.orphans[block.hash] = block
        hit("hotstuff", "blocks_fetched")
        oldest = chain[-1].parent
        if oldest not in self.blocks and oldest not in self.orphans:
            # the justify is not checked here (a hint of whom else to ask, nothing is taken on it)
            self._want(oldest, source, chain[-1].justify)
        self._progress()

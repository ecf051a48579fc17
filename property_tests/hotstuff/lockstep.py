"""Lockstep of impl/hotstuff against specs/HotStuff.tla, every replica honest: TLC says what may
happen next (models/Lockstep.cfg), Hypothesis picks it, the simulated group must take it, and its
refinement mapping must then equal TLC's successor state (property_tests/harness.py; the toy's
tests/toy/harness.py is the same shape), and before that the step must not move a lock down
(LockMonotonic: transitions.py).

How a spec step is forced (`Driver.take`); nothing runs on its own, no timer fires unasked:

- `Propose(i, v)`: fire i's propose timer (the leader's step after its QC, or at boot);
- `Timeout(i)`: fire i's view timer;
- `Vote(i, b)`: deliver b's proposal to i (again, if it was delivered before: the spec's msgs only
  grows);
- `FormQC(i, b)`: deliver votes for b to i until it holds 2f+1;
- `NewView(i, v)`: deliver NEW-VIEWs for v to i, the one carrying the successor's highQC first and
  none carrying a higher QC, until it holds 2f+1.

Between, the block fetching the replica starts (a proposal, vote or NEW-VIEW naming a block it does
not hold) is pumped to its end: requests and responses are no spec steps.

The Byzantine puppet (a Byzantine replica the driver makes send exactly what a spec step uses) is
not here: HotStuff.tla's Byzantine replicas are the sets its Sent* predicates admit, and driving a
faulty replica to send them is a later piece of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff import crypto
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import BlockRequest
from meshcheck.impl.hotstuff.messages import BlockResponse
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import PROPOSE_TIMER
from meshcheck.impl.hotstuff.replica import VIEW_TIMER
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.property_tests import harness
from meshcheck.property_tests.hotstuff.transitions import broken
from meshcheck.property_tests.lockstep import differences
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Transition


class Driver:
    """A simulated group of honest replicas that takes the spec's steps."""

    def __init__(self, n: int, bugs: frozenset[str], byzantine: tuple[str, ...] = ()) -> None:
        # no view synchronisation: a NEW-VIEW goes to its view's leader alone, whom the driver
        # hands it in NewView (impl/hotstuff/replica.py, HotStuffConfig.view_sync)
        self.byzantine = byzantine
        self.sim: Simulator[Any] = hotstuff_cluster(
            n,
            bugs=bugs,
            record=True,
            latency=(1, 1),
            view_sync=False,
            byzantine={b: ("silent",) for b in byzantine},  # puppets: the driver sends for them
        )
        self.plugin: HotStuffPlugin = self.sim.plugin  # type: ignore[assignment]
        self.tempted: set[tuple[str, bytes]] = set()
        self.sent: list[tuple[str, str, Any]] = []  # (sender, dest, message) of every send
        self.plugin.observers.append(self._saw)

    def _saw(self, replica: Replica, event: Any, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Send):
                self.sent.append((replica.id, e.dest, e.message))

    def state(self) -> FrozenDict:
        return self.sim.abstract_state()

    def chain(self, h: bytes) -> Value:
        return self.plugin.chains.chain(h)

    def _deliver(self, source: str, dest: str, message: Any) -> None:
        """Deliver `message` now: its envelope in flight if there is one, else a copy."""
        for e in self.sim.in_flight():
            if e.dest == dest and e.source == source and e.message == message:
                self.sim.deliver(e.id)
                break
        else:
            self.sim.inject(dest, Deliver(source, message))
        self._pump()

    def _pump(self) -> None:
        """Deliver block requests and responses until none is in flight (no spec steps)."""
        for _ in range(100):
            fetching = [
                e
                for e in self.sim.in_flight()
                if isinstance(e.message, BlockRequest | BlockResponse)
            ]
            if not fetching:
                return
            self.sim.deliver(fetching[0].id)

    def take(self, action: str, params: Mapping[str, Value]) -> None:
        i = str(params["i"])
        replica = self.plugin.replica(i)
        if action == "Propose":
            self.sim.fire(i, PROPOSE_TIMER)
        elif action == "Timeout":
            self.sim.fire(i, VIEW_TIMER)
        elif action == "Vote":
            b = params["b"]
            found = next(
                (
                    (s, m)
                    for s, _, m in self.sent
                    if isinstance(m, Proposal) and self.chain(m.block.hash) == b
                ),
                None,
            )
            if found is None:  # a Byzantine leader's block (SentProposal): the puppet's
                assert isinstance(b, tuple) and b
                found = self._puppet_proposal(b)
            self._deliver(found[0], i, found[1])
        elif action == "FormQC":
            b = params["b"]
            votes = {
                (s, m)
                for s, d, m in self.sent
                if d == i and isinstance(m, Vote) and self.chain(m.block) == b
            }
            for source, vote in sorted(votes, key=lambda sv: sv[0]):
                if self._formed(replica, b):
                    break
                self._deliver(source, i, vote)
            for byz in self.byzantine:  # Certified counts a Byzantine vote for any block
                if self._formed(replica, b):
                    break
                self._deliver(byz, i, self._puppet_vote(byz, self._hash(b)))
        elif action == "NewView":
            self._new_view(i, int(params["v"]))
        else:
            raise ValueError(f"the HotStuff driver does not know the spec action {action}")

    def _formed(self, replica: Replica, b: Value) -> bool:
        return bool(self.chain(self.plugin.replica(replica.id).high_qc.block) == b)

    def _new_view(self, i: str, v: int) -> None:
        """Deliver NEW-VIEWs for v, the one with the target QC first, none above it."""
        target = self._target
        found = {
            (s, m) for s, d, m in self.sent if d == i and isinstance(m, NewView) and m.view == v
        }
        usable = [(s, m) for s, m in found if len(self.chain(m.qc.block)) <= len(target)]
        usable.sort(key=lambda sm: (self.chain(sm[1].qc.block) != target, sm[0]))
        own = self.chain(self.plugin.replica(i).high_qc.block)
        if own != target and all(self.chain(m.qc.block) != target for _, m in usable):
            # the target QC is one only a Byzantine NEW-VIEW carries (NewViewQCs: fewer than
            # 2f+1 honest ones and a Byzantine one): it comes first, or the honest ones alone
            # make up the leader's 2f+1 and it proposes on their lower QC
            for byz in self.byzantine:
                if v not in self.plugin.replica(i).proposed:
                    self._deliver(byz, i, NewView(v, self._qc_for(self._hash(target)), byz))
        for source, message in usable:
            if v in self.plugin.replica(i).proposed:
                break
            self._deliver(source, i, message)
        for byz in self.byzantine:  # NewViewQCs: fewer honest ones and a Byzantine one
            if v in self.plugin.replica(i).proposed:
                break
            qc = self._qc_for(self._hash(target))
            self._deliver(byz, i, NewView(v, qc, byz))

    # -- the Byzantine puppet ------------------------------------------------------------------

    def _hash(self, chain: Value) -> bytes:
        """The block whose spec chain is `chain` (one any replica or the puppet holds)."""
        if chain == ():
            return GENESIS.hash
        for r in self.plugin.replicas:
            for h in self.plugin.replica(r).blocks:
                if self.chain(h) == chain:
                    return h
        raise ValueError(f"no block is the chain {chain}")

    def _known_qcs(self) -> list[QC]:
        qcs = [self.plugin.replica(r).high_qc for r in self.plugin.replicas]
        for _, _, m in self.sent:
            if isinstance(m, Proposal) and m.block.justify is not None:
                qcs.append(m.block.justify)
            elif isinstance(m, NewView):
                qcs.append(m.qc)
        return qcs

    def _qc_for(self, h: bytes) -> QC:
        """A QC for h: one sent or held, else made of the votes sent for it and the puppets'."""
        if h == GENESIS.hash:
            return GENESIS_QC
        for qc in self._known_qcs():
            if qc.block == h:
                return qc
        view = self.plugin.replica(self.plugin.replicas[0]).blocks.get(h) or self.plugin.lookup(h)
        votes = {
            m.voter: m.signature for _, _, m in self.sent if isinstance(m, Vote) and m.block == h
        }
        for byz in self.byzantine:
            votes[byz] = self._puppet_vote(byz, h).signature
        return QC(h, view.view, tuple(sorted(votes.items())))

    def _puppet_vote(self, byz: str, h: bytes) -> Vote:
        view = self.plugin.lookup(h).view
        signature = self.plugin.keys.signer(byz).sign(vote_bytes(h, view))
        return Vote(h, view, byz, signature)

    def _puppet_proposal(self, chain: tuple[Any, ...]) -> tuple[str, Proposal]:
        """The Byzantine leader of the chain's last view proposes it (on a QC for its parent)."""
        view = int(chain[-1]["view"])
        byz = self.plugin.replica(self.plugin.replicas[0]).config.leader(view)
        assert byz in self.byzantine, f"{byz} leads view {view} and is honest"
        parent = self._hash(chain[:-1])
        block = Block(parent, view, self._qc_for(parent), byz)
        self.plugin.replica(byz).blocks.setdefault(block.hash, block)
        return byz, Proposal(block, self.plugin.keys.signer(byz).sign(proposal_bytes(block)))

    def tempt(self, last_voted: Mapping[str, Any]) -> None:
        """What the spec forbids, offered to each honest replica: a Byzantine leader's block of
        a view the replica has voted in already, on every QC the puppet can use (a second block
        of that view: Vote's guard View(b) > lastVoted refuses it; a correct replica stutters)."""
        if not self.byzantine:
            return
        config = self.plugin.replica(self.plugin.replicas[0]).config
        qcs = {qc.block: qc for qc in self._known_qcs()}
        for j in self.plugin.honest:
            voted = int(last_voted[j])
            if voted < 1 or config.leader(voted) not in self.byzantine:
                continue
            byz = config.leader(voted)
            for h, qc in sorted(qcs.items(), key=lambda kv: kv[1].view):
                if qc.view >= voted:
                    continue
                block = Block(h, voted, qc, byz)
                if (j, block.hash) in self.tempted:
                    continue
                self.tempted.add((j, block.hash))
                self.plugin.replica(byz).blocks.setdefault(block.hash, block)
                signature = self.plugin.keys.signer(byz).sign(proposal_bytes(block))
                self._deliver(byz, j, Proposal(block, signature))

    _target: Value = ()


class Follower(harness.Follower):
    byzantine: tuple[str, ...] = ()

    def start(self, init: State) -> Driver:
        return Driver(len(init.values["view"]), self.bugs, self.byzantine)

    def compare(self, label: harness.Label, want: FrozenDict, got: FrozenDict) -> None:
        """The refinement check, after HotStuff.tla's LockMonotonic checked on the step from the
        spec's state before to the implementation's own state, so that a replica whose lock moved
        down is reported by the property's name, not only as a state that differs from the spec's."""
        names = broken(self.path[-2].state, got)
        if names:
            problem = f"after {label} the implementation breaks {', '.join(names)}:"
            self.fail([problem, *differences(want, got)])
        super().compare(label, want, got)

    def drive(self, t: Transition) -> None:
        driver: Driver = self.driver
        if t.action.name == "NewView":
            driver._target = t.state.values["highQC"][t.action.params["i"]]
        driver.take(t.action.name, t.action.params)
        driver.tempt(t.state.values["lastVoted"])


class PuppetFollower(Follower):
    """r1 Byzantine (models/LockstepByzantine.cfg): a puppet whose core sends nothing; the
    driver signs in its name what a step needs (its votes for any block, its proposals as the
    leader of view 4, its NEW-VIEWs) and, after every step, offers each honest replica its
    second block of a view the replica voted in."""

    byzantine = ("r1",)


HOTSTUFF = harness.LockstepSpec(
    "hotstuff", "HotStuff", "Lockstep.cfg", Follower, context=crypto.memoised
)
HOTSTUFF_BYZANTINE = harness.LockstepSpec(
    "hotstuff",
    "HotStuff",
    "LockstepByzantine.cfg",
    PuppetFollower,
    machine="HotStuffByzantineLockstep",
    context=crypto.memoised,
)
# the checks: TLC picks each step, the group takes it, states compared after every step; the
# same with r1 a Byzantine puppet (PuppetFollower)
lockstep = HOTSTUFF.lockstep
lockstep_byzantine = HOTSTUFF_BYZANTINE.lockstep

"""HotStuff's counting rules, one replica stepped by hand: 2f+1 means 2f+1 distinct replicas, and a
replica's own NEW-VIEW or vote, which reaches it as any other replica's does, counts once (Yin et
al., PODC 2019, Algorithm 3: the leader waits for n - f NEW-VIEWs; a QC is n - f votes;
impl/hotstuff/replica.py `_try_new_view`, `_joined`, `_try_form_qc`).

Four replicas r1..r4 (f = 1, 2f+1 = 3), round-robin leaders: view v's is replica v mod 4 + 1, so r3
leads view 2 and r2 view 1."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import PROPOSE_TIMER
from meshcheck.impl.hotstuff.replica import VIEW_TIMER
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.sim.storage import Durable
from tests import stepped

REPLICAS = ("r1", "r2", "r3", "r4")
KEYS = KeyRing(0, (*REPLICAS, "c1"))


class Box:
    """One HotStuff replica with its durable store, stepped by hand."""

    def __init__(self, node_id: str) -> None:
        self.node = Replica(HotStuffConfig(node_id, REPLICAS), KEYS)
        self.disk = Durable()
        self.step(Restart({}))

    def step(self, event: Any) -> list[Effect]:
        self.last, effects = stepped.step(self.node, self.disk, event)
        return effects

    def deliver(self, m: Any, source: str) -> list[Effect]:
        return self.step(Deliver(source, m))

    def actions(self) -> list[str]:
        return [a.name for a in self.last if isinstance(a, Action)]


def vote(block: bytes, view: int, voter: str) -> Vote:
    return Vote(block, view, voter, KEYS.signer(voter).sign(vote_bytes(block, view)))


def view_timer(effects: list[Effect]) -> int | None:
    return next(
        (e.after for e in effects if isinstance(e, SetTimer) and e.timer == VIEW_TIMER), None
    )


def test_algorithm_3_a_leader_counts_its_own_new_view_once() -> None:
    """r3 times out into view 2, which it leads; its NEW-VIEW comes back to it (a broadcast reaches
    every replica, itself too), again, and r1's comes: two replicas, not three, however often
    r3's own arrives; no NewView. r2's makes three, and r3 proposes in view 2."""
    box = Box("r3")
    box.step(Tick(VIEW_TIMER))
    assert box.actions() == ["Timeout"] and box.node.view == 2
    own = NewView(2, GENESIS_QC, "r3")
    for m, source in ((own, "r3"), (NewView(2, GENESIS_QC, "r1"), "r1"), (own, "r3")):
        box.deliver(m, source)
        assert "NewView" not in box.actions()
    effects = box.deliver(NewView(2, GENESIS_QC, "r2"), "r2")
    assert box.actions() == ["NewView"]
    proposals = [
        e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Proposal)
    ]
    assert {p.block.view for p in proposals} == {2} and len(proposals) == len(REPLICAS)


def test_the_pacemaker_starts_a_timed_out_view_on_2f_plus_1_replicas_itself_once() -> None:
    """r1 times out into view 2 (led by r3) and waits for 2f+1 replicas there before it starts
    the view's timer (view synchronisation, `_joined`): until then its timer only sends its
    NEW-VIEW again, every base timeout. Its own NEW-VIEW back, twice, and r4's are two
    replicas: it still waits. r2's makes three: the view's timer starts, doubled once for the
    timeout (section 4's back-off), and no resend is pending."""
    box = Box("r1")
    effects = box.step(Tick(VIEW_TIMER))
    base = box.node.config.timeout
    assert box.actions() == ["Timeout"] and view_timer(effects) == base
    own = NewView(2, GENESIS_QC, "r1")
    for m, source in ((own, "r1"), (NewView(2, GENESIS_QC, "r4"), "r4"), (own, "r1")):
        effects = box.deliver(m, source)
        assert box.node.joining == own and view_timer(effects) is None
    effects = box.deliver(NewView(2, GENESIS_QC, "r2"), "r2")
    assert box.node.joining is None and view_timer(effects) == 2 * base
    # the timer that runs out now is the view's: a Timeout into view 3, not a resend
    box.step(Tick(VIEW_TIMER))
    assert box.actions() == ["Timeout"] and box.node.view == 3


def test_a_qc_counts_the_leaders_own_vote_once() -> None:
    """r2 proposes in view 1; r3, the next leader, votes for it, and its own vote comes back to
    it twice, with r1's: two voters, no QC. r4's makes three, and FormQC."""
    leader = Box("r2")
    effects = leader.step(Tick(PROPOSE_TIMER))
    assert leader.actions() == ["Propose"]
    proposal = next(e.message for e in effects if isinstance(e, Send) and e.dest == "r3")
    block = proposal.block.hash
    box = Box("r3")
    effects = box.deliver(proposal, "r2")
    assert box.actions() == ["Vote"]
    (own,) = [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Vote)]
    assert own == vote(block, 1, "r3")
    for m, source in ((own, "r3"), (vote(block, 1, "r1"), "r1"), (own, "r3")):
        box.deliver(m, source)
        assert "FormQC" not in box.actions()
    box.deliver(vote(block, 1, "r4"), "r4")
    assert box.actions() == ["FormQC"]
    assert box.node.high_qc.block == block
    assert sorted(v for v, _ in box.node.high_qc.votes) == ["r1", "r3", "r4"]

"""The PBFT replica and client, section by section of Castro and Liskov (OSDI 1999), one core at a
time with hand-signed messages from its peers.

Where a mutant (impl/pbft/mutants.py) breaks a rule, the test that shows the rule also runs the
mutant and shows it misbehave: the test can fail, and the switch does what it says.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from meshcheck.impl.base import probes
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Reply as Answer
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import Workload
from meshcheck.impl.pbft import BATCH
from meshcheck.impl.pbft import CHANGING
from meshcheck.impl.pbft import NORMAL
from meshcheck.impl.pbft import PROGRESS
from meshcheck.impl.pbft import VIEW_CHANGE
from meshcheck.impl.pbft import Checkpoint
from meshcheck.impl.pbft import Client
from meshcheck.impl.pbft import ClientConfig
from meshcheck.impl.pbft import Commit
from meshcheck.impl.pbft import NewView
from meshcheck.impl.pbft import PbftConfig
from meshcheck.impl.pbft import Prepare
from meshcheck.impl.pbft import PrePrepare
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import Reply
from meshcheck.impl.pbft import Request
from meshcheck.impl.pbft import Signed
from meshcheck.impl.pbft import ViewChange
from meshcheck.impl.pbft import batch_digest
from meshcheck.impl.pbft import history_digest
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft import proves
from meshcheck.impl.pbft.client import NEXT
from meshcheck.impl.pbft.client import RETRY
from meshcheck.impl.pbft.evidence import Evidence
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.storage import AUDIT
from meshcheck.impl.pbft.storage import EXECUTED
from meshcheck.impl.pbft.storage import LOG
from meshcheck.impl.pbft.storage import VIEW
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.sim import Apply
from meshcheck.impl.sim import CancelTimer
from meshcheck.impl.sim import ClientRequest
from meshcheck.impl.sim import Deliver
from meshcheck.impl.sim import Effect
from meshcheck.impl.sim import Persist
from meshcheck.impl.sim import Restart
from meshcheck.impl.sim import Send
from meshcheck.impl.sim import SetTimer
from meshcheck.impl.sim import Splice
from meshcheck.impl.sim import Tick
from meshcheck.impl.sim.storage import Durable
from tests import stepped
from tests.pbft_messages import KEYS
from tests.pbft_messages import REPLICAS
from tests.pbft_messages import certificate
from tests.pbft_messages import checkpoint
from tests.pbft_messages import commit
from tests.pbft_messages import forged
from tests.pbft_messages import pre_prepare
from tests.pbft_messages import prepare
from tests.pbft_messages import request
from tests.pbft_messages import sent
from tests.pbft_messages import signed
from tests.pbft_messages import timers
from tests.pbft_messages import view_change


class Box:
    """One replica outside any simulator, with its durable store: step it, restart it from disk."""

    def __init__(self, node_id: str = "r2", *, bugs: tuple[str, ...] = (), **options: Any) -> None:
        self.config = PbftConfig(node_id, REPLICAS, bugs=frozenset(bugs), **options)
        self.disk = Durable()
        self.restart()

    def restart(self) -> list[Effect]:
        self.node = Replica(self.config, KEYS)
        return self.step(Restart(self.disk.view()))

    def step(self, event: Any) -> list[Effect]:
        self.last, effects = stepped.step(self.node, self.disk, event)  # with `Action` reports
        return effects

    def deliver(self, m: Any, source: str | None = None) -> list[Effect]:
        return self.step(Deliver(source or m.signer, m))

    def actions(self) -> list[tuple[str, dict[str, Any]]]:
        """The spec actions the last step reported (its `Action` effects)."""
        return [(a.name, dict(a.params)) for a in self.last if isinstance(a, Action)]

    def agree(self, pp: Signed[PrePrepare]) -> list[Effect]:
        """The pre-prepare, then prepares and commits of two peers: it executes (if it is next)."""
        self.deliver(pp)
        peers = [r for r in REPLICAS if r not in (self.node.id, pp.signer)]
        for peer in peers[:2]:
            self.deliver(prepare(pp, peer))
        effects: list[Effect] = []
        for peer in [pp.signer, *peers][:2]:
            effects = self.deliver(commit(pp, peer))
        return effects


# -- section 4.2: the normal case ------------------------------------------------------------------


def test_a_backup_prepares_commits_executes_and_replies() -> None:
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    effects = box.deliver(pp)
    assert box.actions() == [("Prepare", {"i": "r2", "v": 0, "n": 1})]
    assert sent(effects) == [Prepare(0, 1, pp.body.digest, "r2")]
    assert [e.dest for e in effects if isinstance(e, Send)] == ["r1", "r3", "r4"]
    assert isinstance(effects[0], Persist)  # its prepare is on disk before it leaves
    assert timers(effects) == {"request c1 1": 300}  # it now waits for the request
    effects = box.deliver(prepare(pp, "r3"))  # with its own: 2f prepares from backups
    assert box.actions() == [("Commit", {"i": "r2", "v": 0, "n": 1})]
    assert sent(effects) == [Commit(0, 1, pp.body.digest, "r2")]
    assert box.deliver(commit(pp, "r1")) == [] and box.node.executed == []  # 2 commits of 3
    effects = box.deliver(commit(pp, "r3"))
    assert box.actions() == [("Execute", {"i": "r2"})]
    result = box.node.machine.apply_entry("a")
    assert sent(effects) == [Reply(0, 1, Request("c1", 1, "a"), result, "r2")]
    assert Apply(1, "a", (result,)) in effects and CancelTimer("request c1 1") in effects
    assert box.node.executed == [pp.body.batch] and box.disk.get(EXECUTED) == (pp.body.batch,)


def test_a_backup_that_lost_the_pre_prepare_it_prepared_commits_no_other_batch_there() -> None:
    """prepared(m, v, n, i) is about the pre-prepare i accepted (section 4.2). A backup persists
    its prepare, not the pre-prepare: restarted, it may be sent another batch for the same slot
    by an equivocating primary, and 2f other backups may prepare that one; it must not commit
    it, its own prepare says it accepted the first."""
    box = Box("r2")
    box.deliver(pre_prepare(1, request("a")))
    box.restart()
    assert (0, 1) in box.node.log.accepted and (0, 1) not in box.node.log.pre_prepares
    other = pre_prepare(1, request("b", 2))
    box.deliver(other)
    for peer in ("r3", "r4"):
        box.deliver(prepare(other, peer))
        assert not [a for a in box.actions() if a[0] == "Commit"]
    assert box.node.log.commit_sent == set() and box.node.log.certificates == {}


def test_the_durable_log_holds_each_message_once() -> None:
    """A commit persists its certificate, whose prepares include the backup's own, persisted
    already when it was sent: stored once."""
    box = Box("r2")
    box.agree(pre_prepare(1, request("a")))
    kept = box.disk.view()[LOG]
    assert len(kept) == len(set(kept)) == 4  # the pre-prepare, its and r3's prepares, its commit


def test_a_restart_writes_nothing() -> None:
    """What a restart would write is what it read: a fresh replica, and one with a request
    executed and a view change under way, persist nothing when they restart."""
    box = Box("r2", checkpoint_every=2)
    effects = box.restart()
    assert [e for e in effects if isinstance(e, Persist)] == []
    assert timers(effects) == {"status": 150, PROGRESS: 0}  # retransmission; deferred work now
    box.agree(pre_prepare(1, request("a")))
    box.step(Tick(VIEW_CHANGE))
    assert box.node.executed and box.disk.get(VIEW) == (1, CHANGING)
    assert [e for e in box.restart() if isinstance(e, Persist)] == []
    assert (box.node.view, box.node.status, len(box.node.executed)) == (1, CHANGING, 1)


def test_an_execution_appends_its_batch_to_the_durable_history() -> None:
    """storage.py writes what a step executed as an append at its position, not the whole
    history again."""
    box = Box("r2")
    box.agree(pre_prepare(1, request("a")))
    b = pre_prepare(2, request("b", 2))
    effects = box.agree(b)
    (persist,) = [e for e in effects if isinstance(e, Persist)]
    assert [w for w in persist.writes if getattr(w, "key", None) == EXECUTED] == [
        Splice(EXECUTED, 1, (b.body.batch,))
    ]


def test_an_offence_recorded_before_a_restart_is_not_recorded_again() -> None:
    """The audit log keeps an offence once (evidence.py), across a restart too: a replica
    hearing again the forged message it recorded before crashing adds no second record, and
    takes no second penalty from the accused's reputation."""
    box = Box("r2")
    bad = forged(prepare(pre_prepare(1, request("a")), "r3"))
    box.deliver(bad)
    assert [r.kind for r in box.node.audit.records] == ["bad_signature"]
    score = box.node.audit.scores["r3"]
    box.restart()
    box.deliver(bad)
    assert len(box.node.audit.records) == 1 and box.node.audit.scores["r3"] == score


def test_a_replica_restarted_while_changing_views_waits_for_the_new_view_with_a_deadline() -> None:
    """Section 4.5.2: once 2f+1 replicas want view v, the wait for its new view has a deadline,
    also for a replica that restarted in the middle of the view change."""
    box = Box("r4", view_change_timeout=100)
    box.step(Tick(VIEW_CHANGE))
    box.restart()
    assert (box.node.view, box.node.status) == (1, CHANGING)
    box.deliver(view_change(1, "r2"))
    assert timers(box.deliver(view_change(1, "r3")))[VIEW_CHANGE] == 100


def test_the_state_machine_is_there_before_the_restart() -> None:
    """The hybrid layer reads a new core's state machine before its Restart (to tell what the
    restart replays: impl/hybrid/node.py's _run): an empty machine, which Restart replaces."""
    replica = Replica(PbftConfig("r2", REPLICAS), KEYS)
    assert replica.machine.applied == 0 and replica.machine.digest() == StateMachine().digest()


def test_every_incarnation_has_a_history_epoch_of_its_own() -> None:
    """Readers cache a replica's executed history by its `history_epoch` (pbft/refinement.py,
    the Byzantine SafetyMonitor): a restart builds the history anew, so it takes a new epoch."""
    box = Box("r2")
    first = box.node.history_epoch
    box.restart()
    assert isinstance(first, int) and box.node.history_epoch not in (first, None)


def test_the_primary_orders_each_request_once_and_answers_a_repeat_from_its_cache() -> None:
    box = Box("r1")
    a, b = request("a"), request("b", 2)
    effects = box.deliver(a)
    assert box.actions() == [("PrePrepare", {"i": "r1", "r": "a"})]
    assert sent(effects) == [pre_prepare(1, a).body]
    assert box.deliver(a) == [] and not box.actions()  # pre-prepared already in this view
    box.deliver(b)
    assert box.actions() == [("PrePrepare", {"i": "r1", "r": "b"})]
    pp = box.node.log.pre_prepares[(0, 1)]
    for peer in ("r2", "r3"):
        box.deliver(prepare(pp, peer))
    box.deliver(commit(pp, "r2"))
    assert box.node.executed == []
    box.deliver(commit(pp, "r3"))
    assert box.node.executed == [(a,)]
    again = box.deliver(a)  # the client retransmits: the reply again, nothing ordered
    assert not box.actions() and [type(m).__name__ for m in sent(again)] == ["Reply"]


def test_a_request_the_client_did_not_sign_is_not_ordered() -> None:
    box = Box("r1")
    assert box.deliver(forged(request("a")), "c1") == []
    assert box.node.queue == [] and box.node.pending == {} and box.node.log.pre_prepares == {}


# -- section 4.3: checkpoints, garbage collection and watermarks ------------------------------------


def test_checkpoint_becomes_stable_collects_the_log_and_moves_the_watermarks() -> None:
    box = Box("r2", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    box.agree(a)
    effects = box.agree(b)
    history = (a.body.batch, b.body.batch)
    assert Checkpoint(2, history_digest(history), "r2") in sent(effects)
    far = pre_prepare(5, request("e", 5))  # above H = h + L = 4: stored, not prepared
    box.deliver(far)
    assert (0, 5) not in box.node.log.accepted
    box.deliver(checkpoint(history, "r3"))
    assert box.node.stable == 0  # two proofs of the 2f+1
    effects = box.deliver(checkpoint(history, "r4"))
    assert box.actions() == [
        ("StableCheckpoint", {"i": "r2", "n": 2}),
        ("Prepare", {"i": "r2", "v": 0, "n": 5}),  # the window moved: h = 2, H = 6
    ]
    assert box.node.stable == 2 and all(n > 2 for _, n in box.node.log.pre_prepares)
    assert all(m.body.seq > 2 or isinstance(m.body, Checkpoint) for m in box.disk.get(LOG))
    box.deliver(pre_prepare(7, request("g", 7)))
    assert (0, 7) not in box.node.log.accepted  # 7 > H
    box.deliver(pre_prepare(2, request("x", 9)))
    assert box.node.log.pre_prepares.get((0, 2)) is None  # at or below h: old news


def test_the_primary_waits_for_a_stable_checkpoint_when_its_window_is_full() -> None:
    box = Box("r1", checkpoint_every=2, window=2)
    reqs = [request(op, t) for t, op in enumerate("abc", 1)]
    for r in reqs:
        box.deliver(r)
    assert sorted(box.node.log.pre_prepares) == [(0, 1), (0, 2)] and len(box.node.queue) == 1
    for seq in (1, 2):
        pp = box.node.log.pre_prepares[(0, seq)]
        for peer in ("r2", "r3"):
            box.deliver(prepare(pp, peer))
        for peer in ("r2", "r3"):
            box.deliver(commit(pp, peer))
    history = tuple(tuple(reqs[k : k + 1]) for k in range(2))
    box.deliver(checkpoint(history, "r2"))
    box.deliver(checkpoint(history, "r3"))
    assert box.actions() == [
        ("StableCheckpoint", {"i": "r1", "n": 2}),
        ("PrePrepare", {"i": "r1", "r": "c"}),
    ]
    assert (0, 3) in box.node.log.pre_prepares


def test_the_window_edge_probe_fires_only_at_the_high_watermark() -> None:
    """`checkpoint_at_window_edge`, a rare condition of the coverage report
    (property_tests/pbft/coverage.py): a checkpoint taken at h + L counts, one below it does not."""
    listening = probes._hits is not None
    probes.listen()
    probes.drain()
    try:
        for window, hits in ((4, 0), (2, 1)):  # h = 0: the checkpoint at 2 is at h + L for L = 2
            box = Box("r2", checkpoint_every=2, window=window)
            box.agree(pre_prepare(1, request("a")))
            box.agree(pre_prepare(2, request("b", 2)))
            assert probes.drain()[("pbft", "checkpoint_at_window_edge")] == hits, window
    finally:
        if not listening:
            probes.stop()


def execute_and_checkpoint(box: Box, history: tuple[Batch, ...]) -> list[Effect]:
    """Primary r1's pre-prepares of view 0 for `history`, already sent, prepared and committed
    with r2 and r3, and the checkpoint at its end made stable by their checkpoints: the effects
    of the last delivery."""
    for seq in range(1, len(history) + 1):
        pp = box.node.log.pre_prepares[(0, seq)]
        assert pp.body.batch == history[seq - 1]
        for peer in ("r2", "r3"):
            box.deliver(prepare(pp, peer))
        for peer in ("r2", "r3"):
            box.deliver(commit(pp, peer))
    box.deliver(checkpoint(history, "r2"))
    return box.deliver(checkpoint(history, "r3"))


def checkpointed_primary() -> tuple[Box, tuple[Signed[Request], Signed[Request]]]:
    """Primary r1 (checkpoints every 2, a window of 2) with two requests executed, each at
    a sequence number of its own, and the checkpoint after them stable: h = 2. The box and the requests."""
    box = Box("r1", checkpoint_every=2, window=2)
    a, b = request("a"), request("b", 2)
    for r in (a, b):
        box.deliver(r)
    execute_and_checkpoint(box, ((a,), (b,)))
    assert box.node.stable == 2
    return box, (a, b)


def test_prepares_and_commits_at_the_stable_checkpoint_are_not_kept() -> None:
    """The log holds sequence numbers h < n <= h + window (section 4.3): a prepare or commit at
    h itself, late, is old news, kept nowhere."""
    box, (_, b) = checkpointed_primary()
    late = pre_prepare(2, b)
    box.deliver(prepare(late, "r4"))
    box.deliver(commit(late, "r4"))
    kept = [*box.node.log.prepares, *box.node.log.commits]
    assert [k for k in kept if k[1] <= 2] == []


def test_a_restarted_primary_numbers_from_its_stable_checkpoint() -> None:
    """A primary whose stable checkpoint collected every pre-prepare it sent restarts with none
    to number from: its next request goes just above h (here 3), not to 1, where every backup
    would take it for old news."""
    box, _ = checkpointed_primary()
    box.restart()
    log = box.node.log  # as garbage collection left it: nothing at or below h
    seqs = {k[1] for k in log.prepares} | {k[1] for k in log.commits} | set(log.checkpoints)
    seqs |= {n for _, n in (*log.pre_prepares, *log.accepted)}
    assert [n for n in seqs if n <= 2] == []
    box.deliver(request("c", 3))
    assert sorted(box.node.log.pre_prepares) == [(0, 3)]


def test_a_replica_behind_takes_the_state_a_stable_checkpoint_certifies() -> None:
    box = Box("r4", checkpoint_every=2)
    a, b = request("a"), request("b", 2)
    history: tuple[Batch, ...] = ((a,), (b,))
    box.deliver(checkpoint(history, "r1"))
    box.deliver(checkpoint(history, "r2"))
    assert box.node.executed == [] and box.node.stable == 0
    box.deliver(checkpoint(history, "r3"))
    assert box.actions() == [("StableCheckpoint", {"i": "r4", "n": 2})]
    assert box.node.executed == list(history) and box.node.state_digest == history_digest(history)
    assert box.node._states == {}  # the state it took is its own now: no second copy kept
    assert box.node.results[("c1", 2)][0] == 2  # the reply cache came with the state
    assert [type(m).__name__ for m in sent(box.deliver(b))] == ["Reply"]
    box.restart()
    assert (box.node.executed, box.node.stable) == (list(history), 2)


def test_a_checkpoint_whose_state_does_not_match_its_digest_is_evidence() -> None:
    box = Box("r4", checkpoint_every=2)
    history: tuple[Batch, ...] = ((request("a"),), (request("b", 2),))
    body = Checkpoint(2, history_digest(history), "r1", ((request("z", 9),), ()))
    box.deliver(signed("r1", body))
    assert [(r.accused, r.kind) for r in box.node.audit.records] == [("r1", "bad_state")]


# -- section 4.4 and 4.5.2: view changes and their timeouts -----------------------------------------


def test_the_view_change_timeout_doubles_up_to_any_cap() -> None:
    """Section 4.5.2's doubling reaches the configured cap however high it is set."""
    cap = 3 * 2**38
    box = Box("r4", view_change_timeout=1, view_change_timeout_cap=cap)
    waits = [box.node._timeout(d) for d in (-1, 0, 1, 35, 39, 40, 1000)]
    assert waits == [1, 1, 2, 2**35, 2**39, cap, cap]


def test_timeouts_start_view_changes_and_double_until_execution() -> None:
    box = Box("r4", view_change_timeout=100, view_change_timeout_cap=350)
    effects = box.deliver(request("a"))
    assert timers(effects) == {"request c1 1": 100}
    effects = box.step(Tick("request c1 1"))
    assert box.actions() == [("StartViewChange", {"i": "r4"})]
    assert (box.node.view, box.node.status) == (1, CHANGING)
    assert [type(m).__name__ for m in sent(effects)] == ["ViewChange"]
    assert VIEW_CHANGE not in timers(effects)  # alone, it waits for others before a deadline
    waits = []
    for view in (1, 2):  # 2f+1 want view v but its new view never comes: on to v+1
        box.deliver(view_change(view, "r2"))
        waits.append(timers(box.deliver(view_change(view, "r3")))[VIEW_CHANGE])
        box.step(Tick(VIEW_CHANGE))
        assert box.actions() == [("StartViewChange", {"i": "r4"})]
    assert waits == [100, 200] and box.node.view == 3
    assert box.disk.get(VIEW) == (3, CHANGING)
    # view 4's primary (r1) gets going: the request waits 100 << 3, capped at 350; once one
    # executes (progress) the next wait starts from the base again
    vcs = tuple(view_change(4, r) for r in ("r1", "r2", "r3"))
    effects = box.deliver(signed("r1", NewView(4, vcs, (), "r1")))
    assert box.actions() == [("AcceptNewView", {"i": "r4", "v": 4})]
    assert timers(effects) == {"request c1 1": 350}
    box.agree(pre_prepare(1, request("a"), view=4))
    assert len(box.node.executed) == 1
    assert timers(box.deliver(request("b", 2))) == {"request c1 2": 100}
    # executing a settled its timer for good: the next view change (f+1 want view 5) cancels b's
    box.deliver(view_change(5, "r2"))
    effects = box.deliver(view_change(5, "r3"))
    assert box.actions() == [("StartViewChange", {"i": "r4"})]
    assert [e.timer for e in effects if isinstance(e, CancelTimer)] == ["request c1 2", "batch"]


def test_the_new_primary_carries_a_prepared_request_into_its_view() -> None:
    a = request("a")
    old = pre_prepare(1, a)
    box = Box("r2")
    box.step(Tick(VIEW_CHANGE))  # view 1, whose primary is r2
    box.deliver(view_change(1, "r3", certificate(old)))
    assert box.node.status == CHANGING  # two of the 2f+1
    effects = box.deliver(view_change(1, "r4"))
    assert box.actions() == [("NewView", {"i": "r2"})]
    (nv,) = sent(effects)
    assert isinstance(nv, NewView) and box.node.status == NORMAL
    assert [(pp.body.view, pp.body.seq, pp.body.batch) for pp in nv.pre_prepares] == [(1, 1, (a,))]
    box.deliver(request("b", 2))
    assert box.actions() == [("PrePrepare", {"i": "r2", "r": "b"})]
    assert (1, 2) in box.node.log.pre_prepares  # above O


def test_a_new_primary_behind_min_s_takes_the_state_its_proof_carries_and_sends_the_new_view() -> (
    None
):
    """The new primary executed nothing; V's stable checkpoint is at 2, and its checkpoint
    messages carry the state: the primary takes it (state transfer) and sends the new view, its
    O starting above 2."""
    history: tuple[Batch, ...] = ((request("a"),), (request("b", 2),))
    box = Box("r2", checkpoint_every=2)
    box.step(Tick(VIEW_CHANGE))
    box.deliver(view_change(1, "r3", ckpt=history))
    effects = box.deliver(view_change(1, "r4", ckpt=history))
    assert ("NewView", {"i": "r2"}) in box.actions()
    assert [type(m).__name__ for m in sent(effects)] == ["NewView"]
    assert (box.node.stable, box.node.executed) == (2, list(history))


def test_a_backup_recomputes_o_and_refuses_a_new_view_that_drops_a_prepared_request() -> None:
    a = request("a")
    claim = certificate(pre_prepare(1, a))
    vcs = (view_change(1, "r2"), view_change(1, "r3", claim), view_change(1, "r4"))
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    bad = signed("r2", NewView(1, vcs, (), "r2"))  # O should hold a at 1
    box.deliver(bad)
    assert box.node.status == CHANGING
    (record,) = box.node.audit.records
    assert (record.accused, record.kind) == ("r2", "bad_new_view")
    assert proves(record, box.config, box.node.verify)
    good_box = Box("r3")
    good_box.step(Tick(VIEW_CHANGE))
    o = signed("r2", PrePrepare(1, 1, batch_digest((a,)), "r2", (a,)))
    effects = good_box.deliver(signed("r2", NewView(1, vcs, (o,), "r2")))
    assert good_box.actions() == [("AcceptNewView", {"i": "r3", "v": 1})]
    assert sent(effects) == [Prepare(1, 1, batch_digest((a,)), "r3")]
    assert (good_box.node.view, good_box.node.status) == (1, NORMAL)


def test_f_plus_1_view_changes_for_a_later_view_make_a_replica_join() -> None:
    box = Box("r4")
    box.deliver(view_change(1, "r2"))
    assert box.node.view == 0
    box.deliver(view_change(1, "r3"))
    assert box.actions() == [("StartViewChange", {"i": "r4"})] and box.node.view == 1


def test_restart_keeps_what_the_replica_vouched_for() -> None:
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    box.deliver(pp)
    box.deliver(prepare(pp, "r3"))  # prepared: it sent its commit
    box.restart()
    node = box.node
    assert node.log.accepted[(0, 1)] == pp.body.digest and (0, 1) in node.log.commit_sent
    assert node.log.certificates[1].pre_prepare == pp  # the certificate survived too
    box.deliver(pre_prepare(1, request("z", 2), src="r1"))  # equivocation, seen after the crash
    assert node.log.accepted[(0, 1)] == pp.body.digest
    effects = box.step(Tick(VIEW_CHANGE))
    (vc,) = sent(effects)
    assert [(c.view, c.seq, c.digest) for c in vc.prepared] == [(0, 1, pp.body.digest)]


def test_a_restarted_replica_still_sends_its_view_change_message_of_an_earlier_view() -> None:
    """A peer changing to view 1 may miss this replica's view-change message for it, and with a
    quarantined fourth replica never gather 2f+1 nor see f+1 ahead (section 4.5.2): the status
    answer sends the message again (`_on_status`). It must survive a crash and the log's garbage
    collection, or the group waits for good (seed 311926782, property_tests/pbft/
    test_free_runs.py)."""
    box = Box("r4", checkpoint_every=2)
    (first,) = sent(box.step(Tick(VIEW_CHANGE)))  # timed out of view 0 ...
    box.step(Tick(VIEW_CHANGE))  # ... and of view 1
    history: tuple[Batch, ...] = ((request("a"),), (request("b", 2),))
    for r in ("r1", "r2", "r3"):
        box.deliver(checkpoint(history, r))
    assert (box.node.view, box.node.stable) == (2, 2)  # the log was collected in view 2
    box.restart()
    answer = sent(box.deliver(signed("r2", Status(1, True, 0, 0, "r2"))))
    assert isinstance(first, ViewChange) and first.view == 1 and first in answer


def test_only_a_peer_replica_gets_a_status_answer() -> None:
    """A status message is a peer replica's: one signed by a client, or this replica's own sent
    back, gets no answer (an answer carries the log to whoever asks)."""
    box = Box("r4")
    (own,) = sent(box.step(Tick(VIEW_CHANGE)))
    assert isinstance(own, ViewChange)
    assert sent(box.deliver(signed("c1", Status(0, True, 0, 0, "c1")))) == []
    assert sent(box.deliver(signed("r4", Status(0, True, 0, 0, "r4")), source="r2")) == []
    assert sent(box.deliver(signed("r2", Status(0, True, 0, 0, "r2")))) == [own]


def test_a_status_answer_sends_a_view_change_only_to_a_peer_behind() -> None:
    """A replica that accepted the new view and then restarted still holds its view-change
    message for that view (its log keeps it); a peer in the same view, not changing, lacks
    nothing of the view change and is not sent it."""
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    vcs = (view_change(1, "r2"), view_change(1, "r4"), box.node.view_changes[1]["r3"])
    box.deliver(signed("r2", NewView(1, vcs, (), "r2")))
    assert (box.node.view, box.node.status) == (1, NORMAL)
    box.restart()
    assert "r3" in box.node.view_changes[1]
    assert sent(box.deliver(signed("r4", Status(1, False, 0, 0, "r4")))) == []


def test_view_changes_for_the_next_view_heard_before_its_own_timer_are_kept() -> None:
    """Section 4.4: a replica keeps the view-change messages for v+1 it receives while still in
    v; when its own timer sends it to v+1 they count toward the new view with its own (here r2,
    the new primary, needs one more, not two)."""
    box = Box("r2")
    box.deliver(view_change(1, "r3"))
    box.step(Tick(VIEW_CHANGE))
    assert (box.node.view, box.node.status) == (1, CHANGING)
    assert set(box.node.view_changes[1]) == {"r2", "r3"}
    effects = box.deliver(view_change(1, "r4"))
    nv = [m for m in sent(effects) if isinstance(m, NewView)]
    assert [[vc.signer for vc in m.view_changes] for m in nv] == [["r2", "r3", "r4"]]


def test_garbage_collection_keeps_the_new_view_and_the_stable_checkpoint_across_a_restart() -> None:
    """What a stable checkpoint lets the durable log drop, and what it keeps (`_keep`): a new
    primary keeps its new-view message of the view it is in and its own checkpoint at the stable
    number, so that after a restart it can still answer a peer behind with both; the view
    changes of others, the requests and votes at or below the checkpoint go."""
    box = Box("r2", checkpoint_every=2, window=4)
    box.step(Tick(VIEW_CHANGE))
    box.deliver(view_change(1, "r3"))
    (nv,) = [m for m in sent(box.deliver(view_change(1, "r4"))) if isinstance(m, NewView)]
    history = []
    for t, op in enumerate("ab", 1):
        box.deliver(request(op, t))
        pp = box.node.log.pre_prepares[(1, t)]
        for peer in ("r3", "r4"):
            box.deliver(prepare(pp, peer))
        for peer in ("r3", "r4"):
            box.deliver(signed(peer, Commit(1, t, pp.body.digest, peer)))
        history.append(pp.body.batch)
    for peer in ("r3", "r4"):
        box.deliver(checkpoint(tuple(history), peer))
    assert (box.node.view, box.node.stable) == (1, 2)
    box.restart()
    kept = box.disk.view()[LOG]
    assert sorted({type(m.body).__name__ for m in kept}) == ["Checkpoint", "NewView", "ViewChange"]
    assert {m.signer for m in kept if isinstance(m.body, ViewChange)} == {"r2"}
    answer = sent(box.deliver(signed("r4", Status(1, True, 0, 0, "r4"))))
    assert nv in answer
    assert [(c.seq, c.src) for c in answer if isinstance(c, Checkpoint)] == [(2, "r2")]


# -- section 5.1: batching ------------------------------------------------------------------------


def test_the_primary_batches_by_size_and_by_delay() -> None:
    box = Box("r1", batch_size=3, batch_delay=50)
    a, b, c, d = (request(op, t) for t, op in enumerate("abcd", 1))
    assert timers(box.deliver(a)) == {BATCH: 50}
    assert box.deliver(b) == [] and box.node.log.pre_prepares == {}
    box.deliver(c)  # the batch is full
    assert box.actions() == [("PrePrepare", {"i": "r1", "r": ("a", "b", "c")})]
    assert box.node.log.pre_prepares[(0, 1)].body.batch == (a, b, c)
    box.deliver(d)
    assert box.node.log.pre_prepares.get((0, 2)) is None
    box.step(Tick(BATCH))  # the delay ran out: what there is
    assert box.actions() == [("PrePrepare", {"i": "r1", "r": "d"})]
    assert box.node.log.pre_prepares[(0, 2)].body.batch == (d,)
    assert timers(box.deliver(request("e", 5))) == {BATCH: 50}  # the next batch waits again


def test_a_primary_leaving_its_view_stops_waiting_for_a_batch() -> None:
    """A primary waiting for a batch to fill that starts a view change cancels the batch timer:
    it proposes nothing in the next view, where it is a backup."""
    box = Box("r1", batch_size=3, batch_delay=50)
    assert timers(box.deliver(request("a"))) == {BATCH: 50}
    effects = box.step(Tick(VIEW_CHANGE))
    assert box.actions() == [("StartViewChange", {"i": "r1"})]
    assert CancelTimer(BATCH) in effects


def test_a_retry_of_a_request_waiting_in_the_queue_is_not_queued_twice() -> None:
    """The client retries a request the primary holds for its batch: one batch, one copy."""
    box = Box("r1", batch_size=2, batch_delay=50)
    a = request("a")
    box.deliver(a)
    box.deliver(a)
    box.step(Tick(BATCH))
    assert box.node.log.pre_prepares[(0, 1)].body.batch == (a,)


def test_a_batch_whose_delay_ran_out_while_the_window_was_full_goes_when_it_frees() -> None:
    """The batch delay runs out while the window (2 here) is full: the short batch waits for the
    stable checkpoint, then goes at once, not after a second delay."""
    box = Box("r1", batch_size=2, batch_delay=50, checkpoint_every=2, window=2)
    a, b, c, d, e = (request(op, t) for t, op in enumerate("abcde", 1))
    assert timers(box.deliver(a)) == {BATCH: 50}
    for r in (b, c, d, e):  # (a, b) at 1, (c, d) at 2: the window is full, e waits
        box.deliver(r)
    box.step(Tick(BATCH))  # e's delay has run out, the window is still full
    assert sorted(box.node.log.pre_prepares) == [(0, 1), (0, 2)]
    effects = execute_and_checkpoint(box, ((a, b), (c, d)))
    assert box.node.stable == 2 and BATCH not in timers(effects)
    assert box.node.log.pre_prepares[(0, 3)].body.batch == (e,)


def test_without_a_delay_the_primary_sends_what_it_has() -> None:
    box = Box("r1", batch_size=3, batch_delay=0)
    box.deliver(request("a"))
    assert box.actions() == [("PrePrepare", {"i": "r1", "r": "a"})]
    short = Box("r1", batch_size=3, batch_delay=1)  # the shortest delay is a delay all the same
    assert timers(short.deliver(request("a"))) == {BATCH: 1} and short.actions() == []


def test_the_retry_probe_fires_for_a_request_already_executed() -> None:
    """`retry_of_executed`, a rare condition of the coverage report (property_tests/pbft/
    coverage.py): a client's retry of a request the replica executed (section 4.1: it only sends
    the reply again), not its first copy."""
    listening = probes._hits is not None
    probes.listen()
    probes.drain()
    try:
        box = Box("r2")
        a = request("a")
        box.deliver(a)
        box.agree(pre_prepare(1, a))
        assert probes.drain()[("pbft", "retry_of_executed")] == 0
        box.deliver(a)
        assert probes.drain() == {("pbft", "retry_of_executed"): 1}
    finally:
        if not listening:
            probes.stop()


# -- signatures, evidence, reputation and quarantine ------------------------------------------------


def test_a_bad_or_missing_signature_is_rejected_and_costs_the_sender_reputation() -> None:
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    box.deliver(forged(pp))
    assert not box.actions() and box.node.log.pre_prepares == {}
    (record,) = box.node.audit.records
    assert (record.reporter, record.accused, record.kind, record.messages) == (
        "r2",
        "r1",
        "bad_signature",
        (forged(pp),),
    )
    assert box.node.audit.scores["r1"] == 75 and not box.node.audit.is_quarantined("r1")
    box.deliver(pp.body, "r3")  # no envelope at all: blamed on the link's sender
    misattributed = Signed(prepare(pp, "r4").body, "r3", prepare(pp, "r3").signature)
    box.deliver(misattributed, "r3")
    assert [r.kind for r in box.node.audit.records].count("bad_signature") == 3
    assert box.node.audit.scores["r3"] == 50 and not box.node.audit.is_quarantined("r3")
    box.deliver(forged(prepare(pp, "r3")))
    assert box.node.audit.is_quarantined("r3")  # 25 < 50
    box.deliver(pp)
    box.deliver(prepare(pp, "r3"))  # valid, but r3 is not listened to any more
    assert "r3" not in box.node.log.prepares.get((0, 1, pp.body.digest), {})
    assert box.disk.get(AUDIT) == tuple(box.node.audit.records)  # the audit log is durable


def equivocation(box: Box) -> tuple[Signed[PrePrepare], Signed[PrePrepare], Evidence]:
    """The primary's two pre-prepares of one sequence number for two requests, delivered to `box`
    in that order: the two, and the one audit record they made."""
    first, second = pre_prepare(1, request("a")), pre_prepare(1, request("b", 2))
    box.deliver(first)
    box.deliver(second)
    (record,) = box.node.audit.records
    return first, second, record


def test_equivocation_is_self_proving_evidence_and_quarantines_the_primary() -> None:
    box = Box("r2")
    first, second, record = equivocation(box)
    assert (record.accused, record.kind, record.messages) == ("r1", "equivocation", (first, second))
    assert record.self_proving and proves(record, box.config, box.node.verify)
    assert box.node.audit.is_quarantined("r1") and box.node.audit.scores["r1"] == 0
    assert box.node.log.accepted[(0, 1)] == first.body.digest  # the first one stands
    box.deliver(prepare(first, "r3"))
    box.deliver(commit(first, "r1"))  # ignored: r1 is quarantined
    box.deliver(commit(first, "r4"), source="r1")  # and so is what it relays
    box.deliver(commit(first, "r3"))
    assert box.node.executed == []  # its own commit and r3's: 2 of 2f+1
    box.restart()
    assert box.node.audit.is_quarantined("r1")  # the evidence outlives a crash


def test_a_pre_prepare_from_a_replica_that_is_not_the_primary_is_evidence() -> None:
    box = Box("r2", checkpoint_every=2)
    rogue = pre_prepare(1, request("a"), src="r3")
    box.deliver(rogue)
    assert not box.actions()
    (record,) = box.node.audit.records
    assert (record.accused, record.kind) == ("r3", "wrong_primary")
    assert proves(record, box.config, box.node.verify)
    assert box.node.audit.is_quarantined("r3")
    history: tuple[Batch, ...] = ((request("a"),), (request("b", 2),))
    box.deliver(checkpoint(history, "r1"))
    box.deliver(checkpoint(history, "r3"), source="r4")  # r3's vote, relayed: not heard
    box.deliver(checkpoint(history, "r4"))
    assert box.node.stable == 0 and box.node.executed == []  # 2 votes of 2f+1


def test_a_pre_prepare_of_a_forged_request_is_evidence_against_the_primary() -> None:
    box = Box("r2")
    fake = forged(request("a"))
    pp = signed("r1", PrePrepare(0, 1, batch_digest((fake,)), "r1", (fake,)))
    box.deliver(pp)
    (record,) = box.node.audit.records
    assert (record.accused, record.kind) == ("r1", "forged_request")
    assert proves(record, box.config, box.node.verify) and not box.actions()


def test_evidence_that_proves_nothing_is_not_believed() -> None:
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    box.deliver(pp)
    box.deliver(pre_prepare(1, request("a"), src="r3"))
    (record,) = box.node.audit.records
    wrong = attrs.evolve(record, kind="equivocation", messages=(pp, pp))
    assert not proves(wrong, box.config, box.node.verify)
    framed = attrs.evolve(record, accused="r4")  # r4 signed none of it
    assert not proves(framed, box.config, box.node.verify)


# -- the client (section 4.1) -----------------------------------------------------------------------


def client_box() -> Client:
    client = Client(ClientConfig("c1", REPLICAS, timeout=500), KEYS)
    client.step(Restart({}))
    return client


def test_the_client_accepts_on_f_plus_1_matching_replies() -> None:
    client = client_box()
    effects = client.step(ClientRequest("a"))
    assert [a.name for a in effects if isinstance(a, Action)] == ["Request"]
    assert [(e.dest, e.message.body) for e in effects if isinstance(e, Send)] == [
        ("r1", Request("c1", 1, "a"))
    ]
    body = Request("c1", 1, "a")

    def reply(src: str, result: Any, seq: int = 1, view: int = 0) -> Signed[Reply]:
        return signed(src, Reply(view, seq, body, result, src))

    client.step(Deliver("r1", reply("r1", "ok")))
    client.step(Deliver("r3", reply("r3", "lie")))  # a different result does not match
    client.step(Deliver("r4", forged(reply("r4", "ok"))))  # nor a forged one
    assert client.accepted == []
    effects = client.step(Deliver("r2", reply("r2", "ok")))
    assert [(a.name, dict(a.params)) for a in effects if isinstance(a, Action)] == [
        ("Accept", {"n": 1, "r": "a"})
    ]
    # the operation's completion, with the result f+1 replicas agree on: the client history's
    assert [e for e in effects if isinstance(e, Answer)] == [Answer(1, "ok")]
    assert client.accepted == [(1, "a")] and client.outstanding == {}
    client.step(Deliver("r3", reply("r3", "ok")))
    assert client.accepted == [(1, "a")]  # once


def test_the_client_retransmits_to_every_replica_and_follows_the_view() -> None:
    client = client_box()
    client.step(ClientRequest("a"))
    effects = client.step(Tick(RETRY))
    assert sorted(e.dest for e in effects if isinstance(e, Send)) == list(REPLICAS)
    for src in ("r3", "r4"):
        body = Reply(5, 1, Request("c1", 1, "a"), "ok", src)
        client.step(Deliver(src, signed(src, body)))
    assert client.primary == "r2"  # view 5, reported by f+1 replicas
    late = Reply(0, 1, Request("c1", 1, "a"), "ok", "r3")  # r3's reply from view 0, delayed
    client.step(Deliver("r3", signed("r3", late)))
    assert client.primary == "r2"  # a replica's view is the highest it reported, not the last


def test_the_client_keeps_one_retry_timer_while_requests_are_outstanding() -> None:
    """A retry that leaves requests outstanding sets the next retry itself: a request made before
    it fires sets no second timer (which would put the retry of the older request off)."""
    client = client_box()
    first = client.step(ClientRequest("a"))
    assert [e.timer for e in first if isinstance(e, SetTimer)] == [RETRY]
    again = client.step(Tick(RETRY))
    assert [(e.timer, e.after) for e in again if isinstance(e, SetTimer)] == [(RETRY, 500)]
    later = client.step(ClientRequest("b"))
    assert [e for e in later if isinstance(e, SetTimer)] == []


def test_a_closed_loop_client_issues_no_request_beyond_its_limit() -> None:
    """`max_outstanding`: the workload's next request waits while that many are outstanding (a
    closed loop), and goes out once a reply settles one."""
    config = ClientConfig(
        "c1", REPLICAS, timeout=500, workload=Workload(every=10), max_outstanding=2
    )
    client = Client(config, KEYS)
    client.step(Restart({}))
    for _ in range(4):
        client.step(Tick(NEXT))
    assert sorted(client.outstanding) == [1, 2] and client.issued == 2
    for src in ("r1", "r2"):
        client.step(Deliver(src, signed(src, Reply(0, 1, client.outstanding[1].body, "ok", src))))
    assert sorted(client.outstanding) == [2]
    client.step(Tick(NEXT))
    assert sorted(client.outstanding) == [2, 3] and client.issued == 3


# -- configuration ----------------------------------------------------------------------------------


def test_a_signer_names_its_holder_and_signs_as_it() -> None:
    signer = KEYS.signer("r3")
    assert signer.holder == "r3"
    assert KEYS.verify("r3", signer.sign(b"x"), b"x") and not KEYS.verify(
        "r2", signer.sign(b"x"), b"x"
    )


def test_bad_configuration_is_one_line() -> None:
    with pytest.raises(ImplError, match="unknown PBFT mutant nope"):
        PbftConfig("r1", REPLICAS, bugs=frozenset({"nope"}))
    with pytest.raises(ImplError) as two:
        PbftConfig("r1", REPLICAS, bugs=frozenset({"nope", "nah"}))
    assert str(two.value) == f"unknown PBFT mutant nah, nope (known: {', '.join(mutants.BUGS)})"
    with pytest.raises(ImplError, match="window"):
        PbftConfig("r1", REPLICAS, checkpoint_every=10, window=5)
    with pytest.raises(ImplError, match="not one of the replicas"):
        PbftConfig("r9", REPLICAS)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": ()}, "replicas must be distinct and not empty: []"),
        ({"replicas": ("r1", "r1")}, "replicas must be distinct and not empty: ['r1', 'r1']"),
        ({"clients": ("c1", "r2")}, "a client id may not also be a replica id"),
        ({"batch_size": 0}, "batch_size must be at least 1 and batch_delay not negative"),
        ({"batch_delay": -1}, "batch_size must be at least 1 and batch_delay not negative"),
        ({"view_change_timeout": 0}, "view_change_timeout must be at least 1 and at most its cap"),
        (
            {"view_change_timeout": 9, "view_change_timeout_cap": 8},
            "view_change_timeout must be at least 1 and at most its cap",
        ),
        ({"retransmit_every": 0}, "retransmit_every must be at least 1 tick (or None)"),
        ({"bugs": "prepare_quorum_2f"}, "bugs must be a set of mutant names, not the string"),
    ],
)
def test_each_bad_setting_says_what_is_wrong(options: dict[str, Any], message: str) -> None:
    """Each check of a replica's configuration names the setting it refuses, in one line."""
    settings: dict[str, Any] = {"replicas": REPLICAS, **options}
    with pytest.raises(ImplError) as refused:
        PbftConfig("r1", **settings)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"id": "r1"}, "client r1 may not also be a replica"),
        ({"timeout": 0}, "timeout and max_outstanding must be at least 1"),
        ({"max_outstanding": 0}, "timeout and max_outstanding must be at least 1"),
    ],
)
def test_each_bad_client_setting_says_what_is_wrong(options: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"id": "c1", "replicas": REPLICAS, **options}
    with pytest.raises(ImplError) as refused:
        ClientConfig(**settings)
    assert str(refused.value) == message


def test_the_smallest_replica_settings_are_accepted() -> None:
    """Every bound the configuration checks, at its edge: accepted."""
    config = PbftConfig(
        "r1",
        ("r1",),
        batch_size=1,
        batch_delay=0,
        checkpoint_every=1,
        window=1,
        view_change_timeout=1,
        view_change_timeout_cap=1,
        retransmit_every=1,
    )
    assert (config.n, config.f, config.window, config.retransmit_every) == (1, 0, 1, 1)
    assert PbftConfig("c1", REPLICAS, retransmit_every=None).id == "c1"  # a client's view


def test_the_smallest_client_settings_are_accepted() -> None:
    config = ClientConfig("c1", REPLICAS, timeout=1, max_outstanding=1)
    assert (config.timeout, config.max_outstanding) == (1, 1)


# -- the mutants: each one's scenario, where the correct core refuses and the mutant does not --------


@pytest.mark.parametrize("bugs", [(), (mutants.PREPARE_QUORUM_2F,)], ids=["pbft", "mutant"])
def test_prepared_needs_2f_prepares_from_backups(bugs: tuple[str, ...]) -> None:
    box = Box("r2", bugs=bugs)
    box.deliver(pre_prepare(1, request("a")))  # the pre-prepare and its own prepare: 2 of 3
    names = [name for name, _ in box.actions()]
    assert names == (["Prepare"] if not bugs else ["Prepare", "Commit"])


@pytest.mark.parametrize(
    "bugs", [(), (mutants.COMMIT_WITHOUT_COMMIT_PHASE,)], ids=["pbft", "mutant"]
)
def test_execution_waits_for_2f_plus_1_commits(bugs: tuple[str, ...]) -> None:
    box = Box("r2", bugs=bugs)
    pp = pre_prepare(1, request("a"))
    box.deliver(pp)
    box.deliver(prepare(pp, "r3"))  # prepared; no commit from anyone else
    box.step(Tick(PROGRESS))
    assert (0, 1) in box.node.log.commit_sent
    assert box.node.executed == ([] if not bugs else [pp.body.batch])


@pytest.mark.parametrize(
    "bugs", [(), (mutants.PREPREPARE_FROM_NON_PRIMARY,)], ids=["pbft", "mutant"]
)
def test_only_the_primary_may_pre_prepare(bugs: tuple[str, ...]) -> None:
    box = Box("r2", bugs=bugs)
    box.deliver(pre_prepare(1, request("a"), src="r3"))
    assert box.actions() == ([] if not bugs else [("Prepare", {"i": "r2", "v": 0, "n": 1})])
    assert [r.kind for r in box.node.audit.records] == (["wrong_primary"] if not bugs else [])


@pytest.mark.parametrize("bugs", [(), (mutants.SIGNATURES_NOT_CHECKED,)], ids=["pbft", "mutant"])
def test_a_message_with_a_bad_signature_is_not_acted_on(bugs: tuple[str, ...]) -> None:
    box = Box("r2", bugs=bugs)
    box.deliver(forged(pre_prepare(1, request("a"))))
    assert box.actions() == ([] if not bugs else [("Prepare", {"i": "r2", "v": 0, "n": 1})])


@pytest.mark.parametrize(
    "bugs", [(), (mutants.CHECKPOINT_STABLE_ON_F_PLUS_1,)], ids=["pbft", "mutant"]
)
def test_a_checkpoint_needs_2f_plus_1_proofs(bugs: tuple[str, ...]) -> None:
    box = Box("r2", bugs=bugs, checkpoint_every=1)
    history: tuple[Batch, ...] = ((request("a"),),)
    box.deliver(checkpoint(history, "r3"))
    box.deliver(checkpoint(history, "r4"))  # f+1 = 2 proofs
    assert box.node.stable == (0 if not bugs else 1)
    assert box.node.executed == ([] if not bugs else list(history))


@pytest.mark.parametrize("bugs", [(), (mutants.NEW_VIEW_IGNORES_PREPARED,)], ids=["pbft", "mutant"])
def test_the_new_view_keeps_what_was_prepared(bugs: tuple[str, ...]) -> None:
    a, b = request("a"), request("b", 2)
    box = Box("r2", bugs=bugs)
    box.step(Tick(VIEW_CHANGE))
    box.deliver(view_change(1, "r3", certificate(pre_prepare(1, a))))
    box.deliver(view_change(1, "r4"))
    box.deliver(b)
    at_1 = box.node.log.pre_prepares[(1, 1)].body.batch
    assert at_1 == ((a,) if not bugs else (b,))  # the mutant re-proposes b where a was prepared

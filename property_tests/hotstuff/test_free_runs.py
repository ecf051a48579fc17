"""The HotStuff free runs under pytest: the correct replicas pass with the loaded Hypothesis
profile (MESHCHECK_HYPOTHESIS), each mutant fails its stored scenario with the check that must
catch it, f+1 colluding Byzantine replicas break Lemma 1 and the monitor sees it, and the checks
no mutant reaches (NoConflictingCommits; LockMonotonic beside its mutant) fail on a run broken
on purpose; LockMonotonic in Python (transitions.py) breaks on the steps the spec forbids."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings

from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.client import Client
from meshcheck.impl.hotstuff.client import ClientConfig
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import BlockResponse
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import BAD_QC
from meshcheck.impl.hotstuff.replica import VIEW_TIMER
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.property_tests import free_runs
from meshcheck.property_tests import record
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.hotstuff import client_replies
from meshcheck.property_tests.hotstuff import restart
from meshcheck.property_tests.hotstuff import save
from meshcheck.property_tests.hotstuff.free_runs import SLOW_BOUND
from meshcheck.property_tests.hotstuff.free_runs import STORM
from meshcheck.property_tests.hotstuff.free_runs import Monitor
from meshcheck.property_tests.hotstuff.free_runs import check_liveness
from meshcheck.property_tests.hotstuff.free_runs import check_safety
from meshcheck.property_tests.hotstuff.free_runs import check_slow
from meshcheck.property_tests.hotstuff.free_runs import client_history
from meshcheck.property_tests.hotstuff.free_runs import cluster
from meshcheck.property_tests.hotstuff.free_runs import equivocation_runs
from meshcheck.property_tests.hotstuff.free_runs import free_run_safety
from meshcheck.property_tests.hotstuff.free_runs import free_run_safety_any_size
from meshcheck.property_tests.hotstuff.free_runs import liveness_after_faults
from meshcheck.property_tests.hotstuff.free_runs import liveness_under_slow_links
from meshcheck.property_tests.hotstuff.free_runs import watch
from meshcheck.property_tests.hotstuff.transitions import broken
from meshcheck.property_tests.hotstuff.validation import VALIDATION
from meshcheck.traces import itf

REPLICAS = ("r1", "r2", "r3", "r4")


# 5 and 6 are not 3f + 1: their quorums are ceil((n + f + 1) / 2), not 2f + 1 (impl/base/quorum.py).
# Each has a few runs of its own besides the drawn sizes below, whose few derandomized examples
# reach only some of the sizes in a profile (the sizes are drawn, not enumerated).
@pytest.mark.parametrize("n", [4, 5, 6])
def test_free_runs_hold(n: int) -> None:
    free_run_safety(frozenset(), settings(), n=n)


def test_free_runs_of_any_size_hold() -> None:
    """4 to 10 replicas: 5, 6, 8 and 9 are not 3f + 1, and a QC there needs ceil((n + f + 1) / 2)
    votes, not 2f + 1 (impl/base/quorum.py)."""
    free_run_safety_any_size(frozenset(), settings())


def test_free_runs_with_an_equivocating_leader_hold() -> None:
    equivocation_runs(frozenset(), settings())


@pytest.mark.parametrize("n", [4, 7])
def test_commits_resume_after_faults(n: int) -> None:
    liveness_after_faults(frozenset(), settings(), n=n)


def test_a_request_is_answered_under_slow_links() -> None:
    liveness_under_slow_links(frozenset(), settings())


# Loss for 300 ticks, then every message 301..390 ticks on its way (the slow regime,
# property_tests/hotstuff/free_runs.py): traces/counterexamples/hotstuff/backoff_reset_on_vote.itf.json
SLOW_AFTER_LOSS = Schedule(seed=1, ticks=300, drop=0.05, every=100, byzantine={}, batch=4)


def test_the_back_off_holds_across_votes_until_a_commit() -> None:
    """Found by liveness under slow links, in its first measurement: no run of the slow regime
    (30 of 30) answered the probe. The pacemaker set its back-off back to the base (100 ticks)
    whenever a replica voted. With every hop 301..390 ticks, the timer after a vote ran out
    before the next view's proposal, two hops later, came; the replica timed out into that view,
    where it could still vote, but its next timer (200, from its joining the view a hop later)
    ran out before that proposal came too: the replicas voted in every other view at best, and
    chained HotStuff's commit, a three-chain of consecutive views, never came (here: view 36 by
    the bound, no answer). The back-off now goes back to the base only when the replica commits
    (impl/hotstuff/replica.py `_commit`; aptos-core counts rounds since the last ordered one):
    here the probe is answered 3827 ticks into the slow phase. mutants.BACKOFF_RESET_ON_VOTE
    brings the bug back."""
    assert check_slow(SLOW_AFTER_LOSS, 4, frozenset()) <= SLOW_BOUND
    with pytest.raises(CheckFailed) as failed:
        check_slow(SLOW_AFTER_LOSS, 4, frozenset({mutants.BACKOFF_RESET_ON_VOTE}))
    assert f"is not answered {SLOW_BOUND} ticks later" in failed.value.message


# The schedule `make verify` failed on (dev profile): r1 silent, faults until t=900. The fault log
# showed a "heal" at t=1447, after the faults' end; that heal was stale (the end of the faults had
# healed the network at t=900, impl/sim/simulator.py now leaves such a heal out), so the check
# counted from the right time. The failure was the pacemaker's: after the faults r4 and r7 timed
# out two views ahead of r2, r3, r5 and r6 (f of them: too few for the rest to follow), every
# timer at the same capped length, so the views never met and no view gathered the 2f+1
# NEW-VIEWs or votes it needs. It pins the fix, a view timer that starts
# only once 2f+1 replicas are heard in the view (`Replica._join`, PBFT's rule of OSDI 1999
# section 4.5.2). (partition=0.3 gives the same run: no second partition is drawn.)
AFTER_A_SPLIT_VIEW = Schedule(
    seed=162337685,
    ticks=900,
    drop=0.1,
    duplicate=0.05,
    delay=0.02,
    crash=0.6,
    partition=0.1,
    every=25,
    byzantine={"r1": ("silent",)},
    batch=4,
)


def test_views_come_together_after_faults_that_split_them() -> None:
    check_liveness(AFTER_A_SPLIT_VIEW, 7, frozenset())


# Found by a campaign on the change that held the back-off until a commit (2026-11-25,
# `meshcheck campaign --minutes 9 --protocol hybrid --protocol pbft --protocol hotstuff`): no
# commit in the whole storm, so every replica's view timer stood at its cap when the faults
# stopped; the view then in progress and r1's (silent) view each waited it out, and the first
# commit came past the old bound of 3000 ticks. The bound now counts two capped views and a late
# delivery (property_tests/hotstuff/free_runs.py LIVENESS_BOUND), and the views a replica skips
# to catch up with the others no longer add to its back-off.
NO_COMMIT_IN_THE_STORM = Schedule(
    seed=0,
    ticks=900,
    drop=0.05,
    delay=0.2,
    every=50,
    byzantine={"r1": ("silent",)},
    batch=4,
)


def test_commits_resume_after_a_storm_without_a_commit() -> None:
    check_liveness(NO_COMMIT_IN_THE_STORM, 7, frozenset())


def test_views_skipped_to_catch_up_do_not_add_to_the_back_off() -> None:
    """r2 of 7 hears f+1 = 3 replicas in view 5 and times out up to there (`_catch_up`): four
    views skipped, none of them failed for r2, so its timer is not doubled for them; a view that
    does run out on r2 doubles it."""
    replicas = tuple(f"r{k}" for k in range(1, 8))
    r2 = Replica(HotStuffConfig("r2", replicas, ("c1",)), KeyRing(0, (*replicas, "c1")))
    r2.step(Restart({}))
    for sender in ("r3", "r4", "r5"):
        r2.step(Deliver(sender, NewView(5, GENESIS_QC, sender)))
    assert (r2.view, r2.backoff) == (5, 0)
    r2.step(Deliver("r7", NewView(5, GENESIS_QC, "r7")))  # 2f+1 in view 5: its timer runs
    r2.step(Tick(VIEW_TIMER))
    assert (r2.view, r2.backoff) == (6, 1)


# Found by a campaign (2026-11-25, `meshcheck campaign --minutes 15`): r1, fuzzing, sent r2 two
# NEW-VIEWs for view 13, the second with a lower QC than the first; r2 kept the last one a sender
# sent and, leading view 13, extended a QC of view 10 where 2f+1 NEW-VIEWs had shown one of view
# 11 (Algorithm 3 takes the highest QC of the NEW-VIEWs). A leader now keeps each sender's
# highest QC for the view (impl/hotstuff/replica.py `_on_new_view`).
A_LOWER_QC_SENT_AGAIN = Schedule(
    seed=32872,
    ticks=600,
    delay=0.02,
    crash=0.1,
    every=50,
    byzantine={"r1": ("fuzz",)},
    batch=4,
)


def test_a_leader_keeps_the_highest_qc_a_sender_showed_it() -> None:
    check_safety(A_LOWER_QC_SENT_AGAIN, 4, frozenset())


def test_a_restarted_leader_answers_only_for_the_new_views_it_received_since() -> None:
    """`make verify` (default profile) failed the leader's rule on Schedule(seed=1483, ticks=1000,
    drop=0.05, duplicate=0.02, crash=0.1, partition=0.6, every=25, byzantine={'r1': ('equivocate',
    'vote_all')}, batch=4): r2, leader of view 9, took r4's NEW-VIEW for 9 with a QC of view 6,
    crashed, restarted, and proposed on the QC of view 5 that its own and r1's and r3's NEW-VIEWs
    for 9, all received after the restart, carried. The replica keeps received NEW-VIEWs in
    memory only, and the spec's NewView takes the highest QC of any 2f+1 NEW-VIEWs in msgs and
    the leader's highQC (specs/HotStuff.tla, NewViewQCs): a spec step. The monitor held r2 to the
    NEW-VIEW it had lost; it now forgets a leader's NEW-VIEWs when the leader restarts (the
    leader's rule in property_tests/hotstuff/free_runs.py). That schedule runs otherwise since the
    pacemaker's `_join` (a replica that times out sends its NEW-VIEW again), so the same shape is
    scripted here on a fault-free cluster: r1 forms the QC of view 3 and its proposal of view 4
    reaches no other replica, its NEW-VIEW for view 5 with that QC reaches r2 (view 5's leader), r2
    restarts with r1 cut off from it, and proposes view 5 on the QC of view 2 that the others'
    NEW-VIEWs and its own carry."""
    schedule = Schedule(seed=0, ticks=600)
    sim = cluster(schedule, 4, frozenset(), heal=False, record=False)
    monitor = Monitor(sim)
    oracle = watch(sim)
    replica = sim.plugin.replica  # type: ignore[attr-defined]
    sim.run(until=schedule.ticks, stop=lambda s: replica("r1").high_qc.view >= 3)
    assert replica("r1").high_qc.view == 3 and replica("r2").high_qc.view == 2
    for other in ("r2", "r3", "r4"):  # r1's proposal of view 4 is lost on the way
        sim.cut("r1", other)
    sim.run(until=sim.now + 15)
    sim.heal()
    sim.fire("r1", "view")  # r1 times out into view 5 first, with the QC of view 3
    sim.run(until=sim.now + 50, stop=lambda s: "r1" in replica("r2").new_views.get(5, {}))
    assert replica("r2").new_views[5]["r1"].view == 3
    sim.cut("r1", "r2")  # r1 sends its NEW-VIEW again: not to r2 after its restart
    sim.restart("r2")
    free_runs.run(sim, schedule, schedule.ticks, STORM, lambda s: bool(monitor.problem))
    (proposal,) = [b for b in replica("r2").blocks.values() if b.view == 5]
    assert proposal.proposer == "r2" and proposal.justify.view == 2  # the scenario happened
    assert monitor.problem is None, monitor.problem
    assert oracle.violation is None, oracle.violation
    assert client_history(sim) is None


# what must catch each mutant on its scenario: the schedule of its stored run (traces/hotstuff/,
# written by property_tests/hotstuff/save.py, or by property_tests/hotstuff/restarts.py for a
# mutant only restart equivalence kills), re-run by the check that found it
CAUGHT_BY = {
    mutants.LOCK_NOT_UPDATED: "LockCoversVotes",
    mutants.COMMIT_ON_TWO_CHAIN: "heads no three-chain",
    mutants.QC_OF_2F_VOTES: "Certified needs 3",
    mutants.VOTE_TWICE_IN_VIEW: "last voted",  # the vote rule sees it before OneVotePerView
    mutants.SAFE_NODE_WITHOUT_LIVENESS_CLAUSE: "did not vote for a valid proposal",
    mutants.SAFE_NODE_WITHOUT_SAFETY_CLAUSE: "did not vote for a valid proposal",
    mutants.PROPOSE_FROM_LOWER_QC: "not the highest",
    mutants.VERIFIED_CACHE_ON_CLASS: "Replica._VERIFIED_BY_ALL",
    # a replica growing QCs relays a proposal whose justify has a voter twice, and an honest
    # replica takes it: 2 distinct valid votes (docs/certificates.md)
    mutants.QC_COUNTS_VOTES: "Certified needs 3",
    # r1 equivocates and votes for everything: r2 votes, by safeNode's liveness clause, for a
    # block on a fork whose grandparent is genesis, and the mutant's lock follows it down
    mutants.LOCK_MOVES_DOWN: "LockMonotonic: r2's lock went from view 1 to 0",
    # every message slower than the view timer's base: the back-off set back at each vote loses
    # every other view, and no three-chain commits (liveness under slow links; its run is the bug
    # found and fixed, traces/counterexamples/hotstuff/)
    mutants.BACKOFF_RESET_ON_VOTE: f"is not answered {SLOW_BOUND} ticks later",
    # a back-off that outlives the commits after a heal: every silent leader's view waits out the
    # capped timer (RecoveryWithinBound, property_tests/hotstuff/recovery.py; its run is kept in
    # traces/counterexamples/hotstuff/)
    mutants.BACKOFF_NOT_RESET_ON_COMMIT: "RecoveryWithinBound: HotStuff's pacemaker went 14 views",
}
# the mutants the free runs miss: their stored runs are of the restart scenario
# (property_tests/hotstuff/test_restart.py tests them)
RESTART_MUTANTS = set(restart.MUTANTS)
# the client's: their counterexample is a sequence of replies, no stored run
# (property_tests/hotstuff/test_client_replies.py tests them)
REPLY_MUTANTS = set(client_replies.MUTANTS)


def scenario(mutant: str) -> tuple[Callable[..., object], int, Schedule]:
    inner = ("counterexamples",) if mutant in save.FIXED else ()  # a bug found and fixed
    trace = itf.read(resource("meshcheck.traces", *inner, "hotstuff", f"{mutant}.itf.json"))
    rerun = trace.meta["rerun"]
    check = record.checks()[("hotstuff", str(rerun["check"]))]
    return check, int(rerun["nodes"]), record.parse_schedule("hotstuff", str(rerun["schedule"]))


def test_every_mutant_has_a_scenario() -> None:
    assert set(CAUGHT_BY) | RESTART_MUTANTS | REPLY_MUTANTS == set(mutants.BUGS)
    assert not set(CAUGHT_BY) & RESTART_MUTANTS and not set(CAUGHT_BY) & REPLY_MUTANTS


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_each_mutant_fails_its_scenario(mutant: str) -> None:
    check, n, schedule = scenario(mutant)
    check(schedule, n, frozenset())
    with pytest.raises(CheckFailed) as failed:
        check(schedule, n, frozenset({mutant}))
    assert CAUGHT_BY[mutant] in failed.value.message


@pytest.mark.parametrize("seed", range(3))
def test_f_byzantine_keep_safety_and_f_plus_one_break_lemma_1(seed: int) -> None:
    """At N = 4 one replica that equivocates and votes for everything is tolerated; two of them
    certify two blocks of one view, which honest replicas accept, and the monitor says so."""
    both = ("equivocate", "vote_all")
    check_safety(Schedule(seed=seed, ticks=1000, byzantine={"r1": both}), 4, frozenset())
    colluding = Schedule(seed=seed, ticks=1000, byzantine={"r1": both, "r2": both})
    with pytest.raises(CheckFailed) as failed:
        check_safety(colluding, 4, frozenset())
    assert "NoConflictingQCs: two QCs of view" in failed.value.message


@pytest.mark.parametrize(("n", "needed"), [(4, 3), (5, 4), (6, 4), (7, 5), (8, 6), (9, 6), (10, 7)])
def test_certified_counts_the_quorum_of_the_group_size(n: int, needed: int) -> None:
    """The monitor's Certified and the rejection oracle hold a QC to ceil((n + f + 1) / 2) votes,
    which is 2f + 1 only at n = 3f + 1 (impl/base/quorum.py): at 5 replicas three votes, 2f + 1,
    are one short, and two QCs of three share one replica, which may be the faulty one."""
    sim = cluster(Schedule(seed=0, ticks=100), n, frozenset(), heal=False, record=False)
    monitor, oracle = Monitor(sim), watch(sim)
    assert (monitor.quorum, oracle.quorum) == (needed, needed)
    plugin = sim.plugin
    replica = plugin.replica("r1")  # type: ignore[attr-defined]
    voters = tuple(f"r{k}" for k in range(1, needed + 1))
    monitor._qc(replica, _qc(plugin.keys, GENESIS.hash, 1, voters), "a QC")  # type: ignore[attr-defined]
    assert monitor.problem is None
    monitor._qc(replica, _qc(plugin.keys, GENESIS.hash, 2, voters[:-1]), "a QC")  # type: ignore[attr-defined]
    assert f"with {needed - 1} valid votes (Certified needs {needed})" in (monitor.problem or "")


def _run(ticks: int = 400) -> tuple[object, Monitor]:
    sim = cluster(Schedule(seed=3, ticks=ticks), 4, frozenset(), heal=False, record=False)
    monitor = Monitor(sim)
    free_runs.run(sim, Schedule(seed=3, ticks=ticks), ticks, STORM)
    assert monitor.problem is None
    return sim, monitor


def test_a_lock_that_moves_down_fails_lock_monotonic() -> None:
    sim, monitor = _run()
    r = sim.plugin.replica("r2")  # type: ignore[attr-defined]
    assert r.block_view(r.locked) > 0
    r.locked = GENESIS.hash
    monitor.observe(r, None, [])
    assert "LockMonotonic" in (monitor.problem or "")


def _locked(**views: int) -> FrozenDict:
    """A state whose replicas are locked on chains of one entry per view up to theirs."""
    chains = {
        r: tuple(FrozenDict({"view": v, "cmd": "a"}) for v in range(1, views.get(r, 0) + 1))
        for r in REPLICAS
    }
    return FrozenDict({"locked": FrozenDict(chains)})


# (before, after, what the step breaks)
LOCK_STEPS: dict[str, tuple[FrozenDict, FrozenDict, list[str]]] = {
    "a lock moved up": (_locked(r2=1), _locked(r2=2), []),
    "a lock moved down": (_locked(r2=2), _locked(r2=1), ["LockMonotonic"]),
    "a lock back to genesis": (_locked(r3=1), _locked(), ["LockMonotonic"]),
    "no lock moved": (_locked(r2=2), _locked(r2=2), []),
}


@pytest.mark.parametrize("case", LOCK_STEPS)
def test_python_lock_monotonic_breaks_on_the_steps_the_spec_forbids(case: str) -> None:
    """transitions.py's LockMonotonic, as lockstep (on the implementation's state) and trace
    validation (on every pair of consecutive states) check it."""
    before, after, expected = LOCK_STEPS[case]
    assert broken(before, after) == expected
    assert VALIDATION.transitions(Step(before), Step(after, "Vote", {})) == expected


def test_conflicting_commits_fail_one_chain() -> None:
    sim, monitor = _run()
    r = sim.plugin.replica("r3")  # type: ignore[attr-defined]
    assert r.commits
    head = r.blocks[r.commits[-1]]
    other_proposer = "r2" if head.proposer != "r2" else "r3"
    fork = Block(head.parent, head.view, head.justify, other_proposer)  # a sibling of a commit
    assert fork.hash != head.hash
    r.blocks[fork.hash] = fork
    other = sim.plugin.replica("r4")  # type: ignore[attr-defined]
    other.commits = (fork.hash,)
    monitor._one_chain(other, fork.hash)
    assert "NoConflictingCommits" in (monitor.problem or "")


def _replica(keys: KeyRing, i: str = "r3") -> Replica:
    replica = Replica(HotStuffConfig(i, REPLICAS), keys)
    replica.step(Restart())
    return replica


def _qc(keys: KeyRing, block: bytes, view: int, voters: tuple[str, ...]) -> QC:
    votes = tuple((v, keys.signer(v).sign(vote_bytes(block, view))) for v in voters)
    return QC(block, view, tuple(sorted(votes)))


def test_a_qc_is_checked_on_receipt() -> None:
    keys = KeyRing(0, (*REPLICAS, "c1"))
    replica = _replica(keys)
    h = GENESIS.hash
    assert replica.valid_qc(_qc(keys, h, 1, ("r1", "r2", "r4")))
    assert not replica.valid_qc(_qc(keys, h, 1, ("r1", "r2")))  # 2f votes
    twice = _qc(keys, h, 1, ("r1", "r2"))
    assert not replica.valid_qc(QC(h, 1, (*twice.votes, twice.votes[0])))  # a voter twice
    other_view = _qc(keys, h, 2, ("r1", "r2", "r4"))
    assert not replica.valid_qc(QC(h, 1, other_view.votes))  # signed for another view
    forged = tuple((v, keys.signer("r1").sign(vote_bytes(h, 1))) for v in ("r2", "r3", "r4"))
    assert not replica.valid_qc(QC(h, 1, forged))  # another replica's key


def test_a_proposal_needs_its_views_leader_and_a_justify_for_its_parent() -> None:
    keys = KeyRing(0, (*REPLICAS, "c1"))
    replica = _replica(keys)
    block = Block(GENESIS.hash, 1, QC(GENESIS.hash, 0), "r2")  # r2 leads view 1

    def proposal(b: Block, signer: str) -> Proposal:
        return Proposal(b, keys.signer(signer).sign(proposal_bytes(b)))

    assert replica._valid_proposal(proposal(block, "r2"))
    assert not replica._valid_proposal(proposal(block, "r1"))  # not r2's signature
    by_r1 = Block(GENESIS.hash, 1, QC(GENESIS.hash, 0), "r1")
    assert not replica._valid_proposal(proposal(by_r1, "r1"))  # r1 does not lead view 1
    qc = _qc(keys, GENESIS.hash, 1, ("r1", "r2", "r4"))  # a QC of another block than the parent
    wrong = Block(block.hash, 2, qc, "r3")
    assert not replica._valid_proposal(proposal(wrong, "r3"))
    effects = replica.step(Deliver("r2", proposal(block, "r2")))
    assert any(isinstance(e, Send) and e.dest == "r3" for e in effects)  # voted, to r3 (view 2)


def test_a_fetched_block_needs_a_valid_justify() -> None:
    """A block's hash covers its justify's block, not the justify's view or votes: a responder can
    change those and the hash still matches what was asked for. The fuzzer did (seed 185877 of
    test_fuzz.py): r1 stored such a block and voted for it when its proposal came. A fetched block
    whose justify is not a QC for its parent is not stored; bad votes are held against the
    responder."""
    keys = KeyRing(0, (*REPLICAS, "c1"))
    replica = _replica(keys)
    parent = Block(GENESIS.hash, 1, QC(GENESIS.hash, 0), "r2")
    good = _qc(keys, parent.hash, 1, ("r1", "r2", "r4"))
    block = Block(parent.hash, 2, good, "r3")
    for justify in (
        QC(parent.hash, 1),  # no votes
        QC(parent.hash, 1, good.votes[:2]),  # 2f votes
        QC(parent.hash, 1, ((good.votes[0][0], good.votes[1][1]), *good.votes[1:])),  # forged
    ):
        forged = Block(parent.hash, 2, justify, "r3")
        assert forged.hash == block.hash  # the hash does not see the change
        replica.asked[forged.hash] = 0
        replica.step(Deliver("r1", BlockResponse((forged, parent))))
        assert forged.hash not in replica.blocks and forged.hash not in replica.orphans
    assert [a.kind for a in replica.accusations] == [BAD_QC]
    assert {a.accused for a in replica.accusations} == {"r1"}
    replica.step(Deliver("r2", BlockResponse((block, parent))))
    assert replica.blocks[block.hash].justify == good  # the true one is taken


def test_the_client_accepts_f_plus_one_matching_replies() -> None:
    keys = KeyRing(0, (*REPLICAS, "c1"))
    client = Client(ClientConfig("c1", REPLICAS), keys)
    client.step(Restart())
    client._request("x")
    assert client.step(Deliver("r1", ReplyMsg("c1", 1, "a", "r1"))) == []
    assert client.step(Deliver("r2", ReplyMsg("c1", 1, "b", "r2"))) == []  # another result
    assert client.step(Deliver("r1", ReplyMsg("c1", 1, "a", "r1"))) == []  # r1 again
    assert client.step(Deliver("r3", ReplyMsg("c1", 1, "a", "r4"))) == []  # not r3's reply
    assert client.step(Deliver("r3", ReplyMsg("c1", 1, "a", "r3"))) == [Reply(1, "a")]

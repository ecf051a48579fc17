"""Free runs of the hybrid cluster (free_runs.py): Byzantine behaviour on and off mid-stream under
faults, Hybrid.tla's invariants after every step (monitor.py), the liveness bounds after."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.impl.hotstuff.replica import Replica as HotStuffReplica
from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.bft import BFT_PROTOCOLS
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import HybridHotStuff
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.pbft.replica import Replica
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.hybrid.free_runs import HOTSTUFF_NODES
from meshcheck.property_tests.hybrid.free_runs import OP_BOUND
from meshcheck.property_tests.hybrid.free_runs import RAFT_BOUND
from meshcheck.property_tests.hybrid.free_runs import free_runs
from meshcheck.property_tests.hybrid.free_runs import run


@pytest.mark.parametrize("bft", BFT_PROTOCOLS)
def test_free_runs_hold(bft: str) -> None:
    """With either BFT protocol under the BFT epochs (impl/hybrid/bft.py)."""
    free_runs(frozenset(), settings(), bft=bft)


# An equivocating Raft leader from op 2 on, under 5% message loss: Critical, BFT, back to Raft.
ESCALATION = Schedule(seed=1, ticks=1000, drop=0.05, behaviours=("equivocate",), start=2)
# n1 forges seals in Raft epochs and equivocates as PBFT primary until the calm, with crashes and
# partitions: the evidence goes on until the faults stop.
TO_THE_END = Schedule(
    seed=1,
    ticks=600,
    drop=0.02,
    behaviours=("forge_seals", "pbft_equivocate"),
    target="leader",
    start=1,
)


@pytest.mark.parametrize("bft", BFT_PROTOCOLS)
def test_a_run_escalates_and_comes_back_within_the_bounds(bft: str) -> None:
    out = run(ESCALATION, bft=bft)
    epochs = out.hc.metrics()["epochs"]
    assert BFT in epochs.values() and epochs[max(epochs)] == RAFT
    # the BFT epoch ran the protocol asked for, and ops committed in it
    bft_epochs = [e for e, p in epochs.items() if p == BFT]
    cores = {type(out.hc.nodes[i].instances[e].core) for i in out.hc.honest for e in bft_epochs}
    assert cores == {HybridHotStuff if bft == HOTSTUFF else Replica}
    assert any(d.committed and d.epoch in bft_epochs for d in out.decisions)
    assert out.back_to_raft is not None and out.back_to_raft <= RAFT_BOUND
    assert out.op_latency and max(out.op_latency) <= OP_BOUND
    assert out.monitor.steps > 1000  # the invariants were checked after every one of them


def test_evidence_until_the_calm_then_back_to_raft() -> None:
    """Measured: four switches; back in Raft 2 ticks after the evidence and the faults stopped
    (the bound is RAFT_BOUND = 1500); calm proposals answered within 266 ticks, a rejected one
    at a switch proposed again (OP_BOUND = 1500)."""
    out = run(TO_THE_END)
    assert out.switches >= 2
    assert out.back_to_raft is not None and out.back_to_raft <= RAFT_BOUND
    assert max(out.op_latency) <= OP_BOUND


@pytest.mark.parametrize(
    ("bug", "symptom"),
    [
        (mutants.SWITCH_DROPS_LAST_RAFT_TERM, "NoCommittedOpLost"),
        (mutants.DEESCALATE_CRITICAL_TO_NONE, "DeescalationOneLevel"),
        (mutants.SWITCH_ON_OWN_EVIDENCE, "AgreedProtocolPerEpoch"),
        (mutants.EQUIVOCATION_IS_LOW, "NeverBelowDemanded"),
    ],
)
@pytest.mark.parametrize("bft", BFT_PROTOCOLS)
def test_the_monitor_catches_every_mutant(bug: str, symptom: str, bft: str) -> None:
    """Whichever BFT protocol runs the BFT epochs (the switch's rules are the hybrid layer's)."""
    with pytest.raises(CheckFailed, match=symptom):
        run(ESCALATION, frozenset({bug}), bft=bft)


def test_a_new_epochs_leader_gets_a_whole_evidence_timeout() -> None:
    """Found by these free runs: a node's uncommitted evidence kept its age across a switch, so
    in the next Raft epoch the node campaigned against the new leader at its first retry; three
    nodes holding such evidence took turns, and the epoch had no leader for some 1700 ticks (a
    calm proposal went unanswered past OP_BOUND). impl/hybrid/node.py now restarts the timeout
    at the switch."""
    out = run(Schedule(seed=1, ticks=600, drop=0.02, behaviours=("forge_seals",), start=1))
    assert out.switches >= 2 and max(out.op_latency) <= OP_BOUND


# Found by an exploration (`meshcheck verify --seed 4255593480`): n3 leads the first Raft epoch,
# equivocates in its AppendEntries from op 2 on and censors the evidence, for 1500 ticks.
EVIDENCE_FLOOD = Schedule(
    seed=917,
    ticks=1500,
    duplicate=0.02,
    crash=0.1,
    behaviours=("censor", "equivocate"),
    target="leader",
    start=2,
)


def test_a_leader_that_equivocates_in_every_message_does_not_flood_the_bft_epoch() -> None:
    """Each follower held hundreds of distinct proofs against n3, all pending, and proposed them
    at once in the BFT epoch (HotStuff, seven nodes): 465 equivocation entries filled its blocks
    four at a time, no clock entry got in, the level stayed Critical, and the calm's op waited
    past OP_BOUND. impl/hybrid/node.py now files at most one report per kind and accused every
    report_every ticks, proofs too (tests/test_hybrid_node.py)."""
    out = run(EVIDENCE_FLOOD, bft=HOTSTUFF, n=HOTSTUFF_NODES)
    epochs = out.hc.metrics()["epochs"]
    assert BFT in epochs.values() and epochs[max(epochs)] == RAFT
    assert max(out.op_latency) <= OP_BOUND


# Found by these free runs (traces/counterexamples/hybrid/tampered_op_skipped_by_one_follower):
# the Raft leader turns Byzantine right after c1/3 is committed and tampers with it on its way to
# the one follower that had not got it yet.
TAMPERED_TO_ONE = Schedule(
    seed=32056,
    ticks=600,
    partition=0.05,
    behaviours=("censor", "equivocate", "tamper"),
    target="leader",
    start=4,
)


def test_a_follower_skips_no_op_a_byzantine_leader_tampered() -> None:
    """The follower that got c1/3 only in a tampered form reported it and yet took it into its Raft
    log, skipped it on apply, and closed epoch 1 without it while the others held it. With the
    follower leaving out what its detectors caught (impl/hybrid/node.py) the run holds; the
    mutant that follows it anyway fails it."""
    out = run(TAMPERED_TO_ONE)
    assert out.switches >= 2 and out.monitor.steps > 2388  # past the step that failed
    # the rejection oracle sees n2 take the tampered entry before the monitor sees the history
    with pytest.raises(
        CheckFailed, match=r"NoCommittedOpLost violated at n2|n2: holds n3's tampered"
    ):
        run(TAMPERED_TO_ONE, frozenset({mutants.FOLLOW_CAUGHT_APPEND}))


# Found by `meshcheck mutants hybrid --all`: the Raft leader equivocates and makes up reports;
# a partition leaves two followers far behind before anything commits.
LAGGARDS = Schedule(
    seed=2193,
    ticks=1000,
    drop=0.05,
    duplicate=0.02,
    crash=0.1,
    partition=0.05,
    behaviours=("equivocate", "false_reports"),
    target="leader",
    start=1,
)


def test_each_raft_leader_gets_a_whole_evidence_timeout() -> None:
    """A lagging follower campaigned against each new Raft leader as soon as its own evidence was
    evidence_timeout old, however briefly that leader had led: no leader lasted the one probe per
    round trip it takes to catch a laggard up, nothing committed, the log grew with every term and
    every AppendEntries carried all of it (memory ran out). impl/hybrid/node.py now restarts the
    timeout for each leader it follows, and bounds an AppendEntries' entries (max_entries)."""
    out = run(LAGGARDS)
    assert out.back_to_raft is not None and max(out.op_latency) <= OP_BOUND
    assert out.hc.sim.now < 5000 and out.monitor.steps < 20_000


def test_a_run_that_never_ends_fails_at_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """An op that is never answered (here every node drops client requests; the livelock above
    did the same before its fix) fails the run with InFlightResolved OP_BOUND ticks after the
    faults stopped, not out of memory. (The livelock itself no longer comes back with an eager
    evidence_timeout: since a Raft follower resets its election timer only for the leader or a
    granted vote, Figure 2, the laggards catch up between depositions.)"""
    monkeypatch.setattr(HybridNode, "_client_request", lambda self, event: None)
    with pytest.raises(CheckFailed, match=r"op k1, in flight .* \(InFlightResolved\)"):
        run(LAGGARDS)


# Found by a `make verify --explore` run (seed 4101483314, 2026-11-25), shrunk: n1 fuzzes from its
# third op on and is made honest at the end. In the PBFT epoch n3 suspected n1, the primary, and
# moved to view 1 alone; n2 and n4, with n1, stayed in view 0, executed the switch entry and moved
# on to the next (Raft) epoch. Nothing is ever again executed in the PBFT epoch, so no other
# replica's timer runs out and joins n3's view change, and a replica changing views takes no
# message of view 0 (section 4.4); n3 holds the checkpoints of n2 and n4 only, one short of a
# stable one, since n1 sends it none (and the last multiple of the interval, 120, is before the
# switch entry anyway). n3 stayed in the PBFT epoch for good (EventuallyBackToRaft). Now the
# replicas checkpoint where the switch entry made their machine final, and a replica takes a final
# state that f+1 matching checkpoints vouch for (impl/pbft/replica.py `_final_transfer`).
ALONE_IN_A_LATER_VIEW_AT_THE_SWITCH = Schedule(
    seed=24713, ticks=600, duplicate=0.02, behaviours=("fuzz",), target="n1", start=3, stop=None
)


def test_a_replica_alone_in_a_later_view_at_the_switch_comes_back_to_raft() -> None:
    out = run(ALONE_IN_A_LATER_VIEW_AT_THE_SWITCH)
    assert out.back_to_raft is not None and out.switches >= 2


def test_without_the_final_transfer_the_laggard_stays_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schedule above does reach the gap: without the transfer the check fails."""
    monkeypatch.setattr(Replica, "_final_transfer", lambda self: None)
    with pytest.raises(CheckFailed, match="EventuallyBackToRaft"):
        run(ALONE_IN_A_LATER_VIEW_AT_THE_SWITCH)


# Found by a ten-minute campaign (`meshcheck campaign --minutes 9 --no-mutants`, 2026-11-25) in the
# HotStuff free runs, shrunk: the Raft leader turns Byzantine (false reports, the fuzzer, an
# equivocating HotStuff leader) from the first op to the end, no network faults. Every node
# proposed a clock reading every clock_every (25) ticks, whether or not its last one had committed;
# HotStuff commits one block of batch_size (4) requests a view, and fewer views while the
# Byzantine leader's time out, so the 7 nodes' readings (and the fuzzer's flood) came in faster
# than they committed: a thousand requests queued at every replica, and op k6 waited behind them
# past OP_BOUND (InFlightResolved). Now a node's next reading waits until its last one is applied
# or retry_every has passed (impl/hybrid/node.py `_clock_on_its_way`).
CLOCK_BACKLOG = Schedule(
    seed=0,
    ticks=1500,
    behaviours=("false_reports", "fuzz", "pbft_equivocate"),
    target="leader",
    start=1,
    stop=None,
)


def test_clock_readings_do_not_outrun_the_bft_epochs_commits() -> None:
    out = run(CLOCK_BACKLOG, bft=HOTSTUFF, n=HOTSTUFF_NODES)
    assert max(out.op_latency) <= OP_BOUND


def test_without_the_wait_the_readings_bury_the_client_op(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the wait, and without the HotStuff replicas keeping each node's newest reading
    only (impl/hybrid/bft.py, READINGS_BEHIND_A_SILENT_REPLICA below), which bounds the queue as
    well: either one alone holds this run."""
    monkeypatch.setattr(HybridNode, "_clock_on_its_way", lambda self: False)
    monkeypatch.setattr(HybridHotStuff, "_on_request", HotStuffReplica._on_request)
    with pytest.raises(CheckFailed, match=r"op k6, .* \(InFlightResolved\)"):
        run(CLOCK_BACKLOG, bft=HOTSTUFF, n=HOTSTUFF_NODES)


# Found by a `make verify --explore` run (seed 302353040, 2026-11-27): n4 fuzzes from the second op
# on and censors; its epoch-1 log stops at index 85 by t=500 and it never leaves epoch 1: silent
# in every later (HotStuff, 7-node) epoch, and made honest at the calm (t=2221). Evidence reported
# before the calm put epoch 4 in HotStuff at t=2219. There n4's views, and the ones before them
# (whose QC n4 would form), timed out: about 20 requests committed every 400 ticks, while the six
# honest nodes each sent a new clock reading every retry_every (100) that their last was not
# applied. At t=3980 101 requests were queued, 95 of them readings, served oldest first; the
# replicated clock stood at 2350 at t=3650 (and fell further behind), and High waited for it to pass
# the last evidence's window until t=3991: back in Raft 1776 ticks after the calm
# (EventuallyBackToRaft). Now a HotStuff replica keeps only each node's newest reading, in the
# place of its older one (impl/hybrid/bft.py `HybridHotStuff._on_request`): back in Raft 989 ticks
# after the calm. traces/counterexamples/hybrid/clock_readings_queued_behind_a_silent_replica.
READINGS_BEHIND_A_SILENT_REPLICA = Schedule(
    seed=53880,
    ticks=1500,
    drop=0.05,
    duplicate=0.02,
    crash=0.1,
    behaviours=("fuzz", "censor"),
    target="n4",
    start=2,
    bft=HOTSTUFF,
)


@pytest.mark.moved(
    stand_in=(
        "tests/test_corpus.py::test_the_fixed_implementation_holds"
        "[traces/counterexamples/hybrid/clock_readings_queued_behind_a_silent_replica.itf.json]"
    ),
    why=(
        "the corpus re-runs this schedule (its #meta.rerun) under the same free-run check, "
        "EventuallyBackToRaft with RAFT_BOUND included: the same run, the same verdict"
    ),
)
def test_a_hotstuff_epoch_with_a_silent_replica_queues_one_reading_per_node() -> None:
    out = run(READINGS_BEHIND_A_SILENT_REPLICA)  # the schedule names HotStuff: 7 nodes
    assert out.hc.bft == HOTSTUFF and len(out.hc.nodes) == HOTSTUFF_NODES
    assert out.back_to_raft is not None and out.back_to_raft <= RAFT_BOUND


@pytest.mark.moved(
    stand_in=(
        "tests/test_hybrid_bft.py"
        "::test_a_hotstuff_replica_keeps_only_each_nodes_newest_clock_reading_in_its_place"
    ),
    why=(
        "the same mutant (HybridHotStuff._on_request as HotStuffReplica's) fails the unit test "
        "of the fix in a few steps: its batch then holds every reading, oldest first"
    ),
)
def test_without_the_newest_reading_only_the_readings_pile_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(HybridHotStuff, "_on_request", HotStuffReplica._on_request)
    with pytest.raises(CheckFailed, match=r"not back to Raft .* \(EventuallyBackToRaft\)"):
        run(READINGS_BEHIND_A_SILENT_REPLICA)

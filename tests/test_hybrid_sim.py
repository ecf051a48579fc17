"""Free runs of the hybrid cluster in the simulator, through HybridConsensus: escalation to BFT on
evidence and back to Raft after the quiet periods, with clients proposing throughout, under message
loss and a crash; f false reporters cannot force BFT; a censoring leader is voted out; and the four
hybrid mutants, each shown to break what it should."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest

from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.byzantine import Censor
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.byzantine import FalseReports
from meshcheck.impl.hybrid.byzantine import ForgeSeals
from meshcheck.impl.hybrid.consensus import Decision
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.machine import op_name
from meshcheck.impl.hybrid.refinement import VARIABLES
from meshcheck.impl.pbft.byzantine import Equivocate
from meshcheck.impl.pbft.byzantine import corrupt
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim.config import Faults
from meshcheck.property_tests.hybrid.free_runs import history_problem

Step = Callable[[HybridConsensus, int], None]


def drive(
    hc: HybridConsensus, ops: int, at: Step | None = None, *, retry: bool = True
) -> list[Decision]:
    """Propose ops 1..ops one after the other (resubmitting a rejected one under its seq), calling
    `at(hc, k)` before op k."""
    decisions = []
    for k in range(1, ops + 1):
        if at is not None:
            at(hc, k)
        d = hc.propose(Custom(f"k{k}", k))
        for _ in range(4 if retry else 0):  # an op rejected at a switch may meet the next one
            if d.committed:
                break
            d = hc.propose(Custom(f"k{k}", k), seq=d.seq)
        decisions.append(d)
    return decisions


def lost_or_repeated(hc: HybridConsensus, decisions: list[Decision]) -> list[str]:
    """NoCommittedOpLost / NoOpCommittedTwice, per honest node: each committed op exactly once,
    at the position the client was told, and one history for every honest node."""
    problems = []
    histories = hc.histories()
    for node, history in histories.items():
        if len(set(history)) != len(history):
            problems.append(f"{node}: an op twice")
        for d in decisions:
            if d.committed and (
                d.position is None or history[d.position - 1 : d.position] != ((d.client, d.seq),)
            ):
                problems.append(f"{node}: {op_name((d.client, d.seq))} not at {d.position}")
    longest = max(histories.values(), key=len)
    if any(h != longest[: len(h)] for h in histories.values()):
        problems.append("honest histories differ (not prefixes of one order)")
    return problems


def disagreements(hc: HybridConsensus) -> list[str]:
    """AgreedProtocolPerEpoch as Hybrid.tla says it: every honest node records for each epoch it
    entered the protocol the committed history gives that epoch (epoch 1: Raft; epoch e+1: what
    epoch e's switch entry called for), and nothing for epochs it has not entered."""
    honest = [hc.nodes[i] for i in hc.honest]
    agreed = {1: RAFT}
    for node in honest:
        for epoch, instance in node.instances.items():
            closed = instance.machine.closed
            if closed is not None:
                agreed.setdefault(epoch + 1, closed.protocol)
    top = max(max(n.protocols) for n in honest)
    problems = []
    for node in honest:
        for epoch in range(1, top + 1):
            expected = agreed.get(epoch, "none") if epoch <= node.epoch else "none"
            recorded = node.protocols.get(epoch, "none")
            if recorded != expected:
                problems.append(f"{node.id}: epoch {epoch} {recorded}, committed says {expected}")
    return problems


def equivocating_leader(victims: frozenset[str] | None = None, until: int = 20) -> Step:
    def at(hc: HybridConsensus, k: int) -> None:
        if k == 6:
            leader = hc.raft_leader()
            assert leader is not None
            hc.make_byzantine(leader, EquivocateRaft(victims=victims))
        if k == until:
            hc.make_honest(next(iter(hc.byzantine)))

    return at


def escalation_run(
    bugs: frozenset[str] = frozenset(), **kw: Any
) -> tuple[HybridConsensus, list[Decision]]:
    hc = HybridConsensus(4, seed=3, faults=Faults(drop=0.05), bugs=bugs, **kw)
    hc.run(400)
    steps = equivocating_leader()

    def at(hc: HybridConsensus, k: int) -> None:
        steps(hc, k)
        if k == 24:
            hc.sim.crash(hc.honest[0])
        if k == 28:
            hc.sim.recover(hc.honest[0])

    decisions = drive(hc, 36, at)
    hc.run(600)  # let the crashed node catch up
    return hc, decisions


@pytest.fixture(scope="module")
def escalated() -> tuple[HybridConsensus, list[Decision]]:
    return escalation_run(record=True)


def test_escalates_on_equivocation_and_returns_to_raft(
    escalated: tuple[HybridConsensus, list[Decision]],
) -> None:
    hc, decisions = escalated
    m = hc.metrics()
    assert m["epochs"] == {1: RAFT, 2: BFT, 3: RAFT}
    levels = [lv for _, lv in m["level_history"]]
    assert levels[:2] == ["None", "Critical"] and "High" in levels and levels[-1] in ("None", "Low")
    assert m["evidence"]["equivocation"] >= 1 and m["evidence_refused"] == 0
    assert m["committed"] == 36 and m["switches"] == 2
    assert hc.current_protocol() == RAFT
    assert {d.epoch for d in decisions if d.committed} == {1, 2, 3}
    assert lost_or_repeated(hc, decisions) == []
    assert disagreements(hc) == []
    assert hc.sim.divergences == []
    assert history_problem(hc) is None  # the client history (property_tests/histories.py)


def test_refinement_mapping_of_the_run(escalated: tuple[HybridConsensus, list[Decision]]) -> None:
    """The mapping onto Hybrid.tla's variables, after the run and along its trace."""
    hc, decisions = escalated
    state = hc.sim.abstract_state()
    assert tuple(state) == VARIABLES
    honest = set(hc.honest)
    assert set(state["epoch"]) == honest and set(state["epoch"].values()) == {3}
    assert all(p == {1: RAFT, 2: BFT, 3: RAFT} for p in state["protocol"].values())
    assert {"type": "evidence", "kind": "equivocation"} in state["chain"][1]
    committed = {op_name((d.client, d.seq)) for d in decisions if d.committed}
    assert {o for o, v in state["outcome"].items() if v == "committed"} == committed
    assert all(set(h) == committed for h in state["history"].values())
    # Along the trace, the level of every honest node that never crashed only drops one level at
    # a time (DeescalationOneLevel). A restarted node replays its epoch from the epoch's start
    # state, so its mapped level and history go back and catch up: Hybrid.tla has no crash.
    rank = {"None": 0, "Low": 1, "Medium": 2, "High": 3, "Critical": 4}
    crashed = {m[1] for line in hc.sim.fault_log if (m := re.search(r"crash\S* (n\d+)", line))}
    assert crashed == {hc.honest[0]}
    steps = hc.sim.trace().steps
    drops = 0
    for before, after in itertools.pairwise(steps):
        for i, level in after.state["level"].items():
            old = before.state["level"].get(i, level)
            if i not in crashed:
                assert rank[level] >= rank[old] - 1, (i, old, level)
                drops += rank[level] < rank[old]
    assert drops >= 3 * (len(honest) - len(crashed))  # Critical -> High -> Medium at least


def test_same_seed_same_run() -> None:
    def run() -> tuple[object, ...]:
        hc = HybridConsensus(4, seed=8, faults=Faults(drop=0.05))
        drive(hc, 5, equivocating_leader(until=99))
        return (hc.metrics(), hc.histories(), hc.sim.events, hc.sim.sent)

    assert run() == run()


def test_mutant_switch_drops_last_raft_term() -> None:
    hc, decisions = escalation_run(frozenset({mutants.SWITCH_DROPS_LAST_RAFT_TERM}))
    assert hc.metrics()["switches"] >= 1
    assert any("not at" in p for p in lost_or_repeated(hc, decisions))


def test_mutant_deescalate_critical_to_none() -> None:
    hc, _ = escalation_run(frozenset({mutants.DEESCALATE_CRITICAL_TO_NONE}))
    levels = [lv for _, lv in hc.metrics()["level_history"]]
    assert ("Critical", "None") in itertools.pairwise(levels)


def test_mutant_equivocation_is_low() -> None:
    hc = HybridConsensus(4, seed=5, bugs=frozenset({mutants.EQUIVOCATION_IS_LOW}))
    hc.run(400)
    drive(hc, 14, equivocating_leader(until=99))
    m = hc.metrics()
    assert m["evidence"]["equivocation"] >= 1  # seen and committed...
    assert m["epochs"] == {1: RAFT}  # ...and the cluster stays on Raft with an equivocator


@pytest.mark.parametrize("bugs", [frozenset(), frozenset({mutants.SWITCH_ON_OWN_EVIDENCE})])
def test_switch_on_own_evidence_splits_the_honest_nodes(bugs: frozenset[str]) -> None:
    """The leader lies to one follower only: the committed evidence moves everyone to BFT at one
    entry; under the mutant that follower alone moves on, to an epoch no committed switch entry
    opened: it says epoch 2 runs BFT, the other honest nodes say epoch 2 has not begun."""
    hc = HybridConsensus(4, seed=5, bugs=bugs, give_up_after=3000)
    hc.run(400)
    leader = hc.raft_leader()
    assert leader is not None
    victim = next(i for i in hc.honest if i != leader)
    hc.make_byzantine(leader, EquivocateRaft(victims={victim}))
    drive(hc, 8)
    if bugs:
        assert disagreements(hc) != []
    else:
        assert (
            disagreements(hc) == []
            and hc.metrics()["epochs"][2] == BFT
            and history_problem(hc) is None
        )


@pytest.mark.parametrize("liars", [1, 2])
def test_false_reporters_cannot_force_bft(liars: int) -> None:
    """f = 1 node reporting bad signatures and timing against everyone, and equivocation proofs of
    nothing, leaves the cluster on Raft; f + 1 = 2 such nodes reach sig_high reporters (the check
    is not vacuous)."""
    hc = HybridConsensus(4, seed=11)
    for node in hc.sim.node_ids[:liars]:
        hc.make_byzantine(node, FalseReports())
    decisions = drive(hc, 12 if liars == 1 else 4)
    m = hc.metrics()
    assert m["evidence_refused"] > 0
    assert history_problem(hc) is None
    if liars == 1:
        assert m["epochs"] == {1: RAFT} and all(d.committed and d.epoch == 1 for d in decisions)
    else:
        assert BFT in m["epochs"].values()


@pytest.mark.parametrize("timeout", [600, 10**6])
def test_censoring_leader_is_voted_out(timeout: int) -> None:
    """A leader that lies to one follower and censors that follower's evidence: after
    evidence_timeout the follower campaigns, gets the evidence committed, and the cluster moves to
    BFT; without the timeout it stays on Raft under the equivocator."""
    hc = HybridConsensus(4, seed=5, evidence_timeout=timeout)
    hc.run(400)
    leader = hc.raft_leader()
    assert leader is not None
    victim = next(i for i in hc.honest if i != leader)
    hc.make_byzantine(leader, EquivocateRaft(victims={victim}), Censor())
    drive(hc, 6)
    hc.run(1500)
    assert history_problem(hc) is None
    if timeout < 10**6:
        assert hc.metrics()["epochs"].get(2) == BFT and disagreements(hc) == []
    else:
        assert hc.metrics()["epochs"] == {1: RAFT}


def test_pbft_detector_evidence_is_committed() -> None:
    """Bad seals move the cluster to BFT; there the primary equivocates, and PBFT's audit log
    (impl/pbft/evidence.py) becomes a committed, verified equivocation record."""
    hc = HybridConsensus(4, seed=10)
    hc.run(400)
    byz = "n1"  # the primary of view 0 of every BFT epoch, and (seed 10) the Raft leader
    assert hc.raft_leader() == byz

    def at(hc: HybridConsensus, k: int) -> None:
        if k == 2:
            hc.make_byzantine(byz, ForgeSeals(), pbft=corrupt(Equivocate()))
        elif hc.current_protocol() == BFT:  # seals are Raft's: from now on only PBFT lies
            hc.make_byzantine(byz, pbft=corrupt(Equivocate()))

    decisions = drive(hc, 10, at)
    hc.run(800)
    m = hc.metrics()
    assert m["evidence"]["bad_signature"] >= 2 and m["evidence"]["equivocation"] >= 1
    assert history_problem(hc) is None
    records = [a.record for a in hc._lead().threat.records]
    assert any(r.detail == "pbft:equivocation" and r.accused == byz for r in records)
    assert lost_or_repeated(hc, decisions) == [] and disagreements(hc) == []

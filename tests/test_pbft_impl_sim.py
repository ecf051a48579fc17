"""PBFT groups in the simulator: runs under every fault keep the spec's safety invariants on every
step and answer the client; a view change carries a prepared request; a primary caught
equivocating is quarantined and replaced; runs are deterministic; the refinement mapping has the
spec's shape; and every step of a run is a step of specs/PBFT.tla (TLC judges, through the Stepper).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft import VARIABLES
from meshcheck.impl.pbft import Commit
from meshcheck.impl.pbft import KeyRing
from meshcheck.impl.pbft import PrePrepare
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import Signed
from meshcheck.impl.pbft import batch_digest
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft import proves
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import NOOP
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.refinement import message_record
from meshcheck.impl.sim import ClientRequest
from meshcheck.impl.sim import Effect
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Send
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests.pbft.validation import first_step_not_in_spec
from meshcheck.property_tests.pbft.validation import validation_stepper
from meshcheck.traces import itf
from tests import spec_checks
from tests.hash_seeds import printed_under_hash_seeds

ROOT = Path(__file__).resolve().parent.parent
HONEST = ("r1", "r2", "r3", "r4")


def ops(n: int) -> str:
    return f"op{n}"


# -- the spec's invariants, in Python, on one abstract state -----------------------------------------


def violated(state: FrozenDict, honest: tuple[str, ...] = HONEST) -> list[str]:
    """The names of specs/PBFT.tla's safety invariants that `state` breaks."""
    executed = state["executed"]
    bad = []
    for i in honest:
        for j in honest:
            k = min(len(executed[i]), len(executed[j]))
            if executed[i][:k] != executed[j][:k]:
                bad.append("Agreement")
    if any(r not in state["requested"] | {NOOP} for i in honest for r in executed[i]):
        bad.append("Validity")
    for a in state["accepted"]:
        if not any(
            a["seq"] <= len(executed[i]) and executed[i][a["seq"] - 1] == a["req"] for i in honest
        ):
            bad.append("ReplyCorrect")
    return sorted(set(bad))


def test_the_python_invariants_can_fail() -> None:
    good = FrozenDict(
        {
            "requested": frozenset({"a"}),
            "executed": FrozenDict({i: ("a",) for i in HONEST}),
            "accepted": frozenset({FrozenDict({"seq": 1, "req": "a"})}),
        }
    )
    assert violated(good) == []
    bad = FrozenDict(
        {
            "requested": frozenset({"a"}),
            "executed": FrozenDict({**{i: ("a",) for i in HONEST}, "r4": ("x",)}),
            "accepted": frozenset({FrozenDict({"seq": 2, "req": "a"})}),
        }
    )
    assert violated(bad) == ["Agreement", "ReplyCorrect", "Validity"]


def first_violation(trace: Trace, honest: tuple[str, ...] = HONEST) -> tuple[int, list[str]] | None:
    for k, step in enumerate(trace.steps):
        names = violated(step.state, honest)
        if names:
            return k, names
    return None


def executed_names(sim: Simulator[Any], replica: str) -> tuple[Value, ...]:
    state = sim.abstract_state()
    value: tuple[Value, ...] = state["executed"][replica]
    return value


def requested_all_accepted(sim: Simulator[Any]) -> bool:
    client = sim.nodes["c1"]
    return {r for _, r in client.accepted} >= set(client.requested)


# -- free runs under faults ------------------------------------------------------------------------

FAULTS = {
    "drops": Faults(drop=0.1, duplicate=0.1, delay=0.1, until=2500),
    "crashes": Faults(crash=0.5, down_ticks=(100, 800), until=2500),
    "partitions": Faults(partition=0.5, partition_ticks=(100, 1000), until=2500),
    "everything": Faults(
        drop=0.05, duplicate=0.05, delay=0.05, crash=0.3, partition=0.3, until=2500
    ),
}


@pytest.mark.parametrize(("kind", "seed"), [(k, s) for k in FAULTS for s in (1, 2)])
def test_free_runs_under_faults_agree_and_answer_the_client(kind: str, seed: int) -> None:
    """Agreement, Validity and ReplyCorrect after every step; once faults stop, every request is
    answered and 2f+1 replicas have executed all of them, in the same order. (A replica that timed
    out alone while cut off waits in the next view until f others join it, as in the paper, and
    meanwhile catches up by checkpoints only: it may lag behind the last few sequence numbers.)"""
    sim = pbft_cluster(
        4,
        seed=seed,
        faults=FAULTS[kind],
        workload=Workload(every=25, until=2000, make=ops),
        checkpoint_every=5,
        window=10,
    )
    sim.run(until=6000)
    trace = sim.trace()
    assert first_violation(trace) is None
    assert not sim.divergences
    assert sum(sim.fault_counts.values()) > 10, "the run met no fault"
    client = sim.nodes["c1"]
    assert len(client.requested) >= 70 and requested_all_accepted(sim)
    histories = [executed_names(sim, r) for r in HONEST]
    complete = [h for h in histories if set(client.requested) <= set(h)]
    assert len(complete) >= 3 and len(set(complete)) == 1


def test_large_batches_agree_too() -> None:
    sim = pbft_cluster(
        4,
        seed=3,
        batch_size=10,
        batch_delay=5,
        faults=FAULTS["everything"],
        workload=Workload(every=3, until=1500, make=ops),
        record=False,
    )
    sim.run(until=5000)
    assert not sim.divergences and requested_all_accepted(sim)
    sizes = [len(b) for b in sim.nodes["r2"].executed]
    assert max(sizes) == 10 and sum(sizes) >= len(set(sim.nodes["c1"].requested))


# -- the view change (section 4.4) -----------------------------------------------------------------


def test_a_prepared_request_of_a_crashed_primary_is_executed_in_the_next_view() -> None:
    """r1 pre-prepares "a" and every backup prepares it, but every commit of view 0 is lost and
    r1 crashes: the backups time out, r2 becomes primary, and O carries "a" at sequence number 1."""
    sim = pbft_cluster(4, seed=7, latency=(1, 3))
    sim.inject("c1", ClientRequest("a"))

    def lose_commits(s: Simulator[Any]) -> bool:
        for e in s.in_flight():
            body = e.message.body
            if isinstance(body, Commit) and body.view == 0:
                s.drop(e.id)
        return False

    def prepared_everywhere(s: Simulator[Any]) -> bool:
        lose_commits(s)
        return all((0, 1) in s.nodes[r].log.commit_sent for r in ("r2", "r3", "r4"))

    sim.run(until=200, stop=prepared_everywhere)
    assert prepared_everywhere(sim) and all(not sim.nodes[r].executed for r in HONEST)
    sim.crash("r1")
    sim.run(until=5000, stop=lose_commits)
    steps = sim.trace().steps
    new_view = next(s for s in steps if s.action == "NewView")
    assert new_view.params == {"i": "r2"}
    (record,) = [m for m in new_view.state["msgs"] if m["type"] == "NewView" and m["src"] == "r2"]
    assert tuple(record) == ("type", "view", "ckpt", "pre", "src")
    assert record["pre"] == frozenset({FrozenDict({"seq": 1, "req": "a"})})
    vc = next(m for m in new_view.state["msgs"] if m["type"] == "ViewChange" and m["src"] == "r3")
    assert tuple(vc) == ("type", "view", "ckpt", "prepared", "src")
    assert vc["prepared"] == frozenset({FrozenDict({"view": 0, "seq": 1, "req": "a"})})
    # O's pre-prepare is in msgs as a message of its own, as the spec's NewView sends it
    assert (
        FrozenDict({"type": "PrePrepare", "view": 1, "seq": 1, "req": "a", "src": "r2"})
        in new_view.state["msgs"]
    )
    assert all(executed_names(sim, r)[:1] == ("a",) for r in ("r2", "r3", "r4"))
    assert sim.nodes["c1"].accepted == [(1, "a")]


class Equivocator:
    """A Byzantine r1: the honest core's pre-prepares go to r3 only; r2 and r4 get a null batch at
    the same view and sequence number. Equivocation, which no quorum can prepare."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def step(self, event: Any) -> list[Effect]:
        out: list[Effect] = []
        for e in self.replica.step(event):
            if isinstance(e, Send) and e.dest in ("r2", "r4"):
                body = e.message.body
                if isinstance(body, PrePrepare) and body.batch:
                    other = attrs.evolve(body, batch=(), digest=batch_digest(()))
                    e = Send(e.dest, self.replica.sign(other))
            out.append(e)
        return out


def test_an_equivocating_primary_is_caught_quarantined_and_replaced() -> None:
    sim = pbft_cluster(4, seed=8, byzantine={"r1": Equivocator})
    sim.inject("c1", ClientRequest("a"))
    sim.run(until=8000)
    assert sim.nodes["c1"].accepted and all(
        executed_names(sim, r)[:1] == ("a",) for r in ("r2", "r3", "r4")
    )
    for r in ("r2", "r4"):  # the status exchange showed them r3's version of the pre-prepare
        node = sim.nodes[r]
        record = next(e for e in node.audit.records if e.kind == "equivocation")
        assert record.accused == "r1" and proves(record, node.config, node.verify)
        assert node.audit.is_quarantined("r1") and node.view >= 1
    state = sim.abstract_state()
    assert all(m["src"] != "r1" for m in state["msgs"])  # Byzantine sends are the spec's ByzMsgs
    assert (state["view"]["r1"], state["executed"]["r1"]) == (0, ())  # and its state is not mapped
    assert first_violation(sim.trace(), ("r2", "r3", "r4")) is None


# -- determinism ------------------------------------------------------------------------------------

CHAOS = Faults(drop=0.05, duplicate=0.05, delay=0.05, crash=0.5, partition=0.5, until=900)


def chaos_run(seed: int) -> str:
    """A short run under every fault (writing a trace's ITF costs more than running it)."""
    sim = pbft_cluster(
        4,
        seed=seed,
        faults=CHAOS,
        workload=Workload(every=50, until=700, make=ops),
        checkpoint_every=2,
        window=4,
    )
    sim.run(until=1500)
    return itf.dumps(sim.trace())


def test_same_seed_same_trace_byte_for_byte() -> None:
    a, b = chaos_run(3), chaos_run(3)
    assert a == b and '"StartViewChange"' in a and '"StableCheckpoint"' in a
    assert chaos_run(4) != a


def test_same_seed_same_bytes_across_processes_and_hash_seeds() -> None:
    """Python randomises str hashes per process: nothing in a run may depend on set order."""
    code = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]); "
        "from tests.test_pbft_impl_sim import chaos_run; "
        "print(hashlib.sha256(chaos_run(3).encode()).hexdigest())"
    )
    digests = {out.strip() for out in printed_under_hash_seeds(code)}
    assert digests == {hashlib.sha256(chaos_run(3).encode()).hexdigest()}


# -- the refinement mapping -------------------------------------------------------------------------


def test_the_mapping_has_the_spec_variables_and_records() -> None:
    sim = pbft_cluster(4, seed=9, checkpoint_every=2, workload=Workload(every=30, make=ops))
    sim.run(until=400)
    trace = sim.trace()
    assert trace.vars == VARIABLES == spec_checks.declared_variables(spec_checks.SPECS / "PBFT.tla")
    state = trace.steps[-1].state
    assert tuple(state) == VARIABLES
    fields = {m["type"]: tuple(m) for m in state["msgs"]}
    assert fields == {
        "PrePrepare": ("type", "view", "seq", "req", "src"),
        "Prepare": ("type", "view", "seq", "req", "src"),
        "Commit": ("type", "view", "seq", "req", "src"),
        "Reply": ("type", "seq", "req", "src"),
        "Checkpoint": ("type", "seq", "digest", "src"),
    }
    ckpt = next(m for m in state["msgs"] if m["type"] == "Checkpoint" and m["seq"] == 2)
    assert ckpt["digest"] == ("op1", "op2")  # the history it certifies
    assert trace.steps[0].state == {
        "requested": frozenset(),
        "msgs": frozenset(),
        "view": FrozenDict(dict.fromkeys(HONEST, 0)),
        "status": FrozenDict(dict.fromkeys(HONEST, "normal")),
        "executed": FrozenDict(dict.fromkeys(HONEST, ())),
        "stable": FrozenDict(dict.fromkeys(HONEST, 0)),
        "accepted": frozenset(),
    }


def test_a_message_of_the_wrong_shape_inside_maps_to_its_type() -> None:
    """The fuzzer (impl/pbft/byzantine/fuzz.py) puts a signed request where a view-change
    message's certificate holds a pre-prepare, or where a new-view message's pre-prepares go: the
    recorder maps it to a record of its type (the replicas reject it) instead of raising, which
    turned a liveness failure (seed 311926782) into an AttributeError of the recorded rerun."""
    keys = KeyRing(0, (*HONEST, "c1"))

    def signed(holder: str, body: Any) -> Signed[Any]:
        return Signed(body, holder, keys.signer(holder).sign(signing_bytes(body)))

    request = signed("c1", Request("c1", 1, "op1"))
    claim = PreparedProof(request, ())  # type: ignore[arg-type]  # what a Byzantine one sends
    vc = signed("r3", ViewChange(1, 0, GENESIS, (), (claim,), "r3"))
    nv = signed("r2", NewView(1, (vc,), (request,), "r2"))  # type: ignore[arg-type]
    assert message_record(vc) == FrozenDict({"type": "ViewChange"})
    assert message_record(nv) == FrozenDict({"type": "NewView"})


def test_a_crash_is_a_stutter() -> None:
    sim = pbft_cluster(4, seed=10, workload=Workload(every=30, until=300, make=ops))
    sim.run(until=400)
    before = sim.abstract_state()
    for node in (*HONEST, "c1"):
        sim.restart(node)
    assert sim.abstract_state() == before  # what was vouched for was persisted
    sim.run(until=1500)
    assert requested_all_accepted(sim) and first_violation(sim.trace()) is None


# -- trace validation against specs/PBFT.tla ---------------------------------------------------------


@pytest.fixture(scope="module")
def pbft_spec() -> Any:
    return validation_stepper()


@pytest.fixture(scope="module")
def pbft_spec_r1_byzantine() -> Any:
    return validation_stepper(frozenset({"r1"}))


def validation_run(
    bugs: frozenset[str], seed: int, byzantine: dict[str, Any] | None = None
) -> Trace:
    sim = pbft_cluster(
        4,
        seed=seed,
        faults=Faults(drop=0.05, duplicate=0.05, delay=0.05, crash=0.3, partition=0.3, until=1500),
        workload=Workload(every=40, until=800, make=ops),  # op1 .. op20
        checkpoint_every=5,
        window=10,
        bugs=bugs,
        byzantine=byzantine,
    )
    sim.run(until=4000)
    return sim.trace()


@pytest.mark.parametrize(
    ("bugs", "seed"),
    [
        (frozenset(), 5),
        (frozenset({mutants.COMMIT_WITHOUT_COMMIT_PHASE}), 5),
        (frozenset({mutants.NEW_VIEW_IGNORES_PREPARED}), 5),
        (frozenset({mutants.PREPARE_QUORUM_2F}), 5),
        (frozenset({mutants.CHECKPOINT_STABLE_ON_F_PLUS_1}), 1),
    ],
    ids=[
        "pbft",
        "commit_without_commit_phase",
        "new_view_ignores_prepared",
        "prepare_quorum_2f",
        "checkpoint_stable_on_f_plus_1",
    ],
)
def test_every_step_of_a_faulty_run_is_a_step_of_the_spec(
    bugs: frozenset[str], seed: int, pbft_spec: Any
) -> None:
    trace = validation_run(bugs, seed)
    problem = first_step_not_in_spec(trace, pbft_spec)
    if not bugs:
        actions = {s.action for s in trace.steps}
        assert {"StartViewChange", "NewView", "AcceptNewView", "StableCheckpoint"} <= actions
        assert problem is None, problem
    else:
        assert problem is not None and "not a step of the spec" in problem


class Forger:
    """A Byzantine primary r1 that, with each pre-prepare it sends r4, sends r4 commits in r2's
    and r3's names too (it cannot sign them: the signature is zeros)."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def step(self, event: Any) -> list[Effect]:
        out: list[Effect] = []
        for e in self.replica.step(event):
            out.append(e)
            if isinstance(e, Send) and e.dest == "r4" and isinstance(e.message.body, PrePrepare):
                pp = e.message.body
                for name in ("r2", "r3"):
                    fake = Commit(pp.view, pp.seq, pp.digest, name)
                    out.append(Send("r4", Signed(fake, name, bytes(64))))
        return out


@pytest.mark.parametrize(
    ("wrapper", "bugs"),
    [
        (Equivocator, frozenset()),
        (Forger, frozenset()),
        (Forger, frozenset({mutants.SIGNATURES_NOT_CHECKED})),
    ],
    ids=["equivocator", "forger", "forger-signatures_not_checked"],
)
def test_runs_with_a_byzantine_primary_are_steps_of_the_spec(
    wrapper: Any, bugs: frozenset[str], pbft_spec_r1_byzantine: Any
) -> None:
    """With r1 Byzantine (the spec's ByzMsgs), the honest replicas' steps are still the spec's;
    a replica that does not check signatures counts forged commits, and executes on a quorum of
    commits that the replicas named never sent."""
    trace = validation_run(bugs, 1, {"r1": wrapper})
    problem = first_step_not_in_spec(trace, pbft_spec_r1_byzantine)
    if not bugs:
        assert problem is None, problem
        assert first_violation(trace, ("r2", "r3", "r4")) is None
    else:
        assert problem is not None and "Execute(i=r4)" in problem

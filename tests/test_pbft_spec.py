"""specs/PBFT.tla: its models hold with the recorded state counts, every action fires, and every
invariant and liveness property has teeth.

The state counts and trace lengths below are recorded in specs/PBFT.md (and the models' own counts in
their `.cfg` directives); a change to the spec that changes them shows here first. Each mutant is a
small textual change of the spec (a known PBFT bug; the six the implementation also carries have the
same names as impl/pbft's switches), checked on the smallest model that exhibits it with the one
property it must break, on one worker so that the counts are reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.specs.mutants.pbft import GAPS
from meshcheck.specs.mutants.pbft import MUTANTS
from meshcheck.specs.mutants.pbft import TWO
from meshcheck.specs.mutants.pbft import Mutant
from meshcheck.specs.mutants.pbft import mutate
from meshcheck.specs.tlc.check import CheckResult
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks
from tests import spec_walk

SPECS = spec_checks.SPECS
PBFT = SPECS / "PBFT.tla"
QUICK_CFG = SPECS / "PBFT_quick.cfg"

# The shared vocabulary (specs/PBFT.md, "Vocabulary"). The variables, in declaration order, are
# exactly those the implementation's refinement mapping produces (impl.pbft.refinement.VARIABLES).
VARIABLES = ("requested", "msgs", "view", "status", "executed", "stable", "accepted")
# Every action of Next with its parameters, in this order (what the Stepper reports and the
# implementation's trace events carry). Anything else an action chooses is chosen inside it.
ACTIONS = {
    "Request": ("r",),
    "PrePrepare": ("i", "r"),
    "Prepare": ("i", "v", "n"),
    "Commit": ("i", "v", "n"),
    "Execute": ("i",),
    "StableCheckpoint": ("i", "n"),
    "StartViewChange": ("i",),
    "NewView": ("i",),
    "AcceptNewView": ("i", "v"),
    "Accept": ("n", "r"),
}
SAFETY = ("TypeOK", "Agreement", "Validity", "ReplyCorrect")

# (distinct states, depth) as recorded in specs/PBFT.md.
QUICK = (41017, 25)
DEFAULT = (236421, 26)
LIVENESS = (365, 35)
DEEP = (2343972, 36)


def rec(**fields: Value) -> FrozenDict:
    """A TLA+ record as the Stepper gives it."""
    return FrozenDict(fields)


# ------------------------------------------------------------------------------------ the spec itself

st = spec_checks.shared_stepper(PBFT, QUICK_CFG)


def test_next_has_one_labelled_action_per_vocabulary_step(st: Stepper) -> None:
    spec_checks.assert_vocabulary(st, VARIABLES, ACTIONS)
    # only honest replicas act: r1 is Byzantine in the quick model
    replicas = {a.params["i"] for a in st.actions if "i" in a.params}
    assert replicas == {"r2", "r3", "r4"}
    # Prepare(i, v, n): 3 honest replicas x views 0..1 x sequence number 1
    assert sum(a.name == "Prepare" for a in st.actions) == 6


def test_initial_state_is_the_idle_cluster(st: Stepper) -> None:
    (init,) = st.init_states()
    v = init.values
    assert v["requested"] == frozenset() and v["msgs"] == frozenset()
    assert v["view"] == {f"r{k}": 0 for k in range(1, 5)}
    assert set(v["status"].values()) == {"normal"}
    assert set(v["executed"].values()) == {()}
    assert set(v["stable"].values()) == {0}
    assert v["accepted"] == frozenset()
    assert st.violated(init) == []


class Walk(spec_walk.Walk):
    def msgs(self, kind: str) -> set[FrozenDict]:
        return {m for m in self.state["msgs"] if m["type"] == kind}


def test_every_action_fires_in_the_quick_model(st: Stepper) -> None:
    """A view change away from the silent Byzantine primary r1, the request ordered in view 1 by
    r2, executed and answered, a checkpoint made stable, and r4 brought up to date by state
    transfer: every action of Next fires, each step checked against every invariant."""
    w = Walk(st)
    w("Request", r="a")
    for i in ("r2", "r3", "r4"):
        w("StartViewChange", i=i)
    assert {m["src"]: m["ckpt"] for m in w.msgs("ViewChange")} == {
        "r2": 0,
        "r3": 0,
        "r4": 0,
    }
    s = w("NewView", i="r2")
    (nv,) = w.msgs("NewView")
    assert (nv["view"], nv["ckpt"], nv["pre"], nv["src"]) == (1, 0, frozenset(), "r2")
    assert s["status"]["r2"] == "normal"
    w("AcceptNewView", i="r3", v=1)
    w("AcceptNewView", i="r4", v=1)
    w("PrePrepare", i="r2", r="a")
    w("Prepare", i="r3", v=1, n=1)
    w("Prepare", i="r4", v=1, n=1)
    w("Commit", i="r2", v=1, n=1)
    w("Commit", i="r3", v=1, n=1)
    s = w("Execute", i="r2")  # Commits of r2, r3 and (Byzantine, any) r1: 2F+1
    assert s["executed"]["r2"] == ("a",)
    w("Execute", i="r3")
    assert {(m["seq"], m["req"], m["src"]) for m in w.msgs("Reply")} == {
        (1, "a", "r2"),
        (1, "a", "r3"),
    }
    assert {(m["seq"], m["digest"]) for m in w.msgs("Checkpoint")} == {(1, ("a",))}
    s = w("Accept", n=1, r="a")
    assert s["accepted"] == {rec(seq=1, req="a")}
    w("StableCheckpoint", i="r2", n=1)
    s = w("StableCheckpoint", i="r4", n=1)  # r4 never executed: state transfer
    assert s["executed"]["r4"] == ("a",) and s["stable"]["r4"] == 1
    assert set(w.taken) == set(ACTIONS)


def test_new_primary_re_proposes_what_a_replica_prepared(st: Stepper) -> None:
    """r2 prepared "a" at 1 in view 0 (the Byzantine primary's PrePrepare and Prepares of r2 and
    r3); whatever 2F+1 view changes the new primary r2 uses (its own among them), O puts "a" at 1
    (section 4.4), and a backup accepting the NEW-VIEW prepares it."""
    w = Walk(st)
    w("Request", r="a")
    w("Prepare", i="r2", v=0, n=1)
    w("Prepare", i="r3", v=0, n=1)
    w("Commit", i="r2", v=0, n=1)
    for i in ("r2", "r3", "r4"):
        w("StartViewChange", i=i)
    (vc,) = [m for m in w.msgs("ViewChange") if m["src"] == "r2"]
    assert vc["prepared"] == {rec(view=0, seq=1, req="a")}
    news = [t.state for t in st.successors(w.state) if t.action.name == "NewView"]
    assert news
    for s in news:
        (nv,) = [m for m in s["msgs"] if m["type"] == "NewView"]
        assert nv["pre"] == {rec(seq=1, req="a")}
    w.state = news[0]
    w("AcceptNewView", i="r4", v=1)
    assert rec(type="Prepare", view=1, seq=1, req="a", src="r4") in w.state["msgs"]


def test_a_replica_that_waits_for_nothing_follows_f_plus_1_others(st: Stepper) -> None:
    """Section 4.5.2: a replica that holds F+1 VIEW-CHANGEs of others for later views joins the
    view change even if its timer has not expired. r3 and r4 executed "a" and wait for nothing;
    r2, which did not, times out. r2's VIEW-CHANGE and one the Byzantine r1 may send at any time
    make F+1 = 2, so r3 follows; before r2's, r1's alone is not enough (trace validation found an
    implementation run that takes this step: property_tests/pbft/test_free_runs.py)."""
    w = Walk(st)
    w("Request", r="a")
    for i in ("r2", "r3", "r4"):
        w("Prepare", i=i, v=0, n=1)
    for i in ("r2", "r3", "r4"):
        w("Commit", i=i, v=0, n=1)
    w("Execute", i="r3")
    w("Execute", i="r4")
    assert not w.enabled("StartViewChange", i="r3")
    w("StartViewChange", i="r2")  # r2 still waits for "a"
    s = w("StartViewChange", i="r3")
    assert (s["view"]["r3"], s["status"]["r3"]) == (1, "changing")


# make verify checks PBFT's models' recorded counts, PBFT_transitions in a row of its own: the
# action properties ViewMonotonic and StableCheckpointMonotonic on the quick model's constants,
# without a VIEW (specs/PBFT_transitions.cfg), so the quick model's states
test_model_holds_with_its_recorded_state_count = spec_checks.models_hold(
    PBFT,
    slow={
        "PBFT_quick.cfg": QUICK,
        "PBFT_transitions.cfg": QUICK,
        "PBFT.cfg": DEFAULT,
        "PBFT_liveness.cfg": LIVENESS,
    },
    deep={"PBFT_deep.cfg": DEEP},
)


# ------------------------------------------------------------------------------------ mutants

# The mutants (known PBFT bugs as textual changes of the spec) live in specs/mutants/pbft.py:
# `meshcheck mutants pbft --all` runs them too, as the kill matrix's TLC column.


# 12 to 40 s each; every invariant and property keeps a fast mutant of its own
SLOW_MUTANTS = {
    "prepare_quorum_2f",
    "commit_without_commit_phase",
    "preprepare_from_non_primary",
    "backups_ignore_new_view_checkpoint",
}


@pytest.mark.parametrize(
    "mutant", spec_checks.mutant_params(MUTANTS, lambda m: m.name in SLOW_MUTANTS)
)
def test_mutant_is_caught_by_its_property(tmp_path: Path, mutant: Mutant) -> None:
    cfg = mutate(tmp_path, mutant)
    r = spec_checks.run(tmp_path / "PBFT.tla", cfg, workers=1)
    spec_checks.assert_caught(r, mutant.name, Violation(mutant.kind, mutant.catches), mutant.found)


@pytest.mark.slow
def test_checkpoint_stable_on_f_plus_1_is_equivalent_in_the_spec(tmp_path: Path) -> None:
    """A checkpoint stable on F+1 proofs breaks nothing the spec can see (PBFT.md says why): F+1
    proofs include an honest replica's, whose digest is the history every honest replica executes
    while Agreement holds. The mutant holds on the default model's constants."""
    mutant = Mutant(
        "checkpoint_stable_on_f_plus_1",
        (
            (
                "CheckpointProof(n, d) == Cardinality({j \\in Replicas : Sent(CheckpointMsg(n, d, j))}) >= Quorum",
                "CheckpointProof(n, d) == Cardinality({j \\in Replicas : Sent(CheckpointMsg(n, d, j))}) >= F + 1",
            ),
        ),
        TWO,
        " ".join(SAFETY[1:]),
        None,
    )
    r = spec_checks.run(tmp_path / "PBFT.tla", mutate(tmp_path, mutant))
    assert r.outcome is Outcome.HOLDS, r.message
    # the mutant is live: more states than the spec's own default model (checkpoints become
    # stable sooner), none of them bad
    assert r.distinct == 486589 > DEFAULT[0]


def test_f_plus_1_byzantine_replicas_break_agreement(tmp_path: Path) -> None:
    """With F+1 = 2 Byzantine replicas out of 4, a quorum of 2F+1 = 3 holds one honest replica,
    which is not enough: two honest replicas execute different requests at sequence number 1."""
    unchanged = Mutant(
        "two Byzantine replicas", (), {**TWO, "Byzantine": '{"r1", "r2"}'}, "Agreement", None
    )
    r = spec_checks.run(tmp_path / "PBFT.tla", mutate(tmp_path, unchanged), workers=1)
    assert r.outcome is Outcome.VIOLATED, r.message
    assert r.violation == Violation("invariant", "Agreement")
    assert r.trace is not None
    last = r.trace.steps[-1].state["executed"]
    assert {last["r3"], last["r4"]} == {("a",), ("b",)}


def unmutated(folder: Path, model: Mapping[str, str]) -> CheckResult:
    probe = Mutant("unmutated", (), dict(model), " ".join(SAFETY[1:]), None)
    return spec_checks.run(folder / "PBFT.tla", mutate(folder, probe))


@pytest.mark.slow
def test_unmutated_spec_holds_on_every_mutant_model(tmp_path: Path) -> None:
    """The mutants' models are not broken themselves: the spec as written holds on each of them.
    The quick model's constants are checked by the quick model itself, TWO's by the default model,
    and GAPS (2.5 million states) by the deep test below."""
    models = {tuple(sorted(m.model.items())) for m in MUTANTS if not m.liveness}
    models -= {(), tuple(sorted(TWO.items())), tuple(sorted(GAPS.items()))}
    assert models  # Byzantine r2 with two requests
    for folder, model in spec_checks.model_folders(tmp_path, models):
        r = unmutated(folder, model)
        assert r.outcome is Outcome.HOLDS, f"{model}: {r.message}"


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MESHCHECK_DEEP"), reason="minutes; set MESHCHECK_DEEP=1")
def test_unmutated_spec_holds_with_gaps(tmp_path: Path) -> None:
    r = unmutated(tmp_path, GAPS)
    assert r.outcome is Outcome.HOLDS, r.message
    assert r.distinct == 2470113


# ------------------------------------------------------------------------------------ two specs


def test_raft_and_pbft_steppers_in_one_process() -> None:
    """Each Stepper loads TLC in its own class loader (TLC keeps the spec's variables in static
    fields), so a Raft Stepper and a PBFT Stepper, open one after the other or at once, each
    give their own spec's states."""
    raft_cfg = SPECS / "Raft_quick.cfg"

    def raft_first_step(st: Stepper) -> tuple[str, ...]:
        (init,) = st.init_states()
        assert set(init["role"].values()) == {"Follower"}
        return tuple(sorted({t.action.name for t in st.successors(init)}))

    def pbft_first_step(st: Stepper) -> tuple[str, ...]:
        (init,) = st.init_states()
        assert set(init["status"].values()) == {"normal"}
        return tuple(sorted({t.action.name for t in st.successors(init)}))

    with Stepper(SPECS / "Raft.tla", raft_cfg) as raft:
        raft_alone = raft_first_step(raft)
    with Stepper(PBFT, QUICK_CFG) as pbft:
        pbft_alone = pbft_first_step(pbft)
        assert pbft.vars == VARIABLES
    assert "Timeout" in raft_alone
    assert pbft_alone == ("Request",)
    with Stepper(SPECS / "Raft.tla", raft_cfg) as raft, Stepper(PBFT, QUICK_CFG) as pbft:
        assert pbft_first_step(pbft) == pbft_alone
        assert raft_first_step(raft) == raft_alone
        assert pbft.vars == VARIABLES and "currentTerm" in raft.vars
        # values convert through each Stepper's own runtime
        (init,) = pbft.init_states()
        succ = {t.action.label(): t.state for t in pbft.successors(init)}
        assert succ["Request(r=a)"]["requested"] == frozenset({"a"})

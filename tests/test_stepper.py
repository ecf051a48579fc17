"""The Stepper (specs/tlc/stepper.py) against TLC's own model checker and against the spec's meaning.

Reference counts come from running TLC (`java -cp tla2tools.jar tlc2.TLC`) in a subprocess inside the
same test, never from numbers copied here alone.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import SpecError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.specs.tlc.runtime import TLCRuntime
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import StepperError
from meshcheck.specs.tlc.stepper import Transition
from tests.tlc_alone import run_tlc_alone

SPECS = Path(__file__).resolve().parent / "specs"
BAG = SPECS / "stepper_bag.tla"
BAG_CONSTRAINED = SPECS / "stepper_bag_constrained.cfg"
COUNTER = SPECS / "stepper_counter.tla"


def tlc_distinct_states(spec: Path, cfg: Path, tmp: Path) -> int:
    """The number of distinct states TLC's model checker (1 worker) finds for spec under cfg.

    -deadlock: the Stepper does not look for deadlocks; -continue: count past invariant violations.
    TLC reads the spec and cfg by relative name, so it runs on a copy in tmp.
    """
    work = tmp / f"tlc-{cfg.stem}"
    work.mkdir()
    shutil.copy(spec, work / spec.name)
    shutil.copy(cfg, work / cfg.name)
    tmpdir = f"-Djava.io.tmpdir={work}"
    options = ("-deadlock", "-continue", "-config", cfg.name)
    out = run_tlc_alone(work, *options, spec.name, timeout=120, java_options=(tmpdir,))
    m = re.search(r"([\d,]+) distinct states found", out.stdout)
    assert m is not None, out.stdout + out.stderr
    return int(m.group(1).replace(",", ""))


def bfs(stepper: Stepper, *, constrained: bool = True) -> set[State]:
    seen = set(stepper.init_states(constrained=constrained))
    frontier = list(seen)
    while frontier:
        nxt = []
        for state in frontier:
            for t in stepper.successors(state, constrained=constrained):
                if t.state not in seen:
                    seen.add(t.state)
                    nxt.append(t.state)
        frontier = nxt
    return seen


@pytest.fixture(scope="module")
def bag() -> Iterator[Stepper]:
    with Stepper(BAG) as stepper:
        yield stepper


@pytest.fixture(scope="module")
def bag_states(bag: Stepper) -> set[State]:
    return bfs(bag)


# ------------------------------------------------------------------ the state graph is TLC's


def test_bfs_finds_tlcs_distinct_state_count(
    bag: Stepper, bag_states: set[State], tmp_path: Path
) -> None:
    assert len(bag_states) == tlc_distinct_states(BAG, BAG.with_suffix(".cfg"), tmp_path)


def test_constraint_is_respected_as_tlc_does(tmp_path: Path) -> None:
    with Stepper(BAG, BAG_CONSTRAINED) as stepper:
        reachable = bfs(stepper)
        assert len(reachable) == tlc_distinct_states(BAG, BAG_CONSTRAINED, tmp_path)
        assert all(stepper.in_model(s) for s in reachable)
        assert all(len(s["msgs"]) <= 1 for s in reachable)  # FewInFlight == Cardinality(msgs) <= 1
        # Without the constraint the same spec reaches more: the test above would notice it ignored.
        unconstrained = bfs(stepper, constrained=False)
        assert len(unconstrained) > len(reachable)
        outside = [s for s in unconstrained if not stepper.in_model(s)]
        assert outside and all(len(s["msgs"]) == 2 for s in outside)


def test_every_successor_is_a_step_of_its_action(bag: Stepper, bag_states: set[State]) -> None:
    """successors() agrees with successors_of() per instance, and with the spec's text."""
    for state in sorted(bag_states, key=lambda s: s.fingerprint)[:20]:
        by_instance: dict[ActionInstance, set[State]] = {}
        for t in bag.successors(state):
            by_instance.setdefault(t.action, set()).add(t.state)
        for inst in bag.actions:
            assert set(bag.successors_of(state, inst)) == by_instance.get(inst, set()), inst.label()


def test_send_successors_carry_their_parameters(bag: Stepper) -> None:
    (init,) = bag.init_states()
    sends = [t for t in bag.successors(init) if t.action.name == "Send"]
    assert len(sends) == 4
    for t in sends:
        i, j = t.action.params["i"], t.action.params["j"]
        assert t.state["msgs"] == frozenset({FrozenDict({"msrc": i, "mdst": j, "mnum": 0})})
        assert t.state["sent"] == 1


# ------------------------------------------------------------------ actions: names and parameters


def test_action_instances_name_the_operator_and_its_formals(bag: Stepper) -> None:
    servers = ("s1", "s2")
    sends = {ActionInstance("Send", {"i": i, "j": j}) for i in servers for j in servers}
    receives = {ActionInstance("Receive", {"i": i}) for i in servers}
    inline = ActionInstance("Next", {"k": 0})
    assert set(bag.actions) == sends | receives | {inline}
    assert bag.action_names == ("Send", "Receive", "Next")  # Next's order
    assert [a.name for a in bag.actions] == ["Send"] * 4 + ["Receive"] * 2 + ["Next"]
    # The formals of Send(i, j), in its declaration order, not the \E variables a, b of Next.
    assert all(list(a.params) == ["i", "j"] for a in bag.actions if a.name == "Send")
    assert ActionInstance("Send", {"i": "s1", "j": "s2"}).label() == "Send(i=s1, j=s2)"
    assert inline.label() == "Next(k=0)"
    assert ActionInstance("Tick").label() == "Tick"


def test_vars_and_invariants_come_from_the_spec_and_cfg(bag: Stepper) -> None:
    assert bag.vars == ("sent", "msgs", "inbox")  # declaration order
    assert bag.invariants == ("SentBound", "NothingDelivered")
    assert bag.model_values == frozenset({"s1", "s2"})


def test_violated_names_the_broken_invariants(bag: Stepper, bag_states: set[State]) -> None:
    (init,) = bag.init_states()
    assert bag.violated(init) == []
    delivered = [s for s in bag_states if any(s["inbox"][srv] for srv in ("s1", "s2"))]
    assert delivered
    assert all(bag.violated(s) == ["NothingDelivered"] for s in delivered)
    undelivered = [s for s in bag_states if s not in delivered]
    assert all(bag.violated(s) == [] for s in undelivered)


# ------------------------------------------------------------------ find_step and state()


def test_find_step_names_a_step_that_leads_there(bag: Stepper, bag_states: set[State]) -> None:
    checked = 0
    for before in sorted(bag_states, key=lambda s: s.fingerprint)[:15]:
        for t in bag.successors(before):
            found = bag.find_step(before, t.state)
            assert isinstance(found, Transition)
            assert found.state == t.state
            assert t.state in bag.successors_of(before, found.action)
            checked += 1
    assert checked > 20


def test_find_step_is_none_when_no_action_leads_there(bag: Stepper) -> None:
    (init,) = bag.init_states()
    first = bag.successors(init)[0].state
    two_sends_later = next(
        t.state for t in bag.successors(first) if t.action.name == "Send" and t.state["sent"] == 2
    )
    assert bag.find_step(init, two_sends_later) is None
    assert bag.find_step(init, init) is None  # Next has no stuttering step from Init


def test_state_from_python_is_the_same_tlc_state(bag: Stepper, bag_states: set[State]) -> None:
    for state in bag_states:
        built = bag.state(state.values)
        assert built == state
        assert built.tla() == state.tla()


def test_fingerprints_do_not_depend_on_normalization(bag: Stepper, bag_states: set[State]) -> None:
    """TLC's checker normalizes before it fingerprints; the successors we fingerprint are raw."""
    for state in bag_states:
        raw = state.fingerprint
        state.java.deepNormalize()
        assert int(state.java.fingerPrint()) == raw


def test_values_are_lazy_and_cached(bag: Stepper) -> None:
    (init,) = bag.init_states()
    fresh = State(init.java, init.fingerprint, init._vars)
    assert fresh._cache == {}
    assert fresh["sent"] == 0
    assert set(fresh._cache) == {"sent"}
    assert fresh.values == FrozenDict(
        {"sent": 0, "msgs": frozenset(), "inbox": FrozenDict({"s1": (), "s2": ()})}
    )
    assert list(fresh.values) == list(bag.vars)
    with pytest.raises(KeyError, match="no variable 'nope'"):
        fresh["nope"]


def test_random_walk_over_the_raft_like_spec_replays_exactly() -> None:
    """The benchmark's spec: messages are records holding logs (sequences of records)."""
    rng = random.Random(3)
    with Stepper(SPECS / "stepper_raft.tla") as raft:
        (state,) = raft.init_states()
        labels = set()
        for _ in range(40):
            steps = raft.successors(state)
            assert steps
            step = rng.choice(steps)
            found = raft.find_step(state, step.state)
            assert found is not None and found.state == step.state
            assert raft.state(step.state.values) == step.state
            assert raft.violated(step.state) == []
            labels.add(step.action.name)
            state = step.state
        assert len(labels) >= 4


# ------------------------------------------------------------------ two specs in one process


def test_two_specs_with_different_variables_side_by_side(tmp_path: Path) -> None:
    with Stepper(BAG) as bag, Stepper(COUNTER) as counter:
        assert counter.vars == ("count", "flag")
        # Interleave every call: a breadth-first search of both, one state of each at a time.
        seen_b, seen_c = set(bag.init_states()), set(counter.init_states())
        todo_b, todo_c = list(seen_b), list(seen_c)
        while todo_b or todo_c:
            if todo_b:
                s = todo_b.pop()
                assert set(s.values) == {"sent", "msgs", "inbox"}
                assert bag.state(s.values) == s
                for t in bag.successors(s):
                    if t.state not in seen_b:
                        seen_b.add(t.state)
                        todo_b.append(t.state)
            if todo_c:
                s = todo_c.pop()
                assert set(s.values) == {"count", "flag"}
                assert counter.state(s.values) == s
                for t in counter.successors(s):
                    if t.state not in seen_c:
                        seen_c.add(t.state)
                        todo_c.append(t.state)
        assert len(seen_b) == tlc_distinct_states(BAG, BAG.with_suffix(".cfg"), tmp_path)
        assert len(seen_c) == tlc_distinct_states(COUNTER, COUNTER.with_suffix(".cfg"), tmp_path)
        assert {s["count"] for s in seen_c} == set(range(6))


def test_a_runtime_hosts_one_open_stepper() -> None:
    rt = TLCRuntime()
    try:
        with (
            Stepper(COUNTER, runtime=rt),
            pytest.raises(StepperError, match="already hosts a Stepper"),
        ):
            Stepper(BAG, runtime=rt)
        with Stepper(COUNTER, runtime=rt) as again:  # free again once closed
            assert again.vars == ("count", "flag")
    finally:
        rt.close()


def test_spec_is_read_from_its_folder_not_the_working_directory(tmp_path: Path) -> None:
    """SANY looks in the JVM's working directory first: a module of the same name there must not win.

    The JVM's working directory is fixed when it starts, hence a fresh process started in a folder
    holding a decoy stepper_counter.tla with other variables.
    """
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "stepper_counter.tla").write_text(
        "---- MODULE stepper_counter ----\nVARIABLE decoy\nInit == decoy = 0\nNext == decoy' = 0\n====\n"
    )
    (decoy / "stepper_counter.cfg").write_text("INIT Init\nNEXT Next\n")
    script = (
        "import sys\n"
        "from specs.tlc.stepper import Stepper\n"
        f"print(Stepper({str(COUNTER)!r}).vars, flush=True)\n"
    )
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=decoy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == "('count', 'flag')", out.stdout + out.stderr


def test_a_constant_function_of_more_than_ten_elements_applies(tmp_path: Path) -> None:
    """TLC evaluates constant definitions as it loads the spec, and hashes a function of more than
    ten elements into an index table by its arguments' fingerprints: fingerprints taken before
    FP64 was initialized (all 0) left every application of PBFT.tla's PrimaryOf at MaxView >= 10
    "not in the domain of the function", and a PBFT run that reached view 10 could not be
    validated. Eleven elements, as PrimaryOf's at MaxView = 10, applied at load time."""
    spec = _module(
        tmp_path,
        # G, constant-level, applies F while TLC loads the spec (as PBFT.tla's Interchangeable
        # applies PrimaryOf): the first application builds F's index table
        "VARIABLE x\nF == [v \\in 0..10 |-> v % 4]\nG == {F[v] : v \\in 0..10}\n"
        "Init == x = 0\nNext == x < 10 /\\ x' = x + 1 + F[x] - F[x]\n",
    )
    with Stepper(spec) as stepper:
        (state,) = stepper.init_states()
        seen = [state.values["x"]]
        while steps := list(stepper.successors(state)):
            state = steps[0].state
            seen.append(state.values["x"])
    assert seen == list(range(11))


# ------------------------------------------------------------------ errors the user can act on


def _module(tmp_path: Path, body: str, cfg: str = "INIT Init\nNEXT Next\n") -> Path:
    spec = tmp_path / "M.tla"
    spec.write_text(f"---- MODULE M ----\nEXTENDS Naturals\n{body}\n====\n")
    (tmp_path / "M.cfg").write_text(cfg)
    return spec


def test_parse_error_is_located(tmp_path: Path) -> None:
    spec = _module(tmp_path, "VARIABLE x\nInit == x = 0\nNext == x' = x +\n")
    with pytest.raises(SpecError) as info:
        Stepper(spec)
    assert info.value.file == str(spec)
    assert (info.value.line, info.value.column) == (7, 1)  # "====" where an operand was due
    assert "parse error" in str(info.value)


def test_semantic_error_is_located(tmp_path: Path) -> None:
    spec = _module(tmp_path, "VARIABLE x\nInit == x = y\nNext == x' = x + 1\n")
    with pytest.raises(SpecError, match="Unknown operator: `y'") as info:
        Stepper(spec)
    assert (info.value.file, info.value.line, info.value.column) == (str(spec), 4, 13)


def test_config_may_live_elsewhere(tmp_path: Path) -> None:
    cfg = tmp_path / "elsewhere" / "other.cfg"
    cfg.parent.mkdir()
    cfg.write_text(BAG_CONSTRAINED.read_text())
    with Stepper(BAG, cfg) as stepper:
        assert stepper.config == cfg.resolve()
        assert stepper.invariants == ("SentBound",)  # the constrained cfg's, not stepper_bag.cfg's


def test_missing_cfg_is_a_config_error(tmp_path: Path) -> None:
    spec = _module(tmp_path, "VARIABLE x\nInit == x = 0\nNext == x' = x\n")
    (tmp_path / "M.cfg").unlink()
    with pytest.raises(ConfigError, match="no such model configuration"):
        Stepper(spec)


def test_unassigned_constant_is_a_config_error(tmp_path: Path) -> None:
    spec = _module(tmp_path, "CONSTANT N\nVARIABLE x\nInit == x = N\nNext == x' = x\n")
    with pytest.raises(ConfigError, match=r"constant N of M\.tla is not assigned"):
        Stepper(spec)


def test_missing_spec_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec"):
        Stepper(tmp_path / "Nope.tla")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "VARIABLES x, y\nInit == x = 0 /\\ y = 0\nNext == x' = x + 1\n",
            "action Next leaves y unassigned",
        ),
        (
            "VARIABLE x\nInit == x = <<1>>\nNext == x' = <<x[2]>>\n",
            "TLC failed computing successors",
        ),
    ],
    ids=["an action leaving a variable unassigned", "an evaluation error"],
)
def test_a_successor_tlc_cannot_compute_is_a_spec_error(
    text: str, says: str, tmp_path: Path
) -> None:
    spec = _module(tmp_path, text)
    with Stepper(spec) as stepper:
        (init,) = stepper.init_states()
        with pytest.raises(SpecError, match=says):
            stepper.successors(init)


def test_misuse_is_a_stepper_error(bag: Stepper, tmp_path: Path) -> None:
    (init,) = bag.init_states()
    with pytest.raises(StepperError, match="missing inbox; unknown extra"):
        bag.state({"sent": 0, "msgs": frozenset(), "extra": 1})
    with pytest.raises(StepperError, match=r"no action instance Send\(i=s9, j=s1\)"):
        bag.successors_of(init, ActionInstance("Send", {"i": "s9", "j": "s1"}))
    closed = Stepper(COUNTER)
    closed.close()
    with pytest.raises(StepperError, match="is closed"):
        closed.init_states()

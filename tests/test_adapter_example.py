"""A second implementation through the adapter contract (tests/adapter_example.py: impl/raft driven
only as a `Driver`), registered at run time and checked through the generic adapter path: free runs
under faults with the spec's invariants and the client-history checks, their NDJSON logs validated
against Raft.tla with partial state; a catalogue mutant makes the same path fail. Then bad input
from an adapter (impl/adapters/contract.py's `AdapterError`): a variable, an action or a node the
spec does not have, a message the adapter cannot map, each one line at the first such step, and
`meshcheck mutants` on such an adapter says it as `meshcheck: ...`, exit 2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from meshcheck import registry
from meshcheck.cli import main
from meshcheck.impl.adapters.contract import AdapterError
from meshcheck.impl.adapters.contract import Collected
from meshcheck.impl.adapters.contract import SpecStep
from meshcheck.impl.adapters.contract import frozen
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import message_record as raft_message_record
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.plugin import Adapter
from meshcheck.property_tests.plugin import check_run as plugin_check_run
from tests import adapter_example
from tests.adapter_example import EXAMPLE
from tests.adapter_example import CoreDriver
from tests.adapter_example import check_run
from tests.adapter_example import logged_run
from tests.schedules import faulty

MUTANT = "vote_without_log_check"


# -- the second implementation -------------------------------------------------------------------


@pytest.mark.parametrize(("nodes", "seeds"), [(3, range(12)), (5, range(4))])
def test_free_runs_of_the_adapted_core_hold(nodes: int, seeds: range) -> None:
    faults = {"Restart", "DropMessage", "DuplicateMessage"}
    seen: set[str] = set()
    for seed in seeds:
        sim = check_run(faulty(seed), nodes)
        seen |= {s.action for s in sim.trace().steps}
        assert sim.history is not None and sim.history.history()  # the history check had work
    assert faults <= seen
    assert {"Timeout", "HandleAppendEntriesRequest", "ClientRequest"} <= seen


def test_the_catalogue_mutant_fails_the_free_runs() -> None:
    # seed 26 holds on the correct core and breaks LeaderCompleteness with the vote mutant
    knobs = {"timeout": (150, 160)}
    check_run(faulty(26, **knobs), 3)
    with pytest.raises(CheckFailed, match="violates LeaderCompleteness"):
        check_run(faulty(26, **knobs), 3, frozenset({MUTANT}))


@pytest.mark.parametrize("seed", [5, 11])
def test_the_ndjson_logs_validate_with_partial_state(seed: int) -> None:
    verdict = logged_run(faulty(seed, timeout=(150, 160)))
    assert verdict.verdict == "valid", verdict.render()


def test_the_catalogue_mutant_fails_log_validation() -> None:
    verdict = logged_run(faulty(11, timeout=(150, 160)), frozenset({MUTANT}))
    assert verdict.verdict == "invalid"
    assert verdict.diagnosis is not None
    assert "HandleRequestVoteRequest" in verdict.render()


def test_registered_at_run_time_is_listed_and_gone_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert EXAMPLE.name not in registry.protocols()
    with registry.registered(EXAMPLE):
        assert main(["protocols"]) == 0
        assert EXAMPLE.name in capsys.readouterr().out
    assert EXAMPLE.name not in registry.protocols()


# make test-all's (38 s): `meshcheck mutants` killing a plug-in's bug by its free runs is make
# test's in tests/test_plugin_raft.py (an installed plug-in, three bugs).
@pytest.mark.slow
def test_registered_at_run_time_and_killed_by_meshcheck_mutants(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with registry.registered(EXAMPLE):
        code = main(["mutants", EXAMPLE.name, "--mutant", MUTANT, "--profile", "quick"])
        out = capsys.readouterr().out
    assert code == 0, out
    assert MUTANT in out and "free runs (3 nodes)" in out


# -- bad input from an adapter --------------------------------------------------------------------


class ExtraVariable(CoreDriver):
    def state(self) -> Mapping[str, Value]:
        return {**super().state(), "term": 1}


def _evolve_steps(done: Collected, f: Any) -> Collected:
    return Collected(
        done.writes, done.sends, done.applied, done.replies, done.timers,
        tuple(f(s) for s in done.steps),
    )  # fmt: skip


class UnknownAction(CoreDriver):
    def collect(self, event: Any) -> Collected:
        rename = {"HandleRequestVoteRequest": "Vote"}
        return _evolve_steps(
            super().collect(event),
            lambda s: SpecStep(rename.get(s.name, s.name), s.params, s.sends, in_spec=s.in_spec),
        )


class UnknownNode(CoreDriver):
    def collect(self, event: Any) -> Collected:
        def move(s: SpecStep) -> SpecStep:
            if "j" not in s.params:
                return s
            return SpecStep(s.name, {**s.params, "j": "s9"}, s.sends, in_spec=s.in_spec)

        return _evolve_steps(super().collect(event), move)


class Opaque:
    """A value of a library's own that cannot be hashed (it defines equality and no hash)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque)

    __hash__ = None  # type: ignore[assignment]


class UnhashableState(CoreDriver):
    def state(self) -> Mapping[str, Any]:
        return {**super().state(), "log": [Opaque()]}


def unmappable(message: Any) -> Value:
    return FrozenDict({"type": message["type"]})  # the core's messages are no mappings


CASES = {
    "variable": (
        ExtraVariable,
        "adapter raft-adapter: node s1: state().term: Raft has no variable 'term' (its variables: "
        "messages, currentTerm,",
    ),
    "action": (
        UnknownAction,
        ": SpecStep.name: 'Vote' is not an action of Raft (its actions: Timeout, PreVoteTimeout, ClientRequest,",
    ),
    "node": (
        UnknownNode,
        ".params.j: 's9', which is not a node of the model (s1, s2, s3)",
    ),
    "unhashable": (
        UnhashableState,
        ": state().log: <tests.test_adapter_example.Opaque object at ",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_adapter_input_is_one_error_at_the_first_step(case: str) -> None:
    driver, expected = CASES[case]
    with pytest.raises(AdapterError) as raised:
        check_run(faulty(1), 3, driver=driver)
    text = str(raised.value)
    assert expected in text and "\n" not in text
    if case != "variable":  # the first record of the node that took the step
        assert text.startswith("adapter raft-adapter: node s")


def test_a_message_the_adapter_cannot_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter_example, "message_record", unmappable)
    with pytest.raises(AdapterError) as raised:
        check_run(faulty(1), 3)
    text = str(raised.value)
    assert text.startswith("adapter raft-adapter: node s")
    assert ": message_record: cannot map the message" in text and "TypeError" in text


def test_a_correct_adapter_passes_the_same_checks() -> None:
    check_run(faulty(1), 3)  # the cases above fail because of their one change alone


class OwnContainers(CoreDriver):
    """A library's own lists, dicts and sets, handed over as they are."""

    def state(self) -> Mapping[str, Any]:
        state = super().state()
        log = state["log"]
        assert isinstance(log, tuple)
        return {**state, "log": [dict(e) for e in log]}

    def collect(self, event: Any) -> Collected:
        done = super().collect(event)
        applied = tuple(
            (i, v, {"result": r, "seen": [i], "by": {self.id}}) for i, v, r in done.applied
        )
        return Collected(done.writes, done.sends, applied, done.replies, done.timers, done.steps)


def test_the_harness_freezes_the_librarys_own_containers() -> None:
    """Values crossing the simulator's recorder must be hashable: the harness makes a library's
    lists, dicts and sets so (tuples, FrozenDicts, frozensets), and every check runs on them."""
    sim = check_run(faulty(1), 3, driver=OwnContainers)
    log = sim.trace().steps[-1].state["log"]["s1"]
    assert isinstance(log, tuple) and log and all(isinstance(e, FrozenDict) for e in log)
    applied = [e for node in sim.applied.values() for e in node]
    assert applied and all(hash(e.value) is not None for e in applied)


def test_frozen_keeps_what_is_already_hashable() -> None:
    entry = FrozenDict({"term": 1, "value": (1, 2)})
    log = (entry, entry)
    assert frozen(log) is log and frozen(entry) is entry
    assert frozen([{"a": [1, {2}]}]) == (FrozenDict({"a": (1, frozenset({2}))}),)
    with pytest.raises(TypeError, match=r"\(Opaque\) is not hashable, and not a list, dict or set"):
        frozen([Opaque()])


NESTED = [
    # a dict inside a list inside a dict; inside a tuple; a set inside a dict inside a list
    {"log": [{"term": 1, "value": {"op": "Put", "args": [1, {"k": "v"}]}}]},
    ({"term": 1},),
    [{"votes": {"s1", "s2"}, "by": ({"s1": [1, 2]},)}],
    # read-only containers holding the library's own dicts: immutable, not hashable
    FrozenDict({"entries": ({"term": 1, "value": "x"},)}),
    (FrozenDict({"a": ({"b": [{"c": 1}]},)}), 2),
    FrozenDict({"m": FrozenDict({"entries": [{"term": 2}]})}),
    frozenset({(1, FrozenDict({"a": 1}))}),
]


@pytest.mark.parametrize("value", NESTED, ids=range(len(NESTED)))
def test_frozen_is_hashable_at_any_depth_and_equal_to_freeze(value: Any) -> None:
    """A dict inside any container, a read-only one too, is frozen: the value is hashable, and
    it is what impl/base/values.py's `freeze` makes of the same data (one value domain: equal,
    with the same hash, ordered as before)."""
    from meshcheck.impl.base.values import freeze

    done = frozen(value)
    assert hash(done) == hash(freeze(value))
    assert done == freeze(value) and repr(done) == repr(freeze(value))
    assert frozen(done) is done  # frozen once, kept after


def test_frozen_keeps_the_hashable_parts_of_what_it_freezes() -> None:
    entry = FrozenDict({"term": 1, "value": (1, 2)})
    done = frozen(FrozenDict({"log": (entry, {"term": 2})}))
    assert done["log"][0] is entry and done["log"][1] == FrozenDict({"term": 2})
    assert hash(done) is not None


def read_only_records(message: Any) -> Value:
    """The core's records as an adapter may build them: a FrozenDict over its own dicts."""
    record = raft_message_record(message)
    if "mentries" not in record:
        return record
    return FrozenDict({**record, "mentries": tuple(dict(e) for e in record["mentries"])})


class ReadOnlyEntries(CoreDriver):
    """Log entries as read-only mappings whose value holds the library's own dicts."""

    def state(self) -> Mapping[str, Any]:
        state = super().state()
        log = tuple(FrozenDict({**e, "meta": ({"term": e["term"]},)}) for e in state["log"])
        return {**state, "log": log}


def test_a_read_only_value_holding_the_librarys_dicts_crosses_the_recorder() -> None:
    """Its messages' records and its state: hashable once frozen, so the run and every check on
    it go through (a message record the harness left unhashable raised TypeError mid-run)."""
    run = plugin_check_run(
        Adapter("raft-adapter", ReadOnlyEntries, read_only_records, spec="Raft"), faulty(1)
    )
    last = run.sim.trace().steps[-1]
    assert hash(last.state) is not None
    entries = [e for log in last.state["log"].values() for e in log]
    assert entries and all(isinstance(e["meta"][0], FrozenDict) for e in entries)


BAD_VARIABLE_CHECKS = adapter_example.checks_with(ExtraVariable)
BAD_ACTION_CHECKS = adapter_example.checks_with(UnknownAction)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("tests.test_adapter_example:BAD_VARIABLE_CHECKS", "state().term: Raft has no variable"),
        ("tests.test_adapter_example:BAD_ACTION_CHECKS", "'Vote' is not an action of Raft"),
    ],
)
def test_meshcheck_mutants_says_it_in_one_line_exit_2(
    ref: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import attrs

    broken = attrs.evolve(EXAMPLE, checks=ref)
    with registry.registered(broken):
        code = main(["mutants", EXAMPLE.name, "--mutant", MUTANT, "--profile", "quick"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("meshcheck: adapter raft-adapter: node s") and expected in err[-1]

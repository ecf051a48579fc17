"""Coverage (meshcheck/coverage.py): the counters count what a hand-made run did, merging adds up
files from any number of processes, `meshcheck coverage` and verify's rows show it (never-hit
conditions named), and the steering prefix reaches what an unsteered profile missed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from meshcheck import coverage
from meshcheck import registry
from meshcheck.cli import main
from meshcheck.impl.base import probes
from meshcheck.impl.base.trace import Step
from meshcheck.impl.raft import mutants
from meshcheck.property_tests import harness
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft import free_runs as pbft_free_runs
from meshcheck.property_tests.raft import free_runs
from meshcheck.property_tests.raft.coverage import PREFIXES
from meshcheck.property_tests.raft.lockstep import RAFT
from meshcheck.property_tests.raft.lockstep import Follower
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Transition
from meshcheck.verify import Row
from meshcheck.verify import coverage_rows
from meshcheck.verify import summarize
from tests.test_pbft_impl import Box
from tests.test_pbft_impl import commit
from tests.test_pbft_impl import prepare
from tests.test_pbft_impl import request


def walk(labels: list[str]) -> list[Transition]:
    """The spec path of Raft.tla (lockstep model) through the action instances labelled."""
    (state,) = RAFT.stepper().init_states()
    path = []
    for label in labels:
        (t, *_) = [t for t in RAFT.successors(state) if t.action.label() == label]
        path.append(t)
        state = t.state
    return path


def as_steps(init: State, path: list[Transition]) -> list[Step]:
    return [
        Step(init.values),
        *(Step(t.state.values, t.action.name, t.action.params) for t in path),
    ]


COMPETING = list(PREFIXES["competing_leaders"])
# then: the deposed s1 starts a read; s2's batch reaches s1 and deletes s1's v1, v2
TAIL = ["ClientRead(i=s1)", "HandleAppendEntriesRequest(i=s1, j=s2)"]


def test_a_hand_made_run_hits_exactly_the_conditions_it_has() -> None:
    """Two leaders from s2's win of term 2 through its send and s1's read (3 states), one stale
    leader's read, one conflicting suffix deleted, which deposes s1 with its uncommitted v1 and
    v2 (a directed scenario's situation, partitioned-leader); no stale snapshot."""
    (init,) = RAFT.stepper().init_states()
    seen = coverage.steps("raft", as_steps(init, walk(COMPETING + TAIL)))
    assert seen.rare == Counter(
        two_leaders=3, stale_leader_read=1, conflict_truncated=1, deposed_with_uncommitted=1
    )
    assert seen.actions["HandleAppendEntriesRequest"] == 2 and sum(seen.actions.values()) == 15
    assert seen.actions["AppendEntries"] == 2 and seen.actions["ClientRead"] == 1
    # the same path without the conflict: s1 takes s2's batch before writing anything of its own
    calm = [label for label in COMPETING if not label.startswith("ClientRequest")]
    quiet = coverage.steps("raft", as_steps(init, walk(calm + TAIL[1:])))
    assert quiet.rare == Counter(two_leaders=2)


def test_a_stale_snapshot_is_one_at_or_below_the_receivers_commit_index() -> None:
    detect = coverage.spec_of("raft").detect  # type: ignore[union-attr]
    assert detect is not None
    message = {
        "mtype": "InstallSnapshotRequest",
        "mdest": "s2",
        "msource": "s1",
        "mlastIncludedIndex": 2,
        "mterm": 1,
        "mlastIncludedTerm": 1,
    }
    from meshcheck.impl.base.values import freeze

    m = freeze(message)
    base = {
        "role": {"s1": "Leader", "s2": "Follower"},
        "currentTerm": {"s1": 1, "s2": 1},
    }

    def step(commit_index: int) -> list[str]:
        before = freeze({**base, "commitIndex": {"s1": 2, "s2": commit_index}})
        return list(
            detect(
                {**before, "messages": {m: 1}},
                "HandleInstallSnapshotRequest",
                {"i": "s2", "j": "s1"},
                {**before, "messages": {}},
            )
        )

    assert step(2) == ["stale_snapshot"] and step(3) == ["stale_snapshot"] and step(1) == []


def test_lockstep_steps_are_recorded_and_replays_are_not() -> None:
    """The lockstep machine records each step it takes; a stored trace's replay (the corpus, a
    shrinking candidate) is not a run of the tests and records nothing."""
    (init,) = RAFT.stepper().init_states()
    path = walk(COMPETING + TAIL)
    coverage.start()
    try:
        machine = harness.lockstep_machine(RAFT)()
        for t in path:
            machine.advance(t)
        replayed = Follower(RAFT, init, frozenset(), replay=True)
        for t in path:
            replayed.take(t)
    finally:
        seen = coverage.stop()["raft"]
    assert seen.lockstep_steps == len(path) and len(seen.lockstep_states) == len(path)
    assert seen.rare == Counter(
        two_leaders=3, stale_leader_read=1, conflict_truncated=1, deposed_with_uncommitted=1
    )


def test_a_free_run_is_recorded_once_with_every_step_of_its_trace() -> None:
    schedule = Schedule(seed=5, ticks=800, drop=0.1, crash=0.3, partition=0.3)
    coverage.start()
    try:
        free_runs.check_safety(schedule, 3, frozenset())
    finally:
        seen = coverage.stop()["raft"]
    sim = free_runs.cluster(schedule, 3, frozenset())
    sim.run(until=schedule.ticks)
    trace = sim.trace().steps
    assert seen.free_runs == 1 and seen.free_steps == len(trace) - 1
    assert Counter(s.action for s in trace[1:]) == seen.actions
    assert len(seen.free_states) == len({coverage.digest(s.state) for s in trace})
    assert not coverage.recording()
    # the client-history checks at the run's end are counted, one history and its operations
    assert seen.tallies["histories"] == 1
    assert sim.history is not None
    assert seen.tallies["history operations"] == len(sim.history.history()) > 0


def test_a_probe_counts_only_while_recorded() -> None:
    """PBFT section 4.1: a request that comes again after it ran gets its reply again; the replica
    reports the rare case through its probe."""
    probes.hit("pbft", "retry_of_executed")  # nobody listens: dropped
    coverage.start()
    try:
        box = Box("r1")
        a = request("a")
        box.deliver(a)
        pp = box.node.log.pre_prepares[(0, 1)]
        for peer in ("r2", "r3"):
            box.deliver(prepare(pp, peer))
        for peer in ("r2", "r3"):
            box.deliver(commit(pp, peer))
        assert box.node.executed == [(a,)]
        box.deliver(a)
        box.deliver(a)
    finally:
        found = coverage.stop()
    assert found["pbft"].rare == Counter(retry_of_executed=2)


def test_the_digest_is_canonical() -> None:
    """The same state built in another order, or in another process, digests alike."""
    from meshcheck.impl.base.values import freeze

    one = freeze({"a": {"x", "y", "z"}, "b": {"s1": 1, "s2": (1, 2)}})
    two = freeze({"b": {"s2": (1, 2), "s1": 1}, "a": {"z", "y", "x"}})
    assert coverage.digest(one) == coverage.digest(two)
    assert coverage.digest(one) != coverage.digest(freeze({"a": {"x"}, "b": {"s1": 1}}))
    import subprocess
    import sys

    code = (
        "from meshcheck import coverage; from meshcheck.impl.base.values import freeze; "
        "print(coverage.digest(freeze({'a': {'x', 'y', 'z'}, 'b': {'s1': 1, 's2': (1, 2)}})))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == coverage.digest(one)


def test_a_digest_does_not_depend_on_what_the_process_digested_before() -> None:
    """True == 1 to Python, so to the digest's cache of parts: whichever of them a process
    digested first must not decide the others' digests (a worker of make test once digested the
    1 of a state as True, and the state's digest differed from a fresh process's)."""
    import subprocess
    import sys

    from meshcheck.impl.base.values import freeze

    literal = "{'b': {'s1': 1, 's2': (1, 2)}, 'on': True, 'e': frozenset({0})}"
    state = freeze(eval(literal))
    code = (
        "from meshcheck import coverage; from meshcheck.impl.base.values import freeze; "
        f"print(coverage.digest(freeze({literal})))"
    )
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    coverage._parts.clear()
    for first in (True, False, frozenset({True}), frozenset({False}), (True, 2)):
        coverage.digest(first)  # cached before the state's own parts are
    assert coverage.digest(state) == int(fresh.stdout)
    coverage._parts.clear()
    assert coverage.digest(state) == int(fresh.stdout)


# -- merging and the report --------------------------------------------------------------------------


def part(actions: dict[str, int], rare: dict[str, int], states: set[int]) -> coverage.Coverage:
    return {
        "raft": coverage.Seen(
            actions=Counter(actions), rare=Counter(rare), lockstep_states=states, lockstep_steps=3
        )
    }


def test_merging_adds_counts_and_unites_states(tmp_path: Path) -> None:
    coverage.write(part({"Timeout": 2}, {"two_leaders": 1}, {1, 2}), tmp_path, "a::test[1]")
    coverage.write(part({"Timeout": 1, "Restart": 4}, {"stale_snapshot": 2}, {2, 3}), tmp_path, "b")
    merged = coverage.merge_dir(tmp_path)["raft"]
    assert merged.actions == Counter(Timeout=3, Restart=4)
    assert merged.rare == Counter(two_leaders=1, stale_snapshot=2)
    assert merged.lockstep_states == {1, 2, 3} and merged.lockstep_steps == 6
    back = coverage.loads(coverage.dumps({"raft": merged}))["raft"]
    assert back == merged


def test_the_report_names_what_was_never_hit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coverage.write(part({"Timeout": 2}, {"two_leaders": 1}, {1, 2}), tmp_path, "a")
    assert main(["coverage", str(tmp_path), "--protocol", "raft"]) == 0
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if line.startswith("| raft "))
    assert [c.strip() for c in head.split("|")[1:-1]] == ["raft", "1/19", "2", "2", "0", "1/10"]
    lines = {line.split("|")[2].strip(): line for line in out.splitlines() if "| raft" in line}
    assert "never" in lines["stale_snapshot"] and "never" not in lines["two_leaders"]
    summary = coverage.summaries(coverage.merge_dir(tmp_path), ["raft"])[0]
    assert summary.rare_hit == 1 and summary.never_hit == (
        "conflict_truncated",
        "stale_snapshot",
        "stale_leader_read",
        "older_entry_on_majority",
        "success_answer_lost",
        "stale_success_answer",
        "restart_after_vote",
        "deposed_with_uncommitted",
        "far_behind_rejection",
    )


def test_bad_coverage_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coverage", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("meshcheck: ")
    (tmp_path / "x.json").write_text("{nope")
    assert main(["coverage", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a coverage file" in err


def test_verify_has_a_coverage_row_per_protocol(tmp_path: Path) -> None:
    coverage.write(part({"Timeout": 2}, {"two_leaders": 1}, {1, 2}), tmp_path, "a")
    rows = list(coverage_rows(tmp_path))
    assert [r.name for r in rows] == [n for n, p in registry.protocols().items() if p.actions]
    raft = next(r for r in rows if r.name == "raft")
    assert (raft.kind, raft.result, raft.count, raft.unit) == ("coverage", "pass", 2, "states")
    assert "actions 1/19" in raft.detail and "rare conditions 1/10" in raft.detail
    assert "never hit: conflict_truncated, stale_snapshot, stale_leader_read" in raft.detail
    table = summarize([Row("tests", "x", "pass", 1, "examples", 0.1), raft])
    assert "| coverage | raft" in table and "rare conditions 1/10" in table


def test_verify_shows_the_client_histories_checked_as_a_row(tmp_path: Path) -> None:
    seen = coverage.Seen()
    seen.tallies.update({"histories": 3, "history operations": 1234})
    coverage.write({"raft": seen}, tmp_path, "a")
    coverage.write({"raft": coverage.Seen(tallies=Counter({"histories": 1}))}, tmp_path, "b")
    rows = {r.name: r for r in coverage_rows(tmp_path)}
    row = rows["raft client histories"]
    assert (row.kind, row.result, row.count, row.unit) == ("coverage", "pass", 4, "runs")
    assert "1,234 client operations" in row.detail and "linearizable" in row.detail
    assert "pbft client histories" not in rows  # none counted: no row that claims a check ran
    assert "raft Byzantine fuzzer" not in rows


def test_a_fuzzed_pbft_run_is_counted_for_the_fuzzer_row(tmp_path: Path) -> None:
    schedule = Schedule(seed=5, ticks=800, every=25, byzantine={"r3": ()}, fuzz=1.0)
    coverage.start()
    try:
        pbft_free_runs.check_safety(schedule, 4, frozenset())
        pbft_free_runs.check_safety(schedule.with_knobs(fuzz=0.0), 4, frozenset())  # not fuzzed
    finally:
        seen = coverage.stop()["pbft"]
    assert seen.tallies["fuzzed runs"] == 1 and seen.tallies["fuzzed messages"] > 0
    assert seen.tallies["histories"] == 2  # both runs' client histories were checked
    coverage.write({"pbft": seen}, tmp_path, "a")
    row = {r.name: r for r in coverage_rows(tmp_path)}["pbft Byzantine fuzzer"]
    assert (row.count, row.unit) == (1, "runs")
    assert f"{seen.tallies['fuzzed messages']:,} mutated messages" in row.detail


# -- steering ------------------------------------------------------------------------------------------


def test_the_prefix_sets_up_competing_leaders_with_conflicting_suffixes() -> None:
    """The prefix's last state: s1 leads term 1 with [1:NoOp, 1:v1, 1:v2], s2 term 2 with
    [1:NoOp, 2:NoOp], its batch to s1 in flight; one step on, the deposed leader's bug shows
    (deposed_leader_keeps_suffix, which the ci profile missed without the prefix: docs/property-tests.md,
    "Coverage")."""
    path = walk(COMPETING)
    last = path[-1].state.values
    assert last["role"] == {"s1": "Leader", "s2": "Leader", "s3": "Follower"}
    assert [e["term"] for e in last["log"]["s1"]] == [1, 1, 1]
    assert [e["term"] for e in last["log"]["s2"]] == [1, 2]
    (init,) = RAFT.stepper().init_states()
    correct = Follower(RAFT, init, frozenset())
    broken = Follower(RAFT, init, frozenset({mutants.DEPOSED_LEADER_KEEPS_SUFFIX}))
    for t in walk(COMPETING + TAIL[1:]):
        correct.take(t)
    with pytest.raises(CheckFailed, match="not in the spec's state"):
        for t in walk(COMPETING + TAIL[1:]):
            broken.take(t)


# -- a plug-in's coverage ----------------------------------------------------------------------------


def test_a_row_whose_tests_took_no_action_is_a_skip_that_says_so(tmp_path: Path) -> None:
    """ "actions 0/19" measures nothing: the row is not a pass."""
    coverage.write(part({"Timeout": 2}, {"two_leaders": 1}, {1, 2}), tmp_path, "a")
    rows = {r.name: r for r in coverage_rows(tmp_path)}
    assert rows["raft"].result == "pass"
    pbft = rows["pbft"]
    assert pbft.result == "skip" and pbft.detail.startswith("no action of its spec taken")
    assert "; actions 0/" in pbft.detail


def test_what_a_plug_in_s_adapter_took_counts_for_the_plug_in() -> None:
    """A plug-in's runs are recorded under its adapter's name ("raft-adapter" for nodes made by
    tests/adapter_example.py, whatever protocol is built on them): what a test of the plug-in
    recorded under a name no protocol is registered by counts for the plug-in."""
    from tests.adapter_example import check_run
    from tests.noop_free_plugin import NONOOP
    from tests.noop_free_plugin import NoNoOpDriver

    coverage.start()
    try:
        check_run(Schedule(seed=3, ticks=600), 3, driver=NoNoOpDriver)
    finally:
        seen = coverage.stop()
    assert set(seen) == {"raft-adapter"}
    with registry.registered(NONOOP):
        mine = coverage.attribute(seen, NONOOP.name)
        assert set(mine) == {NONOOP.name}
        [row] = coverage.summaries(mine, [NONOOP.name])
    assert row.result == "pass" and row.actions_fired >= 5
    assert {"Timeout", "HandleRequestVoteResponse", "ClientRequest"} <= set(
        mine[NONOOP.name].actions
    )

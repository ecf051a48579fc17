"""Indy Plenum 1.13.1 under meshcheck's scheduler (property_tests/plenum/runs.py, docs/plenum.md):
its honest runs hold agreement, the client's view and PBFT.tla's Commit and Execute guards; a crashed
primary is replaced and ordering resumes within the bound made of plenum's own timeouts; a
Byzantine replica in each role (drivers/plenum/driver.py BEHAVIOURS) breaks none of it; and plenum
patched to commit on f prepares, or to order on f + 1 commits, is caught; trace validation against
PBFT.tla runs through a crashed primary's view change and catches a NewView that drops a batch. The checks themselves
are held to hand-made runs that break each one.

Skipped, with the command that builds it, when .venv-plenum is absent (`make plenum`). One driver
process serves every run of a module (plenum's import is most of a run's cost)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.property_tests.plenum import checks
from meshcheck.property_tests.plenum import validation
from meshcheck.property_tests.plenum.runs import NODES
from meshcheck.property_tests.plenum.runs import Crash
from meshcheck.property_tests.plenum.runs import Ordered
from meshcheck.property_tests.plenum.runs import Run
from meshcheck.property_tests.plenum.runs import Schedule
from meshcheck.property_tests.plenum.runs import Sent
from meshcheck.property_tests.plenum.runs import byzantine_acted
from meshcheck.property_tests.plenum.runs import driver_command
from meshcheck.property_tests.plenum.runs import run
from meshcheck.property_tests.plenum.runs import start_driver
from meshcheck.traces import itf

SHORT = 20_000  # ms: six requests, three batches, a stable checkpoint


@pytest.fixture(scope="module")
def plenum() -> Iterator[Any]:
    try:
        process = start_driver()
    except ConfigError as exc:
        pytest.skip(str(exc))
    with process:
        yield process


def _ordered_everything(r: Run, nodes: list[str]) -> None:
    """What makes a run that held worth something: every replica named ordered all six requests."""
    for node in nodes:
        keys = {k for o in r.ordered if o.node == node for k in o.requests}
        assert len(keys) == 6, (node, len(keys))


@pytest.mark.parametrize("seed", [1, 2])
def test_honest_runs_hold(plenum: Any, seed: int) -> None:
    r = run(Schedule(seed=seed, ticks=SHORT), process=plenum)
    assert checks.problems(r) == []
    _ordered_everything(r, list(NODES))
    assert {s["stable"] for s in r.states.values()} == {2}


def test_a_crashed_primary_is_replaced_within_plenums_bound(plenum: Any) -> None:
    schedule = Schedule(seed=4, crash=Crash("Alpha", 2_500), ticks=130_000)
    r = run(schedule, process=plenum)
    assert r.crashed and checks.problems(r) == []
    assert checks.judged(r) == 6  # every request's bound fell inside the run: liveness judged them
    live = [n for n in NODES if n != "Alpha"]
    _ordered_everything(r, live)
    assert all(r.states[n]["view"] >= 1 and r.states[n]["status"] == "normal" for n in live)
    # plenum's own path: ToleratePrimaryDisconnection (60 s) after the crash, then the view change
    resumed = min(o.at for o in r.ordered if o.view >= 1)
    assert 2_500 + 60_000 <= resumed <= 2_500 + checks.bound(r)


@pytest.mark.parametrize(
    ("node", "behaviour"),
    [("Alpha", "equivocate"), ("Beta", "withhold"), ("Gamma", "forge"), ("Delta", "replay")],
)
def test_a_byzantine_replica_breaks_no_safety_check(plenum: Any, node: str, behaviour: str) -> None:
    # An equivocating primary stalls the batch the backups split on (one prepared it, two could
    # not) until its freshness batch, STATE_FRESHNESS_UPDATE_INTERVAL (300 s) on: a longer run
    ticks = 310_000 if behaviour == "equivocate" else SHORT
    r = run(Schedule(seed=5, byzantine=((node, behaviour),), ticks=ticks), process=plenum)
    assert [p for c in checks.SAFETY if (p := c(r)) is not None] == []
    # the behaviour happened: the faulty replica sent what an honest one would not have
    assert byzantine_acted(r) == {node: True}
    _ordered_everything(r, [n for n in NODES if n != node])


def test_lost_and_repeated_messages_happen_as_scheduled(plenum: Any) -> None:
    for drop, duplicate in ((0.3, 0.0), (0.0, 0.5)):
        r = run(Schedule(seed=6, ticks=3_000, drop=drop, duplicate=duplicate), process=plenum)
        sent = sum(1 for m in r.messages if not m.delivered)
        delivered = len(r.messages) - sent
        assert (delivered < 0.8 * sent) if drop else (delivered > 1.3 * sent), (sent, delivered)
        assert [p for c in checks.SAFETY if (p := c(r)) is not None] == []
        assert checks.judged(r) == 0  # a lossy or repeating network promises no liveness here


@pytest.mark.parametrize(
    ("bug", "caught"),
    [("commit-on-f-prepares", "CommitGuard"), ("order-on-f-commits", "ExecuteGuard")],
)
def test_plenum_patched_to_count_short_is_caught(plenum: Any, bug: str, caught: str) -> None:
    r = run(Schedule(seed=1, ticks=5_000), (bug,), process=plenum)
    found = checks.problems(r)
    assert found and found[0].startswith(caught), found
    assert checks.agreement(r) is None  # what agreement alone would have let through


# -- the checks on hand-made runs: each must fail on the run that breaks it --------------------------


def _run(ordered: list[Ordered], requests: dict[str, int], **schedule: Any) -> Run:
    config = {
        "ToleratePrimaryDisconnection": 60, "NEW_VIEW_TIMEOUT": 30,
        "STATE_FRESHNESS_UPDATE_INTERVAL": 300, "ACCEPTABLE_FRESHNESS_INTERVALS_COUNT": 2,
        "INITIAL_PROPOSE_VIEW_CHANGE_TIMEOUT": 60,
    }  # fmt: skip
    return Run(
        Schedule(seed=0, **schedule), tuple(ordered), (), {}, requests, config, 0, False, False
    )


def _o(
    node: str, seq: int, digest: str = "d1", requests: tuple[str, ...] = ("k1",), at: int = 1_000
) -> Ordered:
    return Ordered(node, at, 0, seq, digest, requests, 0)


def test_agreement_fails_on_two_digests_or_two_request_lists_at_one_seq() -> None:
    assert checks.agreement(_run([_o("Alpha", 1), _o("Beta", 1)], {"k1": 1})) is None
    two = checks.agreement(_run([_o("Alpha", 1), _o("Beta", 1, "d2")], {"k1": 1}))
    assert two is not None and two.startswith("Agreement: Alpha ordered d1 at 1, Beta")
    other = _run([_o("Alpha", 1), _o("Beta", 1, requests=("k2",))], {"k1": 1, "k2": 2})
    assert checks.agreement(other) is not None
    # a Byzantine replica's ledger is its own business
    faulty = _run([_o("Alpha", 1), _o("Beta", 1, "d2")], {"k1": 1}, byzantine=(("Beta", "forge"),))
    assert checks.agreement(faulty) is None


def test_the_commit_guard_fails_without_the_primarys_preprepare_or_enough_prepares() -> None:
    def sent(at: int, src: str, kind: str, req: str | None = "d1", dst: str = "Beta") -> Any:
        record = {"type": kind, "view": 0, "seq": 1, "req": req, "src": src}
        return Sent(at, src, dst, record, src != "Beta")

    prepares = [sent(2, "Gamma", "Prepare"), sent(3, "Beta", "Prepare", dst="Gamma")]
    commit = [sent(4, "Beta", "Commit", None, dst="Gamma")]
    for pre, found in (
        ("Alpha", None),  # the primary's PrePrepare and two Prepares: Prepared
        ("Delta", "CommitGuard: Beta sent Commit(0, 1) at 4 ms without Alpha's PrePrepare"),
    ):
        r = attrs.evolve(_run([], {}), messages=(sent(1, pre, "PrePrepare"), *prepares, *commit))
        assert checks.guards(r) == found
    short = attrs.evolve(
        _run([], {}), messages=(sent(1, "Alpha", "PrePrepare"), *prepares[1:], *commit)
    )
    assert (
        checks.guards(short)
        == "CommitGuard: Beta sent Commit(0, 1) at 4 ms holding 1 matching Prepares, not 2"
    )


def test_the_commit_guard_takes_the_new_primarys_new_view_as_its_preprepare() -> None:
    # view 1: Beta's NewView names batch (0, 1, d1), which every replica pre-prepares again itself
    def sent(at: int, src: str, dst: str, record: dict[str, Any], delivered: bool) -> Any:
        return Sent(at, src, dst, record, delivered)

    nv = {"type": "NewView", "view": 1, "ckpt": 0, "pre": [[0, 1, "d1"]], "src": "Beta"}
    prepare = {"type": "Prepare", "view": 1, "seq": 1, "req": "d1", "src": "Gamma"}
    own = {**prepare, "src": "Delta"}
    commit = {"type": "Commit", "view": 1, "seq": 1, "req": None, "src": "Delta"}
    messages = (
        sent(1, "Beta", "Delta", nv, True),
        sent(2, "Gamma", "Delta", prepare, True),
        sent(3, "Delta", "Gamma", own, False),
        sent(4, "Delta", "Gamma", commit, False),
    )
    assert checks.guards(attrs.evolve(_run([], {}), messages=messages)) is None
    without = attrs.evolve(_run([], {}), messages=messages[1:])
    assert checks.guards(without) == (
        "CommitGuard: Delta sent Commit(1, 1) at 4 ms without Beta's PrePrepare"
    )


def test_the_client_visible_checks_fail_on_a_gap_a_repeat_and_an_unsent_request() -> None:
    ok = _run([_o("Alpha", 1), _o("Alpha", 2, "d2", ("k2",))], {"k1": 1, "k2": 2})
    assert checks.client_visible(ok) is None
    gap = checks.client_visible(_run([_o("Alpha", 2)], {"k1": 1}))
    assert gap is not None and gap.startswith("OrderedInTurn: Alpha ordered 2 after 0")
    twice = checks.client_visible(_run([_o("Alpha", 1), _o("Alpha", 2, "d2")], {"k1": 1}))
    assert twice is not None and twice.startswith("OrderedOnce: Alpha ordered request 1 twice")
    unsent = checks.client_visible(_run([_o("Alpha", 1)], {}))
    assert unsent is not None and unsent.startswith("Validity:")


def test_liveness_fails_on_a_request_ordered_after_its_bound_and_judges_none_past_the_end() -> None:
    requests = {"k1": 1}  # sent at Schedule.start, 100 ms
    on_time = [_o(n, 1, at=5_000) for n in NODES]
    late = [_o(n, 1, at=5_000 if n != "Gamma" else 200_000) for n in NODES]
    assert checks.liveness(_run(on_time, requests, ticks=300_000)) is None
    found = checks.liveness(_run(late, requests, ticks=300_000))
    assert found is not None and found.startswith("OrderedWithinBound: Gamma")
    missing = checks.liveness(_run(on_time[:3], requests, ticks=300_000))
    assert missing is not None and "Delta had not ordered request 1" in missing
    # the bound past the run's end: nothing judged, and the count says so
    short = _run(on_time[:3], requests, ticks=100_000)
    assert checks.liveness(short) is None and checks.judged(short) == 0


def test_the_bound_is_made_of_plenums_timeouts() -> None:
    r = _run([], {}, delay=(5, 100))
    # ToleratePrimaryDisconnection + (f + 1) NEW_VIEW_TIMEOUT + the batch timer, 10 delays
    assert checks.bound(r) == (60 + 2 * 30 + 1) * 1000 + 10 * 100
    faulty = _run([], {}, byzantine=(("Alpha", "equivocate"),))
    assert checks.bound(faulty) == (3 * 300 + 2 * 30 + 1) * 1000 + 10 * 100


def test_bad_arguments_are_one_line_and_exit_2() -> None:
    try:
        command = driver_command(("no-such-bug",))
    except ConfigError as exc:
        pytest.skip(str(exc))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "no bug 'no-such-bug'" in done.stderr


# -- trace validation against specs/PBFT.tla (property_tests/plenum/validation.py) --------------------


def test_a_run_of_one_request_batches_is_a_behaviour_of_pbft_tla(plenum: Any) -> None:
    r = run(Schedule(seed=1, batch=1, ticks=SHORT), process=plenum)
    verdict = validation.validate(r)
    assert verdict.problem is None and verdict.ended == "the run's end"
    # six Requests, six PrePrepares, 18 Prepares, 24 Commits, 24 Executes, 12 stable checkpoints
    steps = validation.trace_of(r)[0].steps
    assert verdict.validated == len(steps) == 1 + 6 + 6 + 18 + 24 + 24 + 12


@pytest.mark.parametrize(
    ("bug", "action"), [("commit-on-f-prepares", "Commit"), ("order-on-f-commits", "Execute")]
)
def test_trace_validation_rejects_plenum_counting_short(plenum: Any, bug: str, action: str) -> None:
    r = run(Schedule(seed=2, batch=1, ticks=SHORT), (bug,), process=plenum)
    problem = validation.validate(r).problem
    assert (
        problem is not None and f" {action}(i=" in problem and "not a step of the spec" in problem
    )


def test_an_equivocating_primarys_run_is_validated_with_it_byzantine(plenum: Any) -> None:
    schedule = Schedule(seed=1, batch=1, ticks=SHORT, byzantine=(("Alpha", "equivocate"),))
    r = run(schedule, process=plenum)
    assert byzantine_acted(r) == {"Alpha": True}
    verdict = validation.validate(r)
    assert verdict.problem is None and verdict.ended == "the run's end" and verdict.validated > 40


# seed 5 of the lossy crashed-primary sweep: before the crash, Beta orders seq 2 on Alpha's, Gamma's
# and Delta's Commits, its own Prepare sent, the others' not yet arrived, and never sends a Commit
ORDERED_ON_COMMITS = Schedule(
    seed=5, batch=1, requests=8, every=300, crash=Crash("Alpha", 2_750), drop=0.02,
    duplicate=0.05, delay=(5, 400), fifo=False, ticks=75_000,
)  # fmt: skip


def test_a_replica_that_orders_on_commits_without_preparing_is_validated(plenum: Any) -> None:
    r = run(ORDERED_ON_COMMITS, process=plenum)
    verdict = validation.validate(r)
    assert verdict.problem is None, verdict.problem
    steps = validation.trace_of(r)[0].steps
    on_commits = [s for s in steps if s.action == "ExecuteOnCommits"]
    assert [(s.params["i"], s.meta["at"]) for s in on_commits][:1] == [("r2", 2_513)]


CRASHED_PRIMARY = Schedule(seed=4, batch=1, crash=Crash("Alpha", 3_500), ticks=70_000)


def test_a_crashed_primarys_run_is_validated_through_its_view_change(plenum: Any) -> None:
    # Alpha stops after ordering seq 3 (above the stable checkpoint 2): every ViewChange claims
    # it prepared, Beta's NewView re-proposes it, and the new view orders on
    r = run(CRASHED_PRIMARY, process=plenum)
    verdict = validation.validate(r)
    assert verdict.problem is None and "pre-prepared a batch of 0" in verdict.ended
    steps = validation.trace_of(r)[0].steps
    actions = [s.action for s in steps]
    view_change = ["StartViewChange"] * 3 + ["NewView", "AcceptNewView", "AcceptNewView"]
    assert [a for a in actions if a in set(view_change)] == view_change
    new_view = steps[actions.index("NewView")].state  # the state before it: the ViewChanges
    claims = {m["src"]: m["prepared"] for m in new_view["msgs"] if m["type"] == "ViewChange"}
    assert sorted(claims) == ["r2", "r3", "r4"] and all(len(c) == 1 for c in claims.values())
    # the new view ordered past the view change, validated: Executes after the NewView
    assert actions[actions.index("NewView") :].count("Execute") >= 9


def test_plenum_patched_to_drop_a_prepared_batch_from_its_new_view_is_caught(plenum: Any) -> None:
    r = run(CRASHED_PRIMARY, ("new-view-drops-prepared",), process=plenum)
    problem = validation.validate(r).problem
    assert problem is not None and " NewView(i=r2) " in problem and "not a step" in problem


# docs/plenum.md, "plenum orders a batch without having prepared it": the smallest schedule, two
# requests, the primary's two batches at 1 each one of them; its mapped steps are
# traces/plenum/findings/ordered_on_commits_of_another_batch.itf.json
SPLIT = Schedule(
    seed=1, batch=1, requests=2, every=100, ticks=1_500,
    byzantine=(("Alpha", "equivocate-and-commit"),),
)  # fmt: skip


def test_a_primary_that_equivocates_and_commits_splits_agreement(plenum: Any) -> None:
    # Beta holds the first PrePrepare and only its own Prepare (Gamma's and Delta's name the other
    # batch), sends no Commit, and orders on Alpha's, Gamma's and Delta's (plenum's Commit names no
    # digest); Gamma and Delta order the other batch at the same sequence number
    r = run(SPLIT, process=plenum)
    assert byzantine_acted(r) == {"Alpha": True}
    first = {o.node: o.digest for o in r.ordered if o.seq == 1}
    assert first["Gamma"] == first["Delta"] != first["Beta"]
    beta = [m.record for m in r.messages if m.src == "Beta" and not m.delivered]
    assert not [c for c in beta if c["type"] == "Commit"]
    problem = checks.agreement(r)
    assert problem is not None and problem.startswith("Agreement: ") and "Beta ordered" in problem
    # Beta sent no Commit: ExecuteOnCommits, which TLC rejects as a step (one Commit of its batch
    # was sent, Alpha's), before the invariant Agreement would (as it does when Commits of any
    # batch are counted)
    verdict = validation.validate(r)
    assert verdict.problem is not None and " ExecuteOnCommits(i=r2) " in verdict.problem
    assert "its action is not enabled" in verdict.problem
    stored = Path(__file__).resolve().parents[2] / "traces" / "plenum" / "findings"
    trace = validation.trace_of(r)[0]
    assert itf.dumps(trace) == (stored / "ordered_on_commits_of_another_batch.itf.json").read_text()

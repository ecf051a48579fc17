"""`meshcheck campaign`: two local workers sharing a real Redis server (Debian's redis-server,
installed by `make redis`, started here on a free port), the same on a Dask LocalCluster of two
single-threaded worker processes, the deadline cutting a task on a worker thread (as Dask runs
them), a campaign on a mutant build whose failure comes back once as an ITF trace that replays,
and bad input."""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from meshcheck import coverage
from meshcheck.campaign import page
from meshcheck.campaign import run
from meshcheck.campaign import tasks
from meshcheck.cli import main
from meshcheck.table import WIDE
from meshcheck.violated import Violated

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        subprocess.run(["make", "-C", str(ROOT), "redis"], check=True)
    server = shutil.which("redis-server")
    assert server is not None, "make redis did not install redis-server"
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow  # a Redis server and two campaign workers
def test_two_workers_share_a_redis_database(redis_url: str, tmp_path: Path) -> None:
    # a mutant build whose failures shrink in well under a second (gossip's runs are cheap), so
    # that under load neither worker spends the whole campaign shrinking and is cut (a raft
    # mutant's shrinking took past the deadline's grace on the loaded 2-core machine)
    import redis

    config = run.Config(
        12.0,
        ("gossip",),
        ("free runs (5 nodes)",),
        bugs=("merge_not_idempotent",),
        mutants=False,
        workers=2,
        db=redis_url,
        out=tmp_path,
        examples=10,
    )
    result = run.run(config)
    # both workers ran examples
    assert len(result.by_worker) == 2, result.by_worker
    assert all(n > 0 for n in result.by_worker.values())
    # the shared database received the failing examples, under the mutant build's prefix
    keys = redis.Redis.from_url(redis_url).keys("meshcheck:merge_not_idempotent:*")
    assert keys, "no example reached the Redis database"
    # every task found the bug, and the failures fold into one
    assert len(result.failures) == 1, list(result.failures)
    assert next(iter(result.failures.values())).count >= 2


@pytest.mark.slow  # a Dask cluster and a Redis server
def test_a_dask_cluster_of_two_worker_processes_shares_redis_and_merges_coverage(
    redis_url: str, tmp_path: Path
) -> None:
    import redis

    server = redis.Redis.from_url(redis_url)
    before = server.info("stats")
    config = run.Config(
        8.0,
        ("raft",),
        ("free runs (3 nodes)",),
        mutants=False,
        workers=2,
        engine="dask",
        db=redis_url,
        out=tmp_path,
        examples=5,
    )
    result = run.run(config)
    # two worker processes (not threads of one), each ran tasks and examples
    assert len(result.tasks_by_worker) == 2, result.tasks_by_worker
    assert all(n > 0 for n in result.tasks_by_worker.values())
    assert len(result.by_worker) == 2 and all(n > 0 for n in result.by_worker.values())
    assert len({w.rsplit(":", 1)[1] for w in result.by_worker}) == 2
    # every task read the shared database (the correct build's examples pass, so Hypothesis
    # looks its key up and stores nothing: the mutant builds' tests show what it stores)
    after = server.info("stats")
    connections = after["total_connections_received"] - before["total_connections_received"]
    lookups = sum(after[k] - before[k] for k in ("keyspace_hits", "keyspace_misses"))
    assert connections >= result.tasks and lookups >= result.tasks, (connections, lookups)
    # coverage merged over both workers' tasks; nothing left running past the deadline
    seen = result.coverage["raft"]
    assert seen.free_runs >= result.tasks and len(seen.free_states) > 0 and seen.actions
    assert result.points[-1].states == seen.states
    assert result.abandoned == 0 and result.startup > 0


def _slow_task(stop_in: float) -> tasks.Task:
    return tasks.Task(
        1, "property", "raft", "free runs (3 nodes)", (), 7, 100_000, stop_at=time.time() + stop_in
    )


_THREAD_CUT = """
import json, threading, time
import attrs
from meshcheck.campaign import tasks

def slow(stop_in):
    return tasks.Task(
        1, "property", "raft", "free runs (3 nodes)", (), 7, 100_000, stop_at=time.time() + stop_in
    )

got, after = [], []
thread = threading.Thread(target=lambda: got.append(tasks.run_task(slow(2.0))))
began = time.monotonic()
thread.start()
thread.join(60)
took = time.monotonic() - began
quick = attrs.evolve(slow(600.0), examples=2)
thread = threading.Thread(target=lambda: after.append(tasks.run_task(quick)))
thread.start()
thread.join(120)
print(json.dumps({
    "cut": [r.cut for r in got], "examples": [r.examples for r in got], "took": took,
    "error": [r.error for r in got], "failure": [repr(r.failure)[:300] for r in got],
    "after_cut": [r.cut for r in after], "after_examples": [r.examples for r in after],
}))
"""


def test_the_deadline_cuts_a_task_on_a_worker_thread() -> None:
    # Dask runs a task on a worker thread, where SIGALRM cannot reach: 100,000 examples (many
    # minutes) must still stop at the deadline, 2 s from now. In a process of its own: a task cut
    # inside Hypothesis's engine leaves that process's later Hypothesis runs very slow (seen when
    # this test shared a pytest worker with gossip's lockstep tests), so a cut worker process is
    # not one to run this suite's other tests in.
    proc = subprocess.run(
        [sys.executable, "-c", _THREAD_CUT],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    # the whole record in the message: this failed once in a loaded full run (cut False) and
    # never again in 60 runs alone, in parallel or with the deadline before the task began
    assert seen["cut"] == [True], f"the task on a worker thread ran on past its deadline: {seen}"
    assert seen["examples"] == [0] and seen["took"] < 30, seen
    # nothing of the cut is left armed: the thread's next task runs to its end
    assert seen["after_cut"] == [False] and seen["after_examples"] == [2]


def test_an_error_the_cut_causes_inside_hypothesis_is_a_cut_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hypothesis's engine can turn the cut's TimeUp into an error of its own (a loaded make test
    saw FlakyStrategyDefinition): past the deadline, an error that is no failure of the check is
    the cut. Before it, the same error is the task's error."""
    from meshcheck import mutants_cmd

    @attrs.frozen
    class Engine:
        name: str = "c"

        def run(self, bugs: frozenset[str], settings: object) -> None:
            raise RuntimeError("Inconsistent data generation!")

    monkeypatch.setattr(mutants_cmd, "catalogue", lambda protocol: ((), (Engine(),)))
    late = tasks.run_task(attrs.evolve(_slow_task(600.0), check="c", stop_at=time.time() - 0.1))
    assert late.cut and not late.error and late.failure is None
    early = tasks.run_task(attrs.evolve(_slow_task(600.0), check="c"))
    assert not early.cut and early.error == "RuntimeError: Inconsistent data generation!"


def test_a_task_that_reaches_its_worker_after_the_time_is_up_is_skipped() -> None:
    late = attrs.evolve(_slow_task(600.0), start_by=time.time() - 1)
    got = tasks.run_task(late)
    assert got.skipped and got.examples == 0 and got.seconds == 0.0


def test_tasks_near_the_deadline_get_fewer_examples() -> None:
    sizer = run.Sizer(25)
    assert sizer.size("property", "raft", "c", 1.0) == 25  # nothing measured yet
    task = tasks.Task(1, "property", "raft", "c", (), 1, 10)
    sizer.learn(tasks.Result(task, "w", 2.0, 10, "{}"))  # 0.2 s an example
    assert sizer.size("property", "raft", "c", 100.0) == 25
    assert sizer.size("property", "raft", "c", 1.0) == 5
    assert sizer.size("property", "raft", "c", -3.0) == 1
    assert sizer.size("mutant", "raft", "c", 1.0) == 25  # another kind: not measured


def test_the_matrix_tries_every_mutant_under_its_first_check_before_any_under_its_second() -> None:
    from meshcheck.mutants_cmd import catalogue

    config = run.Config(seconds=60, protocols=("raft", "gossip"))
    _, matrix = run.plan(config)
    firsts = {p: catalogue(p)[1][0].name for p in config.protocols}
    wanted = {(p, m) for p in config.protocols for m in catalogue(p)[0]}
    head = matrix[: len(wanted)]
    assert {(p, m) for p, m, _ in head} == wanted  # each mutant once, at its first check
    assert all(check == firsts[p] for p, _, check in head)
    sizes = {p: len(catalogue(p)[0]) * len(catalogue(p)[1]) for p in config.protocols}
    assert len(matrix) == len(set(matrix)) == sum(sizes.values())  # still the whole matrix


def test_a_bug_found_before_the_cut_counts_unshrunk(tmp_path: Path) -> None:
    """A task cut at the deadline while Hypothesis shrank a failure it had found brings the
    failure back (property_tests/failure.py `first_failure`): the bug counts, in a property
    check's failures and in the kill matrix alike."""
    from meshcheck.property_tests.failure import CheckFailed
    from meshcheck.property_tests.failure import first_failure

    with first_failure() as seen:
        first = CheckFailed("n2 holds k1 at version 3 after 5", steps=9)
        CheckFailed("a shrunk one", steps=2)
    assert seen == [first]
    config = run.Config(seconds=60, protocols=("gossip",), out=tmp_path)
    result = run.CampaignResult(config)
    _, matrix = run.plan(config)
    for cell in matrix:
        result.cells[cell] = run.Cell(*cell)
    found = tasks._found(tasks.Task(1, "property", "gossip", "c", (), 1, 10), first)
    prop = tasks.Result(
        tasks.Task(1, "property", "gossip", "c", (), 1, 10), "w", 0, 0, "{}", found, cut=True
    )
    run._gather(result, prop, 5.0)
    assert [f.steps for f in result.failures.values()] == [9] and result.cut == 1
    protocol, mutant, check = matrix[0]
    mut = tasks.Result(
        tasks.Task(2, "mutant", protocol, check, (mutant,), 1, 10), "w", 0, 0, "{}", found, cut=True
    )
    run._gather(result, mut, 6.0)
    assert result.cells[matrix[0]].killed and result.tasks == 0


def test_a_check_that_could_not_run_does_not_try_its_mutant(tmp_path: Path) -> None:
    config = run.Config(seconds=60, protocols=("gossip",), out=tmp_path)
    result = run.CampaignResult(config)
    _, matrix = run.plan(config)
    for cell in matrix:
        result.cells[cell] = run.Cell(*cell)
    protocol, mutant, check = matrix[0]
    task = tasks.Task(1, "mutant", protocol, check, (mutant,), 1, 10)
    run._gather(result, tasks.Result(task, "w", 1.0, 0, "{}", error="OSError: x"), 1.0)
    assert result.cells[matrix[0]].tries == 0 and result.cells[matrix[0]].error
    assert list(result.errors) == [f"{protocol}: {check} on {mutant}: OSError: x"]


@pytest.mark.parametrize("errors, tasks_done", [({"gossip: c: OSError: x": 3}, 3), ({}, 0)])
def test_a_campaign_with_no_evidence_exits_2(
    errors: dict[str, int],
    tasks_done: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Checks that could not run, or no task that finished, are no evidence either way: exit 2
    with one line, never 0."""

    def fake(config: run.Config, **_: object) -> run.CampaignResult:
        result = run.CampaignResult(config)
        result.errors.update(errors)
        result.tasks = tasks_done
        return result

    monkeypatch.setattr(run, "run", fake)
    argv = ["campaign", "--minutes", "1", "--protocol", "gossip", "--no-mutants"]
    assert main([*argv, "--out", str(tmp_path), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().startswith("campaign: ")


def test_a_check_whose_every_free_run_was_vacuous_is_counted_apart_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The free runs a task's check judged (meshcheck/exercise.py) add up per check: a check all
    of whose runs held vacuously is a `vacuous` row, not a pass, and the campaign exits 1 on it;
    one with a vacuous run among others passes, saying how many."""
    from meshcheck.campaign import report

    config = run.Config(seconds=60, protocols=("gossip",), out=tmp_path)

    def fake(config: run.Config, **_: object) -> run.CampaignResult:
        result = run.CampaignResult(config)
        for check, judged in (("idle", (3, 3)), ("idle", (2, 2)), ("busy", (4, 1))):
            task = tasks.Task(1, "property", "gossip", check, (), 1, 10)
            found = tasks.Result(task, "w", 1.0, 5, coverage.dumps({}), judged=judged)
            run._gather(result, found, 1.0)
        return result

    result = fake(config)
    assert result.judged == {("gossip", "idle"): [5, 5], ("gossip", "busy"): [4, 1]}
    said = {r.name: (r.result, r.detail) for r in report.rows(result) if r.kind == "campaign"}
    assert said["gossip: idle"] == ("vacuous", "2 runs with fresh seeds, 5 of 5 free runs vacuous")
    assert said["gossip: busy"] == ("pass", "1 run with fresh seeds, 1 of 4 free runs vacuous")
    monkeypatch.setattr(run, "run", fake)
    argv = ["campaign", "--minutes", "1", "--protocol", "gossip", "--no-mutants"]
    assert main([*argv, "--out", str(tmp_path), "--quiet"]) == 1
    assert capsys.readouterr().err.strip() == "campaign: every free run vacuous in gossip: idle"


def test_a_lost_worker_is_an_error_not_the_end_of_the_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task whose worker died (the engine's result raises) is counted as an error; the
    coordinator goes on and returns what the others found."""
    from meshcheck.campaign import engines

    class Dying:
        workers = 1

        def __init__(self) -> None:
            self.done: list[tasks.Task] = []

        def warm(self) -> None:
            pass

        def submit(self, task: tasks.Task) -> int:
            self.done.append(task)
            return len(self.done)

        def wait(self, pending: set[int], timeout: float) -> set[int]:
            return set(pending)

        def result(self, handle: int) -> tasks.Result:
            if handle == 1:
                raise EOFError("the worker's process ended")
            return tasks.Result(self.done[handle - 1], "w", 0.1, 3, coverage.dumps({}))

        def close(self) -> None:
            pass

    monkeypatch.setattr(engines, "start", lambda *a, **k: Dying())
    config = run.Config(seconds=0.5, protocols=("gossip",), mutants=False, out=tmp_path)
    result = run.run(config)
    assert sum(result.errors.values()) == 1 and "worker lost" in next(iter(result.errors))
    assert result.tasks >= 1


def test_a_mutant_build_reports_its_failure_once_with_a_trace_that_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "campaign", "--minutes", "0.1", "--protocol", "gossip",
            "--check", "free runs (5 nodes)", "--bugs", "merge_not_idempotent",
            "--workers", "2", "--examples", "10", "--db", str(tmp_path / "db"),
            "--out", str(out), "--quiet",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1, printed
    data = json.loads((out / "campaign.json").read_text())
    failures = data["failures"]
    assert len(failures) == 1, [f["signature"] for f in failures]  # folded: one signature
    found = failures[0]
    assert found["count"] >= 1 and found["count"] == len(found["seeds"])
    assert "nobody wrote" in found["message"] or "went back" in found["message"]
    trace = Path(found["trace"])
    assert trace.is_file()
    assert found["replay"] == f"meshcheck trace replay {trace}"
    assert f"replay: {found['replay']}" in printed
    # the table keeps to the width every command keeps to; a longer detail is printed whole below
    rows = [line for line in printed.splitlines() if line.startswith("|")]
    assert rows and max(map(len, rows)) <= WIDE, rows
    assert "coverage gossip: actions " in printed
    # the failure says what it violated first (the spec's name), and the command the report prints
    # says the same: the free run re-run from its seed with the recorded bug fails again, naming
    # the same property
    what = Violated.leading(found["message"])
    assert what is not None and what.name in ("NoInventedValues", "VersionsMonotone"), found
    capsys.readouterr()
    assert main(shlex.split(found["replay"])[1:]) == 1
    replayed = capsys.readouterr().out
    assert replayed.startswith("diverges") and f"{what} violated" in replayed, replayed
    # the folder database kept the failing example, for the mutant build only
    assert any((tmp_path / "db" / "merge_not_idempotent").rglob("*"))
    assert (out / "coverage.svg").read_text().startswith("<svg")
    # the HTML page the campaign wrote shows the failure with its replay line (meshcheck/html)
    shown = (out / "report.html").read_text()
    assert found["replay"] in shown and "free runs (5 nodes)" in shown
    # the report page: the failure with its trace, its replay line and its count
    result_page = page.build(_result_of(data), generated="test")
    assert result_page.failures[0].replay == found["replay"]


def _result_of(data: dict[str, object]) -> run.CampaignResult:
    """A CampaignResult rebuilt from the JSON, enough for the page (its failures)."""
    result = run.CampaignResult(run.Config(1.0, ("gossip",)))
    for f in data["failures"]:  # type: ignore[attr-defined]
        result.failures[f["signature"]] = run.Folded(
            f["protocol"], f["check"], tuple(f["bugs"]), f["signature"], f["message"],
            f["steps"], f["trace"], f["replay"], Path(f["trace"]).read_text(), f["count"],
        )  # fmt: skip
    result.coverage = coverage.loads(json.dumps(data["coverage"]))
    return result


def test_signature_folds_the_same_failure_from_two_seeds() -> None:
    a = tasks.signature(
        "g", "c", ("b",), "Schedule(seed=1, ticks=9): step 40 X(i=n3) at t=10: n3 holds k2"
    )
    b = tasks.signature(
        "g", "c", ("b",), "Schedule(seed=7, ticks=9): step 41 X(i=n5) at t=12: n5 holds k1"
    )
    other = tasks.signature("g", "c", ("b",), "Schedule(seed=7): n5's k1 went back")
    assert a == b != other


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--hours", "0"], "more than 0"),
        (["--hours", "-1"], "more than 0"),
        (["--minutes", "1", "--protocol", "nosuch"], "no protocol 'nosuch'"),
        (["--minutes", "1", "--db", "http://x:1"], "redis://host:port"),
        (["--minutes", "1", "--db", "redis://127.0.0.1"], "redis://host:port"),
        (["--minutes", "1", "--db", f"redis://127.0.0.1:{_free_port()}"], "no Redis server"),
        (["--minutes", "1", "--engine", "spark"], "no engine"),
        (["--minutes", "1", "--bugs", "nosuch"], "no mutant nosuch"),
        (["--minutes", "1", "--check", "nosuch"], "no check 'nosuch'"),
        (["--minutes", "1", "--workers", "100000"], "at most"),
        (["--minutes", "1", "--out", "/dev/null/x"], "--out /dev/null/x: not a folder"),
        (
            ["--minutes", "1", "--engine", "dask", "--address", f"tcp://127.0.0.1:{_free_port()}"],
            "no Dask scheduler answers",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str],
    says: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from meshcheck.campaign import engines

    monkeypatch.setattr(engines, "CONNECT_SECONDS", 2)  # no scheduler there: no need to wait 30 s
    assert main(["campaign", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meshcheck: campaign: ") or err.startswith("meshcheck: no protocol")
    assert says in err and len(err.strip().splitlines()) == 1, err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))

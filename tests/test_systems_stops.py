"""How a system's run ends when it cannot run to its end (issue [23] item 4), on the toy key-value
service (tests/data/systems/toy_kv.py), each run a real `meshcheck cluster test` process:

- Ctrl-C (SIGINT to the run's whole process group, as a terminal sends it) or SIGTERM: the faults
  in force undone, the partial history and the nemesis log kept and checked, the report and the
  table marked partial, exit 130 or 143, no process, mount or namespace left
  (meshcheck/systems/early_stop.py);
- the daemon of a node's lazy file system killed mid-run: one line naming it, exit 2, the run
  torn down (meshcheck/faults/lazyfs.py `DaemonDied`);
- a node whose restart fails: declared down once, after at most the file's readiness timeout, its
  last log lines in down.txt, no later fault waiting for it (meshcheck/cluster/left_down.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.cluster import nemesis
from meshcheck.cluster.clock_faults import LAYOUT
from meshcheck.cluster.clock_faults import unavailable
from meshcheck.cluster.netns import PREFIX
from meshcheck.cluster.netns import missing
from meshcheck.cluster.netns import namespaces
from meshcheck.faults.lazyfs import fuse_unavailable
from tests.test_cluster_cmd import nodes_of
from tests.test_systems_run import toy

needs_python3 = pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 on PATH")
needs_fuse = pytest.mark.skipif(fuse_unavailable() is not None, reason=f"{fuse_unavailable()}")
needs_clock = pytest.mark.skipif(unavailable() is not None, reason=f"{unavailable()}")
NODES = ["t1", "t2", "t3"]


def _start(argv: list[str], folder: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """`meshcheck ARGV` in a session of its own (a terminal's Ctrl-C reaches its whole group); its
    stdout and stderr files."""
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with out.open("wb") as o, err.open("wb") as e:
        harness = subprocess.Popen(
            [sys.executable, "-m", "meshcheck", *argv], stdout=o, stderr=e, start_new_session=True
        )
    return harness, out, err


def _until_t(harness: subprocess.Popen[bytes], err: Path, at: float, wait: float = 60) -> None:
    """Wait for the run's progress line of `at` seconds into the run (`t=  3.0/10s ...`)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        assert harness.poll() is None, err.read_text()
        said = [ln.strip() for ln in err.read_text().splitlines() if ln.strip().startswith("t=")]
        if said and float(said[-1].removeprefix("t=").split("/")[0]) >= at:
            return
        time.sleep(0.05)
    raise AssertionError(f"no progress line at t={at} within {wait} s: {err.read_text()}")


def _ended(harness: subprocess.Popen[bytes], wait: float = 60) -> int:
    try:
        return harness.wait(timeout=wait)
    finally:
        if harness.poll() is None:
            os.killpg(harness.pid, signal.SIGKILL)
            harness.wait()


def _mounts(folder: Path) -> list[str]:
    """FUSE mounts under `folder` (the lazy file systems' type), as findmnt lists them."""
    listed = subprocess.run(
        ["findmnt", "-rn", "-t", "fuse,fuse.lazyfs", "-o", "TARGET"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return [m for m in listed if m.startswith(str(folder))]


def _left(folder: Path) -> list[str]:
    """What of a run is still there a while after it ended: its nodes, its lazy file systems'
    daemons, their mounts."""
    deadline = time.monotonic() + 10
    while True:
        left = [
            *(f"toy node {p}" for p in nodes_of(folder, b"toy_kv.py")),
            *(f"lazyfs daemon {p}" for p in nodes_of(folder, b"meshcheck.faults.lazyfs_daemon")),
            *(f"mount {m}" for m in _mounts(folder)),
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


Span = tuple[float, float | None, str]  # when a fault struck, when it ended (None: never), how


def _ends(log: list[tuple[float, str]]) -> dict[str, list[Span]]:
    """Each fault nemesis.log shows struck, with when it struck, when and how it ended."""
    out: dict[str, list[Span]] = {}
    for t, what in log:
        if what.split(" ", 1)[0] not in nemesis.KINDS:
            continue  # a note: a disk fault's, a node declared down
        ended = re.match(r"(\S+ \S+) (undone|ended, not restarted: the run stopped)$", what)
        if ended:
            begun = out[ended.group(1)]
            begun[-1] = (begun[-1][0], t, ended.group(2))
        elif re.fullmatch(r"\S+ [\w,]+", what):  # struck (a note has more words)
            out.setdefault(what, []).append((t, None, ""))
    return out


def _nemesis_log(report: Path) -> list[tuple[float, str]]:
    lines = (report / "nemesis.log").read_text(encoding="utf-8").splitlines()
    return [(float(ln.split(None, 1)[0]), ln.split(None, 1)[1]) for ln in lines]


# seed 193, 10 s, pauses, clocks and power failures: t3's clock 1.38 s to 3.85 s, t2 paused
# 2.45 s to 4.38 s; every node's data directory on a lazy file system
INTERRUPTED = ["--nemesis", "pause,clock,power", "--seed", "193", "--time", "10"]


@needs_python3
@needs_clock
@needs_fuse
def test_ctrl_c_undoes_the_faults_and_checks_the_partial_history(tmp_path: Path) -> None:
    plan = nemesis.plan(193, 10, ("pause", "clock", "power"), NODES)
    on = [f for f in plan if f.at + 0.4 <= 3.0 <= f.at + f.lasts - 0.8]
    assert {f.kind for f in on} == {"pause", "clock"}, plan  # both in force at t=3
    report = tmp_path / "report"
    argv = ["cluster", "test", "--system", str(toy(tmp_path)), "--network", "loopback",
            *INTERRUPTED, "--out", str(report)]  # fmt: skip
    harness, out, err = _start(argv, tmp_path)
    _until_t(harness, err, 3.0)
    # the lazy file systems' daemons out of the group a terminal's Ctrl-C reaches (libfuse ends
    # on SIGINT): they serve the data directories until the run has stopped its nodes
    daemons = nodes_of(tmp_path, b"meshcheck.faults.lazyfs_daemon")
    assert len(daemons) == 3 and harness.pid not in {os.getpgid(p) for p in daemons}, daemons
    os.killpg(harness.pid, signal.SIGINT)  # the whole group, as a terminal's Ctrl-C
    code = _ended(harness)
    printed = out.read_text()
    assert code == 130, (printed, err.read_text())
    assert _left(tmp_path) == []
    # the table says it first, the report keeps it, the stop's time is in both
    row = re.search(
        r"\| run +\| PARTIAL +\| interrupted by SIGINT at t=(\d+\.\d) s of 10 s", printed
    )
    assert row and printed.index("| run ") < printed.index("| operations "), printed
    stopped = float(row.group(1))
    partial = (report / "partial.txt").read_text(encoding="utf-8")
    assert partial.startswith(f"PARTIAL: interrupted by SIGINT at t={stopped} s of 10 s\n")
    assert "linearizable (kv): holds" in partial, partial
    assert re.search(r"\| progress after healing +\| unknown +\| not judged: interrupted", printed)
    # the clients stopped then: the last operation began within a client's timeout (1 s) of it
    ran = re.search(r"\| operations +\| .* \| \d+/s over (\S+) s", printed)
    assert ran and float(ran.group(1)) < stopped + 1.0, printed
    assert "partial report: " in printed
    # what was recorded until the stop is there, and checks as the run said
    lines = [json.loads(line) for line in (report / "history.jsonl").read_text().splitlines()]
    invoked = sum(1 for e in lines if e["type"] == "invoke")
    assert invoked > 50 and f"history.jsonl holds the {invoked} operations recorded" in partial
    assert subprocess.run(
        [sys.executable, "-m", "meshcheck", "history", "check", str(report / "history.jsonl"),
         "--model", "kv"], capture_output=True, check=False,
    ).returncode == 0  # fmt: skip
    # the faults in force at the stop were undone then, each logged
    faults = _ends(_nemesis_log(report))
    assert {"pause t2", "clock t3"} <= set(faults), faults
    for what, spans in faults.items():  # a pause resumed, a clock set back: undone, not left
        assert all(how == "undone" for _, _, how in spans), f"{what}: {faults}"
    # (`stopped` is the table's, to a tenth of a second)
    in_force = [
        w for w, ss in faults.items() for s, e, _ in ss if s < stopped + 0.05 < (e or 0.0) + 0.1
    ]
    assert in_force, f"no fault in force at the stop, t={stopped}: {faults}"
    # t3's clock set back: its fake clock's control word has its anchors equal and rate 1
    seq, real, fake, rate = LAYOUT.unpack((report / "clock-t3").read_bytes())
    assert seq and seq % 2 == 0 and real == fake and rate == 10**9, (seq, real, fake, rate)


@needs_python3
@needs_fuse
@pytest.mark.slow  # make test interrupts a loopback run (the test above)
@pytest.mark.skipif(missing() is not None, reason=f"namespaces: {missing()}")
def test_sigterm_on_namespaces_and_lazy_disks_leaves_nothing(tmp_path: Path) -> None:
    # seed 4, 12 s: partitions, pauses, clocks and power failures on a namespace network
    report = tmp_path / "report"
    argv = ["cluster", "test", "--system", str(toy(tmp_path)), "--network", "netns",
            "--nemesis", "partition,pause,clock,power", "--seed", "4", "--time", "12",
            "--out", str(report)]  # fmt: skip
    harness, out, err = _start(argv, tmp_path)
    ours = f"{PREFIX}-{harness.pid}-"
    _until_t(harness, err, 4.0)
    assert [n for n in namespaces() if n.startswith(ours)], "no namespace to leave behind"
    assert len(_mounts(tmp_path)) == 3, "the nodes' data directories were not mounted"
    os.kill(harness.pid, signal.SIGTERM)  # the harness alone, as a supervisor's `kill PID`
    code = _ended(harness)
    printed = out.read_text()
    assert code == 143, (printed, err.read_text())
    assert _left(tmp_path) == []
    assert [n for n in namespaces() if n.startswith(ours)] == []
    assert re.search(r"\| run +\| PARTIAL +\| interrupted by SIGTERM at t=", printed), printed
    assert (report / "partial.txt").read_text().startswith("PARTIAL: interrupted by SIGTERM")
    faults = _ends(_nemesis_log(report))
    assert faults, "no fault struck before the stop"
    assert all(e is not None for spans in faults.values() for _, e, _ in spans), faults


@needs_python3
@needs_fuse
def test_a_lazy_file_systems_daemon_that_dies_is_one_line(tmp_path: Path) -> None:
    # issue [23] item 4: the command exited 141 with no word at all
    plan = nemesis.plan(0, 30, ("power",), NODES)
    assert plan[0].at > 2.5, plan  # no power failure before the daemon dies at t=1
    report = tmp_path / "report"
    argv = ["cluster", "test", "--system", str(toy(tmp_path)), "--network", "loopback",
            "--nemesis", "power", "--seed", "0", "--time", "30", "--out", str(report)]  # fmt: skip
    harness, _, err = _start(argv, tmp_path)
    _until_t(harness, err, 1.0)
    daemons = nodes_of(report / "data" / "t2", b"meshcheck.faults.lazyfs_daemon")
    assert len(daemons) == 1, daemons
    os.kill(daemons[0], signal.SIGKILL)
    assert _ended(harness) == 2
    said = [line for line in err.read_text().splitlines() if line.startswith("meshcheck:")]
    assert said == [
        "meshcheck: the lazy file system's daemon for node t2 died (killed by SIGKILL) during "
        "the run"
    ], err.read_text()
    assert "Traceback" not in err.read_text()
    assert _left(tmp_path) == []
    # what the run recorded is kept, unchecked; it stopped at once, before the first power failure
    assert (report / "history.jsonl").read_text().count('"invoke"') > 20
    assert "power" not in (report / "nemesis.log").read_text()
    assert not (report / "partial.txt").exists()


def _restart_fails(tmp_path: Path, how: str) -> Path:
    """The toy whose node t2 does not come back once killed (`how`: it exits at once, or opens
    its port only after its readiness timeout), every start of every node counted in its data
    directory's `starts`; the readiness timeout 3 s (the one wait a restart that fails costs)."""
    system = toy(tmp_path)
    never = {
        "exits": 'echo "toy: cannot start again" >&2; exit 3',
        # ready 5 s late, past its readiness timeout: killed when declared down, it never is
        "never ready": 'echo "toy: stuck" >&2; sleep 5; echo "toy: late" >&2',
    }[how]
    script = (
        "echo start >> {data}/starts; "
        "if [ {name} = t2 ] && [ -e {data}/started ]; then " + never + "; fi; "
        "touch {data}/started; exec python3 {here}/toy_kv.py {host} {port.client} {data} {peers}"
    )
    text = system.read_text(encoding="utf-8")
    start = text.index("command = [")
    end = text.index("\n", start)
    text = text[:start] + f'command = ["sh", "-c", {json.dumps(script)}]' + text[end:]
    system.write_text(text.replace("timeout = 10", "timeout = 3"), encoding="utf-8")
    return system


# seed 23, 8 s, kills: t2 at 1.36 s (back after 0.71 s), the leader (t1: no plug-in names one) at
# 2.72 s, t2 again at 4.14 s, t3 at 5.53 s
@needs_python3
@pytest.mark.slow  # make test: test_left_down.py, strike.carry_out on processes that are not there
@pytest.mark.parametrize("how", ["exits", "never ready"])
def test_a_node_that_does_not_come_back_is_declared_down_once(tmp_path: Path, how: str) -> None:
    plan = nemesis.plan(23, 8, ("kill",), NODES)
    assert [f.nodes for f in plan] == [("t2",), (nemesis.LEADER,), ("t2",), ("t3",)], plan
    report = tmp_path / "report"
    argv = ["cluster", "test", "--system", str(_restart_fails(tmp_path, how)), "--network",
            "loopback", "--nemesis", "kill", "--seed", "23", "--time", "8", "--out", str(report)]  # fmt: skip
    harness, out, err = _start(argv, tmp_path)
    code = _ended(harness)
    printed = out.read_text()
    # t1, the primary, stays up: the toy goes on through t1 and t3, every check holds
    assert code == 0, (printed, err.read_text())
    # t2 waited for once: its first start and its one restart, though struck twice
    starts = {n: (report / "data" / n / "starts").read_text().count("start") for n in NODES}
    assert starts == {"t1": 1, "t2": 2, "t3": 1}, starts
    said = {"exits": "t2 exited with 3: toy: cannot start again",
            "never ready": "t2 did not listen within 3.0 s: toy: stuck"}[how]  # fmt: skip
    down = (report / "down.txt").read_text(encoding="utf-8")
    assert down.startswith("t2 declared down at t="), down
    assert said in down.splitlines()[0], down
    last = "toy: cannot start again" if how == "exits" else "toy: stuck"
    assert f"  | {last}" in down.splitlines(), down
    assert "toy: late" not in (report / "logs" / "t2.out").read_text()  # it was killed
    assert re.search(r"\| nodes down +\| t2 +\| did not come back", printed), printed
    log = [what for _, what in _nemesis_log(report)]
    assert any(w.startswith("t2 declared down, no later fault waits for it: ") for w in log), log
    # the leader's and t3's kills would hold a second node down with t2: skipped; t2's own too
    assert "kill skipped on t1: 1 declared down already" in log, log
    assert "kill skipped on t2: declared down" in log, log
    assert "kill skipped on t3: 1 declared down already" in log, log
    assert _left(tmp_path) == []

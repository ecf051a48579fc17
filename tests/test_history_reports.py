"""Every history report a run writes says what the command it tells the user to run says: a
cluster run's anomaly report (meshcheck/cluster/anomaly.py; etcd's runs and the project's own
cores') against its replay line, run in a subprocess: the same verdict, the same window.

tests/data/etcd_lock_stalled_holder.jsonl is the history of a real etcd lock run,
`meshcheck cluster test --system etcd --workload lock --client-pause 6 --nemesis none --seed 1`:
c1.1.0 took the lock at its line 1..26 and stalled 6 s, past its lease's 5 s; c8.1.2 took the
lock at 67..84 while c1 still held it (c1's release came at line 417, long after).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from meshcheck.cluster import anomaly
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import to_value
from meshcheck.systems import checked
from meshcheck.systems import stream_history
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import replay_command
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import numbered
from meshcheck.traces.history.history import op
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.models import Mutex
from meshcheck.traces.history.models import Rsm

STALLED = Path(__file__).parent / "data" / "etcd_lock_stalled_holder.jsonl"
Row = tuple[str, str, str]  # process, operation, lines


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    assert argv[:3] == ["meshcheck", "history", "check"], command
    return subprocess.run(
        [sys.executable, "-m", "meshcheck", *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def report_rows(text: str) -> tuple[str, list[Row]]:
    """The verdict and the window's rows of an anomaly report, and its replay command."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"  (\S+\.\.\S*)  t=\S+  (\S+)  (.+?)(  asked \S+)?$", line)
        if m:
            rows.append((m.group(2), m.group(3), m.group(1)))
    return text.splitlines()[0], rows


def replay_line(text: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith("replay: ")]
    return line.removeprefix("replay: ").removesuffix(" (the same verdict and window)")


def command_rows(out: str) -> list[Row]:
    """The window's rows `meshcheck history check` prints (process, operation, lines, status)."""
    lines = out.splitlines()
    heads = (
        ["process", "operation", "lines", "status"],
        ["process", "node", "operation", "lines", "status"],
    )
    head = next(i for i, x in enumerate(lines) if x.split() in heads)
    asked = "node" in lines[head].split()  # the node column, where the history names the nodes
    rows = []
    for line in lines[head + 1 :]:
        if not line.startswith("  "):
            break
        cells = re.split(r"\s{2,}", line.strip())
        process, operation, span, _status = [cells[0], *cells[2:]] if asked else cells
        rows.append((process, operation, span))
    return rows


def reported(ops: list[Op], model: Model, folder: Path, mode: str = "linearizable") -> str:
    """The run's report folder as a run leaves it, and the anomaly report written into it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.jsonl").write_text(jepsen.dumps(ops, model), encoding="utf-8")
    text = anomaly.report(ops, model, [], folder, title="t", budget=60, mode=mode)
    assert text is not None
    return text


def same_as_replay(text: str, folder: Path) -> list[Row]:
    verdict, rows = report_rows(text)
    assert verdict.startswith("anomaly: not linearizable")
    done = run(replay_line(text), folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ": not linearizable (" in done.stdout.splitlines()[0]
    assert rows and command_rows(done.stdout) == rows, (text, done.stdout)
    return rows


def test_etcd_lock_report_names_the_stalled_holder_and_its_replay_agrees(tmp_path: Path) -> None:
    # the history as the run had it (times: the file's lines), written back as the run writes it
    ops = jepsen.read(STALLED, Mutex())
    assert jepsen.dumps(ops, Mutex()) == STALLED.read_text(encoding="utf-8")
    text = reported(ops, Mutex(), tmp_path)
    rows = same_as_replay(text, tmp_path)
    assert {(p, s) for p, _, s in rows} == {("c1.1.0", "1..26"), ("c8.1.2", "67..84")}
    assert "--model mutex" in replay_line(text)


def test_mutex_window_keeps_each_lease_whole() -> None:
    """A and B take and release the lock in turn, then C and D both hold it: the window is C's
    and D's acquires, not B's release without its acquire (which alone looks illegal)."""
    from meshcheck.traces.history import window

    h = numbered(
        [
            op("A", "acquire", 0, 1, input="a"),
            op("A", "release", 2, 3, input="a"),
            op("B", "acquire", 4, 5, input="b"),
            op("B", "release", 6, 7, input="b"),
            op("C", "acquire", 8, 9, input="c"),
            op("D", "acquire", 10, 11, input="d"),
        ]
    )
    found = window.examine(h, Mutex()).window
    assert found is not None and found.minimal
    assert [(o.process, o.f) for o in found.ops] == [("C", "acquire"), ("D", "acquire")]


def test_kv_report_and_replay_agree(tmp_path: Path) -> None:
    ops = numbered(
        [
            op("c1", "write", 0.1, 0.2, input="1", key="k1"),
            op("c2", "write", 0.3, 0.4, input="2", key="k1"),
            op("c3", "read", 0.5, 0.6, output="1", key="k1"),  # stale: 2 was written before
            op("c1", "write", 0.15, 0.25, input="7", key="k2"),
            op("c2", "read", 0.35, 0.45, output="7", key="k2"),
        ]
    )
    rows = same_as_replay(reported(list(ops), KeyValue(), tmp_path), tmp_path)
    assert [p for p, _, _ in rows] == ["c1", "c2", "c3"]


def test_serializable_report_checks_the_writes_as_its_replay_does(tmp_path: Path) -> None:
    ops = numbered(
        [
            op("c1", "write", 0.1, 0.2, input="1", key="k1"),
            op("c2", "read", 0.25, 0.28, output="1", key="k1"),
            op("c2", "cas", 0.3, 0.4, input=("1", "2"), key="k1"),
            op("c3", "cas", 0.5, 0.6, input=("1", "3"), key="k1"),  # 1 was gone since 0.4
            op("c4", "read", 0.7, 0.8, output="1", key="k1"),  # stale: allowed
        ]
    )
    text = reported(list(ops), KeyValue(), tmp_path, mode="serializable")
    assert "--reads serializable" in replay_line(text)
    rows = same_as_replay(text, tmp_path)
    assert all("read" not in o for _, o, _ in rows)


def test_a_serializable_run_that_holds_replays_as_holding(tmp_path: Path) -> None:
    """A stale serializable read is what etcd documents of the mode: the run holds, and so must
    the command its report line names (before, it named `--model kv`, which refuses it)."""
    ops = numbered(
        [
            op("c1", "write", 0.1, 0.2, input="1", key="k1"),
            op("c2", "write", 0.3, 0.4, input="2", key="k1"),
            op("c3", "read", 0.5, 0.6, output="1", key="k1"),
        ]
    )
    folder = tmp_path / "my run"  # a report folder may hold a space: the command quotes it
    folder.mkdir()
    (folder / "history.jsonl").write_text(jepsen.dumps(ops, KeyValue()), encoding="utf-8")
    options = RunOptions(reads="serializable", budget=30)
    done = run(replay_command(options, folder), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reads return written values: yes (1 read, 1 of them older" in done.stdout
    assert "--model mutex" in replay_command(RunOptions(workload="lock"), tmp_path)


def test_rsm_report_and_replay_agree(tmp_path: Path) -> None:
    """The project's own cores' runs: the rsm model."""
    machine = StateMachine()
    first = machine.apply_entry(to_value(Custom("a", 1)))
    second = machine.apply_entry(to_value(Custom("a", 2)))
    ops = numbered(
        [
            Op("c1", "write", to_value(Custom("a", 1)), first, 0.1, 0.2),
            Op("c2", "write", to_value(Custom("a", 2)), second, 0.3, 0.4),
            Op("c3", "read", ("custom", "a"), FrozenDict({"ok": True, "value": 1}), 0.5, 0.6),
            Op("c4", "read", ("custom", "b"), machine.read(("custom", "b")), 0.5, 0.6),
        ]
    )
    rows = same_as_replay(reported(list(ops), Rsm(), tmp_path), tmp_path)
    assert [p for p, _, _ in rows] == ["c1", "c2", "c3"]


def test_every_replay_command_names_a_folder_with_a_space_as_one_word(tmp_path: Path) -> None:
    """The stream's and the other workloads' commands quote the history's path as the register
    workloads' do, so that the line a run prints runs as printed."""
    folder = tmp_path / "my run"
    wanted = str(folder / "history.jsonl")
    for command in (
        stream_history.replay_command(folder),
        checked.replay_command("lease", folder, 0.5),
        checked.replay_command("watch", folder, 0.5),
    ):
        assert shlex.split(command)[3] == wanted, command

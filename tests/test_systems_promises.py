"""A run judged by what its system file promises (meshcheck/systems/promises.py): a history
through the command's own checks, the cluster stood in for (no process starts), so each test
takes well under a second."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from typing import cast

import pytest

from meshcheck.cli import main
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.workload import History
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.history import Op

TOY = Path(__file__).parent / "data" / "systems" / "toy.toml"
# a system of two read modes, plain reads promising sequential consistency (as ZooKeeper's)
PROMISES = """reads = { synced = "linearizable", plain = "serializable" }

[promises]
registers = { synced = "linearizable", plain = "sequential" }
"""


def system(tmp_path: Path, promises: str = PROMISES) -> Path:
    text = TOY.read_text(encoding="utf-8") + promises
    shutil.copy(TOY.with_name("toy_kv.py"), tmp_path / "toy_kv.py")
    (tmp_path / "toy.toml").write_text(text, encoding="utf-8")
    return tmp_path / "toy.toml"


def stale(reads: list[int]) -> list[Op]:
    """c1 writes 1 to 10 to k1, one a second; then c2 reads `reads` of k1, each after the last
    write completed: stale reads, not linearizable; sequential when they never go back."""
    ops = [Op("c1", "write", v, None, v - 1.0, v - 0.5, key="k1") for v in range(1, 11)]
    ops += [Op("c2", "read", None, r, 10.0 + i, 10.5 + i, key="k1") for i, r in enumerate(reads)]
    return ops


def judged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ops: list[Op],
    reads: str,
    promises: str = PROMISES,
) -> tuple[int, str]:
    """The command's exit status and its output, the run's checks (run._check) on `ops`."""
    from meshcheck.systems import run as systems_run

    class Recorded:
        history = History(ops)
        checked = None

    def fake(system: Any, options: Any, out: Path, *_: object, **__: object) -> object:
        out.mkdir(parents=True, exist_ok=True)  # history.jsonl as the run keeps it (_keep)
        text = jepsen.dumps(Recorded.history.asked(), systems_run.history_model(options))
        (out / "history.jsonl").write_text(text, encoding="utf-8")
        plan = [Fault(1.0, "kill", ("t1",), 1.0)]
        struck = [(1.0, "kill t1"), (2.0, "kill t1 undone")]
        return systems_run._check(
            system,
            options,
            out,
            cast(Any, Recorded()),
            plan,
            struck,
            2.0,
            20.0,
            {},
            1.0,
            lambda _: None,
        )

    monkeypatch.setattr(systems_run, "run", fake)
    argv = ["cluster", "test", "--system", str(system(tmp_path, promises)), "--network",
            "loopback", "--time", "2", "--reads", reads, "--out", str(tmp_path / "report"),
            "--quiet", "--no-validate"]  # fmt: skip
    code = main(argv)
    said = capsys_out[0].readouterr()
    return code, said.out + said.err


capsys_out: list[pytest.CaptureFixture[str]] = []


@pytest.fixture(autouse=True)
def _capture(capsys: pytest.CaptureFixture[str]) -> None:
    capsys_out[:] = [capsys]


def row(printed: str, check: str) -> str:
    found = re.search(rf"^\| {re.escape(check)} +\| ([^|]+?) +\|", printed, re.M)
    assert found, printed
    return found.group(1)


def test_a_promise_kept_while_a_stronger_model_fails_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, printed = judged(tmp_path, monkeypatch, stale([3, 3, 5, 7, 9]), "plain")
    assert row(printed, "linearizable") == "no (information)"
    assert row(printed, "sequential (promised)") == "holds its promise"
    assert code == 0, printed
    report = (tmp_path / "report" / "consistency.txt").read_text(encoding="utf-8")
    assert "not linearizable" in report and "sequential" in report


def test_a_promise_broken_exits_1_violated_its_promise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c2 reads 7, then 3: it went back, no order of c1's writes explains it; the read mode's
    own checks (every read a written value, the writes linearizable) still hold."""
    code, printed = judged(tmp_path, monkeypatch, stale([7, 3]), "plain")
    assert row(printed, "sequential (promised)") == "VIOLATED its promise"
    assert row(printed, "serializable reads return written values") == "holds"
    assert code == 1, printed
    # the lattice's report follows the table: the promise's smallest window
    assert "smallest window of key k1 that is not sequential: 4 operations" in printed, printed


def test_without_a_promise_the_read_mode_judges_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `[promises]`: a history with stale reads under linearizable reads is a violation of
    linearizability itself, as it always was."""
    code, printed = judged(
        tmp_path, monkeypatch, stale([3, 5]), "linearizable", promises='reads = ["linearizable"]\n'
    )
    assert row(printed, "linearizable (kv)") == "VIOLATED"
    assert "its promise" not in printed and "(information)" not in printed
    assert code == 1


def test_a_linearizable_promise_is_judged_by_linearizability(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promise is what the read mode checks: linearizability's own verdict, and the
    promise's row beside it; nothing stronger to show."""
    code, printed = judged(tmp_path, monkeypatch, stale([3, 5]), "synced")
    assert row(printed, "linearizable (kv)") == "VIOLATED"
    assert row(printed, "linearizable (promised)") == "VIOLATED its promise"
    assert "(information)" not in printed
    assert code == 1


@pytest.mark.parametrize(
    ("promises", "said"),
    [
        ('[promises]\nregisters = "causal"\n',
         "promises.registers: 'causal': the models are linearizable, sequential, pram"),
        ('[promises]\nregisters = { eventual = "pram" }\n',
         "promises.registers.eventual: not one of [client] reads (linearizable)"),
        ('[promises]\nlock = "linearizable"\n', "promises.lock: not one of [client] workloads"),
    ],
)  # fmt: skip
def test_a_bad_promise_is_one_line_and_exit_2(tmp_path: Path, promises: str, said: str) -> None:
    argv = ["cluster", "test", "--system", str(system(tmp_path, promises)), "--time", "1",
            "--out", str(tmp_path / "report")]  # fmt: skip
    assert main(argv) == 2
    err = capsys_out[0].readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err


def test_the_known_files_state_their_promises() -> None:
    from meshcheck.systems.system_file import load

    known = Path(__file__).parents[1] / "meshcheck" / "systems" / "known"
    zk = load(known / "zookeeper.toml")
    assert zk.promise_for("registers", "plain") == "sequential"
    assert zk.promise_for("cas", "plain") == "pram"
    assert zk.promise_for("registers", "sync") == "linearizable"
    etcd = load(known / "etcd.toml")
    assert etcd.promise_for("cas", "serializable") == "monotonic-reads"
    assert etcd.promise_for("list-append", "serializable") == "serializable"
    assert (
        load(known / "galera.toml").promise_for("rw-register", "linearizable") == "repeatable-read"
    )
    assert (
        load(known / "postgresql.toml").promise_for("list-append", "linearizable") == "serializable"
    )


ADVERSARIAL = Path(__file__).parent / "data" / "adversarial" / "list-append"


@pytest.mark.parametrize(
    ("history", "promised", "expected"),
    [  # a stale read: serializable, not strict; a write skew: snapshot isolation, not serializable
        ("stale_read_serializable.jsonl", "serializable", [False, True]),
        ("write_skew_snapshot_isolation.jsonl", "serializable", [False, False]),
        ("write_skew_snapshot_isolation.jsonl", "snapshot-isolation", [False, True]),
        ("stale_read_serializable.jsonl", "strict-serializable", [False]),
    ],
)
def test_a_transactional_promise_is_judged_on_elles_lattice(
    history: str, promised: str, expected: list[bool]
) -> None:
    """The promise's verdict the run's, strict serializable (the strongest checked) information
    beside it when the promise is weaker."""
    from meshcheck.cluster.checks import INFORMATION
    from meshcheck.cluster.checks import PROMISE
    from meshcheck.systems import promises

    found, report = promises.transactions("list-append", ADVERSARIAL / history, promised)
    assert [v.holds for v in found] == expected, found
    assert [v.role for v in found] == [INFORMATION] * (len(expected) - 1) + [PROMISE]
    assert found[-1].check == f"{promised} (promised)"
    assert report.startswith(str(ADVERSARIAL / history))

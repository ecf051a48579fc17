"""PostgreSQL 15 under `meshcheck cluster test --system postgresql` (the system files
meshcheck/systems/known/postgresql.toml and postgresql-standbys.toml, the SQL plug-in
meshcheck/systems/sql/, docs/sql.md): a primary's serializable transactions hold as strict
serializable under list-append, and every server is gone when the run ends; a primary with
synchronous standbys under rw-register and kills, and the primary under a power failure with
each durability model, nothing acknowledged lost (slow). Besides, without a server: a bad
isolation is one line (that a client which gave up before COMMIT never sends it is
tests/test_plugin_outcomes.py's). The runs skip, with
one line, when PostgreSQL (`make postgresql`) is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.cluster.checks import INFORMATION
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import missing
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.systems import registry
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.registry import KNOWN
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import run
from meshcheck.systems.sql.postgresql import POSTGRESQL
from meshcheck.systems.system_file import load

POSTGRES = "/usr/lib/postgresql/15/bin/postgres"
needs_postgresql = pytest.mark.skipif(
    not Path(POSTGRES).exists() or shutil.which("setpriv") is None,
    reason="PostgreSQL 15 missing: `make postgresql` installs it",
)


def _history(out: Path) -> list[dict[str, Any]]:
    lines = (out / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _left(folder: Path) -> str:
    """The processes still running from `folder` (a server's data directory is under it)."""
    found = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True)
    return found.stdout.strip()


@needs_postgresql
def test_the_three_isolation_levels_are_as_hermitage_tabulates_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control (meshcheck/systems/levels.py, docs/sql.md): one primary at read committed,
    repeatable read and serializable, 2 s of random list-append each; none shows an anomaly its
    level prevents, read committed shows one it allows. An allowed anomaly that 2 s did not
    show is said (exit 1, NOT SHOWN), never passed over; the slow test below demands each. The
    serializable run is the primary's own check too: strict serializability shown as
    information, SSI's refusals recorded fail, nothing left running."""
    flags = ["--system", "postgresql", "--workload", "list-append", "--time", "2"]
    code = main(["cluster", "levels", *flags, "--quiet", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "FORBIDDEN" not in printed and "NOT JUDGED" not in printed, printed
    for level in ("read-committed", "repeatable-read", "serializable"):
        assert f"{level} (" in printed and "none of the anomalies it prevents found" in printed
    assert code == 0 or (code == 1 and "NOT SHOWN" in printed), printed
    rc = next(line for line in printed.splitlines() if line.startswith("| read-committed"))
    assert "— 1/1" in rc, printed  # G-single or G2-item, which it allows, seen
    serializable = tmp_path / "serializable" / "list-append-1"
    table = (serializable / "test.txt").read_text(encoding="utf-8")
    assert "serializable (promised)" in table and "holds its promise" in table, table
    assert "strict-serializable" in table and "(information)" in table, table
    events = _history(serializable)
    assert any(e["type"] == "fail" for e in events), "no transaction was refused"
    assert not _left(tmp_path), _left(tmp_path)


@needs_postgresql
@pytest.mark.slow  # the three levels' short runs are make test's
def test_each_level_shows_what_it_allows_and_nothing_it_prevents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control at length: list-append and rw-register, 4 s of each at each level; every
    allowed anomaly the workloads can show is seen (exit 0), none prevented. (2 runs of 3 s
    each took 203 s on the loaded machine: one run of each is enough to show them.)"""
    flags = ["--system", "postgresql", "--runs", "1", "--time", "4", "--quiet"]
    code = main(["cluster", "levels", *flags, "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.endswith("levels: every level as Hermitage tabulates it\n"), printed
    assert not _left(tmp_path), _left(tmp_path)


@needs_postgresql
@pytest.mark.slow  # its serializable run is the levels test's in make test
def test_a_primary_holds_list_append_and_leaves_nothing_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--system", "postgresql", "--workload", "list-append", "--time", "3"]
    code = main(["cluster", "test", *flags, "--nemesis", "none", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # judged by its promise (serializable, the file's isolation), strict serializability as
    # information (docs/systems.md, Promises)
    rows = {r.split("|")[1].strip(): r.split("|")[2].strip() for r in printed.splitlines() if r.startswith("| ")}  # fmt: skip
    assert rows.get("serializable (promised)") == "holds its promise", printed
    assert rows.get("strict-serializable", "").endswith("(information)"), printed
    events = _history(tmp_path)
    ok = [e for e in events if e["type"] == "ok"]
    reads = [m[2] for e in ok for m in e["value"] if m[0] == "r"]
    appends = [m for e in ok for m in e["value"] if m[0] == "append"]
    assert appends and any(reads), "no append committed, or none read back"
    # the serialization failures SSI answers contended transactions with: recorded fail
    assert any(e["type"] == "fail" for e in events), "no transaction was refused"
    assert not _left(tmp_path), _left(tmp_path)


@needs_postgresql
@pytest.mark.slow  # the primary alone runs in make test
def test_synchronous_standbys_hold_rw_register_under_kills(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--system", "postgresql-standbys", "--workload", "rw-register", "--time", "10"]
    code = main(
        ["cluster", "test", *flags, "--nemesis", "kill", "--seed", "2", "--out", str(tmp_path)]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    struck = (tmp_path / "nemesis.log").read_text(encoding="utf-8")
    assert "kill" in struck, struck
    assert "serializable (promised)" in printed and "holds its promise" in printed, printed
    assert not _left(tmp_path), _left(tmp_path)


def test_an_isolation_no_database_has_is_one_line() -> None:
    assert POSTGRESQL.client is not None
    with pytest.raises(ConfigError, match="isolation 'snapshot'"):
        POSTGRESQL.client(ClientSettings({"isolation": "snapshot"}, "linearizable", "cas"))


@needs_postgresql
def test_a_paused_node_s_backend_does_not_answer_until_it_is_resumed(tmp_path: Path) -> None:
    """The nemesis's pause reaches the backend serving a connection made before it, though the
    postmaster put that backend in a session of its own (setsid): a query sent during the pause
    gets no answer; once resumed, it does (impl/runtime/launcher.py `Processes.pause`)."""
    import psycopg

    system = load(KNOWN / "postgresql.toml")
    (tmp_path / "data" / "p1").mkdir(parents=True)
    port = free_ports(1)[0]
    with SystemNodes(
        system, ["p1"], tmp_path, hosts={"p1": LOOPBACK}, ports={"p1": {"client": port}},
        data=lambda n: tmp_path / "data" / n,
    ) as node:  # fmt: skip
        node.start("p1")
        with psycopg.connect(
            host=LOOPBACK, port=port, user="meshcheck", dbname="postgres", autocommit=True
        ) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            node.pause("p1")
            answers: list[object] = []
            query = threading.Thread(
                target=lambda: answers.append(conn.execute("SELECT 2").fetchone()), daemon=True
            )
            query.start()
            query.join(1.5)
            paused = list(answers)
            states = node.threads("p1")
            node.resume("p1")
            query.join(10)
            assert paused == [], "a paused node's backend answered"
            assert set(states.values()) == {"T"} and len(states) > 1, states
            assert answers == [(2,)], "no answer once resumed"
            began = time.monotonic()
            assert conn.execute("SELECT 3").fetchone() == (3,)
            assert time.monotonic() - began < 5


@needs_postgresql
@pytest.mark.slow
def test_synchronous_standbys_hold_list_append_under_pauses_partitions_and_clocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A primary and two synchronous standbys, 10 s of list-append under pauses (every backend
    stopped with its postmaster), partitions and clock shifts: the promise (serializable) holds,
    strict serializability shown as information, each kind of fault carried out, nothing lost."""
    flags = ["--system", "postgresql-standbys", "--workload", "list-append", "--time", "10"]
    # seed 1: a plan of partitions, pauses and a clock shift (seed 3 draws no clock)
    faults = ["--nemesis", "pause,partition,clock", "--seed", "1", "--out", str(tmp_path)]
    code = main(["cluster", "test", *flags, *faults, "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    struck = (tmp_path / "nemesis.log").read_text(encoding="utf-8")
    for kind in ("pause", "partition", "clock"):
        assert f" {kind} " in struck, struck
    assert "serializable (promised)" in printed and "holds its promise" in printed, printed
    assert "strict-serializable" in printed and "(information)" in printed, printed
    assert " 0 lost" in printed, printed
    assert not _left(tmp_path), _left(tmp_path)


@needs_postgresql
@pytest.mark.slow
def test_a_killed_primary_with_asynchronous_standbys_is_judged_and_its_losses_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asynchronous standbys (the primary's SYNC "", COMMIT on) at repeatable read, so that the
    standbys' clients read; kills, the primary among them, and no failover: a killed primary
    restarts as the primary from its own WAL. The promise (snapshot isolation) holds; what a
    later read did not show is counted lost (reads on a standby that had not yet replayed an
    acknowledged append), and the run is not a pass for it (docs/sql.md)."""
    flags = ["--system", "postgresql-standbys", "--workload", "list-append", "--time", "10"]
    knobs = [
        "--set", "nodes.roles.primary.env.SYNC=", "--set", "nodes.roles.primary.env.COMMIT=on",
        "--set", "client.isolation=repeatable-read",
        "--set", "promises.list-append=snapshot-isolation",
    ]  # fmt: skip
    faults = ["--nemesis", "kill", "--seed", "1", "--out", str(tmp_path), "--quiet"]
    code = main(["cluster", "test", *flags, *knobs, *faults])
    printed = capsys.readouterr().out
    struck = (tmp_path / "nemesis.log").read_text(encoding="utf-8")
    assert "kill p1" in struck, struck  # the primary killed
    rows = {r.split("|")[1].strip(): r.split("|")[2].strip() for r in printed.splitlines() if r.startswith("| ")}  # fmt: skip
    assert rows.get("snapshot-isolation (promised)") == "holds its promise", printed
    losses = (tmp_path / "losses.txt").read_text(encoding="utf-8").splitlines()[0]
    lost = int(losses.split(" lost")[0].rsplit(" ", 1)[1])
    kept = rows.get("acknowledged appends kept (list-append)")
    assert (code, kept) == ((1, "VIOLATED") if lost else (0, "holds")), printed
    assert not _left(tmp_path), _left(tmp_path)


def _power_missing() -> str | None:
    """Why a power failure of a server on a namespace network cannot be run here, or None."""
    if shutil.which("fusermount3") is None:
        return "fusermount3 missing: `make fuse`"
    return missing()


@needs_postgresql
@pytest.mark.skipif(_power_missing() is not None, reason=f"{_power_missing()}")
@pytest.mark.slow  # a 6 s run with initdb and a recovery: 20 to 30 s on the loaded machine
@pytest.mark.parametrize("fs", ["strict", "journal"])
def test_a_power_failure_of_the_primary_keeps_every_acknowledged_append(
    tmp_path: Path, fs: str
) -> None:
    """The primary's data directory on the lazy file system, its power cut 2.5 s into 6 s of
    list-append at serializable, under each durability model (docs/faults.md), the clients on
    a namespace network of their own as `cluster test` puts them: with fsync and
    synchronous_commit on, every append acknowledged before the power failure is read back after
    PostgreSQL's crash recovery (docs/sql.md, "PostgreSQL under the nemesis"). Not vacuous: the
    power failure struck, dropped unsynced writes, and appends committed both before and after
    (pg_hba.conf's line for the clients' addresses, not fsynced, was lost with the power and every
    client refused after the restart: the file now syncs it). Run with fsync and synchronous_commit
    off, the promise fails and acknowledged appends are counted lost (docs/sql.md)."""
    postgresql = registry.resolve("postgresql")
    assert isinstance(postgresql, registry.System)
    blackout = (Fault(2.5, "power", ("p1",), 1.0, scope="all"),)
    options = RunOptions(
        nodes=1,
        time=6,
        workload="list-append",
        nemesis=("power",),
        plan=blackout,
        fs=fs,
        network="netns",
    )
    outcome = run(postgresql, options, tmp_path, lambda _: None)
    struck = (tmp_path / "nemesis.log").read_text(encoding="utf-8")
    assert "power failure of p1: unsynced changes dropped from p1" in struck, struck
    assert f"({fs} durability)" in struck and "power p1 undone" in struck, struck
    ops = outcome.history.ops
    committed = [o for o in ops if o.status == "ok" and any(m[0] == "append" for m in o.input)]  # type: ignore[attr-defined]  # fmt: skip
    assert [o for o in committed if o.ret < 2.5], "no append committed before the power failure"
    assert [o for o in committed if o.call > 3.5], "no append committed after the restart"
    verdicts = {v.check: v for v in outcome.verdicts}
    assert verdicts["serializable (promised)"].holds is True, verdicts
    assert verdicts["strict-serializable"].role == INFORMATION, verdicts
    kept = json.loads((tmp_path / "losses.json").read_text(encoding="utf-8"))
    assert kept["checked"] and kept["acknowledged"] >= len(committed) > 0, kept
    assert kept["lost"]["count"] == 0, kept  # what PostgreSQL's docs say it keeps
    assert verdicts["acknowledged appends kept (list-append)"].holds is True, verdicts
    assert outcome.holds, outcome.verdicts
    assert not _left(tmp_path), _left(tmp_path)

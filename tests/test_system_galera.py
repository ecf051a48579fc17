"""MariaDB Galera Cluster under `meshcheck cluster test --system galera` (the system file
meshcheck/systems/known/galera.toml, the SQL plug-in meshcheck/systems/sql/, docs/sql.md): the
bootstrap node starts the cluster and the joiners join it by SST before any client runs, a
transaction committed through one node is read through another, the history is judged, and every
server is gone when the run ends. Whether the history holds the promise is not asserted
here: what Galera promises, and what it was found to do (Jepsen), is docs/findings.md's, its
histories replayed by tests/test_findings_evidence.py. In the slow tier: five nodes under kills,
and three under each fault class of the nemesis (kill, pause, partition, clock), each judged
against the promise with the stronger models as information and its appends counted; every
node killed in quick succession under each flush setting; and every node's power cut at once
under each durability model, planned after the first commits (docs/sql.md). The runs skip, with one line, when MariaDB and Galera (`make
mariadb`) are missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.cluster.checks import INFORMATION
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import missing
from meshcheck.systems import registry
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import run

needs_galera = pytest.mark.skipif(
    not Path("/usr/sbin/mariadbd").exists()
    or not Path("/usr/lib/galera/libgalera_smm.so").exists()
    or shutil.which("rsync") is None,
    reason="MariaDB or Galera missing: `make mariadb` installs them",
)


@pytest.fixture
def out() -> Iterator[Path]:
    """The run's folder, outside pytest's: mariadbd runs as `mysql` and checks its files with
    access(2), so galera.toml lets others pass through every folder above its data (o+x), and a
    pytest starting beside this one sets its own root back to 0700 (pytest's tmp_path)."""
    folder = Path(tempfile.mkdtemp(prefix="meshcheck-galera-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _history(out: Path) -> list[dict[str, Any]]:
    lines = (out / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _left(folder: Path) -> str:
    found = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True)
    return found.stdout.strip()


def _read_elsewhere(events: list[dict[str, Any]]) -> bool:
    """Whether a value some client appended was read by a client bound to another node (each
    client starts on its own node: c1 on g1, c2 on g2, ...; none turned here, none failed info)."""
    appended: dict[tuple[str, int], str] = {}
    for e in events:
        if e["type"] == "ok":
            for m in e["value"]:
                if m[0] == "append":
                    appended[(m[1], m[2])] = e["process"].split(".")[0]
    for e in events:
        if e["type"] == "ok":
            who = e["process"].split(".")[0]
            for m in e["value"]:
                if m[0] == "r" and any(appended.get((m[1], v), who) != who for v in m[2]):
                    return True
    return False


@needs_galera
def test_three_nodes_bootstrap_join_and_replicate(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = out
    flags = ["--system", "galera", "--workload", "list-append", "--time", "2"]
    code = main(["cluster", "test", *flags, "--nemesis", "none", "--out", str(tmp_path)])
    said = capsys.readouterr()
    printed = said.out
    assert code in (0, 1), printed + said.err  # judged, whatever the verdict; never a bad run
    # judged: Elle's verdict, and the appends' account (with wsrep_sync_wait 0, the file's
    # default, a node may serve a read before it applied an append another acknowledged)
    assert "repeatable-read (promised)" in printed and "acknowledged appends kept" in printed, (
        printed
    )
    events = _history(tmp_path)
    assert any(e["type"] == "ok" for e in events), "no transaction committed"
    assert _read_elsewhere(events), "no node read what another node committed"
    joined = (tmp_path / "g2.log").read_text(encoding="utf-8", errors="replace")
    assert "rsync SST completed on joiner" in joined or "SST succeeded" in joined, joined[-2000:]
    assert not _left(tmp_path), _left(tmp_path)


@needs_galera
@pytest.mark.slow
def test_five_nodes_are_judged_under_kills(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tmp_path = out
    flags = ["--system", "galera", "--nodes", "5", "--workload", "list-append", "--time", "10"]
    code = main(
        ["cluster", "test", *flags, "--nemesis", "kill", "--seed", "3", "--out", str(tmp_path)]
    )
    said = capsys.readouterr()
    printed = said.out
    assert code in (0, 1), printed + said.err
    struck = (tmp_path / "nemesis.log").read_text(encoding="utf-8")
    assert "kill" in struck, struck
    assert "repeatable-read (promised)" in printed and "acknowledged appends kept" in printed, (
        printed
    )
    assert not _left(tmp_path), _left(tmp_path)


# each fault class, and what nemesis.log says of a fault of it that struck. Power is planned in a
# test of its own below: a seed's early power failure may strike before InnoDB on the lazy file
# system has committed anything (nothing to judge)
FAULTS = {
    "kill": ("kill", "kill "),
    "pause": ("pause", "pause "),
    "partition": ("partition", "partition "),
    "clock": ("clock", "clock "),
}


@needs_galera
@pytest.mark.slow  # 30 to 60 s each: three servers, 10 s of list-append under one fault class
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_three_nodes_are_judged_under_each_fault_class(
    fault: str, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each fault class struck (nemesis.log), the history judged against the promise
    (repeatable read) with strict serializability as information, the acknowledged appends
    counted (losses.json), and no server left running."""
    kind, struck = FAULTS[fault]
    flags = ["--system", "galera", "--workload", "list-append", "--time", "10", "--seed", "1"]
    code = main(["cluster", "test", *flags, "--nemesis", kind, "--out", str(out)])
    said = capsys.readouterr()
    printed = said.out
    assert code in (0, 1), printed + said.err
    log = (out / "nemesis.log").read_text(encoding="utf-8")
    assert struck in log, log
    rows = {r.split("|")[1].strip(): r.split("|")[2].strip() for r in printed.splitlines() if r.startswith("| ")}  # fmt: skip
    assert rows.get("repeatable-read (promised)") in ("holds its promise", "VIOLATED its promise")
    assert rows.get("strict-serializable", "").endswith("(information)"), printed
    losses = json.loads((out / "losses.json").read_text(encoding="utf-8"))
    assert losses["checked"] and losses["acknowledged"] > 0, losses
    assert "acknowledged appends kept" in printed, printed
    assert not _left(out), _left(out)


@needs_galera
@pytest.mark.slow  # about 60 s each on the loaded machine
@pytest.mark.parametrize("flush", ["0", "1", "2"])
def test_nodes_killed_in_quick_succession(flush: str, out: Path) -> None:
    """Every node killed (kill -9) 0.3 s after the last, at t=4 s, each restarted 2 s later, under
    each innodb_flush_log_at_trx_commit: the run behind docs/findings/galera-kills-flush0/ and
    -flush2/. Whether acknowledged appends are lost depends on what InnoDB had written when
    each died, so it is the kept histories that say it, not this test: here, that all three
    were killed, the cluster came back and served, and the history was judged and its appends
    counted."""
    galera = registry.resolve("galera", [f'nodes.env.FLUSH="{flush}"'])
    assert isinstance(galera, registry.System)
    kills = tuple(Fault(4.0 + 0.3 * i, "kill", (g,), 2.0) for i, g in enumerate(("g1", "g2", "g3")))
    options = RunOptions(
        time=8, workload="list-append", nemesis=("kill",), plan=kills, network="netns", clients=10
    )
    outcome = run(galera, options, out, lambda _: None)
    log = (out / "nemesis.log").read_text(encoding="utf-8")
    assert all(f"kill {g} undone" in log for g in ("g1", "g2", "g3")), log
    verdicts = {v.check: v for v in outcome.verdicts}
    assert verdicts["progress after healing"].holds is True, verdicts
    assert "repeatable-read (promised)" in verdicts and "strict-serializable" in verdicts
    losses = json.loads((out / "losses.json").read_text(encoding="utf-8"))
    assert losses["checked"] and losses["acknowledged"] > 0, losses
    assert not _left(out), _left(out)


def _power_missing() -> str | None:
    """Why a power failure of a node on a namespace network cannot be run here, or None."""
    if shutil.which("fusermount3") is None:
        return "fusermount3 missing: `make fuse`"
    return missing()


# what each durability model's run found (docs/sql.md, "MariaDB Galera under a power failure"):
# under `strict` no name in a data directory was ever made durable (neither mariadb-install-db
# nor the SST's rsync nor InnoDB fsyncs the folder), so every node came back empty, ran
# mariadb-install-db again and g1 bootstrapped a new cluster: every append acknowledged before
# the power failure lost. Under `journal` names survive, and at the file's FLUSH=1 no append was
# lost (those counted lost were read stale once and are in the last read of their key), but both
# joiners found InnoDB's system tablespace corrupt and did not start again: g1 served alone
POWER_LOSES = {"strict": True, "journal": False}


def _in_last_read(events: list[dict[str, Any]], key: str, value: int) -> bool:
    last: dict[str, list[int]] = {}
    for e in events:
        if e["type"] == "ok":
            for m in e["value"]:
                if m[0] == "r" and m[2] is not None:
                    last[m[1]] = m[2]
    return value in last.get(key, [])


@needs_galera
@pytest.mark.skipif(_power_missing() is not None, reason=f"{_power_missing()}")
@pytest.mark.slow  # three servers on the lazy file system, 14 s of list-append: 45 to 90 s each
@pytest.mark.parametrize("fs", sorted(POWER_LOSES))
def test_a_power_failure_of_every_node_is_judged_and_its_losses_counted(fs: str, out: Path) -> None:
    """Every node's power cut at once at t=8 s of 14 s of list-append, under each durability
    model (docs/faults.md), at the file's defaults (FLUSH=1): late enough that InnoDB on the lazy
    file system has committed (at t=4 s and earlier, runs struck before any commit). Not vacuous:
    the power failure struck and dropped unsynced writes, appends committed before it and after
    the restart (under journal, where both joiners abort and g1 may be left without quorum, the
    run's progress check says the cluster did not serve instead); the history judged against the promise with strict serializability as
    information, and what was lost, and which nodes came back, is what docs/sql.md says."""
    galera = registry.resolve("galera")
    assert isinstance(galera, registry.System)
    at = 8.0
    blackout = (Fault(at, "power", ("g1", "g2", "g3"), 1.0, scope="all"),)
    options = RunOptions(
        time=14,
        workload="list-append",
        nemesis=("power",),
        plan=blackout,
        fs=fs,
        network="netns",
        clients=10,
    )
    outcome = run(galera, options, out, lambda _: None)
    log = (out / "nemesis.log").read_text(encoding="utf-8")
    assert "power failure of g1,g2,g3: unsynced changes dropped from g1" in log, log
    assert f"({fs} durability)" in log and "power g1,g2,g3 undone" in log, log
    ops = outcome.history.ops
    committed = [o for o in ops if o.status == "ok" and any(m[0] == "append" for m in o.input)]  # type: ignore[attr-defined]  # fmt: skip
    assert [o for o in committed if o.ret < at], "no append committed before the power failure"
    after = [o for o in committed if o.call > at + 1]
    verdicts = {v.check: v for v in outcome.verdicts}
    if POWER_LOSES[fs] or after:
        assert after, "no append committed after the restart"
        assert verdicts["progress after healing"].holds is True, verdicts
    else:
        # journal, 2 of 3 runs: g1 formed a primary component and lost it again when both
        # joiners aborted (one node of three, no quorum): nothing served after the failure, so
        # nothing read what survived it, and the run says so
        said = (out / "g1.log").read_text(encoding="utf-8")
        assert "Received NON-PRIMARY" in said.split("Starting MariaDB")[-1], said[-2000:]
        assert verdicts["progress after healing"].holds is False, verdicts
    assert verdicts["repeatable-read (promised)"].holds is not None, verdicts
    assert verdicts["strict-serializable"].role == INFORMATION, verdicts
    kept = json.loads((out / "losses.json").read_text(encoding="utf-8"))
    assert kept["checked"] and kept["acknowledged"] >= len(committed) > 0, kept
    lost = kept["lost"]["items"] or []
    if POWER_LOSES[fs]:
        # the cluster began anew: every append acknowledged before the failure is gone
        before = [m for o in committed if o.ret < at for m in o.input if m[0] == "append"]  # type: ignore[attr-defined]  # fmt: skip
        assert kept["lost"]["count"] >= len(before) > 0, (kept["lost"]["count"], len(before))
        assert "did not come back" not in log, log
    else:
        events = _history(out)
        gone = [i["said"] for i in lost if not _in_last_read(events, i["key"], i["value"])]
        assert not gone, gone  # each counted lost was a stale read, kept in the end
        for joiner in ("g2", "g3"):  # what every such run so far did
            assert f"{joiner} did not come back" in log, log
            said = (out / f"{joiner}.log").read_text(encoding="utf-8")
            assert "Plugin initialization aborted with error Data structure corruption" in said
    assert not _left(out), _left(out)

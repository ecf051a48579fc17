"""PostgreSQL 15 under `meshcheck cluster test --system postgresql` (the system files
meshcheck/systems/known/postgresql.toml and postgresql-standbys.toml, the SQL plug-in
meshcheck/systems/sql/, docs/sql.md): a primary's serializable transactions hold as strict
serializable under list-append, and every server is gone when the run ends; a primary with
synchronous standbys under rw-register and kills (slow). Besides, without a server: a bad
isolation is one line (that a client which gave up before COMMIT never sends it is
tests/test_plugin_outcomes.py's). The runs skip, with
one line, when PostgreSQL (`make postgresql`) is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.sql.postgresql import POSTGRESQL

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

"""ZooKeeper under the fenced-lock workload (meshcheck/systems/fenced_workload.py through the
ZooKeeper plug-in, meshcheck/systems/zookeeper/client.py): the token is the lock znode's sequence
number, and the register is written by a `multi` that sets its token znode at the version read.

Seed 2 with `--long-pause 6` pauses z1, the server of the first client, from 1.9 s to 7.9 s, while
that client stalls 11 s holding the lock (`--client-pause 11`). Its session expires on the rest of
the ensemble (4 s), its lock znode goes with it, and others take the lock under it: two holders at
once, as ZooKeeper's lock recipe documents (recipes.html, "Locks"). When it wakes, kazoo has a new
session and the stale holder writes with its old token: refused by the fenced register, accepted
by the `unfenced` mutant, which the checker must catch. Skipped (one line) without Java, Debian's
zookeeper (`make zookeeper`) or kazoo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from tests.test_cluster_cmd import nodes_of

pytest.importorskip("kazoo", reason="kazoo is not installed: pip install -e '.[systems]'")
pytestmark = pytest.mark.skipif(
    shutil.which("java") is None or not Path("/usr/share/zookeeper/bin/zkServer.sh").exists(),
    reason="ZooKeeper is not installed: `make zookeeper`",
)

RUN = ["cluster", "test", "--system", "zookeeper", "--workload", "fenced-lock", "--network",
       "loopback", "--nemesis", "pause", "--long-pause", "6", "--client-pause", "11", "--time",
       "15", "--seed", "2", "--quiet"]  # fmt: skip
STALLED = "c1.1.0"  # the first client's first process: the one that stalls holding the lock


def rows(printed: str) -> dict[str, str]:
    """The report table's check -> result."""
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in printed.splitlines()]
    return {c[0]: c[1] for c in cells if len(c) == 3}


def stale_writes(folder: Path) -> list[tuple[str, int, int]]:
    """The stalled holder's writes completed after a write with a larger token was accepted:
    (their status, their token, that larger token)."""
    lines: list[dict[str, Any]] = [
        json.loads(t) for t in (folder / "history.jsonl").read_text().splitlines()
    ]
    invoked: dict[str, int] = {}
    highest = 0
    found: list[tuple[str, int, int]] = []
    for e in lines:
        if e["f"] != "write":
            continue
        if e["type"] == "invoke":
            invoked[e["process"]] = int(e["value"][0])
            continue
        token = invoked.pop(e["process"])
        if e["process"] == STALLED and e["type"] in ("ok", "fail") and token < highest:
            found.append((e["type"], token, highest))
        if e["type"] == "ok":
            highest = max(highest, token)
    return found


# make test-all: two real ensembles for 15 s each; make test keeps the plug-in's fenced write against
# its mutant on a shared ensemble (tests/test_system_zookeeper.py) and etcd's fenced-lock runs
@pytest.mark.slow
def test_a_holder_whose_session_expired_in_a_long_pause_is_fenced_off_and_unfenced_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fenced = tmp_path / "fenced"
    assert main([*RUN, "--out", str(fenced)]) == 1  # mutual exclusion fails, as documented
    printed = capsys.readouterr().out
    assert rows(printed)["fenced lock: mutual exclusion"] == "VIOLATED", printed
    assert rows(printed)["fenced lock: fencing kept the register safe"] == "holds", printed
    struck = (fenced / "nemesis.log").read_text().split()  # z1 paused 6 s, while z1's holder holds
    assert struck[1:3] == ["pause", "z1"] and struck[4:7] == ["pause", "z1", "undone"], struck
    assert float(struck[3]) - float(struck[0]) >= 6.0
    # fencing did work: the stalled holder wrote with its old token and was refused
    refused = stale_writes(fenced)
    assert refused and {status for status, _, _ in refused} == {"fail"}, refused

    bare = tmp_path / "unfenced"
    assert main([*RUN, "--broken", "unfenced", "--out", str(bare)]) == 1
    printed = capsys.readouterr().out
    assert rows(printed)["fenced lock: fencing kept the register safe"] == "VIOLATED", printed
    anomaly = (bare / "anomaly.txt").read_text()
    assert "stale-write-accepted:\n  write with token" in anomaly
    assert f"by process {STALLED}" in anomaly.split("stale-write-accepted:")[1]
    assert any(status == "ok" for status, _, _ in stale_writes(bare))
    assert nodes_of(tmp_path, b"QuorumPeerMain") == []

"""Kill, pause and resume reach each system's real server, every thread of it (in its process
group or not: PostgreSQL's backends), before they return: one node of each system file (etcd, NATS, ZooKeeper, PostgreSQL, Galera, the example service) started as
`cluster test` starts it (meshcheck/systems/nodes.py), then paused, resumed and killed, the
process group's threads read from /proc after each (impl/runtime/process_group.py). A system
whose executables are missing is skipped with the file's own hint."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from meshcheck.impl.runtime import process_group
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import free_ports
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.registry import KNOWN
from meshcheck.systems.system_file import load

ROOT = Path(__file__).resolve().parents[1]
FILES = [*sorted(KNOWN.glob("*.toml")), ROOT / "examples" / "meshkv" / "meshkv.toml"]


# PostgreSQL's postmaster puts each child it forks in a session of its own (setsid() in
# InitPostmasterChild, src/backend/utils/init/miscinit.c), so the node's process group holds the
# postmaster alone: its backends are reached by the node's mark (impl/runtime/process_tree.py),
# and the threads judged here are the group's and the marked ones (Processes.threads).
#
# Galera's single node sometimes aborts in its start under load, before any fault ("WSREP: Exception:
# State wait was interrupted", "View callback failed", galera/src/replicator_smm.cpp
# submit_view_info): 3 of 6 runs on a loaded machine, 0 of 7 on a quieter one, the cause not found
# (docs/sql.md). Its case is in the slow tier; Galera's three nodes start in `make test`'s
# tests/test_system_galera.py, and its pause and kill are struck in that file's slow fault runs.
FLAKY_START = {"galera"}
CASES = [
    pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in FLAKY_START else [])
    for p in FILES
]


@pytest.mark.parametrize("path", CASES)
def test_kill_pause_and_resume_act_on_every_thread_of_the_server(
    path: Path, tmp_path: Path
) -> None:
    system = load(path)
    missing = [  # as the file's loader looks for them: a path is a file, a name on PATH
        need
        for need in system.install.needs
        if not ((system.here / need).is_file() if "/" in need else shutil.which(need))
    ]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: {system.install.hint}")
    (tmp_path / "data" / "n1").mkdir(parents=True)
    ports = dict(zip(system.nodes.ports, free_ports(len(system.nodes.ports)), strict=True))
    with SystemNodes(
        system,
        ["n1"],
        tmp_path,
        hosts={"n1": LOOPBACK},
        ports={"n1": ports},
        data=lambda n: tmp_path / "data" / n,
    ) as node:
        node.start("n1")
        group = node.procs["n1"].pid
        for _ in range(600):  # a command that prepares its data first (initdb) forks later
            running = node.threads("n1")
            if len(running) > 1:
                break
            time.sleep(0.1)
        assert len(running) > 1 and not {"T", "t"} & set(running.values()), running
        node.pause("n1")
        paused = node.threads("n1")
        assert set(paused.values()) == {"T"}, paused
        node.resume("n1")
        assert not {"T", "t"} & set(node.threads("n1").values())
        started = sorted({pid for pid, _ in node.threads("n1")})
        node.kill("n1")
        assert list(process_group.live(group)) == []
        # every process of the node, in its group or not (PostgreSQL's backends), ended at once
        left = process_group.threads_of(started)
        assert set(left.values()) <= process_group.GONE, left
        assert node.running() == []

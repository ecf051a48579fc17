"""Kill, pause and resume reach each system's real server, every thread of it, before they
return: one node of each system file (etcd, NATS, ZooKeeper, the example service) started as
`cluster test` starts it (meshcheck/systems/nodes.py), then paused, resumed and killed, the
process group's threads read from /proc after each (impl/runtime/process_group.py). A system
whose executables are missing is skipped with the file's own hint."""

from __future__ import annotations

import shutil
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


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_kill_pause_and_resume_act_on_every_thread_of_the_server(
    path: Path, tmp_path: Path
) -> None:
    system = load(path)
    missing = [need for need in system.install.needs if shutil.which(need) is None]
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
        running = process_group.thread_states(group)
        assert len(running) > 1 and not {"T", "t"} & set(running.values()), running
        node.pause("n1")
        paused = process_group.thread_states(group)
        assert set(paused.values()) == {"T"}, paused
        node.resume("n1")
        assert not {"T", "t"} & set(process_group.thread_states(group).values())
        node.kill("n1")
        assert list(process_group.live(group)) == []
        assert node.running() == []

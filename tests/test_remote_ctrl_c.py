"""Ctrl-C in a terminal during a run on hosts over SSH (meshcheck/systems/remote.py `APART`): the
terminal sends SIGINT to its foreground process group, meshcheck and everything of it that shares
its group. Here the controller runs in a process group of its own, as a terminal's job does, and
the whole group gets SIGINT while the clients run, as a node the nemesis killed restarts. Every
ssh meshcheck started is in a group of its own, so the signal reaches meshcheck alone: the run
stops early (exit 130, partial.txt), every node's log and data come back from its host, no node
is declared down (down.txt: a node restarting when the signal came is not called down), and
nothing of the run is left on the hosts. With an ssh in meshcheck's group (the mutant
`ssh_master_in_our_group`, mutation/faults.toml) the master dies of the signal and the
collection fails with it.

One run over real sshds (tests/sshd_hosts.py), `make test`'s only whole SSH run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.systems.remote import BOUND
from tests.sshd_hosts import SshHosts
from tests.sshd_hosts import sshd_hosts
from tests.sshd_hosts import unavailable

WHY = unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"SSH hosts: {WHY}")
TOY = Path(__file__).parent / "data" / "systems" / "toy.toml"


def nodes(hosts: SshHosts) -> set[int]:
    """The pids of the toy's nodes on every host."""
    found = set()
    for name in hosts.names:
        for pid in hosts.pids(name):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if argv[0].endswith(b"python3") and argv[1].endswith(b"toy_kv.py"):
                    found.add(pid)
            except OSError:
                continue  # gone while we looked
    return found


def test_sigint_to_the_process_group_keeps_every_nodes_log_and_data(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with sshd_hosts() as hosts:
        argv = [sys.executable, "-m", "meshcheck", "cluster", "test", "--system", str(TOY),
                "--hosts", str(hosts.hosts_file), "--out", str(out), "--time", "20",
                "--nemesis", "kill", "--rate", "40", "--seed", "3"]  # fmt: skip
        controller = subprocess.Popen(
            hosts.control(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            process_group=0,  # a terminal's job: the group the terminal signals
        )  # fmt: skip
        assert controller.stderr is not None and controller.stdout is not None
        try:
            seen = []
            for line in controller.stderr:  # the clients run: every node up on its host
                seen.append(line)
                if line.strip().startswith("t="):
                    break
            assert controller.poll() is None, "".join(seen)
            first = nodes(hosts)
            assert len(first) == 3, first
            deadline = time.monotonic() + 30
            while not nodes(hosts) - first:  # until a node the nemesis killed is restarting
                assert time.monotonic() < deadline, "no node restarted within 30 s"
                time.sleep(0.02)
            os.killpg(controller.pid, signal.SIGINT)  # as a terminal's Ctrl-C
            stdout, stderr = controller.communicate(timeout=120)
        finally:
            if controller.poll() is None:
                os.killpg(controller.pid, signal.SIGKILL)
                controller.wait()
        assert controller.returncode == 130, stdout + stderr
        for name in hosts.names:
            assert hosts.sessions_gone(name, BOUND + 5) == [], name
            assert list(hosts.work(name).iterdir()) == [], name
    assert (out / "partial.txt").is_file(), stdout + stderr
    assert not (out / "down.txt").exists(), (out / "down.txt").read_text()
    # each node's log (the toy writes none: empty) and data came back from its host
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["t1.out", "t2.out", "t3.out"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["t1", "t2", "t3"]
    assert (out / "data" / "t1" / "store.json").stat().st_size > 0  # node 1 keeps the registers
    # the restart under way when the signal came was finished over its ssh session (strike.py
    # `through`), not cut: `kill tN undone`, not `ended, not restarted` or a node declared down
    # (here 0.5 s after the stop: the toy's start is slower than the test's look)
    struck = (out / "nemesis.log").read_text()
    assert any(line.endswith(" undone") for line in struck.splitlines()), struck

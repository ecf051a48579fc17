"""The process faults (impl/runtime/process_group.py through `Processes`' kill, pause and resume)
reach every thread of every process a node started, and return only once /proc shows they acted.

Two ways the old faults fell short, each pinned here: a signal sent to a node's first process only
(a launcher script's child ran on through a "pause"), and a pause that returned when SIGSTOP was
queued rather than when it had stopped the node (a NATS server acknowledged a publish after its
pause had been sent: docs/findings.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime import process_group
from meshcheck.impl.runtime.launcher import LOOPBACK
from meshcheck.impl.runtime.launcher import Processes
from meshcheck.impl.runtime.launcher import free_ports

# a node whose first process is a shell that starts the real server as its child (as a launcher
# script starts a JVM), the server busy on four threads besides the one that listens
SERVER = """
import socket, sys, threading
def spin():
    while True:
        pass
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True:
    s.accept()[0].close()
"""


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    port = free_ports(1)[0]
    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    shell = f"{sys.executable} {script} {port} & wait"
    procs.spawn("n1", ["sh", "-c", shell], (LOOPBACK, port), 20)
    try:
        yield procs
    finally:
        procs.stop()


def _states(procs: Processes) -> dict[tuple[int, int], str]:
    return process_group.thread_states(procs.procs["n1"].pid)


def test_a_pause_stops_every_thread_of_every_process_the_node_started(node: Processes) -> None:
    pids = {pid for pid, _ in _states(node)}
    assert len(pids) == 2  # the shell and its server
    node.pause("n1")
    states = _states(node)
    assert len(states) >= 6 and set(states.values()) == {"T"}, states
    node.resume("n1")
    assert not {"T", "t"} & set(_states(node).values())
    node.kill("n1")
    assert list(process_group.live(node.procs["n1"].pid)) == []
    for pid in pids:  # the server the shell started is gone too, not left to init
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return text[text.rindex(")") + 2] in "ZX"


def test_a_pause_returns_only_once_the_stop_has_landed(
    node: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel queues a signal and acts on it when a thread of the target is next scheduled; on
    a loaded machine that lags. Here every signal lands 0.3 s after it is sent: `pause` must not
    return before the node is stopped, nor `resume` before it runs again."""
    real = os.killpg

    def late(pgid: int, sig: int) -> None:
        real(pgid, 0)  # ProcessLookupError now, as the real call would raise
        threading.Timer(0.3, real, (pgid, sig)).start()

    monkeypatch.setattr(process_group.os, "killpg", late)
    began = time.monotonic()
    node.pause("n1")
    assert set(_states(node).values()) == {"T"}
    assert time.monotonic() - began >= 0.3
    node.resume("n1")
    assert not {"T", "t"} & set(_states(node).values())


def test_a_stop_that_never_lands_is_an_error_naming_the_states(
    node: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process_group.os, "killpg", lambda pgid, sig: None)
    with pytest.raises(ImplError, match=r"process group \d+: threads in states '.*' after 0.2 s"):
        process_group.stop(node.procs["n1"].pid, wait=0.2)


def test_signals_to_a_group_that_has_ended_do_nothing(tmp_path: Path) -> None:
    procs = Processes(tmp_path)
    port = free_ports(1)[0]
    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    procs.spawn("n1", [sys.executable, str(script), str(port)], (LOOPBACK, port), 20)
    pid = procs.procs["n1"].pid
    procs.kill("n1")
    procs.kill("n1")  # again: nothing left to kill
    process_group.stop(pid)
    process_group.cont(pid)
    process_group.signal_all(pid, signal.SIGTERM)
    assert procs.running() == []


def test_after_its_first_process_is_reaped_only_its_orphans_are_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once a node's first process is reaped its pid, the group's id, is free for a new process
    to take: the group is signalled then only if it still holds the node's orphans (which keep
    the id from being reused), never when it is empty or led by a process of that pid."""
    shell = subprocess.Popen(["sh", "-c", "sleep 1000 & exit 0"], process_group=0)
    shell.wait()  # reaped; its child sleeps on in the group
    orphans = process_group.members(shell.pid)
    assert len(orphans) == 1 and shell.pid not in orphans
    process_group.kill(shell.pid, reaped=True)
    assert list(process_group.live(shell.pid)) == []
    sent: list[int] = []
    monkeypatch.setattr(process_group.os, "killpg", lambda pgid, sig: sent.append(pgid))
    process_group.kill(shell.pid, reaped=True)  # empty now: not ours to signal
    monkeypatch.setattr(process_group, "live", lambda pgid: iter([pgid, pgid + 1]))
    process_group.kill(shell.pid, reaped=True)  # led by a process of that pid: another's group
    assert sent == []

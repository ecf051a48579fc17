"""What the harness starts and bounds ends whole, within its bound (impl/runtime/process_tree.py):
a readiness probe's try (systems/probe.py), a system file's version command (provenance.py), a
node's command and its sidecars under the nemesis's kill and the run's stop (launcher.py
`Processes`, systems/nodes.py), an implementation's driver (drivers/pipe.py). Each is given a command whose children outlive it: a shell
pipeline, a script that leaves a child in the background holding its output, and a double fork
into a session of its own (`setsid`), which leaves the process group the harness signals.

Every child here is a `sleep` of a duration drawn for the test (`Leftovers.sleep`), so that what is
left is found in /proc by its command line alone, not by the mark the harness finds it by."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck.drivers.pipe import DriverProcess
from meshcheck.impl.adapters.contract import AdapterError
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime import process_group
from meshcheck.impl.runtime import process_tree
from meshcheck.impl.runtime.launcher import Processes
from meshcheck.systems import probe
from meshcheck.systems import provenance
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.system_file import load

LIMIT = 1.0  # the bound of every bounded command here
SLACK = 1.5  # what a loaded 2-core machine may add to it: a try must end well before its children


class Leftovers:
    """The sleeps a test starts, each of a duration no other process has, found in /proc."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def sleep(self) -> str:
        """`sleep N` for an N drawn now (60 to 90 s: far past any bound here)."""
        token = f"{random.uniform(60, 90):.6f}"
        self.tokens.append(token)
        return f"sleep {token}"

    def alive(self) -> list[int]:
        """The pids of live processes (not zombies) sleeping one of this test's durations."""
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
                stat = Path(entry.path, "stat").read_text(encoding="ascii")
            except OSError:
                continue
            zombie = stat[stat.rindex(")") + 2] in "ZX"
            if not zombie and any(t.encode() in argv for t in self.tokens):
                found.append(int(entry.name))
        return found


@pytest.fixture
def left() -> Iterator[Leftovers]:
    found = Leftovers()
    yield found
    for pid in found.alive():  # what a failing run left: not left to the next test
        os.kill(pid, signal.SIGKILL)


# -- a bounded command: the probe's try, the version command -----------------------------------------


def _shapes(s: Leftovers) -> dict[str, tuple[str, bool, int]]:
    """Commands that start children outliving them: (shell text, whether it exits by itself, how
    many processes it leaves besides the shell: sh is dash here, which execs no last command)."""
    return {
        "a pipeline": (f"{s.sleep()} | cat", False, 2),
        # no mark: its process group alone finds it
        "a child with no environment": (f"env -i {s.sleep()} | cat", False, 2),
        "a script's background child": (f"{s.sleep()} & echo started", True, 1),
        # no group: its mark alone finds it
        "a double fork, waiting": (f"setsid {s.sleep()} & echo started; {s.sleep()}", False, 2),
        "a double fork, gone": (f"(setsid {s.sleep()} &); echo started", True, 1),
        # no mark, no parent left: its group alone finds it
        "an orphan with no environment": (f"(env -i {s.sleep()} &); echo started", True, 1),
    }


SHAPES = [
    "a pipeline",
    "a child with no environment",
    "a script's background child",
    "a double fork, waiting",
    "a double fork, gone",
    "an orphan with no environment",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_bounded_command_ends_within_its_limit_and_leaves_nothing(
    shape: str, left: Leftovers
) -> None:
    """A command that runs past its limit is killed with all it started; one that exits leaves
    nothing running either. Either way the call returns by the limit, not when the last process
    holding the output ends, and says how many it left."""
    text, exits, leaves = _shapes(left)[shape]
    began = time.monotonic()
    done = process_tree.run(["sh", "-c", text], LIMIT, merge=True)
    took = time.monotonic() - began
    assert took < LIMIT + SLACK, took
    assert left.alive() == []
    assert len(done.left) == leaves, done
    if exits:
        assert done.code == 0 and done.out == b"started\n", done
        assert took < LIMIT  # its exit ended it, not the limit
    else:
        assert done.code is None, done


def test_a_probe_try_kills_what_it_left_and_says_so(tmp_path: Path, left: Leftovers) -> None:
    """A try that passes but leaves a daemon behind counts as passed; the daemon is killed and
    the try's line says so. A try that hangs in a double fork ends at its limit."""
    log = tmp_path / "n1.ready.log"
    passes = probe.Probe("n1", ["sh", "-c", f"(setsid {left.sleep()} &); echo up"], {}, log)
    assert passes(10.0, LIMIT) is None
    hangs = probe.Probe("n1", ["sh", "-c", f"setsid {left.sleep()} & {left.sleep()}"], {}, log)
    began = time.monotonic()
    assert hangs(10.0, LIMIT) == "its probe took over 1 s"
    assert time.monotonic() - began < LIMIT + SLACK
    began = time.monotonic()  # a try never outlasts the readiness timeout left
    assert hangs(0.2, LIMIT) == "its probe took over 0.2 s"
    assert time.monotonic() - began < LIMIT
    assert left.alive() == []
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(": ready (it left 1 process running: killed)"), lines
    assert lines[1] == "  up" and len(lines) == 4, lines
    # the sleeps, and the shell too where it execs its last command (bash does, dash does not)
    assert re.search(
        r": its probe took over 1 s \(it left [12] process(es)? running: killed\)$", lines[2]
    )


SYSTEM = """
name = "forks"
version = { command = VERSION }

[nodes]
names = "f{i}"
min = 1
ports = ["client"]
command = ["sh", "-c", "NODE"]
ready = { command = ["true"], timeout = 5 }

[[nodes.sidecars]]
name = "beside"
command = ["sh", "-c", "SIDECAR"]

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers"]
"""


def forks(tmp_path: Path, node: str, sidecar: str, version: str = '["true"]') -> SystemNodes:
    """One node of a system whose node command and sidecar are the shell texts given."""
    text = SYSTEM.replace("NODE", node).replace("SIDECAR", sidecar).replace("VERSION", version)
    path = tmp_path / "forks.toml"
    path.write_text(text, encoding="utf-8")
    return SystemNodes(
        load(path), ["f1"], tmp_path, hosts={"f1": "127.0.0.1"}, ports={"f1": {"client": 1}},
        data=lambda n: tmp_path / "data" / n,
    )  # fmt: skip


def test_a_version_command_that_leaves_a_daemon_answers_when_it_exits(
    tmp_path: Path, left: Leftovers
) -> None:
    """A version command is a wrapper that starts a daemon holding its output and prints the
    version: the answer is its line, at once, and the daemon does not outlive it."""
    nodes = forks(tmp_path, "true", "true", f'["sh", "-c", "setsid {left.sleep()} & echo v1.2"]')
    began = time.monotonic()
    assert provenance._version(nodes.system) == "v1.2"
    assert time.monotonic() - began < LIMIT
    assert left.alive() == []


# -- a node's command and its sidecars: the nemesis's kill, the run's stop ----------------------------


def test_a_kill_ends_what_the_node_and_its_sidecar_started_in_any_session(
    tmp_path: Path, left: Leftovers
) -> None:
    """The nemesis's kill of a node whose command pipes and double-forks, and whose sidecar
    double-forks: nothing of either is left to run on beside the node's successor."""
    node = f"setsid {left.sleep()} & {left.sleep()} | cat"
    sidecar = f"(setsid {left.sleep()} &); exec {left.sleep()}"
    with forks(tmp_path, node, sidecar) as cluster:
        cluster.start("f1")
        _until(lambda: len(left.alive()) == 4)
        cluster.kill("f1")
        assert left.alive() == []
        cluster.start("f1")
        _until(lambda: len(left.alive()) == 4)
        cluster.stop()
        assert left.alive() == []


def test_the_stop_ends_every_node_and_what_it_started(tmp_path: Path, left: Leftovers) -> None:
    """The run's stop: a node that ignores SIGTERM and its double fork, ended once the grace has
    passed; the grace, not the children, bounds the stop."""
    procs = Processes(tmp_path)
    shell = f"trap '' TERM; setsid {left.sleep()} & {left.sleep()}"
    procs.launch("n1", ["sh", "-c", shell])
    _until(lambda: len(left.alive()) == 2)
    began = time.monotonic()
    procs.stop(grace=0.2)
    assert time.monotonic() - began < 0.2 + SLACK
    assert left.alive() == [] and procs.running() == []


def _states(pids: list[int]) -> set[str]:
    return set(process_group.threads_of(pids).values())


def test_a_pause_stops_what_the_node_started_in_any_session(
    tmp_path: Path, left: Leftovers
) -> None:
    """The nemesis's pause of a node whose command leaves two processes in sessions of their
    own: a double fork whose parent is gone, found by its mark alone, and a child without the
    mark (its environment dropped, as PostgreSQL's backends overwrite theirs with their process
    title), found as the node's descendant alone. Both are stopped with the node, the resume
    wakes them, and a process of neither kind is not touched."""
    procs = Processes(tmp_path)
    shell = f"(setsid {left.sleep()} &); env -i setsid {left.sleep()} & exec {left.sleep()}"
    procs.launch("n1", ["sh", "-c", shell])
    stranger = subprocess.Popen(left.sleep().split())
    try:
        _until(lambda: len(left.alive()) == 4)
        ours = [pid for pid in left.alive() if pid != stranger.pid]
        assert procs.procs["n1"].pid in ours and len(ours) == 3
        procs.pause("n1")
        assert _states(ours) == {"T"}, process_group.threads_of(ours)
        assert "T" not in _states([stranger.pid])
        procs.resume("n1")
        assert not {"T", "t"} & _states(ours)
        procs.stop(grace=0.2)
        assert left.alive() == [stranger.pid]
    finally:
        stranger.kill()
        stranger.wait()


def test_marked_processes_are_found_in_any_session_and_killed(left: Leftovers) -> None:
    """The mark is what finds a process that left its group: killed by `kill_marked` whatever
    session it is in; a process without the mark is not touched."""
    mark = process_tree.new_mark()
    other = process_tree.run(["true"], LIMIT)  # a run of its own: its mark is not this one
    assert other.code == 0 and other.left == ()
    escaped = subprocess.Popen(["setsid", *left.sleep().split()], env={**os.environ, mark: "1"})
    stranger = subprocess.Popen(left.sleep().split())
    try:
        _until(lambda: len(left.alive()) == 2)
        assert process_tree.marked(mark) != []
        killed = process_tree.kill_marked(mark)
        assert killed and stranger.pid not in killed
        escaped.wait(timeout=5)
        assert left.alive() == [stranger.pid]
    finally:
        stranger.kill()
        stranger.wait()


def _until(
    done: Callable[[], bool], wait: float = 10.0, what: str = "the processes did not all start"
) -> None:
    deadline = time.monotonic() + wait
    while not done():
        if time.monotonic() > deadline:
            raise ImplError(what)
        time.sleep(0.02)


def test_a_driver_that_does_not_answer_is_closed_with_all_it_started(left: Leftovers) -> None:
    """A driver (drivers/pipe.py) that is a wrapper: it starts children, one in a session of its
    own, reads its requests and answers none. The request fails at its timeout, and closing the
    driver (its stdin ends, the wrapper exits) leaves none of its children."""
    wrapper = f"setsid {left.sleep()} & {left.sleep()} & cat > /dev/null"
    process = DriverProcess(["sh", "-c", wrapper], name="wrapper", timeout=0.5)
    try:
        _until(lambda: len(left.alive()) == 2)
        began = time.monotonic()
        with pytest.raises(AdapterError, match=r"hello: no answer within 0.5 s"):
            process.hello(("s1",))
        assert time.monotonic() - began < 0.5 + SLACK
    finally:
        process.close()
    assert left.alive() == []


HARNESS = """
import os
from meshcheck.impl.runtime import process_tree
process_tree.run(os.environ["SLEEP"].split(), 60.0)
"""  # the sleep in its environment, not its argv: the harness itself is not taken for the sleep


def test_a_bounded_command_dies_with_a_harness_killed_with_sigkill(left: Leftovers) -> None:
    """A harness killed with SIGKILL runs no code of its own: the command it was waiting on dies
    with it all the same (the parent-death signal), not at the end of its limit."""
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS], env={**os.environ, "SLEEP": left.sleep()}
    )
    try:
        _until(lambda: len(left.alive()) == 1)
    finally:
        harness.kill()
        harness.wait()
    _until(lambda: left.alive() == [], 5.0, "the command outlived its harness by 5 s")

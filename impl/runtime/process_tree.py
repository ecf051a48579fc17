"""A child process and everything it started, ended together: what bounds a readiness probe's try
(meshcheck/systems/probe.py), a system file's version command (provenance.py) and the end of a
node or a sidecar (launcher.py `Processes`).

Killing the child alone leaves what it started: `sh -c 'status | grep ok'` killed at its limit
leaves `status` running, holding the pipe the harness reads, so a reader that waits for the end
of its output waits as long as `status` runs, not as long as the limit. Each child therefore
runs in a process group of its own, and the group is killed (process_group.py). A process that
leaves the group (`setsid`, a daemon's double fork) escapes that signal; so each child also gets
a mark, an environment variable of a name drawn for it (`new_mark`), which every process it
starts inherits whatever group or session it moves to, and what still carries the mark is found
in /proc/PID/environ (proc(5)) and killed too. Jenkins ends what a build left the same way, by
the `BUILD_ID` it puts in the build's environment ("ProcessTreeKiller", jenkins.io "Spawning
processes from build").

Not covered: a process that drops its environment before it execs (`env -i`, a sanitising
setuid program), a process of another user the harness may not read, and processes on other
hosts (an SSH session's far side: remote_nodes.py ends those by their own process group there).
A cgroup (cgroups(7)) would hold those too, but needs a delegated hierarchy the harness cannot
count on (root, or systemd's `Delegate=`).

The output of a bounded command (`run`) goes to an unnamed file rather than a pipe: its end is
when the command exits or its limit passes, never when the last process holding its output ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime import process_group

PROC = Path("/proc")
PREFIX = "MESHCHECK_TREE_"  # the name of every mark begins so; the rest is drawn per child
WAIT = process_group.WAIT  # seconds the marked processes have to die after SIGKILL
_PR_SET_PDEATHSIG = 1


def new_mark() -> str:
    """A mark no other child has: an environment variable's name (its value is `1`)."""
    return PREFIX + secrets.token_hex(8)


def die_with_parent() -> None:
    """A `preexec_fn`: the kernel sends the child SIGKILL when the thread that started it ends
    (prctl PR_SET_PDEATHSIG), so a harness killed with SIGKILL leaves no child behind. The child's
    own children do not inherit it: their group and their mark end them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _carries(pid: int, needle: bytes) -> bool:
    """Whether process `pid` is alive (not a zombie) and its environment holds `needle`."""
    try:
        if needle not in b"\0" + (PROC / str(pid) / "environ").read_bytes():
            return False
        stat = (PROC / str(pid) / "stat").read_text(encoding="ascii")
    except OSError:  # ended while we looked, or not ours to read
        return False
    return stat[stat.rindex(")") + 2] not in process_group.GONE


def marked(mark: str) -> list[int]:
    """The pids of the live processes whose environment holds `mark` now (this one's never)."""
    needle = b"\0" + mark.encode("ascii") + b"="
    me = os.getpid()
    return [
        int(e.name)
        for e in os.scandir(PROC)
        if e.name.isdigit() and int(e.name) != me and _carries(int(e.name), needle)
    ]


def _send(pid: int, needle: bytes, sig: int = signal.SIGKILL) -> None:
    """`sig` to `pid` if it still carries the mark: the pidfd holds the process it was opened on,
    so a pid freed and taken by another process between the look and the signal is not hit."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return  # gone
    try:
        if _carries(pid, needle):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, sig)
    finally:
        os.close(fd)


def _signal_until(mark: str, sig: int, done: Callable[[str], bool], wait: float) -> None:
    """`sig` to every process that carries `mark`, again to those with a thread not yet `done`
    (one may have forked meanwhile), until every thread of every one is; ImplError after
    `wait` s."""
    needle = b"\0" + mark.encode("ascii") + b"="
    deadline = time.monotonic() + wait
    pause = 0.0005
    while True:
        states = process_group.threads_of(marked(mark))
        behind = sorted({pid for (pid, _), v in states.items() if not done(v)})
        if not behind:
            return
        if time.monotonic() > deadline:
            raise ImplError(f"{len(behind)} processes marked {mark} not signalled after {wait:g} s")
        for pid in behind:
            _send(pid, needle, sig)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def stop_marked(mark: str, wait: float = WAIT) -> None:
    """SIGSTOP every process that carries `mark`, in whatever group or session it moved to (a
    server's workers that left with `setsid`: PostgreSQL's backends); return once every thread
    of them is stopped or has ended."""
    stopped = process_group.STOPPED | process_group.GONE
    _signal_until(mark, signal.SIGSTOP, lambda v: v in stopped, wait)


def cont_marked(mark: str, wait: float = WAIT) -> None:
    """SIGCONT every process that carries `mark`; return once none of their threads is stopped."""
    _signal_until(mark, signal.SIGCONT, lambda v: v not in process_group.STOPPED, wait)


def kill_marked(mark: str, wait: float = WAIT) -> list[int]:
    """SIGKILL every process that carries `mark`, again until none is alive (one may fork while
    the others die); the pids killed. ImplError when some are still alive after `wait` s."""
    needle = b"\0" + mark.encode("ascii") + b"="
    deadline = time.monotonic() + wait
    killed: set[int] = set()
    pause = 0.0005
    while found := marked(mark):
        if time.monotonic() > deadline:
            raise ImplError(f"{len(found)} processes marked {mark} alive after {wait:g} s")
        for pid in found:
            _send(pid, needle)
        killed.update(found)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)
    return sorted(killed)


def left(proc: subprocess.Popen[bytes], mark: str) -> list[int]:
    """The pids of what `proc` started that are alive now (in its group, or carrying its mark),
    `proc` itself not counted. `proc` must not be reaped yet (its pid is then still its group's)."""
    return sorted((set(process_group.live(proc.pid)) | set(marked(mark))) - {proc.pid})


def end(
    proc: subprocess.Popen[bytes], mark: str, wait: float = WAIT, held: list[int] | None = None
) -> None:
    """SIGKILL `proc`'s process group, every process that carries `mark` and every descendant
    `proc` had (in any session, with or without the mark: PostgreSQL's backends overwrite their
    environment with their process title), then reap `proc` (killing it alone if none of these
    reached it). The descendants are held by pidfds opened before anything is killed, while
    their parents' pids still name them (a process whose parent dies is given to another), here
    or by the caller before it signalled `proc` (`held`, which this closes); the group is signalled before `proc` is reaped, while its id cannot belong to another process
    (process_group.kill)."""
    held = hold(proc) if held is None else held
    try:
        process_group.kill(proc.pid, wait, reaped=proc.returncode is not None)
        kill_marked(mark, wait)
        _kill_held(held, wait)
    finally:
        for fd in held:
            os.close(fd)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def hold(proc: subprocess.Popen[bytes]) -> list[int]:
    """pidfds of `proc`'s descendants now (none once `proc` is reaped: its pid may be another's)."""
    if proc.returncode is not None:
        return []
    fds = []
    for pid in process_group.tree(proc.pid):
        if pid != proc.pid:
            with contextlib.suppress(OSError):  # gone meanwhile
                fds.append(os.pidfd_open(pid))
    return fds


def _kill_held(fds: list[int], wait: float) -> None:
    """SIGKILL each process held; return once each has ended (its pidfd readable, pidfd_open(2))
    or `wait` s have passed (ImplError)."""
    for fd in fds:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    deadline = time.monotonic() + wait
    left = list(fds)
    while left:
        readable, _, _ = select.select(left, [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            raise ImplError(f"{len(left)} processes a node started alive {wait:g} s after SIGKILL")
        left = [fd for fd in left if fd not in readable]


def exits_within(proc: subprocess.Popen[bytes], limit: float) -> bool:
    """Whether `proc` exits within `limit` seconds; it is not reaped (a pidfd turns readable when
    its process ends, pidfd_open(2)), so its group's id stays its own until `end`."""
    fd = os.pidfd_open(proc.pid)
    try:
        readable, _, _ = select.select([fd], [], [], max(0.0, limit))
    finally:
        os.close(fd)
    return bool(readable)


@attrs.frozen
class Finished:
    """How a bounded command ended: `code` its exit status (None: it was still running at its
    limit and was killed), `out` and `err` what it wrote (`err` empty when merged into `out`),
    `left` the pids of what it started that were still alive when it ended (killed then)."""

    code: int | None
    out: bytes
    err: bytes
    left: tuple[int, ...]


def _read(f: IO[bytes]) -> bytes:
    f.seek(0)
    return f.read()


def run(
    command: Sequence[str],
    limit: float,
    *,
    env: Mapping[str, str] | None = None,
    merge: bool = False,
) -> Finished:
    """`command` run to its exit or for at most `limit` seconds, with `env` added to this process's
    environment, stdin empty, its output (stderr into stdout when `merge`) kept in unnamed files;
    then whatever it started is killed (`end`), so nothing of it outlives the call, which takes
    `limit` seconds at most and the kill. OSError when `command` cannot start."""
    mark = new_mark()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out,
            stderr=out if merge else err, env={**os.environ, **(env or {}), mark: "1"},
            process_group=0, preexec_fn=die_with_parent,
        )  # fmt: skip
        try:
            exited = exits_within(proc, limit)
            # twice, a moment apart: a process in the middle of an exec shows no environment, and
            # one that has just left the group with setsid(2) is found by its mark only after
            # its exec (a double fork counted none in one run of a loaded make test)
            still = left(proc, mark)
            time.sleep(0.005)
            still = sorted(set(still) | set(left(proc, mark)))
        finally:
            end(proc, mark)
        return Finished(proc.returncode if exited else None, _read(out), _read(err), tuple(still))

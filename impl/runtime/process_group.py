"""Signals to a node's whole process group, each confirmed from /proc before it counts as done.

`kill(2)` returns when a signal is queued, not when it has acted. A SIGSTOP stops a process only
once one of its threads has been scheduled to take the signal and has stopped the rest (the
kernel's group stop: signal(7), kernel/signal.c `do_signal_stop`); on a loaded 2-core machine
that took long enough for a three-server NATS cluster to elect, replicate
and acknowledge a publish through a server whose SIGSTOP had been sent (docs/findings.md, "a
pause that had not landed"). A signal to the first process alone also misses every process it
started (a launcher script and its JVM, a database and its helpers). So each node runs in its own
process group (its pid is the group's id), every fault signals the group, and `stop` does not
return until every thread of every process in the group is stopped (state `T` in
/proc/PID/task/TID/stat, proc(5)), `cont` until none is, `kill` until none is alive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

from meshcheck.impl.base.errors import ImplError

PROC = Path("/proc")
STOPPED = frozenset("Tt")  # stopped by a signal; stopped under a tracer
GONE = frozenset("ZX")  # a zombie or dead: it takes no part any more
WAIT = 10.0  # seconds a signal has to act before the fault is reported as not carried out


def _stat_fields(text: str) -> list[str]:
    """The fields of a /proc stat line after the command (which may hold spaces and parens)."""
    return text[text.rindex(")") + 2 :].split()


def members(pgid: int) -> list[int]:
    """The pids of the processes in group `pgid` now."""
    found = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields((PROC / entry.name / "stat").read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # it ended while we looked
        if int(fields[2]) == pgid:  # state, ppid, pgrp
            found.append(int(entry.name))
    return found


def tree(root: int) -> list[int]:
    """`root` and every process descended from it now (by their parents' pids, proc(5)), in
    whatever group: a node's own processes, not the sidecars beside it in its group."""
    parent: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields((PROC / entry.name / "stat").read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # it ended while we looked
        parent[int(entry.name)] = int(fields[1])
    if root not in parent:
        return []
    found = {root}
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def thread_states(pgid: int) -> dict[tuple[int, int], str]:
    """The state letter of every thread of every process in group `pgid`: (pid, tid) -> state."""
    return _states(members(pgid))


def threads_of(pids: list[int]) -> dict[tuple[int, int], str]:
    """The state letter of every thread of the processes `pids`: (pid, tid) -> state."""
    return _states(pids)


def _states(pids: list[int]) -> dict[tuple[int, int], str]:
    states: dict[tuple[int, int], str] = {}
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(PROC / str(pid) / "task")]
        except OSError:
            continue
        for tid in tids:
            try:
                text = (PROC / str(pid) / "task" / str(tid) / "stat").read_text(encoding="ascii")
            except OSError:
                continue
            states[(pid, tid)] = _stat_fields(text)[0]
    return states


def _until(done: Callable[[dict[tuple[int, int], str]], bool], pgid: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = 0.0005
    while True:
        states = thread_states(pgid)
        if done(states):
            return
        if time.monotonic() > deadline:
            raise ImplError(f"process group {pgid}: {_describe(states)} after {wait:g} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _describe(states: dict[tuple[int, int], str]) -> str:
    letters = "".join(sorted(states.values()))
    return f"threads in states {letters!r}" if letters else "no thread"


def _signal(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def stop(pgid: int, wait: float = WAIT) -> None:
    """SIGSTOP the group; return once every thread of it is stopped (or has ended)."""
    if _signal(pgid, signal.SIGSTOP):
        _until(lambda s: all(v in STOPPED or v in GONE for v in s.values()), pgid, wait)


def cont(pgid: int, wait: float = WAIT) -> None:
    """SIGCONT the group; return once no thread of it is stopped."""
    if _signal(pgid, signal.SIGCONT):
        _until(lambda s: not any(v in STOPPED for v in s.values()), pgid, wait)


def stop_tree(root: int, wait: float = WAIT) -> None:
    """SIGSTOP `root` and what it started (`tree`), again to any not yet stopped (one may have
    forked as the others stopped); return once every thread of them is stopped or has ended."""
    _tree_until(root, signal.SIGSTOP, lambda v: v in STOPPED or v in GONE, wait)


def cont_tree(root: int, wait: float = WAIT) -> None:
    """SIGCONT `root` and what it started; return once no thread of them is stopped."""
    _tree_until(root, signal.SIGCONT, lambda v: v not in STOPPED, wait)


def _tree_until(root: int, sig: int, done: Callable[[str], bool], wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = 0.0005
    while True:
        states = _states(tree(root))
        behind = sorted({pid for (pid, _), v in states.items() if not done(v)})
        if not behind:
            return
        if time.monotonic() > deadline:
            raise ImplError(
                f"process {root} and its children: {_describe(states)} after {wait:g} s"
            )
        for pid in behind:
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                os.kill(pid, sig)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def kill(pgid: int, wait: float = WAIT, *, reaped: bool = False) -> None:
    """SIGKILL the group; return once no process of it is alive (zombies are not). `reaped`: the
    group's first process, whose pid is the group's id, has been reaped. While it is not, or while
    any process is left in its group, the kernel gives that id to no other process; once it is,
    and the group is empty, a new process may take the id and lead a group of its own. So then
    only a group left without its first process (the node's orphans) is signalled."""
    if reaped:
        found = list(live(pgid))
        if not found or pgid in found:
            return  # nothing of ours alive, or the id is another process's now
    if _signal(pgid, signal.SIGKILL):
        _until(lambda s: all(v in GONE for v in s.values()), pgid, wait)


def signal_all(pgid: int, sig: int) -> None:
    """Send `sig` to the group, if any of it is left (no wait: `stop`'s SIGTERM)."""
    _signal(pgid, sig)


def live(pgid: int) -> Iterator[int]:
    """The pids of the group's processes that are not zombies."""
    for pid in members(pgid):
        try:
            state = _stat_fields((PROC / str(pid) / "stat").read_text(encoding="ascii"))[0]
        except OSError:
            continue
        if state not in GONE:
            yield pid

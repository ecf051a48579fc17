"""Two independent parts of one command at once, on two cores: the anomaly check of a large
history here, and the count of what it lost (losses_append.py, losses_rw.py) in a child process
forked after the history was read, so that the child shares the transactions, copy on write,
instead of reading the file again. Only the child's text comes back, through a pipe.

Measured on bench/bench_list_append.py's history of 100,000 transactions, on 2 cores: the whole
command takes 2.46 s with the count alongside and 2.67 s one after the other (medians of 5), the
count itself about 0.22 s; the fork and the pages the check then writes (copied on write) cost
the rest. On one core, or with threads running (a fork copies only the calling thread), or for a
small history, both run here one after the other (`serial`): the fork of a large process costs
milliseconds, and below 5,000 transactions the count is no faster beside the check (85 ms either
way; 10,000: 180 ms against 186 ms), hence `LARGE`.

The result is the same either way: when the child does not end well (an error, a signal), its
part runs here again, where an error is raised and reported as the command reports any other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import NoReturn
from typing import TypeVar

T = TypeVar("T")

# a history of this many transactions or more is large: its loss count is worth a child (the
# module's docstring)
LARGE = 10_000


def serial(main: Callable[[], T], side: Callable[[], str]) -> tuple[T, str]:
    """`main`'s result and `side`'s text, one after the other."""
    return main(), side()


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def alone() -> bool:
    """Whether this process runs no other Python thread (a fork copies only the calling one, so
    a lock another thread holds stays held in the child)."""
    return threading.active_count() == 1


def alongside(main: Callable[[], T], side: Callable[[], str], *, size: int) -> tuple[T, str]:
    """`serial(main, side)`, with `side` run in a forked child while `main` runs here when the
    history's `size` (its transactions) is `LARGE` or more, two cores are free to this process
    and no other thread runs (the module's docstring)."""
    if size < LARGE or cores() < 2 or not alone() or not hasattr(os, "fork"):
        return serial(main, side)
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no memory or no process left for a child: one after the other
        os.close(read)
        os.close(write)
        return serial(main, side)
    if pid == 0:  # pragma: no cover (the child ends in os._exit, before coverage writes)
        _child(read, write, side)
    os.close(write)
    try:
        result = main()
    except BaseException:
        os.close(read)  # the child, if still writing, gets EPIPE and ends
        os.waitpid(pid, 0)
        raise
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return result, side()  # here again: its error, if any, raised as the command reports it
    return result, data.decode("utf-8", "surrogatepass")


def _child(read: int, write: int, side: Callable[[], str]) -> NoReturn:  # pragma: no cover
    """The forked child: `side`'s text written to the pipe, then the process ends at once (no
    exit handlers, no flush of buffers it shares with its parent); exit 1 on any error."""
    code = 1
    try:
        os.close(read)
        data = side().encode("utf-8", "surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(write, view) :]
        code = 0
    finally:
        os._exit(code)

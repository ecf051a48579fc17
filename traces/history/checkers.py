"""The checkers `meshcheck history check --model NAME` runs that are not a linearizability search
against a sequential model (those are traces/history/models.py's MODELS): each reads its own
history format (docs/history-checkers.md), prints its report and says whether the history holds
(or, rw-register's, that it could not decide).

Each entry imports its module only when it runs, so the command line lists the names cheaply.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import attrs


@attrs.frozen
class Options:
    """What the command line passes on: `consistency` for list-append and rw-register,
    `clock_bound` (seconds a lease may outlive its TTL, or lapse early, as the clock faults' size)
    for lease, `keys` (the version orders of Elle's options assumed: rw_keys.py) for
    rw-register."""

    consistency: str = "strict-serializable"
    clock_bound: float = 0.0
    keys: tuple[str, ...] = ()


@attrs.frozen
class Checker:
    name: str
    summary: str
    # under meshcheck.traces.history; its `run(path, options) -> (report, holds)`, holds None when
    # undecided
    module: str

    def run(self, path: str, options: Options) -> tuple[str, bool | None]:
        found = importlib.import_module(f"meshcheck.traces.history.{self.module}")
        run: Callable[[str, Options], tuple[str, bool | None]] = found.run
        return run(path, options)


CHECKERS: dict[str, Checker] = {
    c.name: c
    for c in (
        Checker(
            "list-append",
            "transactions of appends and reads (Elle's anomalies: G0 .. G2, realtime)",
            "list_append",
        ),
        Checker(
            "rw-register",
            "transactions of writes and reads of registers (Elle's rw-register: G0 .. G2, realtime)",
            "rw_register",
        ),
        Checker(
            "stream",
            "publish, consume, ack: nothing acknowledged lost, one order for every consumer",
            "stream",
        ),
        Checker(
            "watch",
            "watchers see every change of their keys in revision order, across reconnects",
            "watch",
        ),
        Checker(
            "lease",
            "keys on a lease kept alive stay; gone once it lapses (plus --clock-bound)",
            "lease",
        ),
        Checker(
            "fenced-lock",
            "lock holders with fencing tokens: overlaps, and writes a smaller token got accepted",
            "fenced_lock",
        ),
    )
}

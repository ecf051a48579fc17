"""A node's NDJSON log, the format `meshcheck validate` reads (docs/logs.md): one line per spec
action the core reports, with a Lamport clock and the node's own slice of the spec's variables
after the step. What the reference implementation's logs are in the simulator
(traces/logs/reference.py), a running process writes itself, as an implementation in another
language would.

The clock: each action ticks it; a receive first takes the clock its message was sent at (host.py
carries the sender's clock beside each message on the wire). It continues across restarts: a node
reads the last clock of its own log when it boots.

The host writes a step's lines right after its state's record and before that record's fsync
(host.py, disk.py `persist(..., written)`), so a kill -9 keeps both or neither, but for the one
call between the two writes: a killed process keeps what it wrote, fsynced or not. Either order of
a whole write and a whole line lost one of them in real runs (docs/cluster.md, "What it has
caught"); a validation failure right after a kill is still read with that call in mind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from typing import Any

from meshcheck.impl.base.logline import log_line
from meshcheck.impl.base.logline import log_record
from meshcheck.impl.base.values import to_json

# the node's slice of the spec's variables after an action: (core, the action's name, its place
# among the step's actions: a HotStuff step may take several, and the core keeps its state after
# each) -> values
State = Callable[[Any, str, int], Mapping[str, Any]]
# an action's parameters as the log gives them: (the core's parameters, the messages the action
# sends, the core) -> parameters (PBFT names a pre-prepared batch by what the pre-prepare holds,
# HotStuff a block by its view and its parent's, which the core's store knows)
Params = Callable[[Mapping[str, Any], tuple[Any, ...], Any], Mapping[str, Any]]


def same_params(
    params: Mapping[str, Any], sent: tuple[Any, ...], core: Any = None
) -> Mapping[str, Any]:
    return params


def last_clock(path: Path) -> int:
    """The clock of the last whole line of the log at `path` (0 when there is none)."""
    if not path.exists():
        return 0
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            return int(json.loads(line)["clock"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by a kill: the one before it
    return 0


class NodeLog:
    """Appends node `node`'s records to `path`, one flushed line each."""

    def __init__(
        self,
        path: Path,
        run: str,
        node: str,
        state: State,
        params: Params = same_params,
        *,
        restarts: bool = True,
        actions: frozenset[str] | None = None,
    ) -> None:
        self.path = path
        # the spec's actions, where the core reports others too (a gossip node its failure
        # detector's, FailureDetector.tla's): the log keeps these only (None: every action)
        self.actions = actions
        # whether a reboot is a step of the spec (Raft.tla's Restart(i)), which the host logs; in
        # a spec without crashes (PBFT.tla) a restart must be a stutter, and the log shows none
        self.restarts = restarts
        self._params = params
        self._run = run
        self._node = node
        self._state = state
        self._out: IO[str] = path.open("a", encoding="utf-8")
        self.records = 0

    def line(
        self,
        clock: int,
        action: str,
        params: Mapping[str, Any],
        core: Any,
        sent: tuple[Any, ...] = (),
        nth: int = 0,
    ) -> str | None:
        """The record of one action, as the line `append` writes (None: an action the log does
        not keep). Made apart from the writing, so that the host can make it before the step's
        state is written and write it right after (host.py)."""
        if self.actions is not None and action not in self.actions:
            return None
        return self.record(
            clock, action, self._params(params, sent, core), self._state(core, action, nth)
        )

    def record(
        self, clock: int, action: str, params: Mapping[str, Any], state: Mapping[str, Any]
    ) -> str:
        """One line of the log: this node's record of `action` with the parameters and the state
        given as they are to be written."""
        return log_line(
            log_record(self._run, self._node, clock, action, to_json(params), to_json(state))
        )

    def append(self, lines: Sequence[str]) -> None:
        """Write `lines` in one call and flush them to the operating system (which keeps them
        through a kill -9 of this process)."""
        if lines:
            self._out.write("".join(lines))
            self._out.flush()
            self.records += len(lines)

    def write(self, clock: int, action: str, params: Mapping[str, Any], core: Any) -> None:
        """Make the record of an action that sends nothing (a restart's) and write it."""
        line = self.line(clock, action, params, core)
        if line is not None:
            self.append([line])

    def close(self) -> None:
        self._out.close()

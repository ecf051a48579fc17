"""The nodes a run declared down: a node whose restart after a fault failed (it exited at once, or
did not open its ready port within its readiness timeout) is declared down once, with the last
lines of its log, and no later fault strikes it or waits for it again (strike.py).

Before this a node that never came back made every later fault on it wait the full readiness
timeout again (a restart is a start that waits for the port), and the first such restart ended
the run: a 20 s run of a system whose node could not restart took 190 s. The
one wait a node costs is the readiness timeout its system file gives (`ready.timeout`,
meshcheck/systems/system_file.py), the same bound a start has; the run then goes on without it,
as a Jepsen test goes on when its nemesis fails to restart a node (the nemesis's operation is
recorded `:info` with the exception and the test continues: jepsen-io/jepsen,
jepsen/src/jepsen/generator/interpreter.clj, `spawn-worker`), and the checks judge what the
cluster did with one node fewer.

The report keeps each such node in down.txt (when, why, its log's last `LINES` lines) and the
declarations and the faults skipped in nemesis.log (`log`, merged with the nemesis's own lines).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

LINES = 20  # of a node's log kept in down.txt: enough for a stack trace's end or a refusal

Clock = Callable[[], float]
LastLines = Callable[[str, int], list[str]]  # a node's log's last lines (launcher.py `Processes`)


@attrs.frozen
class DownNode:
    """`node` declared down at `at` seconds into the run because of `why` (what its restart
    said), its log then ending with `last`."""

    node: str
    at: float
    why: str
    last: tuple[str, ...]


class LeftDown:
    """The nodes declared down in one run, and the log of what that changed (nemesis.log's).
    `most`: how many nodes the run's fault model lets be down at once (a minority, as the
    nemesis's plan keeps: nemesis.py); a fault that would take more down, counting the nodes
    declared down, is skipped rather than put the run outside the model its checks assume."""

    def __init__(self, clock: Clock, last_lines: LastLines, most: int) -> None:
        self._clock = clock
        self._last_lines = last_lines
        self.most = most
        self.nodes: dict[str, DownNode] = {}
        self.log: list[tuple[float, str]] = []

    def __contains__(self, node: object) -> bool:
        return node in self.nodes

    def declare(self, node: str, why: str) -> None:
        """`node` down for the rest of the run (a second declaration changes nothing)."""
        if node in self.nodes:
            return
        at = self._clock()
        self.nodes[node] = DownNode(node, at, why, tuple(self._last_lines(node, LINES)))
        self.log.append((at, f"{node} declared down, no later fault waits for it: {why}"))

    def skipped(self, kind: str, nodes: tuple[str, ...], why: str) -> None:
        """A fault of `kind` not carried out on `nodes`, because of `why`."""
        self.log.append((self._clock(), f"{kind} skipped on {','.join(nodes)}: {why}"))

    def report(self) -> str:
        """down.txt: each node declared down, when, why, and its log's last lines."""
        out = []
        for d in self.nodes.values():
            out.append(f"{d.node} declared down at t={d.at:.1f}s: {d.why}\n")
            out.append(
                f"  its log's last {len(d.last)} lines:\n" if d.last else "  its log: empty\n"
            )
            out.extend(f"  | {line}\n" for line in d.last)
        return "".join(out)

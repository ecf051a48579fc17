"""A node's readiness probe (`ready = { command = [...] }`, docs/systems.md): a command that exits
0 once the node is ready, run again until it does, as Kubernetes runs an exec readiness probe
(its `timeoutSeconds` and `periodSeconds`, kubernetes.io "Configure Liveness, Readiness and
Startup Probes"). A port that accepts TCP says a server listens, not that a replica has synced:
only the system's own status command can say that.

Both bounds come from the node's readiness timeout T, so that one number in the file governs a
start: each try may take `try_limit(T)` (a quarter of T, 1 to 10 s) and is killed with what it
started when it takes longer (process_tree.py: its process group, and whatever left the group
but carries its mark). A try that exits in time leaves nothing either: what it started and left
running is killed as it ends, and its line says so. The try's output goes to a file, not a pipe,
so a command it started that holds the output open cannot stretch a try past its limit. Tries
come every `EVERY` seconds until T has passed, at most `tries(T)` of them. Each try's outcome is
a line of the node's probe log (DIR/NODE.ready.log), stamped with the Unix time it ended, what it
printed after it: the log says why a node was never ready, and when it was.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from meshcheck import words
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime import process_tree

EVERY = 0.25  # seconds between the end of one try and the start of the next
TRY_SHARE = 4  # a try may take a quarter of the readiness timeout ...
TRY_BOUNDS = (1.0, 10.0)  # ... within these seconds (a Python probe on a loaded
# 2-core machine took over 1 s to start)


def try_limit(timeout: float) -> float:
    """The seconds one try of the probe may take, for a readiness timeout of `timeout`."""
    low, high = TRY_BOUNDS
    return min(high, max(low, timeout / TRY_SHARE))


def tries(timeout: float) -> int:
    """The most tries a start makes in `timeout` seconds (each takes some time, then `EVERY`)."""
    return math.ceil(timeout / EVERY)


class Probe:
    """The probe `command` of node `node` (filled and wrapped: run where the node runs), with
    `env` added to this process's, each try logged to `log`."""

    def __init__(
        self, node: str, command: Sequence[str], env: Mapping[str, str], log: Path
    ) -> None:
        self.node = node
        self.command = list(command)
        self.env = dict(env)
        self.log = log
        self.count = 0

    def __call__(self, left: float, limit: float) -> str | None:
        """One try, given at most `limit` seconds and never more than `left`: None when the
        command exited 0, else why not (for the error if the node is never ready)."""
        self.count += 1
        wait = max(0.05, min(limit, left))
        try:
            done = process_tree.run(self.command, wait, env=self.env, merge=True)
        except OSError as e:  # no such program: no later try would do better
            raise ImplError(
                f"{self.node}'s readiness probe could not start {self.command[0]}: {e.strerror}"
            ) from e
        if done.code is None:
            why: str | None = f"its probe took over {wait:.3g} s"
        else:
            why = None if done.code == 0 else f"its probe exited with {done.code}"
        text = done.out.decode("utf-8", "replace").strip()
        with self.log.open("a", encoding="utf-8") as f:
            # the wall clock, as the nodes' own logs stamp their lines: which came first
            said = "ready" if why is None else why
            if done.left:  # what the try started and left: killed with it, and said
                said += f" (it left {words.count(len(done.left), 'process')} running: killed)"
            f.write(f"try {self.count} at {time.time():.6f}: {said}\n")
            f.write("".join(f"  {line}\n" for line in text.splitlines()))
        last = text.splitlines()[-1] if text else ""
        return None if why is None else f"{why}{': ' + last if last else ''}"

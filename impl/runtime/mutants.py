"""Known bugs of the runtime's disk discipline (impl/runtime/disk.py), each switchable without
editing it: `meshcheck cluster test --bugs skip_fsync` (any protocol), carried to the node
processes in the cluster configuration's `runtime_bugs` option (config.py), never the core's.

Both answer a client before what it was told is done can survive the machine. A kill -9 of every
node cannot see either: the kernel keeps what a killed process wrote, fsynced or not. A power
failure (meshcheck/faults/lazyfs.py; `--nemesis power`) can: docs/faults.md has the runs.
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

# the cluster configuration's option that holds the runtime's mutants switched on
OPTION = "runtime_bugs"
# how long ACK_BEFORE_FSYNC lets records wait for their fsync
DEFERRED_SECONDS = 1.0

BUGS = Bugs()

SKIP_FSYNC = BUGS.declare(
    "skip_fsync",
    "The state file is written and never fsynced, its new name neither: the disk discipline "
    "left to the page cache (a database run with fsync off, as PostgreSQL's `fsync = off`, "
    "or a store whose fsync is a no-op on its platform).",
)

ACK_BEFORE_FSYNC = BUGS.declare(
    "ack_before_fsync",
    "The state file's records are written and the step's messages sent at once, the fsync "
    "coming later, at the first write once a second has passed since the last one: group "
    "commit with the answer before the commit (Redis's `appendfsync everysec`, which its "
    "documentation says may lose a second of writes). The rule it breaks is the one "
    "impl/base/effects.py states: a step's `Persist` is durable before its sends leave.",
)

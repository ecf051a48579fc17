"""PySyncObj (PyPI `pysyncobj`) as meshcheck knows it: a third-party implementation of Raft.tla
driven through the adapter (impl/adapters/pysyncobj.py), its injected bugs and free-run checks.

No TLC models of its own (Raft's are the `raft` protocol's); the action table is Raft.tla's Next.
The adapter's traces also name three steps of PySyncObj's that the spec has no action for (Tick:
its doTick, which advances the commit index; Submit: a client command queued; Forward: a command
forwarded to the leader, or its answer); the NDJSON log leaves them out."""

from __future__ import annotations

from meshcheck.property_tests.raft.descriptor import RAFT
from meshcheck.protocol import Models, Protocol

PYSYNCOBJ = Protocol(
    name="pysyncobj",
    title="PySyncObj 0.3.17 (third-party Raft) under the simulator, through the adapter",
    models=Models(spec="Raft"),
    actions=RAFT.actions,
    bugs="meshcheck.property_tests.pysyncobj.bugs:BUGS",
    checks="meshcheck.property_tests.pysyncobj.checks:CHECKS",
    harness="meshcheck.property_tests.pysyncobj.harness:HARNESS",
    corpus="pysyncobj",
    property_tests=("property_tests/pysyncobj",),
)

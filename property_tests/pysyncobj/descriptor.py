"""PySyncObj (PyPI `pysyncobj`) as meshcheck knows it: a third-party implementation of Raft.tla
driven through the adapter (impl/adapters/pysyncobj.py), its injected bugs and free-run checks.

Its spec is specs/RaftPipelined.tla, Raft with the three choices PySyncObj makes that Raft.tla
does not: Raft.tla's Next, a pipelined AppendEntries (PipelineAppendEntries: nextIndex advanced
when the entries are sent, as PySyncObj's `__sendAppendEntries` does; Ongaro's thesis, section
10.2.1), a rejection that moves nextIndex back less far than the follower's hint
(HandleAppendEntriesResponseStepBack: PySyncObj's leader retries one entry back from the rejected
request, the paper's Figure 2) and a leader's step-down without a majority's answers
(CheckQuorumStepDown: PySyncObj's `leaderFallbackTimeout`; thesis section 6.2), with a quick model
of its own (Raft's
models are the `raft` protocol's). The action table is RaftPipelined.tla's PipelinedNext.
The adapter's traces also name three steps of PySyncObj's that the spec has no action for (Tick:
its doTick, which advances the commit index; Submit: a client command queued; Forward: a command
forwarded to the leader, or its answer); the NDJSON log leaves them out."""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.raft.descriptor import RAFT
from meshcheck.protocol import Action
from meshcheck.protocol import Models

PYSYNCOBJ = in_tree(
    "pysyncobj",
    "PySyncObj 0.3.17 (third-party Raft) under the simulator, through the adapter",
    Models(
        spec="RaftPipelined",
        quick="RaftPipelined_quick",
        # Raft.tla's action properties on the pipelined spec, without the SYMMETRY (specs/Raft.md)
        every=("RaftPipelined_transitions",),
    ),
    actions=(
        *RAFT.actions,
        Action(
            "PipelineAppendEntries",
            ("i", "j"),
            "protocol",
            "leader i sends j entries before j answered, advancing nextIndex past them",
        ),
        Action(
            "HandleAppendEntriesResponseStepBack",
            ("i", "j"),
            "protocol",
            "leader i, rejected by j, moves nextIndex back anywhere from j's hint to one back",
        ),
        Action(
            "CheckQuorumStepDown",
            ("i",),
            "protocol",
            "leader i, not heard from a majority, steps down to follower in its term",
        ),
    ),
    bugs="meshcheck.property_tests.pysyncobj.bugs:BUGS",
    spec_mutants=False,
    coverage=False,
    directed=True,
    # its free runs' NDJSON logs validated against RaftPipelined.tla (docs/pysyncobj.md)
    log_checks=("meshcheck.verify_logs:PYSYNCOBJ_LOGS",),
)

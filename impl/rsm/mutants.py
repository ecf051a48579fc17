"""Known bugs of the replicated state machine (impl/rsm/machine.py), each switchable without
editing it: `StateMachine(bugs=frozenset({...}))`.

A bug of the state machine is not a protocol's: every core (Raft, PBFT, HotStuff, the hybrid
layer) orders the same log and hands it to the same machine, so none of the cores' catalogues
holds it, and no lockstep path or free run inside one process can show the one kind of bug this
catalogue keeps, state that follows a set's iteration order. Python randomises the hash of a
string per process (PYTHONHASHSEED), so a set of strings iterates in one order in one process and
in another in the next: replicas in one process (the simulator, `make test`, `make verify`, all
run with one hash seed) agree with each other, replicas in processes of their own (a real cluster)
do not. Its killer is the determinism check across processes (property_tests/determinism.py,
tests/test_determinism.py), which applies the same logs in processes of different hash seeds and
compares the digests. A real Raft cluster kills it too: each node's process runs with a hash seed
of its own (impl/runtime/launcher.py `hash_seeds`), `--bugs` hands this catalogue's names to the
nodes' machines (impl/runtime/hosted/raft.py), the `overlays` workload deploys overlays of several
cases (meshcheck/cluster/workload.py), and the check of the applied state finds two digests at
one commit index (meshcheck/cluster/checks.py `applied_state`; tests/test_cluster_hash_seeds.py).
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

OVERLAY_CASES_IN_SET_ORDER = BUGS.declare(
    "overlay_cases_in_set_order",
    "DeployOverlay stores its cases as `tuple(set(op.cases))`: deduplicated once more, "
    "defensively, through a set, and not sorted again. The overlay holds the same cases on "
    "every replica, in the order a set of strings iterates in, which differs between processes "
    "with different hash seeds: the replicas' snapshots, digests and answers to a read of the "
    "overlay differ, though each applied the same log (State Machine Safety, seen in the "
    "bytes an InstallSnapshot ships and a digest compares). Every replica of one process "
    "agrees, so no check inside one process sees it.",
)

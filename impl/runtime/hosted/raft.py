"""Raft in real processes: the core as the simulator builds it, its log validated against
Raft.tla, its applied state sampled for the check of the applied state.

`--bugs` names either catalogue: Raft's (impl/raft/mutants.py) go to the core's configuration,
the state machine's (impl/rsm/mutants.py) to the machine each node builds, so that a bug that
shows only between processes of different hash seeds (a set's iteration order reaching the
replicated state) runs where it can show, one node per process (impl/runtime/launcher.py
`hash_seeds`); the `overlays` workload writes what it needs (meshcheck/cluster/workload.py)."""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.messages import message_record
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.rsm import mutants as rsm_mutants
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.runtime import raft_log
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import VerifyRun
from meshcheck.impl.runtime.protocols import core_options


def _raft(node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random) -> Node:
    opts = core_options({}, options)
    bugs = frozenset(opts.pop("bugs", ()))
    machine_bugs = bugs & rsm_mutants.BUGS.keys()
    if bugs - machine_bugs:
        opts["bugs"] = bugs - machine_bugs
    machine = functools.partial(StateMachine, bugs=machine_bugs)
    return RaftNode(RaftConfig(node, tuple(nodes), **opts), rng, machine=machine)


def raft_inspect(core: Any, now: int) -> FrozenDict:
    """A Raft node's role, term and commit index: what the harness reads to time an election
    (meshcheck/claims/deployment.py); and its state machine as it stands: how many entries it
    applied and a digest of its state (impl/rsm/machine.py, the first 16 hex digits of its
    SHA-256), which the check of the applied state compares with the commit index and with the
    other nodes' (meshcheck/cluster/checks.py `applied_state`)."""
    assert isinstance(core, RaftNode)
    return FrozenDict(
        {
            "role": core.role,
            "term": core.term,
            "commit": core.commit_index,
            "applied": core.machine.applied,
            "digest": core.machine.digest().hex()[:16],
        }
    )


PROTOCOL = RuntimeProtocol(
    "raft",
    _raft,
    ("meshcheck.impl.raft.messages", "meshcheck.impl.rsm.ops"),
    raft_log.log_state,
    "Raft",
    raft_log.log_params,
    raft_log.fingerprint,
    message_record,
    inspect=raft_inspect,
    sampled=True,
    log_constants=lambda nodes, options: {"Server": "{" + ", ".join(nodes) + "}"},
    verify=VerifyRun(5, 20.0),  # the design's five nodes
    workloads=("registers", "register", "overlays"),
    machine_bugs=True,
)

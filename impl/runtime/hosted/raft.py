"""Raft in real processes: the core as the simulator builds it, its log validated against
Raft.tla, its applied state sampled for the check of the applied state."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.messages import message_record
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.runtime import raft_log
from meshcheck.impl.runtime.protocols import RuntimeProtocol, VerifyRun


def _raft(node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random) -> Node:
    opts = dict(options)
    if "election_timeout" in opts:
        opts["election_timeout"] = tuple(opts["election_timeout"])
    if "bugs" in opts:
        opts["bugs"] = frozenset(opts["bugs"])
    return RaftNode(RaftConfig(node, tuple(nodes), **opts), rng)


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
)

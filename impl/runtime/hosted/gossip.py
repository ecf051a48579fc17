"""Gossip with phi-accrual failure detection in real processes: status writes and reads,
eventually consistent, judged by the convergence checks; logs validated against Gossip.tla
(through GossipLogs.tla)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.runtime import gossip_log
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import VerifyRun
from meshcheck.impl.runtime.protocols import core_options

# GossipConfig's defaults are the design's (a round a second, 5 rounds to leave a suspected peer
# out): on processes the rounds are four times as frequent, so that a test of seconds sees tens of
# rounds (`meshcheck claims deployment` measures the design's 1 s rounds as the design sets them).
GOSSIP_RUNTIME_DEFAULTS: Mapping[str, Any] = {"interval": 250, "evict_after": 1250}


def gossip_inspect(core: Any, now: int) -> FrozenDict:
    """A gossip node's entries, as (version, origin, value) per key, the peers it suspects, and
    its boot count: what its users read as the cluster's status and health (impl/gossip/node.py),
    and which incarnation of the node holds them; and per peer it watches, how many milliseconds
    it is past the time its phi reaches the threshold (negative: not yet), by its own model of
    that peer's heartbeats (impl/gossip/detector.py)."""
    assert isinstance(core, GossipNode)
    watches = core.detector.watches
    return FrozenDict(
        {
            "entries": FrozenDict({k: e.rank() for k, e in sorted(core.entries.items())}),
            "suspects": tuple(
                sorted(j for j, w in watches.items() if w.suspected_since is not None)
            ),
            "overdue": FrozenDict(
                {j: int(now - w.deadline) for j, w in sorted(watches.items()) if w.deadline > 0}
            ),
            "member": core.status == IN,
            "boot": core.boot,
        }
    )


def _gossip(
    node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random
) -> Node:
    opts = core_options(GOSSIP_RUNTIME_DEFAULTS, options)
    return GossipNode(GossipConfig(node, tuple(sorted(nodes)), **opts), rng)


PROTOCOL = RuntimeProtocol(
    "gossip",
    _gossip,
    ("meshcheck.impl.gossip.messages", "meshcheck.impl.gossip.entries"),
    gossip_log.log_state,
    "Gossip",
    gossip_log.log_params,
    gossip_log.fingerprint,
    gossip_log.message_record,
    restarts_logged=False,  # the core reports Restart(i) itself (impl/gossip/node.py)
    log_actions=gossip_log.ACTIONS,
    log_receives=frozenset({"HandlePush", "HandlePull"}),
    log_constants=lambda nodes, options: {
        "NumNodes": str(len(nodes)),
        "NumSeeds": str(len(nodes)),
    },
    workloads=("status",),
    linearizable=False,
    inspect=gossip_inspect,
    # a restarted node catches up by its pulls, a partition's sides by the suspected-peer
    # probes: a few rounds of 250 ms
    recovery=2.0,
    verify=VerifyRun(5, 10.0),
)

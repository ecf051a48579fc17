"""HotStuff in real processes: replicas as the simulator builds them, the clients' cores in the
harness; logs validated against HotStuff.tla (through HotStuffLogs.tla)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hotstuff.client import Client as HotStuffClient
from meshcheck.impl.hotstuff.client import ClientConfig as HotStuffClientConfig
from meshcheck.impl.hotstuff.crypto import KeyRing as HotStuffKeys
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica as HotStuffReplica
from meshcheck.impl.runtime import hotstuff_log
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BFT_KEYS
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import VerifyRun
from meshcheck.impl.runtime.protocols import bft_client
from meshcheck.impl.runtime.protocols import core_options


def _hotstuff_keys(nodes: Sequence[str], options: Mapping[str, Any]) -> HotStuffKeys:
    return HotStuffKeys(int(options.get(BFT_KEYS, 0)), (*nodes, *options.get(BFT_CLIENTS, ())))


# HotStuffConfig's defaults are the simulator's (a 100-tick view timer doubling five times): on
# processes, where a vote and a QC cost Ed25519 signatures and checks in Python, a 300 ms timer
# doubling three times (2.4 s at the cap) and larger batches.
HOTSTUFF_RUNTIME_DEFAULTS: Mapping[str, Any] = {
    "batch_size": 16,
    "timeout": 300,
    "max_backoff": 3,
}


def _hotstuff(
    node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random
) -> Node:
    clients = tuple(options.get(BFT_CLIENTS, ()))
    opts = core_options(HOTSTUFF_RUNTIME_DEFAULTS, options)
    config = HotStuffConfig(node, tuple(nodes), clients, **opts)
    return HotStuffReplica(config, _hotstuff_keys(nodes, options))


def _hotstuff_inspect(core: Any, now: int) -> FrozenDict:
    """A HotStuff replica's view and that view's leader, as it reckons them (the leader rotates
    every view): what the systems' runner's `@leader` reads (meshcheck/systems/runtime_client.py
    `leader`)."""
    assert isinstance(core, HotStuffReplica)
    return FrozenDict({"view": core.view, "leader": core.config.leader(core.view)})


PROTOCOL = RuntimeProtocol(
    "hotstuff",
    _hotstuff,
    ("meshcheck.impl.hotstuff.messages", "meshcheck.impl.rsm.ops"),
    hotstuff_log.log_state,
    "HotStuff",
    hotstuff_log.log_params,
    hotstuff_log.fingerprint,
    restarts_logged=False,  # HotStuff.tla has no crash: a replica's restart is a stutter
    log_constants=lambda nodes, options: {"N": str(len(nodes))},
    # an idle machine runs about 400 views a second: a 4 s run's 11,123 records did not
    # validate within 300 s, its first 1,000 in 0.8 s, 2,000 in 3.8 s, 3,000 in about 9 s
    log_limit=3000,
    members=lambda options: frozenset(options.get(BFT_CLIENTS, ())),
    inspect=_hotstuff_inspect,
    build_member=bft_client(HotStuffClientConfig, HotStuffClient, _hotstuff_keys),
    node_prefix="r",
    # the view timer holds its back-off until a commit: after a storm, the view running and a
    # later one may each wait out the cap (2.4 s; property_tests/hotstuff/free_runs.py,
    # LIVENESS_BOUND)
    recovery=8.0,
    client_timeout=3.0,
    verify=VerifyRun(4, 10.0),  # 3f+1 with f = 1
)

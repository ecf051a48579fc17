"""The threat-level dispatcher in real processes: Raft epochs, BFT epochs (PBFT by default) once
the threat level reaches High, clients that accept on f+1 matching replies; logs validated
against Hybrid.tla (through HybridLogs.tla)."""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import Keys as HybridKeys
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.pbft.replica import Replica as PbftReplica
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.runtime import hybrid_log
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BFT_KEYS
from meshcheck.impl.runtime.protocols import BYZANTINE
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import VerifyRun
from meshcheck.impl.runtime.protocols import core_options
from meshcheck.impl.runtime.protocols import imported_later


def hybrid_keys(nodes: Sequence[str], options: Mapping[str, Any]) -> HybridKeys:
    """Every node's and client's Ed25519 keys and each epoch's (impl/hybrid/entries.py), derived
    from the options' seed: the processes and the harness's clients derive the same."""
    return HybridKeys(
        int(options.get(BFT_KEYS, 0)), tuple(nodes), tuple(options.get(BFT_CLIENTS, ()))
    )


def hybrid_inspect(core: Any, now: int) -> FrozenDict:
    """A hybrid node's epoch, the protocol running it, its threat level and how many entries its
    machine applied: where the dispatcher stands (impl/hybrid/node.py); in a Raft epoch also the
    instance's role, term and commit index, in a PBFT epoch its view, status and how many batches
    it executed."""
    assert isinstance(core, HybridNode)
    seen: dict[str, Any] = {
        "epoch": core.epoch,
        "protocol": core.current_protocol() if core.epoch in core.protocols else "",
        "level": core.level.title,
        "applied": core.machine.entries,
    }
    inner = core.instances[core.epoch].core if core.epoch in core.instances else None
    if isinstance(inner, RaftNode):  # a Raft epoch: where its election stands
        seen |= {"role": inner.role, "term": inner.term, "commit": inner.commit_index}
    elif isinstance(inner, PbftReplica):  # a PBFT epoch: its view and how far it executed
        seen |= {"view": inner.view, "status": inner.status, "executed": len(inner.executed)}
    return FrozenDict(seen)


# HybridConfig's defaults are the simulator's, in ticks, with the design's 150-300 ms Raft election
# timeout. In processes every message of a hybrid node is sealed and checked with Ed25519 and
# every entry's signature checked, in Python: on this 2-core machine under a test suite's load a
# candidate's votes came back after its next timeout, and the Raft epoch never kept a leader (term
# 79 in 5 s, `meshcheck cluster test --protocol hybrid --byzantine n1:forge_seals`). Raft needs
# its broadcast time well under its election timeout (Ongaro and Ousterhout, section 5.6): every
# timer of the dispatcher four times the simulator's, their ratios kept.
HYBRID_RUNTIME_DEFAULTS: Mapping[str, Any] = {
    "election_timeout": (600, 1200),
    "heartbeat_interval": 200,
    "hotstuff_timeout": 400,
    "view_change_timeout": 1600,
    "retransmit_every": 600,
    "clock_every": 100,
    "retry_every": 400,
    "evidence_timeout": 2400,
    "timing_bound": 800,
    "report_every": 400,
}


# What a Byzantine hybrid node may do (impl/hybrid/byzantine.py), by the name a run gives it. The
# node keeps its real keys: it can sign anything in its own name and nothing in anyone else's.
HYBRID_BEHAVIOURS: Mapping[str, Callable[[], Any]] = {
    name: imported_later("meshcheck.impl.hybrid.byzantine", cls)
    for name, cls in (
        ("equivocate_raft", "EquivocateRaft"),
        ("forge_seals", "ForgeSeals"),
        ("tamper_envelopes", "TamperEnvelopes"),
        ("censor", "Censor"),
        ("false_reports", "FalseReports"),
    )
}


def _hybrid_log_constants(nodes: Sequence[str], options: Mapping[str, Any]) -> dict[str, str]:
    """HybridLogs.tla's Nodes and Byzantine of a cluster (traces/logs/models/Hybrid.cfg): its
    nodes, and those `--byzantine` made Byzantine (they write no log)."""
    byzantine = options.get(BYZANTINE, {})
    return {
        "Nodes": "{" + ", ".join(f'"{n}"' for n in nodes) + "}",
        "Byzantine": "{" + ", ".join(f'"{n}"' for n in nodes if n in byzantine) + "}",
    }


def _hybrid(
    node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random
) -> Node:
    keys = hybrid_keys(nodes, options)
    opts = core_options(HYBRID_RUNTIME_DEFAULTS, options)
    core = HybridNode(HybridConfig(node, tuple(nodes), **opts), keys, EvidenceChecker(keys), rng)
    # a Byzantine node is an honest core whose output its behaviours corrupt, as in the
    # simulator's tests: the core's code is the same
    core.behaviours = [HYBRID_BEHAVIOURS[b]() for b in options.get(BYZANTINE, {}).get(node, ())]
    return core


PROTOCOL = RuntimeProtocol(
    "hybrid",
    _hybrid,
    (
        "meshcheck.impl.hybrid.entries",
        "meshcheck.impl.hybrid.threat",
        "meshcheck.impl.hybrid.levels",
        "meshcheck.impl.hybrid.machine",
        "meshcheck.impl.raft.messages",
        "meshcheck.impl.pbft.messages",
        "meshcheck.impl.pbft.evidence",
        "meshcheck.impl.hotstuff.messages",
        "meshcheck.impl.rsm.ops",
    ),
    quorum_clients=True,
    inspect=hybrid_inspect,
    behaviours=HYBRID_BEHAVIOURS,
    recovery=8.0,
    client_timeout=3.0,
    log_state=hybrid_log.log_state,
    spec="Hybrid",
    fingerprint=hybrid_log.fingerprint,
    log_writer=hybrid_log.HybridNodeLog,
    log_constants=_hybrid_log_constants,
    verify=VerifyRun(4, 10.0),  # 3f+1 with f = 1, as its BFT epochs need
)

"""What the runtime needs of each protocol: how to build one node's core, and which modules hold
the classes its wire and its disk carry (the codec refuses every other class).

The cores are built exactly as the simulator's plug-ins build them (impl/<core>/simulation.py
`new_node`): the same config classes, the same options, a seeded `random.Random` handed in (a core
never reads a global random generator).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.impl.gossip.node import IN, GossipNode
from meshcheck.impl.hotstuff.client import Client as HotStuffClient
from meshcheck.impl.hotstuff.client import ClientConfig as HotStuffClientConfig
from meshcheck.impl.hotstuff.crypto import KeyRing as HotStuffKeys
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica as HotStuffReplica
from meshcheck.impl.hybrid.byzantine import (
    Censor,
    EquivocateRaft,
    FalseReports,
    ForgeSeals,
    TamperEnvelopes,
)
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import Keys as HybridKeys
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.pbft.byzantine import (
    AlterUnsigned,
    ByzantineReplica,
    Equivocate,
    ForgeSignature,
    Fuzz,
    HidePrepared,
    MissingSignature,
    Repeat,
    Replay,
    Silent,
    TamperDigest,
    Usurp,
    Vouch,
)
from meshcheck.impl.pbft.client import Client as PbftClient
from meshcheck.impl.pbft.client import ClientConfig as PbftClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing as PbftKeys
from meshcheck.impl.pbft.replica import Replica as PbftReplica
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.messages import message_record
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.runtime import gossip_log, hotstuff_log, hybrid_log, pbft_log, raft_log
from meshcheck.impl.runtime.codec import Codec, classes_in
from meshcheck.impl.runtime.nodelog import NodeLog, Params, State, same_params

CoreFactory = Callable[[str, Sequence[str], Mapping[str, Any], random.Random], Node]


@attrs.frozen
class VerifyRun:
    """The cluster test `meshcheck verify` runs of a protocol, on real processes under the nemesis
    (its profiles but `fast`; meshcheck/verify_cluster.py): how many nodes, and the seconds of
    clients and faults, long enough for the nemesis to strike two or three times (one fault every
    few seconds)."""

    nodes: int
    seconds: float


@attrs.frozen
class RuntimeProtocol:
    """A protocol the runtime hosts; `log_state`, the node's slice of the spec's variables for its
    NDJSON log (nodelog.py), and `spec`, the name `meshcheck validate --spec` knows it by (None:
    its logs are not validated yet)."""

    name: str
    build: CoreFactory
    wire: tuple[str, ...]  # the modules whose attrs classes go on the wire and to disk
    log_state: State | None = None
    spec: str | None = None
    log_params: Params = same_params
    # what of the node the spec sees, cheaply: a step that changes none of it, consumes no message
    # and sends and persists nothing is a stutter, and its log leaves it out (host.py)
    fingerprint: Callable[[Any], Hashable] = id
    message_record: Callable[[Any], Any] | None = None  # a message as the spec's record
    # the participants that are not nodes, by the options (host.py's members; their cores run in
    # the harness: member.py), and how to build one: (name, nodes, options) -> core
    members: Callable[[Mapping[str, Any]], frozenset[str]] = lambda options: frozenset()
    build_member: Callable[[str, Sequence[str], Mapping[str, Any]], Any] | None = None
    # whose clients sign their operations and send each to every node, accepting an answer on f+1
    # matching replies (the hybrid dispatcher's: impl/hybrid/consensus.py; the harness's
    # meshcheck/cluster/quorum_clients.py), rather than following a leader
    quorum_clients: bool = False
    # the workloads its clients can run (meshcheck/cluster/workload.py), the first the default,
    # and whether its reads are linearizable (the consensus cores) or eventually consistent
    # (gossip: the history is judged by the convergence checks, meshcheck/cluster/convergence.py)
    workloads: tuple[str, ...] = ("registers", "register")
    linearizable: bool = True
    # what the harness may read of a running core, between two steps, over the node's control
    # channel (host.py): (core, now) -> a value of the codec. Only where the protocol's clients
    # are owed more than their reads show (gossip: the health view, the entries' versions)
    inspect: Callable[[Any, int], Any] | None = None
    # whether every run samples what the nodes hold (meshcheck/cluster/inspection.py), because a
    # check reads the samples (Raft: its applied state, meshcheck/cluster/checks.py)
    sampled: bool = False
    # seconds of clients at least after the last fault is undone, in which some operation must
    # succeed (meshcheck/cluster/checks.py `progress`): the protocol's timers at their longest
    # must have the time to run out once more (Raft: an election timeout of 150-300 ms and a
    # retry; PBFT: a view change whose timer doubled to its cap)
    recovery: float = 2.0
    # the nodes' names: the prefix and 1..n, as the spec names them (PBFT.tla's and HotStuff.tla's
    # replicas are "r1".."rN", the primary of view v the (v mod N + 1)-th; Raft's are the model's)
    node_prefix: str = "n"
    # whether a reboot is the spec's Restart(i), logged as such by the host (nodelog.py); False
    # where the spec has no crash (PBFT.tla) or the core reports its Restart itself (gossip)
    restarts_logged: bool = True
    # the actions its log keeps, where the core reports actions of another spec too (None: all)
    log_actions: frozenset[str] | None = None
    # the actions that receive the message delivered, where the core's action does not name it:
    # the log gives it as `m` (host.py)
    log_receives: frozenset[str] = frozenset()
    # the constants of the spec's validation model a cluster decides, as TLA+ text: (nodes, the
    # cores' options) -> {constant: value} (meshcheck/cluster/checks.py `logs_valid`)
    log_constants: Callable[[Sequence[str], Mapping[str, Any]], dict[str, str]] = (
        lambda nodes, options: {}
    )
    # seconds a harness client waits for an answer at least (then the operation is `info`): a BFT
    # operation signed and checked by every replica in Python takes hundreds of milliseconds on a
    # loaded machine, and after a view change the new primary orders the backlog first
    client_timeout: float = 1.0
    # what its Byzantine nodes may do, by name (`--byzantine NODE:NAME`): none where the runtime
    # hosts no Byzantine node of the protocol
    behaviours: Mapping[str, Callable[[], Any]] = attrs.field(factory=dict)
    # the writer of its NDJSON log: nodelog.py's one record per action reported, or a protocol's
    # own (the hybrid dispatcher's writes an Order with the Apply after it: hybrid_log.py)
    log_writer: type[NodeLog] = NodeLog
    # the merged log's records validated at most (their first, in Lamport order: a causally closed
    # prefix, so a behaviour of the spec if the whole is), where the walk grows faster than the log
    # (HotStuff: each state holds chains as long as the views so far); None: every record
    log_limit: int | None = None
    # the cluster test `meshcheck verify` runs of it (None: none)
    verify: VerifyRun | None = None

    @property
    def bft(self) -> bool:
        """Whether it is a BFT protocol: its clients sign and accept on f+1 matching replies
        (client cores: PBFT, HotStuff; quorum clients: the hybrid dispatcher), its groups are
        3f+1, and the nemesis holds it within f."""
        return self.build_member is not None or self.quorum_clients

    def node_names(self, n: int) -> list[str]:
        return [f"{self.node_prefix}{k}" for k in range(1, n + 1)]

    def codec(self) -> Codec:
        return Codec(classes_in(*self.wire))


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


def pbft_inspect(core: Any, now: int) -> FrozenDict:
    """A PBFT replica's view, status, stable checkpoint, how many batches it executed, and whom it
    quarantined: where a stalled group stands (a Byzantine replica answers for its honest core)."""
    replica = core.core if isinstance(core, ByzantineReplica) else core
    assert isinstance(replica, PbftReplica)
    return FrozenDict(
        {
            "view": replica.view,
            "status": replica.status,
            "stable": replica.stable,
            "executed": len(replica.executed),
            "quarantined": tuple(sorted(replica.audit.quarantined)),
        }
    )


# A BFT protocol's options that are not its config's: the seed its keys are derived from, its
# clients, and how long a client waits before it sends to every replica
BFT_KEYS, BFT_CLIENTS, BFT_CLIENT_TIMEOUT = "keys", "clients", "client_timeout"
# the Byzantine nodes: node -> the names of its behaviours (RuntimeProtocol.behaviours: the hybrid
# dispatcher's HYBRID_BEHAVIOURS, PBFT's PBFT_BEHAVIOURS)
BYZANTINE = "byzantine"
_BFT_OPTIONS = (BFT_KEYS, BFT_CLIENTS, BFT_CLIENT_TIMEOUT, BYZANTINE)


def _core_options(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The config's options: the runtime's defaults, then the options given (bugs as a set)."""
    opts = {**defaults, **{k: v for k, v in options.items() if k not in _BFT_OPTIONS}}
    if "election_timeout" in opts:  # a pair: a list once it went through the config's JSON
        opts["election_timeout"] = tuple(opts["election_timeout"])
    if "bugs" in opts:
        opts["bugs"] = frozenset(opts["bugs"])
    return opts


def pbft_keys(nodes: Sequence[str], options: Mapping[str, Any]) -> PbftKeys:
    """Everyone's Ed25519 keys, derived from the options' seed (impl/pbft/crypto.py): the
    processes of one cluster derive the same ring."""
    return PbftKeys(int(options.get(BFT_KEYS, 0)), (*nodes, *options.get(BFT_CLIENTS, ())))


# PbftConfig's defaults are the simulator's, in ticks, for a network of a few ticks a hop; on
# processes a tick is a millisecond and one request costs each replica about ten Ed25519
# signatures and checks in Python. One request a pre-prepare and a 300 ms request timer saturate a
# four-replica group at about 25 requests a second, and the timers then run out under load alone:
# views change with no fault (measured: 60 of 311 operations timed out, four view changes in 12 s,
# `meshcheck cluster test --protocol pbft --nemesis none`). Batches (section 5.1 of the paper) and
# timers above the batch's round trip, unless the options say otherwise.
PBFT_RUNTIME_DEFAULTS: Mapping[str, Any] = {
    "batch_size": 16,
    "window": 40,
    "checkpoint_every": 20,
    "view_change_timeout": 1000,
    "view_change_timeout_cap": 4000,
    "retransmit_every": 200,
}


def _pbft_log_constants(nodes: Sequence[str], options: Mapping[str, Any]) -> dict[str, str]:
    """PBFT.tla's N, CheckpointEvery and Window of a cluster (traces/logs/models/PBFT.cfg)."""
    opts = _core_options(PBFT_RUNTIME_DEFAULTS, options)
    return {
        "N": str(len(nodes)),
        "CheckpointEvery": str(opts["checkpoint_every"]),
        "Window": str(opts["window"]),
    }


# What a Byzantine PBFT replica may do (impl/pbft/byzantine/behaviours.py, fuzz.py), by the name a
# run gives it. It holds its real key: it signs anything in its own name, nothing in anyone else's
# (`impersonate` tries, with a key that is not theirs).
PBFT_BEHAVIOURS: Mapping[str, Callable[[], Any]] = {
    "silent": Silent,
    "equivocate": Equivocate,
    "tamper_digest": TamperDigest,
    "forge_signature": ForgeSignature,
    "impersonate": lambda: ForgeSignature(how="impersonate"),
    "missing_signature": MissingSignature,
    "replay": Replay,
    "hide_prepared": HidePrepared,
    "fuzz": Fuzz,
    "usurp": Usurp,
    "alter_unsigned": AlterUnsigned,
    "vouch": Vouch,
    "repeat": Repeat,
}


def _pbft(node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random) -> Node:
    clients = tuple(options.get(BFT_CLIENTS, ()))
    opts = _core_options(PBFT_RUNTIME_DEFAULTS, options)
    config = PbftConfig(node, tuple(nodes), clients, **opts)
    core = PbftReplica(config, pbft_keys(nodes, options))
    behaviours = options.get(BYZANTINE, {}).get(node, ())
    if not behaviours:
        return core
    # an honest core whose effects the behaviours rewrite, as the simulator's Byzantine replicas
    # (impl/pbft/byzantine/node.py), drawing from the node's seeded generator
    byzantine = ByzantineReplica(core, [PBFT_BEHAVIOURS[b]() for b in behaviours])
    byzantine.rng = rng
    return byzantine


def _bft_client(
    config: Callable[..., Any], client: Callable[[Any, Any], Any], keys: Callable[..., Any]
) -> Callable[[str, Sequence[str], Mapping[str, Any]], Any]:
    """How to build a BFT protocol's client core: its config class, its class, its key ring."""

    def build(name: str, nodes: Sequence[str], options: Mapping[str, Any]) -> Any:
        bugs = frozenset(options.get("bugs", ()))
        timeout = int(options.get(BFT_CLIENT_TIMEOUT, 1000))
        return client(config(name, tuple(nodes), timeout=timeout, bugs=bugs), keys(nodes, options))

    return build


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
    opts = _core_options(HOTSTUFF_RUNTIME_DEFAULTS, options)
    config = HotStuffConfig(node, tuple(nodes), clients, **opts)
    return HotStuffReplica(config, _hotstuff_keys(nodes, options))


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
    opts = _core_options(GOSSIP_RUNTIME_DEFAULTS, options)
    return GossipNode(GossipConfig(node, tuple(sorted(nodes)), **opts), rng)


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
    "equivocate_raft": EquivocateRaft,
    "forge_seals": ForgeSeals,
    "tamper_envelopes": TamperEnvelopes,
    "censor": Censor,
    "false_reports": FalseReports,
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
    opts = _core_options(HYBRID_RUNTIME_DEFAULTS, options)
    core = HybridNode(HybridConfig(node, tuple(nodes), **opts), keys, EvidenceChecker(keys), rng)
    # a Byzantine node is an honest core whose output its behaviours corrupt, as in the
    # simulator's tests: the core's code is the same
    core.behaviours = [HYBRID_BEHAVIOURS[b]() for b in options.get(BYZANTINE, {}).get(node, ())]
    return core


PROTOCOLS: Mapping[str, RuntimeProtocol] = {
    "raft": RuntimeProtocol(
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
    ),
    "pbft": RuntimeProtocol(
        "pbft",
        _pbft,
        (
            "meshcheck.impl.pbft.messages",
            "meshcheck.impl.pbft.evidence",
            "meshcheck.impl.rsm.ops",
        ),
        pbft_log.log_state,
        "PBFT",
        pbft_log.log_params,
        pbft_log.fingerprint,
        node_prefix="r",
        restarts_logged=False,  # PBFT.tla has no crash: a replica's restart is a stutter
        log_constants=_pbft_log_constants,
        behaviours=PBFT_BEHAVIOURS,
        inspect=pbft_inspect,
        members=lambda options: frozenset(options.get(BFT_CLIENTS, ())),
        build_member=_bft_client(PbftClientConfig, PbftClient, pbft_keys),
        # a view change that fails waits out a doubled timer (1, 2, 4 s at the cap): the next
        # must have the time to complete after the faults are over
        recovery=8.0,
        client_timeout=3.0,
        verify=VerifyRun(4, 10.0),  # 3f+1 with f = 1
    ),
    # the logs validated against HotStuff.tla (through HotStuffLogs.tla, which takes Vote's and
    # FormQC's blocks from the logs)
    "hotstuff": RuntimeProtocol(
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
        build_member=_bft_client(HotStuffClientConfig, HotStuffClient, _hotstuff_keys),
        node_prefix="r",
        # the view timer holds its back-off until a commit: after a storm, the view running and a
        # later one may each wait out the cap (2.4 s; property_tests/hotstuff/free_runs.py,
        # LIVENESS_BOUND)
        recovery=8.0,
        client_timeout=3.0,
        verify=VerifyRun(4, 10.0),  # 3f+1 with f = 1
    ),
    # the threat-level dispatcher: Raft epochs, BFT epochs (PBFT by default) once the threat level
    # reaches High; its logs validated against Hybrid.tla (through HybridLogs.tla)
    "hybrid": RuntimeProtocol(
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
    ),
    # status writes and reads, eventually consistent, judged by the convergence checks; the logs
    # validated against Gossip.tla (through GossipLogs.tla, which takes a push's keys from the logs)
    "gossip": RuntimeProtocol(
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
    ),
}


def protocol(name: str) -> RuntimeProtocol:
    """The runtime's protocol `name` (one clear error for any other)."""
    found = PROTOCOLS.get(name)
    if found is None:
        raise ImplError(f"the runtime hosts {', '.join(sorted(PROTOCOLS))}; not {name!r}")
    return found

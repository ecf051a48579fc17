"""What a cluster test is asked to do (`Options`) and what it found (`Outcome`)."""

from __future__ import annotations

from typing import Any

import attrs

from meshcheck.cluster import checks
from meshcheck.cluster import convergence
from meshcheck.cluster import inspection
from meshcheck.cluster import nemesis
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.workload import History
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.runtime.protocols import protocol as runtime_protocol


@attrs.frozen
class Options:
    protocol: str = "raft"
    nodes: int = 3
    time: float = 10.0  # seconds of clients and nemesis
    nemesis: tuple[str, ...] = ("kill", "pause", "partition")
    workload: str = "registers"  # the protocol's (impl/runtime/protocols.py `workloads`)
    rate: float = 100.0  # operations a second, all clients together
    clients: int = 10  # each with one operation in flight (Jepsen's concurrency)
    timeout: float = 1.0  # seconds a client waits for an answer (then the operation is `info`)
    seed: int = 0
    bugs: frozenset[str] = frozenset()
    budget: float = 30.0  # seconds the linearizability checker may take
    validate_budget: float = 300.0  # seconds the log validation may take (validate's default)
    plan: tuple[Fault, ...] | None = None  # the faults, when not drawn from the seed
    tls: bool = True  # mutual TLS between nodes and from clients (impl/runtime/tls.py)
    validate: bool = True  # validate the nodes' logs against the spec (needs Java: TLC)
    # gossip: seconds the nodes have to agree once the writes stop (the design's bound for a
    # status update to reach every node: meshcheck/cluster/convergence.py)
    settle: float = convergence.BOUND
    # the core's options over the runtime's defaults (impl/runtime/protocols.py), as pairs:
    # `(("interval", 1000),)` runs gossip at the design's round
    core: tuple[tuple[str, Any], ...] = ()
    # the Byzantine nodes (the hybrid dispatcher's, PBFT's): (node, behaviour) pairs, the names of
    # the protocol's `behaviours` (impl/runtime/protocols.py), each an honest core whose output
    # the behaviour corrupts
    byzantine: tuple[tuple[str, str], ...] = ()
    # every node-to-node link holds each frame back this many milliseconds (drawn per frame), for
    # the whole run: a slow network, not a fault (nothing heals it); (0, 0): none
    delay: tuple[int, int] = (0, 0)
    # sample what the nodes hold beside the clients (inspection.py) even where no check reads it
    # (a measurement does: the claims' elections)
    sample: bool = False
    # the nodes' links: "proxy", a TCP proxy per link (network.py); "netns", each node in its own
    # network namespace, the faults in the kernel's network (netns_links.py)
    network: str = "proxy"
    # what a power failure keeps: "strict" or "journal" (meshcheck/faults/lazy_tree.py DURABILITY)
    fs: str = "strict"


@attrs.frozen
class Outcome:
    options: Options
    plan: tuple[Fault, ...]
    history: History
    verdicts: tuple[checks.Verdict, ...]
    seconds: float
    frames: tuple[int, int]
    struck: tuple[tuple[float, str], ...] = ()  # what the nemesis did, when (targets resolved)
    samples: tuple[inspection.Sample, ...] = ()  # what the nodes held (inspection.py)
    probes: tuple[float, ...] = ()  # gossip: seconds until each probe write reached every node

    @property
    def holds(self) -> bool:
        return all(v.holds for v in self.verdicts)

    @property
    def safe(self) -> bool:
        """Every check not on real time holds (`checks.Verdict.timed`): what a loaded machine
        alone cannot break, and what a test of correct code under faults asserts. A run with none of
        them showed nothing and is not safe (as verify_cluster.judge)."""
        judged = [v for v in self.verdicts if not v.timed]
        return bool(judged) and all(v.holds for v in judged)

    @property
    def failed(self) -> list[checks.Verdict]:
        return [v for v in self.verdicts if v.holds is False]


def fault_plan(options: Options) -> list[Fault]:
    """The run's nemesis plan: the one given, or drawn from the seed within the protocol's fault
    model (nemesis.py `tolerated`: a BFT protocol's f, less its Byzantine nodes). One clear error
    for a fault on whole messages under TLS (nemesis.py `needs_frames`), and for a power failure
    where no lazy filesystem can be mounted (`needs_lazy_disks`)."""
    kinds = options.nemesis if options.plan is None else [f.kind for f in options.plan]
    nemesis.needs_frames(kinds, options.tls)
    if options.network == "netns":
        framed = [k for k in kinds if k in nemesis.FRAMED]
        if framed:
            raise MeshcheckError(
                f"--nemesis {framed[0]}: acts on whole frames, a proxy's fault (not --network netns)"
            )
    nemesis.needs_lazy_disks(kinds)
    hosted = runtime_protocol(options.protocol)
    if "corrupt" in kinds and not hosted.linearizable:
        raise MeshcheckError(
            f"--nemesis corrupt: a node that refuses its damaged state file stays down, and "
            f"{options.protocol}'s checks judge every node once healed (agreement, trust, its own "
            "writes on its disk)"
        )
    on_clients = [k for k in kinds if k in nemesis.CLIENTS]
    if on_clients and hosted.build_member is None:
        raise MeshcheckError(
            f"--nemesis {on_clients[0]}: strikes the clients' cores the harness hosts, which "
            f"{options.protocol}'s clients are not (pbft, hotstuff)"
        )
    if options.plan is not None:
        return list(options.plan)
    byzantine = len({node for node, _ in options.byzantine})
    return nemesis.plan(
        options.seed,
        options.time,
        options.nemesis,
        node_names(options.protocol, options.nodes),
        at_most=nemesis.tolerated(options.nodes, hosted.bft, byzantine),
        clients=client_names(options.clients),
    )


def client_names(clients: int) -> list[str]:
    """The names of a run's client cores (PBFT's and HotStuff's: meshcheck/cluster/layer.py)."""
    return [f"c{k}" for k in range(1, clients + 1)]


def node_names(protocol: str, n: int) -> list[str]:
    """The nodes of a cluster of `n` of `protocol`, named as its spec names them."""
    return runtime_protocol(protocol).node_names(n)

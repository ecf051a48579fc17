"""What the runtime needs of each protocol: how to build one node's core, and which modules hold
the classes its wire and its disk carry (the codec refuses every other class).

The cores are built exactly as the simulator's plug-ins build them (impl/<core>/simulation.py
`new_node`): the same config classes, the same options, a seeded `random.Random` handed in (a core
never reads a global random generator).

Each protocol's entry lives in its own module (impl/runtime/hosted/), imported the first time the
protocol is asked for: a node process imports its own core and nothing else (a Raft node used to
import every core, and Hypothesis through the Byzantine fuzzers, 0.8 CPU-seconds a start, about
a third of that for its own).
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import Node
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.codec import classes_in
from meshcheck.impl.runtime.nodelog import NodeLog
from meshcheck.impl.runtime.nodelog import Params
from meshcheck.impl.runtime.nodelog import State
from meshcheck.impl.runtime.nodelog import same_params

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
    # whether its nodes' state machines take the state machine's catalogue (impl/rsm/mutants.py)
    # through `--bugs` beside its own (Raft's: impl/runtime/hosted/raft.py)
    machine_bugs: bool = False

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


# A BFT protocol's options that are not its config's: the seed its keys are derived from, its
# clients, and how long a client waits before it sends to every replica
BFT_KEYS, BFT_CLIENTS, BFT_CLIENT_TIMEOUT = "keys", "clients", "client_timeout"
# the Byzantine nodes: node -> the names of its behaviours (RuntimeProtocol.behaviours: the hybrid
# dispatcher's HYBRID_BEHAVIOURS, PBFT's PBFT_BEHAVIOURS)
BYZANTINE = "byzantine"
_BFT_OPTIONS = (BFT_KEYS, BFT_CLIENTS, BFT_CLIENT_TIMEOUT, BYZANTINE)


def core_options(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The config's options: the runtime's defaults, then the options given (bugs as a set)."""
    opts = {**defaults, **{k: v for k, v in options.items() if k not in _BFT_OPTIONS}}
    if "election_timeout" in opts:  # a pair: a list once it went through the config's JSON
        opts["election_timeout"] = tuple(opts["election_timeout"])
    if "bugs" in opts:
        opts["bugs"] = frozenset(opts["bugs"])
    return opts


def bft_client(
    config: Callable[..., Any], client: Callable[[Any, Any], Any], keys: Callable[..., Any]
) -> Callable[[str, Sequence[str], Mapping[str, Any]], Any]:
    """How to build a BFT protocol's client core: its config class, its class, its key ring."""

    def build(name: str, nodes: Sequence[str], options: Mapping[str, Any]) -> Any:
        bugs = frozenset(options.get("bugs", ()))
        timeout = int(options.get(BFT_CLIENT_TIMEOUT, 1000))
        return client(config(name, tuple(nodes), timeout=timeout, bugs=bugs), keys(nodes, options))

    return build


def imported_later(module: str, name: str, **kwargs: Any) -> Callable[[], Any]:
    """A factory of `module`'s class `name` (with `kwargs`) that imports `module` only when
    called: a hosted core's Byzantine behaviours, which an honest node's process never needs (PBFT's
    bring Hypothesis, for their fuzzer)."""

    def build() -> Any:
        return getattr(importlib.import_module(module), name)(**kwargs)

    return build


# the protocols the runtime hosts, by name: the module whose PROTOCOL describes each
_HOSTED = {
    name: f"meshcheck.impl.runtime.hosted.{name}"
    for name in ("raft", "pbft", "hotstuff", "hybrid", "gossip")
}


class _Hosted(Mapping[str, RuntimeProtocol]):
    """The hosted protocols by name, each module imported when its protocol is first asked for."""

    def __getitem__(self, name: str) -> RuntimeProtocol:
        found: RuntimeProtocol = importlib.import_module(_HOSTED[name]).PROTOCOL
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(_HOSTED)

    def __len__(self) -> int:
        return len(_HOSTED)


PROTOCOLS: Mapping[str, RuntimeProtocol] = _Hosted()


def protocol(name: str) -> RuntimeProtocol:
    """The runtime's protocol `name` (one clear error for any other)."""
    if name not in _HOSTED:
        raise ImplError(f"the runtime hosts {', '.join(sorted(_HOSTED))}; not {name!r}")
    return PROTOCOLS[name]

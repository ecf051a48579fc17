"""The client of the project's own cores as a system's client plug-in: the runtime's client
protocol (impl/runtime/client.py: framed `("write" | "read", id, value)` requests, answers that
name the leader), so that a core's cluster runs from a system file (meshcheck/systems/known/cores/)
through the systems' runner like etcd or meshkv.

The file's `[client]` table names the core (`protocol = "raft"`); the registers workload's
operations become the replicated state machine's (impl/rsm/ops.py): a write of `v` to `k` is the
entry `Custom(k, v)`, a read of `k` the query `("custom", k)`, a key never written read as None.
A client bound to one node asks the node it last heard leads, else its own; a node that answers
"not the leader" with a hint is asked once more, at the hint, within the operation's timeout (its
answer certainly took no effect: a retry cannot apply a write twice). Errors by the one rule
(outcomes.py): a connection refused or closed before the request left, or a node's "no", is
`fail`; a timeout, a connection lost with a write in flight, or an answer marked unknown, `info`;
a read is `fail` whatever stopped it.

`leader` asks each node's control channel (impl/runtime/host.py `inspect`) which role it holds,
for the nemesis's `@leader`; `after` is the post-run hook (plugin.py `Ended`): each node's step
log validated against the core's spec, as `meshcheck cluster test --protocol` did, and the state
files' checks (meshcheck/cluster/checks.py `state_files`) on the history's writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.cluster import checks
from meshcheck.cluster.checks import Verdict
from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.runtime.client import Answer
from meshcheck.impl.runtime.client import Connection
from meshcheck.impl.runtime.client import NotSent
from meshcheck.impl.runtime.client import inspect
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.disk import StateFileError
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import protocol as runtime_protocol
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Ended
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation

VERBS = ("read", "write")
WORKLOADS = ("registers",)
INSPECT_TIMEOUT = 0.5  # seconds a node has to say its role (`leader`)
_names = itertools.count(1)


def hosted(options: Mapping[str, Any], where: str = "client.protocol") -> RuntimeProtocol:
    """The core the file's `[client] protocol` names; one line for a missing or unknown one."""
    name = options.get("protocol")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: the core's name, a string (raft, pbft, ...)")
    try:
        return runtime_protocol(name)
    except (KeyError, MeshcheckError):
        raise ConfigError(f"{where}: {name!r} is no core the runtime hosts") from None


def _read_value(result: Any) -> Any:
    """A read's answer from the state machine (impl/rsm/machine.py `read`): the key's value, None
    for a key never written."""
    if isinstance(result, Mapping) and result.get("ok"):
        return result.get("value")
    return None


class RuntimeClient:
    """One client of a core's cluster, bound to one node (plugin.Client): a connection to each
    node it asks (impl/runtime/client.py `Connection`), opened when first needed and again after
    it broke."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._codec = hosted(settings.options).codec()
        self._home = ""
        self._name = f"s{next(_names)}"
        self._nodes: dict[str, tuple[str, int]] = {}
        self._conns: dict[str, Connection] = {}
        self.leader: str | None = None  # the node this client last heard leads

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        await self.close()
        self._nodes = dict(endpoint.cluster) or {endpoint.node: (endpoint.host, endpoint.port)}
        self._home = endpoint.node

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        if op.f not in VERBS or op.key is None:
            raise MeshcheckError(f"runtime client: no operation {op.f!r} (it has read, write)")
        if not self._nodes:
            raise MeshcheckError("runtime client: invoke before open")
        writes = op.f == "write"
        kind, value = (
            ("write", to_value(Custom(op.key, op.value)))
            if writes
            else ("read", ("custom", op.key))
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        node = self.leader or self._home
        for _ in range(2):
            asked = await self._ask(node, kind, value, max(0.01, deadline - loop.time()))
            if isinstance(asked, str):  # no answer: the class of what stopped it
                self.leader = None
                return Completion(outcome(asked, writes=writes), served=node)
            if asked.ok:
                self.leader = node
                output = _read_value(asked.result) if not writes else None
                return Completion("ok", output, served=node, leader=node)
            if asked.unknown:  # the node may still apply it (a leader deposed meanwhile)
                self.leader = None
                return Completion(outcome("error", writes=writes), served=node)
            hint = asked.leader if asked.leader in self._nodes else None
            self.leader = hint if hint != node else None
            if self.leader is None or loop.time() >= deadline:
                return Completion(outcome("rejected", writes=writes), served=node, leader=hint)
            node = self.leader  # the node said no and who leads: asked once more, there
        return Completion(outcome("rejected", writes=writes), served=node)

    async def _ask(self, node: str, kind: str, value: Any, timeout: float) -> Answer | Failure:
        """The node's answer, or the class of what stopped it (outcomes.py): the connection could
        not be made (`refused`), was closed before the request left (`lost-before-send`) or after
        (`lost-during-commit`), or no answer came in time (`timeout`)."""
        conn = self._conns.get(node)
        if conn is None:
            conn = Connection(node, self._codec)
            try:
                async with asyncio.timeout(timeout):
                    await conn.open(self._nodes[node], self._name)
            except (OSError, TimeoutError):
                await conn.close()
                return "refused"
            self._conns[node] = conn
        try:
            return await conn.request(kind, value, timeout)
        except TimeoutError:
            return "timeout"
        except (ConnectionError, OSError) as e:
            del self._conns[node]  # opened anew by the next request
            await conn.close()
            return "lost-before-send" if isinstance(e, NotSent) else "lost-during-commit"

    async def close(self) -> None:
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            await conn.close()


async def leader(endpoints: Sequence[Endpoint]) -> str | None:
    """The node that says it leads (the highest term's, two saying so), over each node's control
    channel; None when none does or the core tells no role (plugin.Leader)."""
    codec = Codec([])  # a role, a term: plain values every core's codec knows

    async def role(e: Endpoint) -> tuple[int, str] | None:
        with contextlib.suppress(OSError, ValueError, TimeoutError, MeshcheckError):
            async with asyncio.timeout(INSPECT_TIMEOUT):
                seen = await inspect((e.host, e.port), codec, None, e.node)
            if isinstance(seen, Mapping) and seen.get("role") == "Leader":
                return (int(seen.get("term", 0)), e.node)
        return None

    said = [r for r in await asyncio.gather(*(role(e) for e in endpoints)) if r is not None]
    return max(said)[1] if said else None


def after(ended: Ended) -> list[Verdict]:
    """What `meshcheck cluster test --protocol` judged beyond the history: every node's state file
    read back (checks.state_files: Raft's log matching and acknowledged writes; the BFT cores'
    agreement and durability), and every node's step log a behaviour of the core's spec (not after
    a power failure, which drops a log's unsynced lines while the state they led to survives)."""
    proto = hosted(ended.options)
    codec = proto.codec()
    persisted: dict[str, Any] = {}
    for node in ended.names:
        disk = Disk(Path(ended.values[node]["data"]) / "state.wal", codec)
        try:
            persisted[node] = disk.load()
        except StateFileError as e:  # a corrupted file its node refused: it holds nothing
            persisted[node] = {}
            ended.progress(f"{node}'s state file is unreadable, counted as holding nothing: {e}")
        disk.close()
    ops = [
        attrs.evolve(o, input=to_value(Custom(str(o.key), o.input))) if o.f == "write" else o
        for o in ended.ops
    ]
    verdicts = checks.state_files(proto.name, ops, persisted)
    if proto.spec is None or not ended.validate:
        return verdicts
    if "power" in ended.kinds:
        ended.progress(
            "the nodes' logs are not validated: a power failure drops their unsynced lines"
        )
        return verdicts
    ended.progress("validating the nodes' logs against the spec")
    logs = [Path(ended.values[n]["data"]) / "node.ndjson" for n in ended.names]
    verdicts.append(
        checks.logs_valid(
            proto.spec,
            logs,
            proto.log_constants(ended.names, {}),
            ended.folder,
            ended.budget,
            proto.log_limit,
        )
    )
    return verdicts

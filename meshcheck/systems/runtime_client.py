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

A core whose clients sign (PBFT's, HotStuff's: `RuntimeProtocol.build_member`) is reached
through its own client core instead (`MemberClient`), hosted here as the cores' runner hosts it
(impl/runtime/member.py): it signs each request, sends it to the primary, to every replica when
no result comes, and accepts a result once f+1 replicas replied alike. Its workload is `rsm`
(rsm_workload.py: writes of the state machine's entries, judged against the rsm model); its name
is its seat's (`c3` for the process `c3.1.0`), one of the `--clients N` the replicas admit (the
file's `[client] clients`), and what it persisted (its last timestamp, what it accepted) is kept
for the process's life, so that the client of the same seat in a later round starts from it, as
a client process started again reads its state file: a timestamp signed twice would be answered
with the first request's result.

`leader` asks each node's control channel (impl/runtime/host.py `inspect`) which role it holds,
for the nemesis's `@leader` (a core with views and no roles, PBFT: the primary of the highest view
f+1 replicas reached, as its client reckons it); `after` is the post-run hook (plugin.py
`Ended`): each honest node's step log validated against the core's spec, as `meshcheck cluster
test --protocol` did, and the state files' checks (meshcheck/cluster/checks.py `state_files`) on
the history's writes; a node that wrote `byzantine.txt` (impl/runtime/node_main.py) is not
judged, and with one the logs are not validated (PBFT.tla lets a Byzantine replica send any
well-typed message, more successors than TLC builds with a real run's constants: the cores'
runner left them out too, meshcheck/cluster/layer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.cluster import checks
from meshcheck.cluster import inspection
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.inspection import Sample
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
from meshcheck.impl.runtime.member import Crashed
from meshcheck.impl.runtime.member import Member
from meshcheck.impl.runtime.node_main import BYZANTINE_FILE
from meshcheck.impl.runtime.node_main import CORE_FILE
from meshcheck.impl.runtime.node_main import client_names
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BFT_KEYS
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import protocol as runtime_protocol
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Ended
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation

VERBS = ("read", "write")
WORKLOADS = ("registers", "rsm")
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


def waited(options: Mapping[str, Any]) -> float | None:
    """The file's `[client] timeout`: seconds a client waits for an answer at least (the cores'
    runner's `--timeout`), or None where the file sets none (the workload's wait); one line for
    anything but a number from 0.1 to 600."""
    wait = options.get("timeout")
    if wait is None:
        return None
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0.1 <= wait <= 600:
        raise ConfigError("client.timeout: seconds a client waits, a number from 0.1 to 600")
    return float(wait)


def _read_value(result: Any) -> Any:
    """A read's answer from the state machine (impl/rsm/machine.py `read`): the key's value, None
    for a key never written."""
    if isinstance(result, Mapping) and result.get("ok"):
        return result.get("value")
    return None


Cluster = tuple[tuple[str, tuple[str, int]], ...]  # every node's client address, sorted by node
# an operation as its client asked it and as the history holds it: (process, verb, key, value's
# repr, how many times that process asked the same before): a write's value is unique in a run
Tag = tuple[str, str, str | None, str, int]


@attrs.define
class Heard:
    """What the plain clients of one cluster heard beyond the answers they waited for (the cores'
    runner's clients kept the same: meshcheck/cluster/workload.py): second answers to one request
    and answers after their client stopped waiting, each (the operation, seconds after it was
    invoked, the answer's result or error / whether ok)."""

    asked: dict[tuple[str, str, str | None, str], int] = attrs.Factory(dict)
    again: list[tuple[Tag, float, Any]] = attrs.Factory(list)
    late: list[tuple[Tag, float, bool]] = attrs.Factory(list)


# kept for the process's life, by cluster, until the post-run hook takes them (`after`)
_HEARD: dict[Cluster, Heard] = {}


def _cluster(nodes: Mapping[str, tuple[str, int]]) -> Cluster:
    return tuple(sorted((n, (str(h), int(p))) for n, (h, p) in nodes.items()))


def client(settings: ClientSettings) -> Client:
    """The client of the core the file names: its own client core where its clients sign
    (`MemberClient`), else the runtime's client protocol (`RuntimeClient`)."""
    if hosted(settings.options).build_member is not None:
        return MemberClient(settings)
    return RuntimeClient(settings)


class RuntimeClient:
    """One client of a core's cluster, bound to one node (plugin.Client): a connection to each
    node it asks (impl/runtime/client.py `Connection`), opened when first needed and again after
    it broke."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._codec = hosted(settings.options).codec()
        self._wait = waited(settings.options)
        self._home = ""
        self._name = f"s{next(_names)}"
        self._nodes: dict[str, tuple[str, int]] = {}
        self._conns: dict[str, Connection] = {}
        self._heard = Heard()
        self._sent: dict[Tag, float] = {}  # when each tagged operation was invoked (loop time)
        self.leader: str | None = None  # the node this client last heard leads

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        await self.close()
        self._nodes = dict(endpoint.cluster) or {endpoint.node: (endpoint.host, endpoint.port)}
        self._home = endpoint.node
        self._heard = _HEARD.setdefault(_cluster(self._nodes), Heard())

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
        if self._wait is not None:
            timeout = max(timeout, self._wait)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        asked_before = (op.process, op.f, op.key, repr(op.value))
        tag = (*asked_before, self._heard.asked.get(asked_before, 0))
        self._heard.asked[asked_before] = tag[-1] + 1
        self._sent[tag] = loop.time()
        node = self.leader or self._home
        for _ in range(2):
            asked = await self._ask(node, kind, value, max(0.01, deadline - loop.time()), tag)
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

    def _late(self, tag: Any, answer: Answer, again: bool) -> None:
        """A second answer to one request, or one after the client stopped waiting (Connection's
        `on_late`), kept for the post-run hook."""
        after = asyncio.get_running_loop().time() - self._sent.get(tag, 0.0)
        if again:
            self._heard.again.append((tag, after, answer.result or answer.error))
        else:
            self._heard.late.append((tag, after, answer.ok))

    async def _ask(
        self, node: str, kind: str, value: Any, timeout: float, tag: Tag
    ) -> Answer | Failure:
        """The node's answer, or the class of what stopped it (outcomes.py): the connection could
        not be made (`refused`), was closed before the request left (`lost-before-send`) or after
        (`lost-during-commit`), or no answer came in time (`timeout`)."""
        conn = self._conns.get(node)
        if conn is None:
            conn = Connection(node, self._codec, self._late)
            try:
                async with asyncio.timeout(timeout):
                    await conn.open(self._nodes[node], self._name)
            except (OSError, TimeoutError):
                await conn.close()
                return "refused"
            self._conns[node] = conn
        try:
            return await conn.request(kind, value, timeout, tag)
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


# what each client core persisted, by cluster (its nodes' addresses) and name: kept for the
# process's life, as a client process's state file is (the module's docstring)
_KEPT: dict[tuple[tuple[tuple[str, tuple[str, int]], ...], str], dict[str, Any]] = {}


class MemberClient:
    """One client core of a core whose clients sign (the module's docstring), speaking to every
    node: bound to none, it is started at its first operation, under its seat's name."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._proto = hosted(settings.options)
        admitted = settings.options.get("clients")
        if not isinstance(admitted, int) or isinstance(admitted, bool) or admitted < 1:
            raise ConfigError(
                "client.clients: how many client cores the nodes admit (their --clients), an "
                "integer of at least 1"
            )
        self._admitted = admitted
        self._wait = max(self._proto.client_timeout, waited(settings.options) or 0.0)
        self._nodes: dict[str, tuple[str, int]] = {}
        self._member: Member | None = None

    @property
    def primary(self) -> str | None:
        """The primary the client core believes in (PBFT's); None before it started."""
        found = getattr(self._member.core, "primary", None) if self._member else None
        return None if found is None else str(found)

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        self._nodes = dict(endpoint.cluster) or {endpoint.node: (endpoint.host, endpoint.port)}

    def _options(self) -> dict[str, Any]:
        return {BFT_KEYS: 0, BFT_CLIENTS: client_names(self._admitted)}

    async def _started(self, process: str) -> Member:
        if self._member is not None:
            return self._member
        name = process.split(".", 1)[0]
        if name not in client_names(self._admitted):
            raise ConfigError(
                f"client {name}: the nodes admit c1..c{self._admitted} (the file's "
                "client.clients): run fewer --clients"
            )
        names = list(self._nodes)  # the cluster's order, the replicas' own (their --peers)
        core = self._proto.build_member
        assert core is not None
        member = Member(name, core(name, names, self._options()), self._proto.codec(),
                        self._nodes)  # fmt: skip
        kept = (tuple(sorted(self._nodes.items())), name)
        member.disk = _KEPT.setdefault(kept, {})  # its timestamps move on (the docstring)
        await member.start()
        self._member = member
        return member

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        if op.f != "write":
            raise MeshcheckError(f"client core: no operation {op.f!r} (it has write)")
        if not self._nodes:
            raise MeshcheckError("client core: invoke before open")
        member = await self._started(op.process)
        try:  # as long as the core's own clients wait (RuntimeProtocol.client_timeout), or the file's
            output = await member.request(op.value, max(timeout, self._wait))
        except (TimeoutError, Crashed):  # the core sends it on: it may still take effect
            return Completion("info", leader=self.primary)
        return Completion("ok", output, leader=self.primary)

    async def close(self) -> None:
        member, self._member = self._member, None
        if member is not None:
            await member.stop()


def _primary(endpoints: Sequence[Endpoint], views: Sequence[tuple[int, str | None]]) -> str | None:
    """The primary of the highest view f+1 of the nodes reached (impl/pbft/client.py `primary`:
    one of them is correct): the one a node in that view names (HotStuff's rotating leader),
    else the view's number modulo the nodes, in their order (PBFT's)."""
    f = (len(endpoints) - 1) // 3
    if len(views) < f + 1:
        return None
    view = sorted((v for v, _ in views), reverse=True)[f]
    named = [who for v, who in views if v == view and who is not None]
    return named[0] if named else endpoints[view % len(endpoints)].node


async def leader(endpoints: Sequence[Endpoint]) -> str | None:
    """The node that says it leads (the highest term's, two saying so), over each node's control
    channel; for a core with views and no roles, the primary of the view f+1 nodes reached
    (`_primary`); None when none does or the core tells neither (plugin.Leader)."""
    codec = Codec([])  # a role, a term, a view: plain values every core's codec knows

    async def role(e: Endpoint) -> tuple[str, int, str | None] | None:
        """("role", its term, the node) from a leader; ("view", its view, the view's leader as
        the node names it, or None) from a core with views and no roles."""
        with contextlib.suppress(OSError, ValueError, TimeoutError, MeshcheckError):
            async with asyncio.timeout(INSPECT_TIMEOUT):
                seen = await inspect((e.host, e.port), codec, None, e.node)
            if isinstance(seen, Mapping) and seen.get("role") == "Leader":
                return ("role", int(seen.get("term", 0)), e.node)
            if isinstance(seen, Mapping) and "role" not in seen and "view" in seen:
                named = seen.get("leader")
                return ("view", int(seen["view"]), None if named is None else str(named))
        return None

    answers = [r for r in await asyncio.gather(*(role(e) for e in endpoints)) if r is not None]
    said = [(term, node) for kind, term, node in answers if kind == "role" and node is not None]
    views = [(view, named) for kind, view, named in answers if kind == "view"]
    if views and not said:
        return _primary(endpoints, views)
    return max(said)[1] if said else None


async def watch(
    options: Mapping[str, Any],
    endpoints: Sequence[Endpoint],
    clock: Callable[[], float],
    into: list[Any],
) -> None:
    """What a core whose checks read its running nodes (`RuntimeProtocol.sampled`: Raft's applied
    state) holds, sampled beside the clients over each node's control channel until cancelled,
    as the cores' runner sampled it (meshcheck/cluster/inspection.py); nothing for another core."""
    proto = hosted(options)
    if not proto.sampled or proto.inspect is None:
        return
    nodes = {e.node: (e.host, e.port) for e in endpoints}
    await inspection.sample(nodes, Codec([]), None, clock, into)


def _answered_once(ended: Ended, ops: Sequence[Any]) -> Verdict:
    """`one answer per request` (checks.answered_once), of what the run's plain clients heard
    (`Heard`), each answer matched to its operation in the history; undecided where no client of
    this cluster was heard of (nothing to judge it by)."""
    heard = None
    ports = {k for v in ended.values.values() for k in v if k.startswith("port.")}
    for port in sorted(ports):
        with contextlib.suppress(KeyError, ValueError):
            nodes = {n: (ended.values[n]["host"], int(ended.values[n][port])) for n in ended.names}
            heard = _HEARD.pop(_cluster(nodes), None) or heard
    if heard is None:
        return Verdict("one answer per request", None, "no client of this cluster was heard of")
    index: dict[Tag, int] = {}
    counts: dict[tuple[str, str, str | None, str], int] = {}
    for i, o in enumerate(ended.ops):
        asked = (o.process, o.f, o.key, repr(o.input))
        index[(*asked, counts.get(asked, 0))] = i
        counts[asked] = counts.get(asked, 0) + 1
    again = [(index[t], ops[index[t]].call + s, a) for t, s, a in heard.again if t in index]
    late = [(index[t], ops[index[t]].call + s, ok) for t, s, ok in heard.late if t in index]
    return checks.answered_once(ops, again, late)


def _core_options(folders: Iterable[Path]) -> dict[str, Any]:
    """The core's options the nodes ran with, as the first that wrote them says (node_main.py
    `CORE_FILE`: MESHCHECK_CORE, which a file gives every node alike); none: the defaults."""
    for folder in folders:
        with contextlib.suppress(OSError, ValueError):
            kept = json.loads((folder / CORE_FILE).read_text(encoding="utf-8"))
            if isinstance(kept, dict):
                return kept
    return {}


def after(ended: Ended) -> list[Verdict]:
    """What `meshcheck cluster test --protocol` judged beyond the history: every node's state file
    read back (checks.state_files: Raft's log matching and acknowledged writes; the BFT cores'
    agreement and durability), and every node's step log a behaviour of the core's spec (not after
    a power failure, which drops a log's unsynced lines while the state they led to survives)."""
    proto = hosted(ended.options)
    codec = proto.codec()
    persisted: dict[str, Any] = {}
    folders = {n: Path(ended.values[n]["data"]) for n in ended.names}
    byzantine = [n for n in ended.names if (folders[n] / BYZANTINE_FILE).exists()]
    honest = [n for n in ended.names if n not in byzantine]
    for node in honest:
        disk = Disk(folders[node] / "state.wal", codec)
        try:
            persisted[node] = disk.load()
        except StateFileError as e:  # a corrupted file its node refused: it holds nothing
            persisted[node] = {}
            ended.progress(f"{node}'s state file is unreadable, counted as holding nothing: {e}")
        disk.close()
    # a register's write is the entry Custom(key, value); the rsm workload's are entries already
    ops = [
        attrs.evolve(o, input=to_value(Custom(str(o.key), o.input)))
        if o.f == "write" and not isinstance(o.input, Mapping)
        else o
        for o in ended.ops
    ]
    verdicts = checks.state_files(proto.name, ops, persisted)
    if proto.build_member is None:  # plain clients, who hear every answer a node gives them
        verdicts.append(_answered_once(ended, ops))
    if proto.sampled:  # the machines as `watch` saw them while the nodes ran
        verdicts.append(checks.applied_state([s for s in ended.watched if isinstance(s, Sample)]))
    if proto.spec is None or not ended.validate:
        return verdicts
    if "power" in ended.kinds:
        ended.progress(
            "the nodes' logs are not validated: a power failure drops their unsynced lines"
        )
        return verdicts
    if byzantine:
        ended.progress(
            f"the nodes' logs are not validated: {', '.join(byzantine)} Byzantine, which the "
            "spec's constants for a real run cannot follow"
        )
        return verdicts
    ended.progress("validating the nodes' logs against the spec")
    logs = [folders[n] / "node.ndjson" for n in honest]
    core = _core_options(folders[n] for n in honest)
    verdicts.append(
        checks.logs_valid(
            proto.spec,
            logs,
            proto.log_constants(ended.names, core),  # the nodes' core options (MESHCHECK_CORE)
            ended.folder,
            ended.budget,
            proto.log_limit,
        )
    )
    return verdicts

"""Clients of a real cluster and the history they make.

A workload is concurrent clients (Jepsen's processes), each with one operation in flight at a time,
together at about `rate` operations a second. Each operation is invoked and completed with the
harness's monotonic clock, in seconds from the run's start, and recorded in Jepsen's shape for the
linearizability checker (traces/history): `ok` with the answer, `fail` when the node said it took
no effect (a follower's "not the leader"), `info` when the client cannot know (a timeout, a broken
connection, an answer marked unknown): it may or may not have happened. An answer that arrives
after its client stopped waiting (impl/runtime/client.py) is not thrown away: an `ok` one ends the
`info` operation it answers, at the time it arrived (`History.answered_late`), as the client now
knows how the operation ended; a truthful late answer keeps the history linearizable, and an
answer a node did not owe (a write answered with another entry's result, or for an entry applied
nowhere) shows to the linearizability and durability checks.

The workloads, on the replicated state machine's operations (impl/rsm, model `rsm`):
- `register`: one key, writes of unique values and reads;
- `registers`: five keys, the same;
- `overlays` (Raft): three overlays, each deployed again and again onto four cases of its own
  with a policy of its own, which the same writes open and install, in rounds (a write's
  overlay and kind follow from its number: `_overlay_write`), and reads of the overlays; every
  operation to the node the client believes leads (no share to its home node: a follower's
  "not the leader" to a setup write would hold the deployments back a round). It is what
  reaches the state machine's set order bug (impl/rsm/mutants.py `overlay_cases_in_set_order`)
  in real processes: an overlay's cases are held in each node's set order. Each overlay touches
  only its own objects, so the `rsm` model checks the history overlay by overlay
  (traces/history/models.py `Rsm.partition`);
and on gossip's status entries (impl/gossip: a write `(key, value)`, a read `key`):
- `status`: five keys, writes of unique values and reads, each to a node drawn at random (every
  node answers at once; nothing is agreed, so the history is checked for convergence, not
  linearizability: meshcheck/cluster/convergence.py); a fifth of the writes each to a key of its
  own, written once.

A PBFT cluster's clients are PBFT client cores (`MemberClients`: impl/pbft/client.py hosted in
this process by impl/runtime/member.py), which sign each request and accept a result on f+1
matching replies. PBFT orders reads as requests, so its workload writes only: a write of a unique
value or a delete, each answered with whether the key existed before it, which is what makes the
order of the writes on one key visible to the linearizability check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import ssl
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.rsm.ops import ApplyPolicy
from meshcheck.impl.rsm.ops import CreateCase
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import DeployOverlay
from meshcheck.impl.rsm.ops import to_value
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.member import Crashed
from meshcheck.impl.runtime.member import Member
from meshcheck.traces.history.history import Op

WORKLOADS = {"register": 1, "registers": 5, "status": 5, "overlays": 3}  # name -> keys

HOME = 0.3  # the share of a client's operations sent to its home node, by default


@attrs.frozen
class Shape:
    """How a workload's operations look on the wire: the write of the run's `n`-th unique value to
    `key`, the read of `key`; whether a client follows the leader's hints, and the share of its
    operations it sends to its home node whatever it believes (`HOME`); and the share of
    writes that go to a key of their own, written once and never read (what a node that was
    away can only learn by anti-entropy: the hot keys are written again and again)."""

    write: Callable[[str, int], Hashable]
    read: Callable[[str], Hashable]
    follow_leader: bool = True
    fresh: float = 0.0
    home: float = HOME


def _rsm_write(key: str, n: int) -> Hashable:
    return to_value(Custom(key, n))


def _rsm_read(key: str) -> Hashable:
    return ("custom", key)


def _status_write(key: str, n: int) -> Hashable:
    return (key, f"v{n}")


def _status_read(key: str) -> Hashable:
    return key


OVERLAY_CASES = 4  # the cases of each overlay: a set of four strings has 24 orders
# each overlay's writes, in rounds: its deployments first, then the setup they need
_ROUND = ("deploy",) * 3 + tuple(f"c{c}" for c in range(OVERLAY_CASES)) + ("policy",)


def _overlay_write(key: str, n: int) -> Hashable:
    """The run's `n`-th write: to overlay k<n mod 3> (not `key`: each overlay takes every third
    write, so each goes through its rounds whichever keys the clients draw), the n // 3-th of its
    writes, in rounds of eight: three deployments onto all four of its cases (answered "no case"
    or "no policy" until they exist), then the opening of each case (answered "exists" once it
    is), then the installing of its policy (a new version). The first round's deployments take
    the failures of a run's start (no leader yet) and the second's find the first's setup done; a
    setup write that failed is made again in the next round. The cases and the policy are the
    overlay's own: no object is shared between two overlays."""
    name = f"k{n % WORKLOADS['overlays']}"
    step = _ROUND[n // WORKLOADS["overlays"] % len(_ROUND)]
    if step == "policy":
        return to_value(ApplyPolicy(name, {"n": n}))
    if step != "deploy":
        return to_value(CreateCase(f"{name}.{step}"))
    return to_value(DeployOverlay(name, name, [f"{name}.c{c}" for c in range(OVERLAY_CASES)]))


def _overlay_read(key: str) -> Hashable:
    return ("overlay", key)


RSM = Shape(_rsm_write, _rsm_read)
STATUS = Shape(_status_write, _status_read, follow_leader=False, fresh=0.2)
OVERLAYS = Shape(_overlay_write, _overlay_read, home=0.0)


def shape_of(workload: str) -> Shape:
    return {"status": STATUS, "overlays": OVERLAYS}.get(workload, RSM)


TIMEOUT = 1.0  # seconds a client waits for an answer before it records `info`


def keys_of(workload: str) -> int:
    found = WORKLOADS.get(workload)
    if found is None:
        raise MeshcheckError(f"--workload {workload}: choose from {', '.join(sorted(WORKLOADS))}")
    return found


@attrs.define
class History:
    """The run's operations, in invocation order."""

    ops: list[Op] = attrs.Factory(list)
    latencies: list[tuple[float, float, str]] = attrs.Factory(list)  # (call, seconds, status)
    nodes: list[str] = attrs.Factory(list)  # the node each operation went to
    # the node that served each operation, where the client could tell ("" where not): a
    # system run's plug-in's Completion.served; as long as `nodes` or empty
    served: list[str] = attrs.Factory(list)
    # answers that came after their client stopped waiting: (operation, when, whether ok)
    late: list[tuple[int, float, bool]] = attrs.Factory(list)
    # second answers to one request: (operation, when, the answer's result or error)
    again: list[tuple[int, float, Any]] = attrs.Factory(list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.ops if o.status == status)

    def asked(self) -> list[Op]:
        """The operations, each with the node it went to (`Op.node`) and, where known, the node
        that served it (`Op.served`), as history.jsonl keeps them."""
        if len(self.nodes) != len(self.ops):
            return list(self.ops)
        served = self.served if len(self.served) == len(self.ops) else [""] * len(self.ops)
        return [
            attrs.evolve(o, node=n, served=s) if n or s else o
            for o, n, s in zip(self.ops, self.nodes, served, strict=True)
        ]

    def record(
        self,
        process: str,
        f: str,
        sent: Hashable,
        output: Any,
        call: float,
        ret: float,
        status: str,
        key: Hashable = None,
    ) -> None:
        """One operation: `info` never returned (it may take effect at any time after `call`);
        `ok` and `fail` returned at `ret`, after `call` however close the clock's readings."""
        if status == "info":
            self.ops.append(Op(process, f, sent, None, call, math.inf, "info", key, len(self.ops)))
        else:
            ret = max(ret, math.nextafter(call, math.inf))
            self.ops.append(Op(process, f, sent, output, call, ret, status, key, len(self.ops)))  # type: ignore[arg-type]
        self.latencies.append((call, ret - call, status))

    def answered_late(self, index: int, output: Any, at: float, ok: bool) -> None:
        """The answer to operation `index` came at `at`, after its client recorded it `info`: an
        `ok` answer ends the operation then, with its output (an answer that says it took no
        effect, or may not have, leaves it `info`: only `ok` is a fact about the operation)."""
        self.late.append((index, at, ok))
        op = self.ops[index]
        if ok and op.status == "info":
            ret = max(at, math.nextafter(op.call, math.inf))
            self.ops[index] = attrs.evolve(op, output=output, ret=ret, status="ok")


@attrs.define
class Session:
    """One client of a pool: its connections, the node it was bound to, where it turns next when
    it knows no leader, and its process's generation (a new process after each `info`)."""

    name: str
    client: Client
    home: str
    turn: int
    generation: int = 0


class Clients:
    """`count` clients against the cluster at `nodes`, writing and reading `keys` keys."""

    def __init__(
        self,
        nodes: Mapping[str, tuple[str, int]],
        codec: Any,
        *,
        count: int,
        rate: float,
        keys: int,
        seed: int,
        clock: Callable[[], float],
        timeout: float = TIMEOUT,
        tls: ssl.SSLContext | None = None,
        shape: Shape = RSM,
    ) -> None:
        self._shape = shape
        self._timeout = timeout
        self._tls = tls
        self._nodes = dict(nodes)
        self._codec = codec
        self._count = count
        self._gap = count / rate
        self._keys = keys
        self._rng = random.Random(f"clients:{seed}")
        self._clock = clock
        self._values = itertools.count(1)
        self.history = History()
        self.leader: str | None = None  # the node whose answer a client last took as a leader's
        self._round = 0
        self._tags = itertools.count(1)
        self._tagged: dict[int, int] = {}  # a request's tag -> its operation

    async def run(self, until: float) -> None:
        """Run every client until `until` (the clock's seconds); operations still in flight then
        are recorded `info`."""
        self._round += 1  # a second run's clients are new processes of the history
        await asyncio.gather(
            *(self._client(f"c{k}.{self._round}", until) for k in range(1, self._count + 1))
        )

    def session(self, name: str) -> Session:
        """A client of the pool named `name` ("c<k>.<round>"): its connections, its home node."""
        order = sorted(self._nodes)
        home = order[int(name.removeprefix("c").split(".")[0]) % len(order)]
        client = Client(self._nodes, self._codec, name, self._tls, session=True)
        client.on_late = self._late
        return Session(name, client, home, self._rng.randrange(len(order)))

    def _late(self, tag: Any, answer: Any, again: bool) -> None:
        """An answer to a request that had timed out, or a second answer to one request
        (impl/runtime/client.py)."""
        index = self._tagged.get(tag)
        if index is None:
            return
        if again:
            self.history.again.append((index, self._clock(), answer.result or answer.error))
        else:
            self.history.answered_late(index, answer.result, self._clock(), answer.ok)

    async def _client(self, name: str, until: float) -> None:
        session = self.session(name)
        session.client.keep_connected()
        try:
            while self._clock() < until:
                await self.one(session, until)
                await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))
        finally:
            await session.client.close()

    async def one(self, session: Session, until: float) -> Op:
        """One operation of `session`'s, recorded in the history and returned (the run ends at
        `until`)."""
        client = session.client
        order: Sequence[str] = sorted(self._nodes)
        # Mostly the node the client believes leads; now and then its home node, whatever it
        # believes (Jepsen binds each client to a node: a client of a deposed leader in a
        # minority keeps asking it, which is how stale reads come to light)
        if not self._shape.follow_leader:
            node = order[self._rng.randrange(len(order))]
        elif self._rng.random() < self._shape.home:
            node = session.home
        else:
            node = client.leader or order[session.turn % len(order)]
        key = f"k{self._rng.randrange(self._keys)}"
        if self._rng.random() < 0.5:
            kind, sent = "read", self._shape.read(key)
        else:
            n = next(self._values)
            if self._rng.random() < self._shape.fresh:
                key = f"once{n}"
            kind, sent = "write", self._shape.write(key, n)
        value: Any = sent
        call = self._clock()
        status, output = "info", None
        tag = next(self._tags)
        try:
            answer = await client.ask(
                node, kind, value, min(self._timeout, until - call + 0.5), tag
            )
        except (ConnectionError, OSError, TimeoutError):
            client.leader = None
            session.turn += 1
        else:
            if answer.ok:
                status, output = "ok", answer.result
                client.leader = self.leader = node
            elif not answer.unknown:
                status = "fail"
                client.leader = answer.leader if answer.leader != node else None
                if client.leader is None:
                    session.turn += 1
            else:
                client.leader = None
                session.turn += 1
        ret = self._clock()
        self.history.record(
            f"{session.name}.{session.generation}", kind, sent, output, call, ret, status
        )
        self.history.nodes.append(node)
        # its answer may still come (after a timeout), or come again (impl/runtime/client.py)
        self._tagged[tag] = len(self.history.ops) - 1
        if status == "info":
            session.generation += 1  # after an `info` the client is a new process, as in Jepsen
        return self.history.ops[-1]


class MemberClients:
    """Clients that are cores of the protocol (`members`, started and stopped by the caller), one
    operation in flight each, together at about `rate` operations a second."""

    def __init__(
        self,
        members: Sequence[Member],
        *,
        rate: float,
        keys: int,
        seed: int,
        clock: Callable[[], float],
        timeout: float = TIMEOUT,
    ) -> None:
        self._members = list(members)
        self._gap = len(self._members) / rate
        self._keys = keys
        self._rng = random.Random(f"clients:{seed}")
        self._clock = clock
        self._timeout = timeout
        self._values = itertools.count(1)
        self._generation = {m.name: 0 for m in self._members}
        self.history = History()

    @property
    def leader(self) -> str | None:
        """The primary the first client believes in (PBFT: f+1 replicas' views,
        impl/pbft/client.py); None where the leader rotates every view (HotStuff)."""
        primary = getattr(self._members[0].core, "primary", None) if self._members else None
        return None if primary is None else str(primary)

    async def run(self, until: float) -> None:
        await asyncio.gather(*(self._client(m, until) for m in self._members))

    async def _client(self, member: Member, until: float) -> None:
        while self._clock() < until:
            if not member.running.is_set():  # crashed (the nemesis's crash-client): wait for it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(member.running.wait(), until - self._clock())
                continue
            await self.one(member, until)
            await asyncio.sleep(self._rng.uniform(0, 2 * self._gap))

    async def one(self, member: Member, until: float) -> Op:
        """One write of `member`'s, recorded in the history and returned (the run ends at
        `until`)."""
        key = f"k{self._rng.randrange(self._keys)}"
        written = None if self._rng.random() < 0.2 else next(self._values)
        sent = to_value(Custom(key, written))
        call = self._clock()
        status, output = "info", None
        try:
            output = await member.request(sent, min(self._timeout, until - call + 0.5))
            status = "ok"
        except (TimeoutError, Crashed):  # unanswered, or the client crashed with it in flight
            pass
        ret = self._clock()
        process = f"{member.name}.{self._generation[member.name]}"
        if status == "info":
            # it may still take effect (the core keeps sending it): a new process, as Jepsen's
            self._generation[member.name] += 1
        self.history.record(process, "write", sent, output, call, ret, status)
        self.history.nodes.append("")
        return self.history.ops[-1]

"""One node in one OS process: the core, its disk, its timers on the real clock, TCP to its peers
and its clients, all on one asyncio loop, one event at a time.

What the simulator does for a core, this does for real (impl/sim/cluster.py is its simulated twin):

- every event is stepped alone, to the end of its effects, before the next is taken (the loop runs
  one callback at a time; `_step` never awaits);
- the step's `Persist` is written and fsynced (disk.py) before any of its `Send`s is queued (the
  core returns it before them: `check_effects` holds it to that);
- the step's lines of the node's log are made first and written right after the state's record,
  before its fsync: a kill -9 keeps both or neither, but for the one call between the two writes.
  A line written before the record outlived a replica killed while the record was being encoded
  and fsynced, and one written after the fsync was lost with a replica killed during the fsync,
  its state kept; either way the restarted node's next line was no step of its spec
  (docs/cluster.md, "What it has caught");
- the other effects are carried out in order;
- `SetTimer(name, after)` replaces the pending timer `name` and fires `Tick(name)` on the clock
  (clock.py); `CancelTimer` forgets it;
- a `Send` goes to the peer's link (`Link`), which connects, reconnects and drops what it cannot
  deliver (the network may lose messages; the cores are built for it); a `Send` to the node itself
  is delivered to it as a later event of its own, as the simulator does;
- a client's request becomes a `ClientRequest` or `ClientRead` under an id of this node's own, and
  the core's `Reply` goes back to the connection it came on, whenever it comes and however often
  (the host passes on what the core says: an answer the client stopped waiting for still reaches
  it, and so does a second answer to one request; client.py reports both);
- the core can crash and be rebuilt from its state file inside the running process (`("crash",)`
  and `("recover",)` on the control channel: the nemesis's `crash`), which is what the simulator's
  crash and Restart do (impl/sim/cluster.py `_crash`: a new core object built from the durable
  store, in the same Python process). While it is down every event is dropped (peers' messages,
  clients' requests, timers), as for a process that is not there; what lives in the process
  outside the core (its connections, the host's table of requests it took, the module and class
  state of the core's code) stays, as it does in a process that restarts a component of its own
  (a supervisor that restarts a crashed worker, a server that rebuilds one replica of many).

A node is reached on one port. A connection's first frame says who opens it: `("peer", id)`,
`("client", name)`, `("session", name)` (a client whose request ids are its session's, unique
across its connections: the core's request id is the session's and the request's together, so
an answer goes to the session's connection of the moment, and one given while the session has
none, by a node restarted since the request, waits for it to connect: the Raft thesis's client
sessions, section 6.3), `("member", name)` (a participant of the protocol that is not a node, such as
a PBFT client: its core runs in the harness, member.py, and speaks the nodes' wire both ways on
this one connection) or `("control", name)` (the nemesis's clock faults); with TLS (tls.py) the
certificate at the other end must be id's, or the clients' for the other three. Frames hold the codec's values (codec.py); a frame the codec refuses is dropped
and counted (a Byzantine peer can send anything), a stream that breaks is closed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
import sys
import traceback
import zlib
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from functools import partial
from typing import Any
from typing import cast

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Invoke
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import check_effects
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.node import Node
from meshcheck.impl.runtime.clock import Clock
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.codec import CodecError
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.frames import FrameError
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame
from meshcheck.impl.runtime.nodelog import NodeLog
from meshcheck.impl.runtime.nodelog import last_clock
from meshcheck.impl.runtime.timers import Timers
from meshcheck.impl.runtime.tls import CLIENT
from meshcheck.impl.runtime.tls import peer_name

RECONNECT = 0.05  # seconds between a link's attempts to connect
SESSION = 2**32  # a session's request ids are below it; the core's id is session * SESSION + id
HELD = 100  # answers held for a session with no connection, at most
QUEUE = 10_000  # frames a link holds for a peer it cannot reach; beyond, new ones are dropped

Observer = Callable[[Any, list[Effect]], None]


def _stutter(effects: list[Effect], at: int, action: Action, unchanged: bool) -> bool:
    """Whether the action at `at` is a stutter: it takes no message (`m`), the node's state as the
    spec sees it is unchanged by the step, and its own effects (up to the next action) send and
    persist nothing. A follower's refused client request and a read queued behind a pending one
    are such: reported by the core as it takes them, no step of the spec. The simulator's recorder
    leaves such steps out the same way (impl/sim/recorder.py); so does the log."""
    if "m" in action.params or not unchanged:
        return False
    for effect in effects[at + 1 :]:
        if isinstance(effect, Action):
            break
        if isinstance(effect, Send | Persist):
            return False
    return True


def session_of(name: str) -> int:
    """The number a session's name stands for in the core's request ids (1 and up: 0 is none),
    the same in every process of the cluster and across restarts."""
    return zlib.crc32(name.encode()) + 1


class Link:
    """The way to one peer: a queue of frames and a task that connects and writes them."""

    def __init__(
        self,
        source: str,
        address: tuple[str, int],
        hello: bytes,
        tls: ssl.SSLContext | None = None,
        peer: str = "",
    ) -> None:
        self.source = source
        self.address = address
        self._tls = tls
        self._peer = peer
        self._hello = hello
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, data: bytes) -> None:
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _run(self) -> None:
        while True:
            try:
                _, writer = await asyncio.open_connection(
                    *self.address,
                    ssl=self._tls,
                    server_hostname=self._peer if self._tls is not None else None,
                )
            except OSError:
                await asyncio.sleep(RECONNECT)
                continue
            try:
                writer.write(frame(self._hello))
                while True:
                    data = await self._queue.get()
                    writer.write(frame(data))
                    await writer.drain()
            except OSError:
                pass  # the peer went away: what was in the socket is lost, as on a network
            finally:
                writer.close()
            await asyncio.sleep(RECONNECT)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Host:
    """Host the core `core` of node `node_id`; `peers` maps each peer to the address its messages
    are sent to (the peer itself, or a proxy in front of it)."""

    def __init__(
        self,
        node_id: str,
        core: Node,
        codec: Codec,
        disk: Disk,
        peers: Mapping[str, tuple[str, int]],
        *,
        clock: Clock | None = None,
        observe: Observer | None = None,
        tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
        log: NodeLog | None = None,
        fingerprint: Callable[[Any], Hashable] | None = None,
        record: Callable[[Any], Any] | None = None,
        receives: frozenset[str] = frozenset(),
        members: frozenset[str] = frozenset(),
        inspect: Callable[[Any, int], Any] | None = None,
        rebuild: Callable[[int], Node] | None = None,
    ) -> None:
        # a new core for the `incarnation`-th rebuild inside this process (the control channel's
        # `("recover",)`); None: the core cannot be crashed apart from its process
        self._rebuild = rebuild
        self.incarnation = 0
        self.down = False  # the core crashed and is not rebuilt yet: every event is dropped
        self._inspect = inspect  # what the control channel's `("inspect",)` answers (protocols.py)
        self._fingerprint = fingerprint
        self._member_names = members  # who may open a ("member", name) connection
        self._members: dict[str, asyncio.StreamWriter] = {}  # each member's latest connection
        self._record = record  # a message as the spec's record, for the log
        # the actions that are the receipt of the message delivered, where the core does not name
        # it (gossip's HandlePush and HandlePull): the log gives that message as `m`
        self._receives = receives
        self.id = node_id
        self.log = log
        # a Lamport clock: each reported action ticks it, a receive first takes its message's
        self.lamport = last_clock(log.path) if log is not None else 0
        self._tls = tls  # (to listen with, to connect with)
        self.core = core
        self.codec = codec
        self.disk = disk
        self.clock = clock or Clock()
        self._observe = observe
        self._peers = dict(peers)
        self._links: dict[str, Link] = {}
        self._timers = Timers(self._fire)
        self._requests = itertools.count(1)
        self._clients: dict[int, tuple[asyncio.StreamWriter, Any]] = {}
        self._sessions: dict[int, asyncio.StreamWriter] = {}  # a session's latest connection
        # answers to sessions with no connection to this node now, sent once one connects
        self._held: dict[int, list[bytes]] = {}
        self.refused = 0  # frames the codec refused
        self.steps = 0

    # -- lifetime -------------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Boot from disk (`Restart` with what it holds), then listen and connect."""
        persisted = self.disk.load()
        hello = self.codec.encode(("peer", self.id))
        for peer, address in self._peers.items():
            link = Link(self.id, address, hello, self._tls[1] if self._tls else None, peer)
            link.start()
            self._links[peer] = link
        # the core starts before anything can reach it: no event may come before Restart
        rebooted = bool(persisted) or self.lamport > 0
        self._step(Restart(persisted, now=self.clock.now()))
        if rebooted and self.log is not None and self.log.restarts:
            # the spec's Restart(i); a first boot is Init
            self.lamport += 1
            self.log.write(self.lamport, "Restart", {"i": self.id}, self.core)
        return await asyncio.start_server(
            self._accept, host, port, ssl=self._tls[0] if self._tls else None
        )

    async def stop(self) -> None:
        self._timers.cancel_all()
        for link in self._links.values():
            await link.stop()
        self.disk.close()
        if self.log is not None:
            self.log.close()

    # -- stepping -------------------------------------------------------------------------------------

    def _step(self, event: Any, sent_at: int = 0) -> None:
        if self.down:
            return  # no core to take it: lost, as by a node that is not there
        try:
            self._carry_out(event, sent_at)
        except Exception:  # a core or a disk that fails: the node ends, loudly, as a crash would
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)

    def _carry_out(self, event: Any, sent_at: int = 0) -> None:
        before = self._fingerprint(self.core) if self._fingerprint is not None else None
        effects = self.core.step(event)
        unchanged = (
            before is not None
            and self._fingerprint is not None
            and (self._fingerprint(self.core) == before)
        )
        persist = check_effects(self.id, effects)
        self.steps += 1
        # a receive takes the clock its message was sent at, whether or not the step is an action
        # of the spec: in PBFT.tla a receipt is none, and the step it enables later (a stable
        # checkpoint on the third matching message) comes after every send it rests on
        self.lamport = max(self.lamport, sent_at)
        if self._observe is not None:
            self._observe(event, effects)
        lines: list[str] = []  # the step's log lines, made before its state is written
        nth = -1  # the action's place among the step's actions
        for k, effect in enumerate(effects):
            if isinstance(effect, Action):
                nth += 1
            if isinstance(effect, Action) and not _stutter(effects, k, effect, unchanged):
                self.lamport += 1
                if self.log is not None:
                    params, sent = self._with_sent(effect, effects, k, event)
                    line = self.log.line(self.lamport, effect.name, params, self.core, sent, nth)
                    if line is not None:
                        lines.append(line)
        claim = partial(self.log.append, lines) if self.log is not None and lines else None
        if persist is not None:  # the lines right after the state's write, then the fsync
            self.disk.persist(cast(Persist, effects[persist]).writes, claim)
        elif claim is not None:
            claim()
        for effect in effects:
            if isinstance(effect, Action | Persist):
                continue  # logged and made durable above
            if isinstance(effect, Send):
                link = self._links.get(effect.dest)
                if effect.dest == self.id:
                    # to itself (a HotStuff leader votes for its own proposal): a later event of
                    # its own, as the simulator delivers it, never a step inside this one
                    stamp = self.lamport
                    asyncio.get_running_loop().call_soon(self._own, effect.message, stamp)
                elif link is not None:
                    link.send(self.codec.encode((self.lamport, effect.message)))
                else:
                    member = self._members.get(effect.dest)
                    if member is not None and not member.is_closing():
                        member.write(frame(self.codec.encode((self.lamport, effect.message))))
            elif isinstance(effect, SetTimer):
                self._timers.set(effect.timer, self.clock.duration(effect.after))
            elif isinstance(effect, CancelTimer):
                self._timers.cancel(effect.timer)
            elif isinstance(effect, Reply):
                self._answer(effect)
            elif isinstance(effect, Apply | Invoke):
                pass  # reports: the observer has them

    def _own(self, message: Any, sent_at: int) -> None:
        self._step(Deliver(self.id, message, now=self.clock.now()), sent_at)

    def _with_sent(
        self, action: Action, effects: list[Effect], at: int, event: Any = None
    ) -> tuple[Mapping[str, Any], tuple[Any, ...]]:
        """The action's parameters, and for a send of one message (AppendEntries(i, j)) that
        message as `m`, as the spec's record: the validator need not guess what was sent
        (docs/logs.md; traces/logs/reference.py does the same); and the messages the action sends
        (the log's parameters may name what they hold: nodelog.py). A message the spec does not
        model (a gossip node's heartbeat: its record is None) is no send of the action's."""
        sent = []
        for effect in effects[at + 1 :]:
            if isinstance(effect, Action):
                break
            if isinstance(effect, Send):
                sent.append(effect.message)
        if "m" in action.params or self._record is None:
            return action.params, tuple(sent)
        if action.name in self._receives and isinstance(event, Deliver):
            received = self._record(event.message)
            if received is not None:
                return {**action.params, "m": received}, tuple(sent)
        records = [r for r in map(self._record, sent) if r is not None]
        if len(records) != 1:
            return action.params, tuple(sent)
        return {**action.params, "m": records[0]}, tuple(sent)

    def _fire(self, name: str) -> None:
        self._step(Tick(name, now=self.clock.now()))

    # -- connections ----------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await read_frame(reader)
            if first is None:
                return
            hello = self.codec.decode(first)
            if not (isinstance(hello, tuple) and len(hello) == 2 and isinstance(hello[1], str)):
                return
            if self._tls is not None:  # the certificate says who is at the other end
                holder = peer_name(writer.get_extra_info("peercert"))
                claimed = hello[1] if hello[0] == "peer" else CLIENT
                if holder != claimed:
                    self.refused += 1
                    return
            if hello[0] == "peer" and hello[1] in self._peers:
                await self._from_peer(hello[1], reader)
            elif hello[0] == "member" and hello[1] in self._member_names:
                self._members[hello[1]] = writer
                try:
                    await self._from_peer(hello[1], reader)
                finally:
                    if self._members.get(hello[1]) is writer:
                        del self._members[hello[1]]
            elif hello[0] == "client":
                await self._from_client(reader, writer)
            elif hello[0] == "session":
                await self._from_client(reader, writer, session_of(hello[1]))
            elif hello[0] == "control":
                await self._from_control(reader, writer)
        except (FrameError, CodecError, OSError):
            pass  # a broken or hostile stream: closed below
        except asyncio.CancelledError:
            return  # the node is stopping
        finally:
            writer.close()

    async def _from_peer(self, peer: str, reader: asyncio.StreamReader) -> None:
        while (data := await read_frame(reader)) is not None:
            stamped = self.codec.decode_stamped(data)
            if stamped is None or type(stamped[0]) is not int:
                self.refused += 1  # a wire message is (the sender's clock, the message)
                continue
            sent_at, message = stamped
            self._step(Deliver(peer, message, now=self.clock.now()), sent_at)

    async def _from_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: int = 0
    ) -> None:
        mine: list[int] = []
        if session:
            self._sessions[session] = writer
            for held in self._held.pop(session, ()):
                writer.write(held)
        try:
            while (data := await read_frame(reader)) is not None:
                request = self.codec.decode(data)
                if not (isinstance(request, tuple) and len(request) == 3):
                    raise CodecError(f"a client request is (kind, id, value), not {request!r}")
                kind, theirs, value = request
                if session and not (type(theirs) is int and 0 < theirs < SESSION):
                    raise CodecError(f"a session's request id is 1 to {SESSION - 1}: {theirs!r}")
                rid = session * SESSION + theirs if session else next(self._requests)
                self._clients[rid] = (writer, theirs)
                mine.append(rid)
                now = self.clock.now()
                if kind == "write":
                    self._step(ClientRequest(value, rid, now=now))
                elif kind == "read":
                    self._step(ClientRead(value, rid, now=now))
                else:
                    raise CodecError(f"a client request of unknown kind {kind!r}")
        finally:
            for rid in mine:
                self._clients.pop(rid, None)
            if session and self._sessions.get(session) is writer:
                del self._sessions[session]

    async def _from_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The harness's channel: `("clock", offset, rate)` skews this node's clock (clock.py);
        timers already set keep their deadlines on the real clock. Answered `("ok", now)`.
        `("inspect",)`: what the protocol lets the harness read of the core between two steps
        (protocols.py `inspect`: gossip's entries and suspicions), answered `("ok", value)`, or
        `("error", ...)` while the core is down. `("crash",)` and `("recover",)`: the core crashes
        (`crash`), is rebuilt from the state file (`recover`), answered `("ok", now)`."""
        while (data := await read_frame(reader)) is not None:
            command = self.codec.decode(data)
            if command == ("inspect",) and self._inspect is not None:
                if self.down:
                    writer.write(frame(self.codec.encode(("error", "the core is down"))))
                    continue
                seen = self._inspect(self.core, self.clock.now())
                writer.write(frame(self.codec.encode(("ok", seen))))
                continue
            if command in (("crash",), ("recover",)):
                try:
                    self.crash() if command == ("crash",) else self.recover()
                except ImplError as e:
                    writer.write(frame(self.codec.encode(("error", str(e)))))
                    continue
                writer.write(frame(self.codec.encode(("ok", self.clock.now()))))
                continue
            if not (isinstance(command, tuple) and len(command) == 3 and command[0] == "clock"):
                raise CodecError(f"an unknown control command {command!r}")
            _, offset, rate = command
            try:
                self.clock.skew(int(offset), float(rate))
            except (ImplError, TypeError, ValueError) as e:
                writer.write(frame(self.codec.encode(("error", str(e)))))
                continue
            writer.write(frame(self.codec.encode(("ok", self.clock.now()))))

    # -- the core's crash and its rebuild in this process -------------------------------------------

    def crash(self) -> None:
        """The core crashes: its memory is gone, its timers with it; until `recover` every event
        is dropped. What it persisted is on disk already (each step's `Persist` is written before
        the step's other effects are carried out)."""
        if self._rebuild is None:
            raise ImplError(f"{self.id}: this host cannot rebuild its core")
        self.down = True
        self._timers.cancel_all()

    def recover(self) -> None:
        """A new core, built as at boot (a generator seeded by the incarnation), restarted from the
        state file read back (`Restart`, the spec's Restart(i) in the node's log)."""
        if self._rebuild is None or not self.down:
            raise ImplError(f"{self.id}: the core is not down")
        self.incarnation += 1
        self.core = self._rebuild(self.incarnation)
        self.disk.close()
        persisted = self.disk.load()
        self.down = False
        self._step(Restart(persisted, now=self.clock.now()))
        if self.log is not None and self.log.restarts:
            self.lamport += 1
            self.log.write(self.lamport, "Restart", {"i": self.id}, self.core)

    def _answer(self, reply: Reply) -> None:
        """The core's answer, to the connection its request came on, every time the core gives
        one: the host passes on what the core says, and a core that answers a request twice (or
        one it no longer owes, after a crash) is seen doing so by the client (client.py)."""
        rid = reply.request_id
        client = self._clients.get(rid)
        session = rid // SESSION if type(rid) is int else 0
        if client is None and not session:
            return  # the client went away, or the request was made by no client of ours
        theirs = client[1] if client is not None else rid % SESSION
        answer = ("reply", theirs, reply.result, reply.error, reply.leader, reply.unknown)
        data = frame(self.codec.encode(answer))
        writer = client[0] if client is not None else self._sessions.get(session)
        if writer is not None and not writer.is_closing():
            writer.write(data)
        elif session:  # the session has no connection here now: it gets it when it connects
            held = self._held.setdefault(session, [])
            if len(held) < HELD:
                held.append(data)

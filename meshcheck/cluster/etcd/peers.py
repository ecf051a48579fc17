"""The nemesis's network for etcd: one proxy in front of each member's peer port.

Every member dials its peers at the address the cluster was told (`--initial-advertise-peer-
urls`), the same for all senders, so a proxy per destination is what stands on the path; it tells
the senders apart by etcd's own header. Each connection of etcd's peer transport (rafthttp,
go.etcd.io/etcd/etcdserver/api/rafthttp) starts with an HTTP request that carries
`X-Server-From: <the dialer's member ID in hex>`, and which way its messages flow follows from
the request: a `GET /raft/stream/...` is a stream whose messages flow from the member dialed to
the dialer (the dialer reads them from the response), anything else (`POST /raft`, snapshots,
probes) flows from the dialer to the member dialed.

So a cut of the directed link (a, b) closes, and refuses from then on, every connection whose
messages flow from a to b: partitions of any shape, one-way cuts too. The proxy reads each request
the dialer sends (Go's HTTP client sends its next request on a connection it keeps alive, and a
connection first opened by a probe may carry `POST /raft` next), so the decision is each
request's. A request whose sender the proxy cannot tell (etcd's version and membership probes, a
member ID not yet learnt) is passed: cuts act on the Raft traffic the members exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from meshcheck.cluster.etcd.server import Member

Link = tuple[str, str]  # (sender, receiver) of the messages
HEAD_LIMIT = 65536


def flow(method: str, path: str, dialer: str, dialed: str) -> Link:
    """Which way a peer connection's messages go: a stream GET carries the dialed member's
    messages to the dialer; every other request carries the dialer's to the dialed."""
    if method == "GET" and path.startswith("/raft/stream/"):
        return (dialed, dialer)
    return (dialer, dialed)


def parse_head(head: bytes) -> tuple[str, str, str | None]:
    """(method, path, X-Server-From in lower-case hex or None) of an HTTP request head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
    sender = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-server-from":
            sender = value.strip().lower()
    return method, path, sender


class PeerProxy:
    """The proxy in front of member `owner`'s peer port."""

    def __init__(self, owner: str, network: PeerNetwork) -> None:
        self.owner = owner
        self.network = network
        self._server: asyncio.Server | None = None
        # each open connection's request (method, path, sender ID): its link is resolved when a
        # cut comes, so connections opened before the members' IDs were learnt are cut too
        self._open: dict[asyncio.StreamWriter, tuple[str, str, str | None]] = {}
        self.connections = 0
        self.refused = 0

    async def start(self, listen: tuple[str, int]) -> None:
        self._server = await asyncio.start_server(self._accept, *listen)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    def link(self, method: str, path: str, sender_id: str | None) -> Link | None:
        """The link a connection's messages take (None: its sender is not known)."""
        sender = self.network.name_of(sender_id)
        return None if sender is None else flow(method, path, sender, self.owner)

    def apply(self) -> None:
        """Close the open connections whose link is cut now."""
        for writer, request in list(self._open.items()):
            link = self.link(*request)
            if link is not None and self.network.is_cut(link):
                writer.close()
                self._open.pop(writer, None)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            request = parse_head(head)
            link = self.link(*request)
            if link is not None and self.network.is_cut(link):
                self.refused += 1
                return
            self.connections += 1
            self._open[writer] = request
            target = self.network.members[self.owner].peer
            back, upstream = await asyncio.open_connection(*target)
            self._open[upstream] = request
            upstream.write(head)
            await asyncio.gather(
                self._requests(reader, upstream, writer, head), _pump(back, writer)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return  # the harness's loop is ending: the connection ends with it
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._open.pop(w, None)
                    w.close()

    async def _requests(
        self,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        writer: asyncio.StreamWriter,
        head: bytes,
    ) -> None:
        """The dialer's requests on to the member, one at a time: Go's HTTP client keeps a
        connection alive and sends its next request on it, and the sender and the direction are
        each request's own (a connection opened by a probe that carried no sender may carry the
        pipeline's `POST /raft` next, which does). A request whose link is cut closes the
        connection."""
        try:
            while True:
                await _body(reader, upstream, head)
                head = await reader.readuntil(b"\r\n\r\n")
                request = parse_head(head)
                link = self.link(*request)
                if link is not None and self.network.is_cut(link):
                    self.refused += 1
                    upstream.close()
                    writer.close()
                    return
                self._open[writer] = self._open[upstream] = request
                upstream.write(head)
                await upstream.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            upstream.close()


async def _body(reader: asyncio.StreamReader, upstream: asyncio.StreamWriter, head: bytes) -> None:
    """Forward the body of the request whose head is `head` (Content-Length or chunked)."""
    length = 0
    chunked = False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            upstream.write(size_line)
            if size == 0:  # the last chunk; then trailers, up to an empty line
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    upstream.write(trailer)
                upstream.write(b"\r\n")
                break
            upstream.write(await reader.readexactly(size + 2))
            await upstream.drain()
    else:
        while length > 0:
            data = await reader.read(min(length, 65536))
            if not data:
                raise asyncio.IncompleteReadError(b"", length)
            upstream.write(data)
            length -= len(data)
            await upstream.drain()
    await upstream.drain()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


class PeerNetwork:
    """A proxy per member and the directed links cut now (faults may overlap: a link is cut while
    any fault in force cuts it)."""

    def __init__(self, members: Mapping[str, Member]) -> None:
        self.members = dict(members)
        self.proxies = {name: PeerProxy(name, self) for name in members}
        self._ids: dict[str, str] = {}  # member ID (hex) -> name
        self._cuts: list[frozenset[Link]] = []

    def learn(self, ids: Mapping[str, str]) -> None:
        """The members' IDs (hex, as `X-Server-From` writes them) by name."""
        self._ids = {i.lower(): name for name, i in ids.items()}

    def name_of(self, member_id: str | None) -> str | None:
        return None if member_id is None else self._ids.get(member_id)

    def is_cut(self, link: Link) -> bool:
        return any(link in cut for cut in self._cuts)

    async def start(self) -> None:
        for name, proxy in self.proxies.items():
            await proxy.start(self.members[name].advertised)

    async def stop(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()

    def cut(self, links: Iterable[Link]) -> frozenset[Link]:
        """Cut `links` until `restore` is given what this returned."""
        cut = frozenset(links)
        self._cuts.append(cut)
        for proxy in self.proxies.values():
            proxy.apply()
        return cut

    def restore(self, cut: frozenset[Link]) -> None:
        if cut in self._cuts:
            self._cuts.remove(cut)

    def heal(self) -> None:
        self._cuts.clear()


def partition(side: Iterable[str], names: Iterable[str], one_way: bool) -> list[Link]:
    """The links a partition of `side` from the rest cuts: both ways, or `side`'s sends only."""
    inside = set(side)
    outside = [n for n in names if n not in inside]
    links = [(a, b) for a in inside for b in outside]
    return links if one_way else links + [(b, a) for a, b in links]

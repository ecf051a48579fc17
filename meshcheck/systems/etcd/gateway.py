"""A client of etcd's JSON gateway (grpc-gateway over the v3 API, etcd 3.4: `/v3/...`), on asyncio
streams with one keep-alive HTTP/1.1 connection per member: the standard library has no asyncio
HTTP client, and the requests here are small JSON POSTs (and a watch's stream), so a few lines serve better than a
dependency. Keys and values are base64 in the JSON, as the gateway wants them.

Errors: `GatewayError` for an answer that is an error (etcd's own, as `{"error": ...}` or an HTTP
status other than 200); ConnectionError, OSError and TimeoutError as the transport raises them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

Address = tuple[str, int]


class GatewayError(Exception):
    """etcd answered with an error. Whether a write so answered took effect is not known: etcd
    may have proposed it before the error (a leader change, a request that timed out)."""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


class Gateway:
    """One client's connection to one member's JSON gateway."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        # the member that answered the last request, as its answer's header says (its ID in
        # hex); "" when no answer named one since `member` was last cleared
        self.member = ""

    async def post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        """POST `body` to `path`; the JSON answer. The connection is dropped after any failure
        (the next request opens a new one)."""
        try:
            async with asyncio.timeout(timeout):
                answer = await self._post(path, body)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            await self.close()  # the member closed the connection mid-answer (it was killed)
            raise ConnectionError(f"{self.address[0]}:{self.address[1]}: {e}") from None
        except BaseException:
            await self.close()
            raise
        member = answer.get("header", {}).get("member_id")
        if member is not None:
            self.member = _hex(str(member))
        return answer

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(*self.address)
        assert self._reader is not None
        data = json.dumps(body).encode()
        host = f"{self.address[0]}:{self.address[1]}"
        self._writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await self._writer.drain()
        head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        length = None
        chunked = False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            payload = await self._chunks()
        elif length is not None:
            payload = await self._reader.readexactly(length)
        else:
            raise ConnectionError(f"{host}: an answer without a length")
        answer: dict[str, Any] = json.loads(payload) if payload else {}
        if status != 200 or "error" in answer:
            message = str(answer.get("error", answer.get("message", f"HTTP {status}")))
            raise GatewayError(message)
        return answer

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        out = b""
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self._reader.readexactly(size + 2)
            if size == 0:
                return out
            out += chunk[:-2]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._reader = None

    # -- the key-value API ---------------------------------------------------------------------------

    async def put(self, key: str, value: str, timeout: float) -> None:
        await self.post("/v3/kv/put", {"key": b64(key), "value": b64(value)}, timeout)

    async def get(self, key: str, timeout: float, *, serializable: bool = False) -> str | None:
        """The key's value (None: absent). Linearizable unless `serializable` (etcd's second read
        mode: the member answers from its own store, which may be behind)."""
        body: dict[str, Any] = {"key": b64(key)}
        if serializable:
            body["serializable"] = True
        answer = await self.post("/v3/kv/range", body, timeout)
        kvs = answer.get("kvs") or []
        return unb64(kvs[0].get("value", "")) if kvs else None

    async def cas(self, key: str, old: str | None, new: str, timeout: float) -> bool:
        """Compare-and-set in one transaction: set `key` to `new` if its value is `old` (None:
        the key is absent); whether it did."""
        if old is None:
            compare = {"key": b64(key), "target": "VERSION", "result": "EQUAL", "version": "0"}
        else:
            compare = {"key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(old)}
        put = {"request_put": {"key": b64(key), "value": b64(new)}}
        answer = await self.post("/v3/kv/txn", {"compare": [compare], "success": [put]}, timeout)
        return bool(answer.get("succeeded", False))

    # -- leases and locks --------------------------------------------------------------------------

    async def grant(self, ttl: int, timeout: float) -> str:
        """A new lease of `ttl` seconds; its ID (decimal, as the gateway writes it)."""
        answer = await self.post("/v3/lease/grant", {"TTL": ttl}, timeout)
        return str(answer["ID"])

    async def revoke(self, lease: str, timeout: float) -> None:
        """End the lease and free what it holds; a lease already gone is no error."""
        try:
            await self.post("/v3/lease/revoke", {"ID": lease}, timeout)
        except GatewayError as e:
            if "lease not found" not in str(e):
                raise

    async def lock(self, name: str, lease: str, timeout: float) -> str:
        """Wait for lock `name` and take it with `lease`; the key that holds it (base64)."""
        answer = await self.post("/v3/lock/lock", {"name": b64(name), "lease": lease}, timeout)
        return str(answer["key"])

    async def created(self, key: str, timeout: float) -> int:
        """The create revision of `key` (base64, as `lock` gives it): a lock's fencing token
        (Jepsen's etcd 3.4.3 analysis; etcd's concurrency.Mutex compares it). 0: no such key."""
        answer = await self.post("/v3/kv/range", {"key": key}, timeout)
        kvs = answer.get("kvs") or []
        return int(kvs[0].get("create_revision", 0)) if kvs else 0

    async def unlock(self, key: str, timeout: float) -> None:
        await self.post("/v3/lock/unlock", {"key": key}, timeout)

    async def put_revision(self, key: str, value: str, timeout: float, lease: str = "") -> int:
        """Put `key` (attached to `lease`, if given); the store's revision after it."""
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = lease
        answer = await self.post("/v3/kv/put", body, timeout)
        return int(answer.get("header", {}).get("revision", 0))

    async def delete(self, key: str, timeout: float) -> int | None:
        """Delete `key`; the revision of the deletion, or None if there was no key to delete."""
        answer = await self.post("/v3/kv/deleterange", {"key": b64(key)}, timeout)
        if int(answer.get("deleted", 0)) == 0:
            return None
        return int(answer.get("header", {}).get("revision", 0))

    async def txn(
        self,
        compare: list[dict[str, Any]],
        success: list[dict[str, Any]],
        failure: list[dict[str, Any]] | None = None,
        timeout: float = 1.0,
    ) -> dict[str, Any]:
        """One transaction, as etcd's Txn takes it (keys already base64); its whole answer."""
        body = {"compare": compare, "success": success, "failure": failure or []}
        return await self.post("/v3/kv/txn", body, timeout)

    async def keepalive(self, lease: str, timeout: float) -> int:
        """Renew `lease` once (LeaseKeepAlive, one request on its stream); the TTL the leader
        gave it, 0 when the lease is gone."""
        answer = await self.post("/v3/lease/keepalive", {"ID": lease}, timeout)
        return int(answer.get("result", {}).get("TTL", 0))

    async def status(self, timeout: float) -> tuple[str, str]:
        """(this member's ID, its leader's ID), in hex as etcd's peer headers write them."""
        answer = await self.post("/v3/maintenance/status", {}, timeout)
        header = answer.get("header", {})
        return _hex(header.get("member_id", "0")), _hex(answer.get("leader", "0"))

    async def members(self, timeout: float) -> dict[str, str]:
        """Each member's ID (in hex, as `member` and `status` write it) and its name (etcd's
        `--name`, the node's name in the system file), as the member list says."""
        answer = await self.post("/v3/cluster/member/list", {}, timeout)
        return {
            _hex(str(m["ID"])): str(m["name"])
            for m in answer.get("members", [])
            if m.get("name") and "ID" in m
        }


def _hex(decimal: str) -> str:
    return format(int(decimal), "x")


# one event of a watch: (key, revision, "put" or "delete", value or None)
WatchEvent = tuple[str, int, str, str | None]


def prefix_end(prefix: str) -> str:
    """The range_end that makes a range (or a watch) cover every key starting with `prefix`."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode()


async def watch(
    address: Address, prefix: str, start: int, seconds: float, until: int = 0
) -> tuple[list[WatchEvent], str]:
    """Watch every key under `prefix` from revision `start` (inclusive) on a connection of its
    own, for `seconds` or until an event at revision `until` or later came (0: no such end); the
    events in the order sent, and how the connection ended: "" (its time was up) or the error
    that cut it (the events before it were sent all the same)."""
    out: list[WatchEvent] = []
    body = json.dumps(
        {
            "create_request": {
                "key": b64(prefix),
                "range_end": prefix_end(prefix),
                "start_revision": str(start),
            }
        }
    ).encode()
    host = f"{address[0]}:{address[1]}"
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(*address)
            writer.write(
                f"POST /v3/watch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if int(head.split(" ", 2)[1]) != 200:
                return out, f"HTTP {head.split(' ', 2)[1]}"
            pending = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return out, "the member ended the watch"
                pending += chunk[:-2]
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    answer = json.loads(line)
                    if "error" in answer:
                        return out, str(answer["error"].get("message", answer["error"]))
                    result = answer.get("result", {})
                    if result.get("canceled"):
                        return out, str(result.get("cancel_reason", "canceled"))
                    for e in result.get("events", []):
                        kv = e.get("kv", {})
                        kind = "delete" if e.get("type") == "DELETE" else "put"
                        value = unb64(kv.get("value", "")) if kind == "put" else None
                        out.append((unb64(kv["key"]), int(kv.get("mod_revision", 0)), kind, value))
                    if until and out and out[-1][1] >= until:
                        return out, ""
    except TimeoutError:
        return out, ""
    except (ConnectionError, OSError, ValueError, asyncio.IncompleteReadError) as e:
        return out, str(e) or type(e).__name__
    finally:
        if writer is not None:
            writer.close()

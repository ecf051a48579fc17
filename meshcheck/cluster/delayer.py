"""Delay packets in user space, for kernels built without tc netem (CONFIG_NET_SCH_NETEM): an
nftables rule in a node's namespace hands what it sends to an NFQUEUE (`queue num Q`), and this
process, run in that namespace, gives each packet its verdict (accept) `delay` milliseconds later,
give or take `jitter` (uniform). The packets themselves stay in the kernel; only their ids come up
(NFQNL_COPY_META). Standard library only, run by path:
`python delayer.py QUEUE DELAY_MS JITTER_MS SEED`; prints "ready" once bound, runs until killed.

The protocol is nfnetlink_queue's (linux/netfilter/nfnetlink_queue.h, netlink(7)): a config message
binds the queue and sets the copy mode; each packet message carries a header with the packet's id;
a verdict message names the id and the verdict.
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_ACCEPT = 1


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _message(kind: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return (
        struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body
    )


def _acknowledged(sock: socket.socket) -> None:
    data = sock.recv(65536)
    _length, kind = struct.unpack_from("=IH", data)
    if kind == NLMSG_ERROR:
        (error,) = struct.unpack_from("=i", data, 16)
        if error != 0:
            raise OSError(-error, f"nfnetlink_queue refused the configuration: errno {-error}")


def bind(queue: int) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    command = struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET)
    sock.send(
        _message(
            NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_CMD, command), 1, NLM_F_REQUEST | NLM_F_ACK
        )
    )
    _acknowledged(sock)
    params = struct.pack("!IB", 0, NFQNL_COPY_META)
    sock.send(
        _message(
            NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_PARAMS, params), 2, NLM_F_REQUEST | NLM_F_ACK
        )
    )
    _acknowledged(sock)
    return sock


def packet_ids(data: bytes) -> list[int]:
    """The ids of the packet messages in one netlink read."""
    ids: list[int] = []
    at = 0
    while at + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, at)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            pos = at + 20  # the netlink header, then nfgenmsg
            while pos + 4 <= at + length:
                size, attr = struct.unpack_from("=HH", data, pos)
                if size < 4:
                    break
                if attr & 0x3FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, pos + 4)[0])
                pos += (size + 3) & ~3
        at += (length + 3) & ~3
    return ids


def serve(queue: int, delay: float, jitter: float, seed: int) -> None:
    rng = random.Random(seed)
    sock = bind(queue)
    print("ready", flush=True)
    due: list[tuple[float, int]] = []  # (when, packet id)
    seq = 3
    while True:
        wait = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([sock], [], [], wait)
        if readable:
            try:
                data = sock.recv(1 << 20)
            except (
                OSError
            ):  # ENOBUFS: the queue overflowed, the kernel dropped some (as a link would)
                continue
            now = time.monotonic()
            for pid in packet_ids(data):
                hold = max(0.0, delay + rng.uniform(-jitter, jitter)) / 1000
                heapq.heappush(due, (now + hold, pid))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, pid = heapq.heappop(due)
            verdict = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))
            sock.send(_message(NFQNL_MSG_VERDICT, queue, verdict, seq))
            seq += 1


def main(argv: list[str]) -> int:
    match argv:
        case [queue, delay, jitter, seed]:
            try:
                serve(int(queue), float(delay), float(jitter), int(seed))
            except OSError as e:
                print(f"delayer.py: {e}", file=sys.stderr)
                return 1
            return 0
        case _:
            print("usage: delayer.py QUEUE DELAY_MS JITTER_MS SEED", file=sys.stderr)
            return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

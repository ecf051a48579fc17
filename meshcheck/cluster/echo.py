"""A tiny TCP and UDP peer for the namespace network's tests and benchmark (netns.py): run by path
with the standard library only (`python echo.py serve-tcp 198.18.0.2 7000`), so a process starts in
a node's namespace in a few milliseconds. Every loop is bounded by a count or a timeout.

Commands (each prints one line of JSON when it ends, or one line on stderr and exit 1):
- `serve-tcp HOST PORT`: echo every connection's bytes back until killed; prints "ready" once bound.
- `rtt HOST PORT TRIPS TIMEOUT`: one connection, TRIPS round trips of 64 bytes, each with TIMEOUT
  seconds; prints {"median_us": ..., "trips": ...}.
- `count-udp HOST PORT IDLE MAX [ENOUGH]`: prints "ready" once bound, then counts datagrams until none
  came for IDLE seconds, MAX seconds passed or ENOUGH came; prints {"received": n, "payloads":
  [first few]}.
- `send-udp HOST PORT COUNT GAP PAYLOAD`: COUNT datagrams, GAP seconds apart.
"""

from __future__ import annotations

import json
import socket
import socketserver
import statistics
import sys
import time

PAYLOAD = b"m" * 64


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := sock.recv(65536):
            sock.sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve_tcp(host: str, port: int) -> int:
    with _Server((host, port), _Echo) as server:
        print("ready", flush=True)
        server.serve_forever()
    return 0


def rtt(host: str, port: int, trips: int, timeout: float) -> int:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times: list[float] = []
        for _ in range(trips):
            start = time.perf_counter()
            sock.sendall(PAYLOAD)
            got = 0
            while got < len(PAYLOAD):
                chunk = sock.recv(len(PAYLOAD) - got)
                if not chunk:
                    raise ConnectionError("the echo server closed the connection")
                got += len(chunk)
            times.append(time.perf_counter() - start)
    print(json.dumps({"median_us": statistics.median(times) * 1e6, "trips": trips}), flush=True)
    return 0


def count_udp(host: str, port: int, idle: float, most: float, enough: int | None = None) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, port))
        print("ready", flush=True)
        received = 0
        payloads: list[str] = []
        deadline = time.monotonic() + most
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(min(idle, left))
            try:
                data, _ = sock.recvfrom(65536)
            except TimeoutError:
                break
            received += 1
            if len(payloads) < 5:
                payloads.append(data.decode(errors="replace"))
            if received == enough:  # all that was sent: no need to wait out the idle time
                break
    print(json.dumps({"received": received, "payloads": payloads}), flush=True)
    return 0


def send_udp(host: str, port: int, count: int, gap: float, payload: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(count):
            sock.sendto(payload.encode(), (host, port))
            time.sleep(gap)
    print(json.dumps({"sent": count}), flush=True)
    return 0


def main(argv: list[str]) -> int:
    try:
        match argv:
            case ["serve-tcp", host, port]:
                return serve_tcp(host, int(port))
            case ["rtt", host, port, trips, timeout]:
                return rtt(host, int(port), int(trips), float(timeout))
            case ["count-udp", host, port, idle, most]:
                return count_udp(host, int(port), float(idle), float(most))
            case ["count-udp", host, port, idle, most, enough]:
                return count_udp(host, int(port), float(idle), float(most), int(enough))
            case ["send-udp", host, port, count, gap, payload]:
                return send_udp(host, int(port), int(count), float(gap), payload)
            case _:
                print(f"echo.py: unknown command {argv!r}", file=sys.stderr)
                return 2
    except OSError as e:
        print(f"echo.py: {e.__class__.__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""What a namespace network (meshcheck/cluster/netns.py) costs a round trip, against loopback.

Rows: the median TCP round trip of 64 bytes on one connection (TCP_NODELAY), 2,000 trips per
measurement, by the same two processes of meshcheck/cluster/echo.py: baseline over the host's
loopback (127.0.0.1), subject between two nodes' namespaces through the run's bridge (a veth, the
bridge, a veth); and the same with 1 ms added to one side's sends (`slow`: tc netem, or the
NFQUEUE delayer where the kernel has no netem), to show how close the delay is to what was asked.
All in the same run. Skipped, with one line, where namespaces cannot be built.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Sequence

from bench.common import Row
from bench.common import median_of
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import missing

ECHO = "meshcheck/cluster/echo.py"
TRIPS = 2000
DELAY_MS = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_us(client: Sequence[str]) -> float:
    done = subprocess.run(client, capture_output=True, text=True, timeout=120, check=True)
    return float(json.loads(done.stdout)["median_us"])


def _loopback(runs: int) -> float:
    port = str(_free_port())
    server = subprocess.Popen(
        [sys.executable, ECHO, "serve-tcp", "127.0.0.1", port], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = [sys.executable, ECHO, "rtt", "127.0.0.1", port, str(TRIPS), "5"]
        return median_of(runs, lambda: _median_us(client))
    finally:
        server.kill()
        server.wait(timeout=10)


def _bridged(runs: int) -> tuple[float, float]:
    with NamespaceNetwork(["a", "b"]) as net:
        server = net.popen(
            "b",
            [sys.executable, ECHO, "serve-tcp", net.address("b"), "7000"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = net.command(
            "a", [sys.executable, ECHO, "rtt", net.address("b"), "7000", str(TRIPS), "5"]
        )
        plain = median_of(runs, lambda: _median_us(client))
        net.slow(["a"], DELAY_MS)
        slowed = median_of(runs, lambda: _median_us(client))
        return plain, slowed


def bench(runs: int) -> list[Row]:
    why = missing()
    if why:
        print(f"  bench_netns skipped: {why}", file=sys.stderr)
        return []
    loop = _loopback(runs)
    bridged, slowed = _bridged(runs)
    return [
        Row("Network", "TCP round trip, 64 B, loopback", loop, "µs", runs),
        Row(
            "Network",
            "TCP round trip, 64 B, two namespaces through a bridge",
            bridged,
            "µs",
            runs,
            baseline="loopback",
            ratio=loop / bridged,
        ),
        Row(
            "Network",
            f"the same with {DELAY_MS} ms added to one side's sends (`slow`)",
            slowed,
            "µs",
            runs,
            baseline="through a bridge",
            ratio=bridged / slowed,
            note=f"{slowed - bridged:.0f} µs added for {DELAY_MS * 1000} asked",
        ),
    ]

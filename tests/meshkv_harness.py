"""A small harness for examples/meshkv (the example service of docs/tutorial-own-service.md): its
node processes on loopback ports, driven by meshcheck's `jsonl` client, under the faults a test can
make itself, aimed (kill -9, a clock set back), the history checked for
linearizability.

`meshcheck cluster test --system examples/meshkv/meshkv.toml` does this in full, with power
failures and corruption besides (tests/test_meshkv.py runs both).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import re
import signal
import socket
import subprocess
import time
import tomllib
from collections.abc import Callable
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from meshcheck.cluster.clock_faults import ShiftedClock
from meshcheck.systems.jsonl import JsonlClient
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.traces.history import checker
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.logs import format as logformat
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import Verdict
from meshcheck.traces.logs.validate import stepper_for

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_FILE = ROOT / "examples" / "meshkv" / "meshkv.toml"
SYSTEM = tomllib.loads(SYSTEM_FILE.read_text())
KEYS = ("k1", "k2", "k3")


def free_ports(count: int) -> list[int]:
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Cluster:
    """`nodes` meshkv processes n1..nN (n1 the primary) under `root`, each with its data folder
    and its step log in root/steps/ (off the lazy mount: the
    step log is what the node did, for `meshcheck validate`, not its data)."""

    def __init__(
        self,
        root: Path,
        *,
        nodes: int = 3,
        bug: str = "",
        clocks: bool = False,
    ) -> None:
        self.root = root
        self.names = [f"n{i}" for i in range(1, nodes + 1)]
        ports = free_ports(2 * nodes)
        self.client_port = dict(zip(self.names, ports[:nodes], strict=True))
        peer_port = dict(zip(self.names, ports[nodes:], strict=True))
        self.ports = {n: {"client": self.client_port[n], "peer": peer_port[n]} for n in self.names}
        self.steps = root / "steps"  # the run's folder, {dir}
        self.steps.mkdir(parents=True, exist_ok=True)
        table = SYSTEM["nodes"]
        self.peers = ""
        self.peers = table["join"].join(self.expand(table["peer"], n) for n in self.names)
        self.bug = bug
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.clocks = {n: ShiftedClock(n, root) for n in self.names} if clocks else {}

    def data(self, name: str) -> Path:
        return self.root / "data" / name

    def __enter__(self) -> Cluster:
        for name in self.names:
            self.data(name).mkdir(parents=True)
        for name in self.names:
            self.start(name)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.procs):
            self.kill(name)

    def expand(self, template: str, name: str) -> str:
        """A template of the system file for node `name` (as the runner fills it in)."""
        fields = {
            "name": name,
            "host": "127.0.0.1",
            "data": str(self.data(name)),
            "dir": str(self.steps),
            "peers": self.peers,
            "here": str(SYSTEM_FILE.parent),
        }
        fields.update({f"port.{p}": str(v) for p, v in self.ports[name].items()})
        return re.sub(r"\{([a-z.]+)\}", lambda m: fields[m.group(1)], template)

    def start(self, name: str) -> None:
        argv = [self.expand(arg, name) for arg in SYSTEM["nodes"]["command"]]
        env = {**os.environ, "MESHKV_BUG": self.bug}
        if self.clocks:
            env.update(self.clocks[name].env())
        out = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (the process holds it)
        self.procs[name] = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
        out.close()
        wait_port(self.client_port[name])

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(n, "127.0.0.1", self.client_port[n]) for n in self.names]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port}")


Nemesis = Callable[[Cluster, random.Random], Coroutine[Any, Any, None]]


async def workload(
    cluster: Cluster,
    seconds: float,
    *,
    clients: int = 6,
    seed: int = 1,
    nemesis: Nemesis | None = None,
    timeout: float = 1.0,
) -> list[Op]:
    """`clients` jsonl clients (bound to the nodes in turn) doing reads, unique writes and cas's on
    three keys for `seconds`, while `nemesis` runs; the history."""
    start = time.monotonic()
    history: list[Op] = []
    counter = iter(range(1, 10**9))
    rng = random.Random(seed)

    async def one(c: int, endpoint: Endpoint) -> None:
        client = JsonlClient(ClientSettings({}, "primary", "cas"))
        await client.open(endpoint, timeout)
        mine = random.Random(seed * 1000 + c)
        seen: dict[str, object] = {}
        while time.monotonic() - start < seconds:
            key = mine.choice(KEYS)
            f = mine.choice(("read", "read", "write", "cas"))
            value: object = None
            if f == "write":
                value = next(counter)
            elif f == "cas":  # mostly from the value last read, so that many apply
                old = seen.get(key) if mine.random() < 0.8 else None
                value = (old if old is not None else mine.randrange(1, 100), next(counter))
            call = time.monotonic() - start
            done = await client.invoke(Invocation(f"c{c}", f, key, value), timeout)
            ret = time.monotonic() - start
            if f == "read" and done.status == "ok":
                seen[key] = done.output
            if done.status == "fail":
                await asyncio.sleep(0.01)
            history.append(
                Op(
                    f"c{c}",
                    f,
                    value,
                    done.output if done.status == "ok" and f == "read" else None,
                    call,
                    math.inf if done.status == "info" else max(ret, call + 1e-9),
                    done.status,
                    key,
                )
            )
        await client.close()

    ends = cluster.endpoints()
    tasks = [asyncio.create_task(one(c, ends[c % len(ends)])) for c in range(clients)]
    if nemesis is not None:
        tasks.append(asyncio.create_task(nemesis(cluster, rng)))
    await asyncio.gather(*tasks)
    return sorted(history, key=lambda o: o.call)


def verdict(history: list[Op]) -> checker.Result:
    return checker.check(history, KeyValue(), budget_seconds=60)


def run(cluster: Cluster, seconds: float, **kwargs: object) -> tuple[list[Op], checker.Result]:
    history = asyncio.run(workload(cluster, seconds, **kwargs))  # type: ignore[arg-type]
    return history, verdict(history)


SPEC = ROOT / "examples" / "meshkv" / "MeshKV.tla"
MODEL = ROOT / "examples" / "meshkv" / "MeshKV.cfg"


def validate(cluster: Cluster) -> Verdict:
    """The nodes' step logs, merged, against MeshKV.tla (as `meshcheck validate` does)."""
    logs = [logformat.read(str(p)) for p in sorted(cluster.steps.glob("*-steps.ndjson"))]
    stepper = stepper_for(str(SPEC), str(MODEL))
    return Validator(stepper).run(logformat.merge(logs), budget=120)


def oks(history: list[Op]) -> int:
    return sum(1 for o in history if o.status == "ok")


# The faults, each a nemesis: what it does, every `every` seconds, from the first second.


def kills(every: float = 1.0, down: float = 0.3) -> Nemesis:
    """A random node killed with SIGKILL, started again `down` seconds later."""

    async def nemesis(cluster: Cluster, rng: random.Random) -> None:
        for _ in range(3):
            await asyncio.sleep(every)
            name = rng.choice(cluster.names)
            cluster.kill(name)
            await asyncio.sleep(down)
            cluster.start(name)

    return nemesis


def clock_back(by: float = 2.0, every: float = 0.8) -> Nemesis:
    """A random node's wall clock set back `by` seconds, then right again, three times."""

    async def nemesis(cluster: Cluster, rng: random.Random) -> None:
        for _ in range(3):
            clock = cluster.clocks[rng.choice(cluster.names)]
            await asyncio.sleep(every / 2)
            clock.set(-by)
            await asyncio.sleep(every / 2)
            clock.set(0.0)

    return nemesis

"""A run of Indy Plenum's replicas under meshcheck's scheduler, through plenum's driver.

drivers/plenum/driver.py hosts plenum's replicas (in .venv-plenum: plenum has dependencies of its
own) and speaks the driver protocol (docs/driver-protocol.md); this module is the other end: a
seeded scheduler that owns everything plenum would take from its host.

- delivery: each message a replica sends is delivered after a delay drawn from `Schedule.delay`
  (ms), in the order sent on each link (`fifo`, plenum's ZeroMQ over TCP), or lost (`drop`) or
  delivered twice (`duplicate`); a message to a replica that is down is lost;
- time: a replica's timer fires when the driver asked (its `timers`), on the run's clock;
- crashes: `Schedule.crash` stops a replica from `at` for `down` ms (None: for good): it takes no
  step, what is sent to it is lost, and the others' transports tell them it is gone and, when it
  is back, there again (the driver's `connections`); plenum's simulated replicas keep nothing on
  disk, so a crash here is a pause (a stopped process, a cut cable), not a restart from disk;
- Byzantine replicas: `Schedule.byzantine`, {replica: behaviour}, which the driver applies to what
  that replica sends (drivers/plenum/driver.py BEHAVIOURS);
- clients: `requests` requests, one each `every` ms from `start`, each handed to every replica
  that is up (an Indy client sends its request to every validator; plenum's propagation, which
  finalises a request at a replica once f + 1 replicas have it, is taken as done, as in plenum's
  own simulation, SimPool.sim_send_requests).

What a run keeps (`Run`): what each replica ordered and when, every message's record (PBFT.tla's
vocabulary: drivers/plenum/driver.py `_record`) as sent and as delivered, each replica's last
state, the faults that happened and plenum's own timeouts (from its config, through `hello`).
"""

from __future__ import annotations

import heapq
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
NODES = ("Alpha", "Beta", "Gamma", "Delta")
FORGED = "f" * 64  # the digest a forging replica's Prepares name (driver.py BEHAVIOURS)
BUILD = "make plenum builds it (about 75 s; docs/plenum.md)"


def built(stamp: Path, bound: float = 600.0) -> bool:
    """Whether the build that writes `stamp` is done, waiting (up to `bound` seconds) while the
    build `make test` runs beside the tests is still running: its process id is
    MESHCHECK_BUILD_PID (the Makefile's `test` target), so the tests that need it, ordered last
    (tests/conftest.py), neither skip nor hold up the suite's start."""
    pid = os.environ.get("MESHCHECK_BUILD_PID", "")
    deadline = time.monotonic() + bound
    while not stamp.exists() and pid.isdigit() and _running(int(pid)):
        if time.monotonic() > deadline:
            break
        time.sleep(1.0)
    return stamp.exists()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def plenum_python(root: Path = ROOT) -> Path:
    """The Python of .venv-plenum (`MESHCHECK_PLENUM_VENV`, else the work tree's); ConfigError
    (one line, with the command that builds it) when it is not built."""
    venv = Path(os.environ.get("MESHCHECK_PLENUM_VENV", root / ".venv-plenum"))
    if not built(venv / ".installed"):
        raise ConfigError(f"no plenum venv at {venv}: {BUILD}")
    return venv / "bin" / "python"


def driver_command(bugs: Sequence[str] = (), root: Path = ROOT) -> list[str]:
    """The driver's command line, with plenum patched by `bugs` (driver.py BUGS)."""
    driver = root / "drivers" / "plenum" / "driver.py"
    return [str(plenum_python(root)), str(driver), *(a for b in bugs for a in ("--bug", b))]


def start_driver(bugs: Sequence[str] = (), root: Path = ROOT) -> Any:
    """A DriverProcess of driver_command(bugs), without this process's PYTHONPATH (a work tree's
    top-level folders are not plenum's); with MESHCHECK_PLENUM_PATH's instead when it is set."""
    from meshcheck.drivers.pipe import DriverProcess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if os.environ.get("MESHCHECK_PLENUM_PATH"):
        # another plenum release installed apart (--target), ahead of .venv-plenum's (docs/plenum.md)
        env["PYTHONPATH"] = os.environ["MESHCHECK_PLENUM_PATH"]
    return DriverProcess(driver_command(bugs, root), name="plenum", timeout=60, env=env)


@attrs.frozen
class Crash:
    """`node` stops at `at` ms for `down` ms (None: until the end)."""

    node: str
    at: int
    down: int | None = None

    @property
    def back(self) -> int | None:
        return None if self.down is None else self.at + self.down


@attrs.frozen
class Schedule:
    """One run: the seed of every draw, the faults, the clients, how long."""

    seed: int
    requests: int = 6
    every: int = 500  # ms between two requests
    start: int = 100
    ticks: int = 20_000  # ms the run lasts
    delay: tuple[int, int] = (5, 100)  # ms, each message's
    fifo: bool = True
    drop: float = 0.0
    duplicate: float = 0.0
    crash: Crash | None = None
    byzantine: tuple[tuple[str, str], ...] = ()
    batch: int = 2  # requests a batch holds at most (plenum's Max3PCBatchSize)

    def faulty(self) -> frozenset[str]:
        """The replicas no check holds to the protocol: the Byzantine ones."""
        return frozenset(n for n, _ in self.byzantine)

    def last_fault(self) -> int:
        """When the last fault of the schedule happened (ms): a crash or its end, and the last
        message the scheduler may lose or repeat (drop, duplicate: the whole run)."""
        last = 0
        if self.drop or self.duplicate:
            last = self.ticks
        if self.crash is not None:
            last = max(last, self.crash.back if self.crash.back is not None else self.crash.at)
        return last

    def flags(self) -> str:
        """The schedule as the replay command's arguments."""
        parts = [f"--seed {self.seed}", f"--requests {self.requests}", f"--ticks {self.ticks}"]
        if self.crash is not None:
            down = "" if self.crash.down is None else f":{self.crash.down}"
            parts.append(f"--crash {self.crash.node}:{self.crash.at}{down}")
        parts += [f"--byzantine {n}:{b}" for n, b in self.byzantine]
        if self.drop:
            parts.append(f"--drop {self.drop}")
        if self.duplicate:
            parts.append(f"--duplicate {self.duplicate}")
        return " ".join(parts)


@attrs.frozen
class Ordered:
    """A batch a replica ordered: when, in which view, its sequence number, digest, requests."""

    node: str
    at: int
    view: int
    seq: int
    digest: str
    requests: tuple[str, ...]
    index: int  # how many of the run's messages (sent and delivered) came before it


@attrs.frozen
class Sent:
    """A message as the scheduler saw it: sent (`delivered` None) or delivered, at `at` ms."""

    at: int
    src: str
    dst: str
    record: Any
    delivered: bool


@attrs.frozen
class Run:
    schedule: Schedule
    ordered: tuple[Ordered, ...]
    messages: tuple[Sent, ...]  # every send and every delivery, in the run's order
    states: Any  # {node: the driver's last `state`}
    requests: Any  # {request key: the request id}
    config: Any  # plenum's timeouts (seconds), from hello
    steps: int
    crashed: bool  # the crash happened (its replica was up to be stopped)
    recovered: bool  # ... and it came back
    # (request id, index): each request's first handing to a replica; (node, seq, index): each
    # stable checkpoint a replica took; index as Ordered's
    submitted: tuple[tuple[int, int], ...] = ()
    stables: tuple[tuple[str, int, int], ...] = ()
    version: str = ""  # plenum's release, as the driver imported it


def byzantine_acted(run: Run) -> dict[str, bool]:
    """For each Byzantine replica of the run, whether its behaviour showed in what it sent (a
    behaviour that never acted leaves the run an honest one, and says so)."""
    acted = {}
    for node, behaviour in run.schedule.byzantine:
        sent = [m.record for m in run.messages if m.src == node and not m.delivered]
        votes = [r for r in sent if r["type"] in ("Prepare", "Commit", "Checkpoint")]
        if behaviour == "withhold":
            acted[node] = not votes and any(r["type"] == "PrePrepare" for r in run_records(run))
        elif behaviour == "forge":
            acted[node] = any(r["type"] == "Prepare" and r["req"] == FORGED for r in sent)
        elif behaviour == "replay":
            views = {r["view"] for r in sent if r["type"] in ("PrePrepare", "Prepare", "Commit")}
            acted[node] = len(views) > 1
        else:  # equivocate: two PrePrepares of one (view, seq) with different digests
            pps = {(r["view"], r["seq"], r["req"]) for r in sent if r["type"] == "PrePrepare"}
            acted[node] = len(pps) > len({(v, n) for v, n, _ in pps})
    return acted


def run_records(run: Run) -> list[Any]:
    """The records of every message sent in the run."""
    return [m.record for m in run.messages if not m.delivered]


def run(schedule: Schedule, bugs: Sequence[str] = (), *, process: Any = None) -> Run:
    """Run `schedule` on plenum patched with `bugs` (drivers/plenum/driver.py BUGS), in `process`
    (a DriverProcess of start_driver(), kept across runs) or in a driver started for this run."""
    if process is None:
        with start_driver() as own:
            return run(schedule, bugs, process=own)
    return _Scheduler(schedule, process, bugs).run()


class _Scheduler:
    def __init__(self, schedule: Schedule, process: Any, bugs: Sequence[str]) -> None:
        self.s = schedule
        self.bugs = list(bugs)
        self.p = process
        self.draw = random.Random(schedule.seed)
        self.queue: list[tuple[int, int, str, Any]] = []
        self.n = 0
        self.timer: dict[str, int] = {}  # the generation of each replica's timer
        self.link: dict[tuple[str, str], int] = {}  # the last delivery time on each link (fifo)
        self.up = set(NODES)
        self.ordered: list[Ordered] = []
        self.messages: list[Sent] = []
        self.keys: dict[str, int] = {}
        self.steps = 0
        self.crashed = self.recovered = False
        self.submitted: list[tuple[int, int]] = []
        self.stables: list[tuple[str, int, int]] = []

    def push(self, at: int, kind: str, what: Any) -> None:
        self.n += 1
        heapq.heappush(self.queue, (at, self.n, kind, what))

    def call(self, node: str, now: int, **request: Any) -> None:
        answer = self.p.call({**request, "node": node, "now": now}, node)
        self.steps += 1
        self.absorb(node, now, answer.get("done", {}))

    def absorb(self, node: str, now: int, done: dict[str, Any]) -> None:
        for send in done.get("sends", []):
            dst = send["to"]
            self.messages.append(Sent(now, node, dst, send["record"], False))
            copies = 0 if self.draw.random() < self.s.drop else 1
            copies += 1 if copies and self.draw.random() < self.s.duplicate else 0
            for _ in range(copies):
                at = now + self.draw.randint(*self.s.delay)
                if self.s.fifo:
                    at = max(at, self.link.get((node, dst), 0))
                    self.link[(node, dst)] = at
                self.push(at, "deliver", (dst, node, send["message"], send["record"]))
        for seq, batch, _ in done.get("applied", []):
            self.ordered.append(
                Ordered(
                    node,
                    now,
                    batch["view"],
                    seq,
                    batch["digest"],
                    tuple(batch["requests"]),
                    len(self.messages),
                )
            )
        for step in done.get("steps", []):
            if step["action"] == "StableCheckpoint":
                self.stables.append((node, step["params"]["n"], len(self.messages)))
        for request_id, key in done.get("requests", []):
            self.keys[key] = request_id
        for _name, after in done.get("timers", []):
            self.timer[node] = self.timer.get(node, 0) + 1
            self.push(now + after, "fire", (node, self.timer[node]))

    def run(self) -> Run:
        s = self.s
        hello = {"call": "hello", "protocol": 1, "nodes": list(NODES)}
        hello |= {"byzantine": dict(s.byzantine), "bugs": self.bugs, "batch": s.batch}
        answer = self.p.call(hello, "-")
        for node in NODES:
            self.call(node, 0, call="boot", persisted={}, seed=s.seed)
        for k in range(s.requests):
            self.push(s.start + k * s.every, "submit", k + 1)
        if s.crash is not None:
            self.push(s.crash.at, "crash", s.crash.node)
            if s.crash.back is not None:
                self.push(s.crash.back, "recover", s.crash.node)
        while self.queue and self.queue[0][0] <= s.ticks:
            at, _, kind, what = heapq.heappop(self.queue)
            self.step(at, kind, what)
        states = {
            node: self.p.call({"call": "state", "node": node}, node)["state"] for node in NODES
        }
        return Run(
            s, tuple(self.ordered), tuple(self.messages), states, dict(self.keys),
            answer.get("config", {}), self.steps, self.crashed, self.recovered,
            tuple(self.submitted), tuple(self.stables), str(answer.get("version", "")),
        )  # fmt: skip

    def step(self, at: int, kind: str, what: Any) -> None:
        if kind == "deliver":
            dst, src, message, record = what
            if dst in self.up:
                self.messages.append(Sent(at, src, dst, record, True))
                self.call(dst, at, call="deliver", source=src, message=message)
        elif kind == "fire":
            node, generation = what
            if node in self.up and generation == self.timer[node]:
                self.call(node, at, call="fire", timer="plenum")
        elif kind == "submit":
            self.submitted.append((what, len(self.messages)))
            for node in NODES:
                if node in self.up:
                    value = {"amount": what}
                    self.call(node, at, call="submit", request=what, value=value, read=False)
        elif kind == "crash" and what in self.up:
            self.up.discard(what)
            self.crashed = True
            self.connections(at)
        elif kind == "recover" and what not in self.up:
            self.up.add(what)
            self.recovered = True
            self.connections(at)
            self.call(what, at, call="fire", timer="plenum")  # its overdue timers run now

    def connections(self, at: int) -> None:
        for node in sorted(self.up):
            connected = sorted(self.up - {node})
            self.call(node, at, call="connections", connected=connected)

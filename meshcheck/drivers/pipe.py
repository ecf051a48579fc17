"""meshcheck's end of the driver protocol (docs/driver-protocol.md): a child process that hosts the
nodes of one implementation, and a `StepDriver` per node that speaks to it.

One child serves a whole cluster (each request names its node) and many clusters in turn (`hello`
starts the next): a simulated run steps one node at a time, so one process per node would only
multiply start-ups. The child ends when its `DriverProcess` is closed, garbage-collected or when
this process exits, however it ends; a close ends what it started too (a wrapper script's real
driver: impl/runtime/process_tree.py). A child that dies, answers garbage or does not answer
within `timeout` seconds is one `AdapterError` naming the driver, the node and the call, with
the last lines the child wrote to its stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import subprocess
import tempfile
import weakref
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from typing import Any

from meshcheck.drivers.wire import PROTOCOL
from meshcheck.drivers.wire import WireError
from meshcheck.drivers.wire import collected_from_json
from meshcheck.drivers.wire import field
from meshcheck.drivers.wire import persisted_to_json
from meshcheck.drivers.wire import release
from meshcheck.drivers.wire import spec_value
from meshcheck.impl.adapters.contract import AdapterError
from meshcheck.impl.adapters.contract import AdapterPlugin
from meshcheck.impl.adapters.contract import Collected
from meshcheck.impl.adapters.contract import Ghost
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.runtime import process_tree
from meshcheck.traces.itf import encode_value

TIMEOUT = 30.0  # seconds a driver has to answer one request


def _end(proc: subprocess.Popen[bytes], stderr: IO[bytes], mark: str) -> None:
    """Stop the child: its stdin closed (a driver ends at end of input), then SIGKILL to what is
    left of it, the child and whatever it started (a wrapper script's real driver, the binary `go
    run` built), in its process group or out of it (impl/runtime/process_tree.py)."""
    if proc.poll() is None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=2)
    process_tree.end(proc, mark)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None and not pipe.closed:
            # a driver that died: what was left to flush to it goes nowhere
            with contextlib.suppress(OSError):
                pipe.close()
    stderr.close()


class DriverProcess:
    """The child running a driver (`command`), and the requests and answers between us."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str = "driver",
        timeout: float = TIMEOUT,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.command = tuple(command)
        # closed by `_end`, with the child: it outlives this constructor
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        mark = process_tree.new_mark()  # what the child starts carries it too (`_end`)
        try:
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=cwd,
                env={**(os.environ if env is None else env), mark: "1"},
                process_group=0,  # its own: `_end` kills the group
            )
        except OSError as exc:
            self._stderr.close()
            raise AdapterError(
                name, "-", "command", f"cannot start {command[0]!r}: {exc}"
            ) from None
        self._finalizer = weakref.finalize(self, _end, self._proc, self._stderr, mark)
        self._buffer = b""
        self.takes = False
        self.driver = name
        self.nodes: tuple[str, ...] = ()

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> DriverProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def hello(self, nodes: Sequence[str]) -> None:
        """Start a cluster of `nodes` (every node of the last one forgotten): the driver's name and
        whether it can take one spec action at a time (`take`)."""
        answer = self.call({"call": "hello", "protocol": PROTOCOL, "nodes": list(nodes)}, "-")
        try:
            version = field(answer, "protocol", int, "hello")
            if version != PROTOCOL:
                raise WireError(f"hello.protocol: speaks {version}, meshcheck speaks {PROTOCOL}")
            self.driver = field(answer, "driver", str, "hello")
            self.takes = field(answer, "take", bool, "hello", False)
        except WireError as exc:
            raise AdapterError(self.name, "-", "hello", str(exc)) from None
        self.nodes = tuple(nodes)

    def call(self, request: Mapping[str, Any], node: str) -> dict[str, Any]:
        """One request and its answer (AdapterError for an error answer, a dead or silent child)."""
        what = str(request.get("call"))
        line = json.dumps(request, separators=(",", ":")) + "\n"
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(line.encode())
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._dead(node, what) from None
        answer = self._line(node, what)
        try:
            parsed = json.loads(answer)
        except ValueError:
            shown = answer[:80].decode(errors="replace")
            raise AdapterError(
                self.name, node, what, f"answered a line that is not JSON: {shown!r}"
            ) from None
        if not isinstance(parsed, dict):
            raise AdapterError(self.name, node, what, "answered JSON that is not an object")
        if "error" in parsed:
            raise AdapterError(self.name, node, what, f"the driver says: {parsed['error']}")
        return parsed

    def _line(self, node: str, what: str) -> bytes:
        stdout = self._proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if not sel.select(self.timeout):
                    raise AdapterError(
                        self.name, node, what, f"no answer within {self.timeout:g} s{self._told()}"
                    )
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._dead(node, what)
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _dead(self, node: str, what: str) -> AdapterError:
        try:
            code: int | str = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed its stdout and runs on
            code = "its stdout closed"
        return AdapterError(self.name, node, what, f"the driver exited ({code}){self._told()}")

    def _told(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return f"; its stderr ends: {' / '.join(lines[-3:])}" if lines else ""


class Records:
    """The spec record of each message the driver sent (the `record` of its sends); a message sent
    without one is its own record (its JSON, held), which traces show as it is."""

    def __init__(self) -> None:
        self._of: dict[Any, Value] = {}

    def add(self, message: Any, record: Value) -> None:
        self._of[message] = record

    def __call__(self, message: Any) -> Value:
        return self._of.get(message, message)


class PipeDriver:
    """One node of the child's cluster, as the adapter contract drives it (a `StepDriver`)."""

    def __init__(self, process: DriverProcess, node: str, records: Records) -> None:
        self.process = process
        self.id = node
        self._records = records
        self._done = Collected()
        # each variable's last answer as sent and as decoded: the state is asked after every step,
        # and a Raft log grows by an entry where it is sent whole each time
        self._decoded: dict[str, tuple[Any, Value]] = {}
        # the node's state since its last step: a node changes only in a request that steps it
        # (the protocol's), and the simulator asks every node's state after every step
        self._state: Mapping[str, Value] | None = None

    def _step(self, request: dict[str, Any]) -> dict[str, Any]:
        self._state = None
        answer = self.process.call({**request, "node": self.id}, self.id)
        try:
            self._done = collected_from_json(answer.get("done", {}), self._records.add)
        except WireError as exc:
            raise AdapterError(self.process.name, self.id, str(request["call"]), str(exc)) from None
        return answer

    def boot(self, persisted: Mapping[str, Any], now: int, rng: random.Random) -> None:
        try:
            disk = persisted_to_json(persisted)
        except WireError as exc:
            raise AdapterError(self.process.name, self.id, "boot", str(exc)) from None
        # the node's only randomness: a seed drawn from the simulator's generator of this node
        self._step({"call": "boot", "persisted": disk, "now": now, "seed": rng.getrandbits(63)})

    def deliver(self, source: str, message: Any, now: int) -> None:
        self._step({"call": "deliver", "source": source, "message": release(message), "now": now})

    def fire(self, timer: str, now: int) -> None:
        self._step({"call": "fire", "timer": timer, "now": now})

    def submit(self, request_id: int, value: Any, read: bool, now: int) -> None:
        try:
            shown = release(value)
        except WireError as exc:
            raise AdapterError(self.process.name, self.id, "submit", str(exc)) from None
        self._step(
            {"call": "submit", "request": request_id, "value": shown, "read": read, "now": now}
        )

    def take(self, action: str, params: Mapping[str, Value], now: int) -> bool:
        if not self.process.takes:
            return False
        request = {
            "call": "take",
            "action": action,
            "params": encode_value(FrozenDict(params)),
            "now": now,
        }
        answer = self._step(request)
        took = answer.get("took")
        if not isinstance(took, bool):
            raise AdapterError(self.process.name, self.id, "take", "took: expected true or false")
        return took

    def collect(self, event: Any) -> Collected:
        done, self._done = self._done, Collected()
        return done

    def state(self) -> Mapping[str, Value]:
        if self._state is not None:
            return self._state
        answer = self.process.call({"call": "state", "node": self.id}, self.id)
        try:
            state = field(answer, "state", dict, "state")
            self._state = {k: self._decode(k, v) for k, v in state.items()}
        except WireError as exc:
            raise AdapterError(self.process.name, self.id, "state", str(exc)) from None
        return self._state

    def _decode(self, var: str, sent: Any) -> Value:
        """A variable's value as sent, decoded: the last one again if it is the same, and of a
        sequence (a JSON array) the items that are the same at the same place as last time."""
        last = self._decoded.get(var)
        if last is not None and last[0] == sent:
            return last[1]
        if isinstance(sent, list) and last is not None and isinstance(last[0], list):
            before, decoded = last
            assert isinstance(decoded, tuple)
            value: Value = tuple(
                decoded[k] if k < len(before) and item == before[k]
                else spec_value(item, f"state.{var}[{k}]")
                for k, item in enumerate(sent)
            )  # fmt: skip
        else:
            value = spec_value(sent, f"state.{var}")
        self._decoded[var] = (sent, value)
        return value

    def applied_state(self) -> tuple[int, bytes]:
        answer = self.process.call({"call": "applied", "node": self.id}, self.id)
        try:
            count = field(answer, "count", int, "applied")
            digest = bytes.fromhex(field(answer, "digest", str, "applied"))
        except (WireError, ValueError) as exc:
            raise AdapterError(self.process.name, self.id, "applied", str(exc)) from None
        return count, digest


def pipe_plugin(
    process: DriverProcess,
    nodes: Sequence[str],
    *,
    variables: tuple[str, ...],
    ghosts: tuple[Ghost, ...] = (),
    log: NdjsonLog | None = None,
    actions: Mapping[str, Sequence[str]] | None = None,
    spec: str = "the spec",
    log_view: Callable[[str, Value], Value] | None = None,
    restart_action: str = "Restart",
) -> AdapterPlugin:
    """The simulator plug-in of the child's implementation, a cluster of `nodes` (`hello`): the
    contract's `AdapterPlugin`, each node a `PipeDriver`, messages named by the records the
    driver gave with them; `log_view` and `restart_action` as the plug-in's (its NDJSON log)."""
    process.hello(nodes)
    records = Records()
    return AdapterPlugin(
        process.driver,
        lambda i: PipeDriver(process, i, records),
        records,
        variables=variables,
        ghosts=ghosts,
        log=log,
        actions=actions,
        spec=spec,
        log_view=log_view,
        restart_action=restart_action,
    )


class LockstepDrivers:
    """`make(node, servers)` for adapted lockstep (property_tests/adapted_lockstep.py `Lockstep`),
    its `records` the `message_record`: the first node of each example's cluster starts a new
    cluster in the child (the walk makes its drivers in the servers' order)."""

    def __init__(self, process: DriverProcess) -> None:
        self.process = process
        self.records = Records()

    def __call__(self, node: str, servers: tuple[str, ...]) -> PipeDriver:
        if node == servers[0]:
            self.process.hello(servers)
        return PipeDriver(self.process, node, self.records)

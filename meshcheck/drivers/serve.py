"""A driver's end of the protocol for implementations in Python: any in-process `Driver` of the
adapter contract served over stdin and stdout (docs/driver-protocol.md).

    python -m meshcheck.drivers MODULE:FUNCTION [ARG ...]

`FUNCTION(args)` returns a `Served`: how to make a node's driver, how the implementation's messages
and durable values become JSON and back (`encode`, `decode`), and each message's spec record. It is
the protocol's reference: tests/test_driver_protocol.py holds a served driver to the same verdicts
as the same driver in-process, and a driver in another language does what this loop does.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import traceback
from collections.abc import Callable
from typing import IO
from typing import Any

import attrs

from meshcheck.drivers.wire import PROTOCOL
from meshcheck.drivers.wire import WireError
from meshcheck.drivers.wire import collected_to_json
from meshcheck.drivers.wire import field
from meshcheck.drivers.wire import hold
from meshcheck.drivers.wire import spec_value
from meshcheck.impl.adapters.contract import Driver
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import Value
from meshcheck.traces.itf import encode_value


@attrs.frozen
class Served:
    """What `serve` needs of an implementation: `make(node, nodes)` a node's driver (a
    `StepDriver` when `takes`), `encode` and `decode` between its messages and durable values and
    JSON, `record` a message's spec record (None: the sends carry none)."""

    name: str
    make: Callable[[str, tuple[str, ...]], Driver]
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    record: Callable[[Any], Value] | None = None
    takes: bool = False


class Session:
    """The nodes of the cluster the last `hello` started, and the answer to each request."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.nodes: tuple[str, ...] = ()
        self.drivers: dict[str, Driver] = {}

    def answer(self, request: Any) -> dict[str, Any]:
        call = field(request, "call", str, "request")
        if call == "hello":
            return self._hello(request)
        node = field(request, "node", str, call)
        if node not in self.nodes:
            raise WireError(
                f"{call}.node: {node!r} is not a node of this cluster ({', '.join(self.nodes)})"
            )
        driver = self.drivers.get(node)
        if driver is None:
            driver = self.drivers[node] = self.served.make(node, self.nodes)
        now = field(request, "now", int, call, 0)
        if call == "state":
            return {"state": {k: encode_value(v) for k, v in driver.state().items()}}
        if call == "applied":
            applied = getattr(driver, "applied_state", None)
            if applied is None:  # optional (impl/adapters/contract.py's MachineDriver)
                raise WireError("applied: this driver keeps no state machine (no applied_state)")
            count, digest = applied()
            return {"count": count, "digest": digest.hex()}
        event: Any
        if call == "boot":
            disk = field(request, "persisted", dict, call)
            persisted = {k: self._disk(v, f"boot.persisted.{k}") for k, v in disk.items()}
            driver.boot(persisted, now, random.Random(field(request, "seed", int, call)))
            event = Restart(persisted, now)
        elif call == "deliver":
            source = field(request, "source", str, call)
            message = self.served.decode(field(request, "message", object, call))
            driver.deliver(source, message, now)
            event = Deliver(source, message, now)
        elif call == "fire":
            timer = field(request, "timer", str, call)
            driver.fire(timer, now)
            event = Tick(timer, now)
        elif call == "submit":
            rid, read = (
                field(request, "request", int, call),
                field(request, "read", bool, call, False),
            )
            value = hold(request.get("value"))
            driver.submit(rid, value, read, now)
            event = ClientRead(value, rid, now) if read else ClientRequest(value, rid, now)
        elif call == "take":
            take = getattr(driver, "take", None)
            if not self.served.takes or take is None:
                raise WireError("take: this driver takes no single spec action (hello said so)")
            params = spec_value(field(request, "params", dict, call, {}), "take.params")
            took = bool(take(field(request, "action", str, call), params, now))
            return {"took": took, "done": self._done(driver, None)}
        else:
            raise WireError(
                f"call: no call {call!r} (hello, boot, deliver, fire, submit, take, state, applied)"
            )
        return {"done": self._done(driver, event)}

    def _hello(self, request: Any) -> dict[str, Any]:
        version = field(request, "protocol", int, "hello")
        if version != PROTOCOL:
            raise WireError(f"hello.protocol: this driver speaks {PROTOCOL}, not {version}")
        nodes = field(request, "nodes", list, "hello")
        if not nodes or not all(isinstance(n, str) for n in nodes):
            raise WireError("hello.nodes: expected the node names, strings")
        self.nodes, self.drivers = tuple(nodes), {}
        return {"driver": self.served.name, "protocol": PROTOCOL, "take": self.served.takes}

    def _disk(self, value: Any, where: str) -> Any:
        if isinstance(value, dict) and "value" in value:
            return self.served.decode(value["value"])
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            return tuple(self.served.decode(x) for x in value["items"])
        raise WireError(f'{where}: expected {{"value": ...}} or {{"items": [...]}}')

    def _done(self, driver: Driver, event: Any) -> dict[str, Any]:
        return collected_to_json(driver.collect(event), self.served.encode, self.served.record)


def serve(served: Served, stdin: IO[str], stdout: IO[str]) -> int:
    """Answer each request line until the end of input (exit status 0). A request the driver
    cannot answer is an error answer, and the session goes on; a driver that raises is an error
    answer with the exception, and the session goes on too (meshcheck stops at the first)."""
    session = Session(served)
    for line in stdin:
        if not line.strip():
            continue
        try:
            answer = session.answer(json.loads(line))
        except (MeshcheckError, ValueError) as exc:  # WireError, a codec's refusal, bad JSON
            answer = {"error": str(exc)}
        except Exception as exc:  # the implementation's own failure: said, with where it came from
            where = traceback.extract_tb(exc.__traceback__)[-1]
            answer = {"error": f"{type(exc).__name__}: {exc} ({where.filename}:{where.lineno})"}
        stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
        stdout.flush()
    return 0


def load(spec: str, args: list[str]) -> Served:
    """`MODULE:FUNCTION` called with `args`: the implementation to serve."""
    module, _, function = spec.partition(":")
    if not module or not function:
        raise WireError(f"{spec!r}: expected MODULE:FUNCTION")
    try:
        found = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise WireError(f"{spec}: {exc}") from None
    try:
        served = found(args)
    except (ValueError, TypeError) as exc:  # its arguments refused
        raise WireError(f"{spec} {' '.join(args)}: {exc}") from None
    if not isinstance(served, Served):
        raise WireError(f"{spec} returned {type(served).__name__}, not a Served")
    return served


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m meshcheck.drivers MODULE:FUNCTION [ARG ...]", file=sys.stderr)
        return 2
    try:
        served = load(args[0], args[1:])
    except WireError as exc:
        print(f"meshcheck.drivers: {exc}", file=sys.stderr)
        return 2
    return serve(served, sys.stdin, sys.stdout)


def codec_json(codec: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """`encode` and `decode` of a runtime codec (impl/runtime/codec.py: tagged JSON that refuses
    what it does not know) as JSON values, for a `Served`."""

    def encode(value: Any) -> Any:
        return json.loads(codec.encode(value))

    def decode(j: Any) -> Any:
        return codec.decode(json.dumps(j).encode())

    return encode, decode

"""The protocols meshcheck knows: every entry point of the group `meshcheck.protocols`.

A protocol is declared as pytest declares its plug-ins, by an entry point of an installed
distribution (its `entry_points.txt`, written from pyproject's `[project.entry-points]`) whose object
is a `meshcheck.protocol.Protocol`. meshcheck's own protocols (raft, pbft, hybrid) are declared that
way in pyproject.toml; a package installed beside meshcheck adds one without editing meshcheck
(importlib.metadata: https://docs.python.org/3/library/importlib.metadata.html#entry-points).

Loading a descriptor imports only its small module (the descriptor holds `Ref` strings, resolved on
use). An entry point that does not load, or whose object is not a Protocol, stops the command with
one line naming it (exit 2). `register` adds a protocol built at run time, `registered` for as long
as a `with` block lasts (tests).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Iterator
from collections.abc import Mapping

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import UnknownProtocol
from meshcheck.protocol import Action
from meshcheck.protocol import Protocol

GROUP = "meshcheck.protocols"
__all__ = [
    "GROUP",
    "BrokenProtocol",
    "UnknownProtocol",
    "actions_of",
    "get",
    "names",
    "protocols",
    "register",
    "registered",
]

_loaded: dict[str, Protocol] | None = None
_registered: dict[str, Protocol] = {}


class BrokenProtocol(MeshcheckError):
    """An entry point of the group that does not load, or names no Protocol."""


def _load() -> dict[str, Protocol]:
    found: dict[str, Protocol] = {}
    for entry in importlib.metadata.entry_points(group=GROUP):
        where = f"entry point {entry.name} = {entry.value}"
        dist = getattr(entry, "dist", None)
        if dist is not None:
            where += f" (from {dist.metadata['Name']})"
        try:
            protocol = entry.load()
        except Exception as exc:  # a plug-in's import failed: say which, not a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise BrokenProtocol(
                f"{GROUP}: {where} does not load: {type(exc).__name__}: {first}"
            ) from None
        if not isinstance(protocol, Protocol):
            raise BrokenProtocol(
                f"{GROUP}: {where} is a {type(protocol).__name__}, not a meshcheck.protocol.Protocol"
            )
        if protocol.name != entry.name:
            raise BrokenProtocol(
                f"{GROUP}: {where} declares the protocol {protocol.name!r} under another name"
            )
        if entry.name in found:  # the same distribution seen twice on the path: keep the first
            continue
        found[entry.name] = protocol
    return found


def protocols() -> Mapping[str, Protocol]:
    """Every known protocol by name, sorted: the installed entry points, then the registered."""
    global _loaded
    if _loaded is None:
        _loaded = _load()
    merged = {**_loaded, **_registered}
    return {name: merged[name] for name in sorted(merged)}


def get(name: str) -> Protocol:
    """The protocol called `name`; UnknownProtocol (exit 2) listing the known ones otherwise."""
    known = protocols()
    try:
        return known[name]
    except KeyError:
        raise UnknownProtocol(
            f"no protocol {name!r} (protocols: {', '.join(known) or 'none installed'})"
        ) from None


def names() -> tuple[str, ...]:
    return tuple(protocols())


def register(protocol: Protocol) -> Protocol:
    """Make `protocol` known for the rest of the process (it hides an installed one of its name)."""
    _registered[protocol.name] = protocol
    return protocol


@contextlib.contextmanager
def registered(protocol: Protocol) -> Iterator[Protocol]:
    """Make `protocol` known while the block lasts (tests)."""
    before = _registered.get(protocol.name)
    register(protocol)
    try:
        yield protocol
    finally:
        if before is None:
            del _registered[protocol.name]
        else:
            _registered[protocol.name] = before


def in_process() -> tuple[Protocol, ...]:
    """The protocols registered in this process (not installed): what a spawned worker process
    must register too to know the same protocols (meshcheck/verify_pool.py)."""
    return tuple(_registered.values())


def reload() -> None:
    """Read the entry points again (after installing a distribution in the same process)."""
    global _loaded
    _loaded = None


def actions_of(protocol: Protocol) -> tuple[Action, ...]:
    """The action vocabulary of `protocol`: its own table, or, when it declares none, the table of
    the first registered protocol (in name order) whose models name the same spec (the same
    module in the same package). The actions belong to the spec, not to one implementation of it:
    a plug-in adapting another Raft library to RaftPipelined.tla gets RaftPipelined's table (and so
    its coverage rows) by naming the spec, with no copy of a table that would drift from it."""
    if protocol.actions:
        return protocol.actions
    spec = (protocol.models.package, protocol.models.spec)
    for other in protocols().values():
        if other.actions and (other.models.package, other.models.spec) == spec:
            return other.actions
    return ()

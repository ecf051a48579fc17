"""Operations of a client history: who called what, when it was invoked and when it completed.

Times are points on one clock (Jepsen's histories: the event's index in the file). Operation `a`
precedes `b` in real time when `a` completed before `b` was invoked (`a.ret < b.call`); otherwise
they are concurrent and a linearization may order them either way (Herlihy and Wing,
"Linearizability: a correctness condition for concurrent objects", TOPLAS 12(3), 1990).

Status, as Jepsen's op types: `ok` completed and took effect, with its output; `fail` completed and
certainly took no effect (dropped before checking); `info` never completed as far as the client
knows: it may have taken effect or not, so it has no return time (`ret` is infinite) and no output.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from collections.abc import Iterable
from typing import Literal

import attrs

Status = Literal["ok", "fail", "info"]
STATUSES: tuple[Status, ...] = ("ok", "fail", "info")


@attrs.frozen(cache_hash=True)
class Op:
    """One operation of a history.

    `input` is what the client sent (a write's value, a cas's (old, new) pair), `output` what it got
    back (a read's value); `output` is None when the operation returned nothing or is not known.
    `key` names the object the operation is on (the key-value model splits a history by it).
    `ret` is `math.inf` for an `info` operation. `index` is the operation's place in the history
    it came from, so a report can point back at it. `node` is the server the client asked, where
    the history says it (a system run's clients record it), else empty; `served` the node that
    served it, where the client could tell (a plug-in's `Completion.served`: a replica's client
    whose write the primary did), else empty. A report names the server by `where`.
    """

    process: Hashable
    f: str
    input: Hashable
    output: Hashable
    call: float
    ret: float
    status: Status = "ok"
    key: Hashable = None
    index: int = 0
    node: str = attrs.field(default="", eq=False)
    served: str = attrs.field(default="", eq=False)

    def __attrs_post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}: expected ok, fail or info")
        if self.status == "info" and self.ret != math.inf:
            raise ValueError("an info operation has no return time (math.inf)")
        if not self.call < self.ret:
            raise ValueError(f"operation invoked at {self.call} returns at {self.ret}")

    @property
    def pending(self) -> bool:
        return self.status == "info"

    @property
    def server(self) -> str:
        """The node that served it where known, else the node asked, else empty."""
        return self.served or self.node


def where(o: Op) -> str:
    """Where an operation ran, as every report says it (Jepsen users read "on r3" as "served by
    r3"): `on r1` for the node that served it, `on r1 (asked r3)` when the client asked another,
    `asked r3` when only the node asked is known, empty when neither is."""
    return place(o.served, o.node)


def place(served: str, node: str) -> str:
    """`where`'s words for the node that `served` and the `node` asked (either may be "")."""
    if served:
        return f"on {served}" + (f" (asked {node})" if node and node != served else "")
    return f"asked {node}" if node else ""


def op(
    process: Hashable,
    f: str,
    call: float,
    ret: float | None,
    *,
    input: Hashable = None,
    output: Hashable = None,
    status: Status | None = None,
    key: Hashable = None,
    index: int = 0,
) -> Op:
    """A shorthand for tests and hand-built histories: `ret=None` makes an info operation."""
    if ret is None:
        return Op(process, f, input, None, call, math.inf, status or "info", key, index)
    return Op(process, f, input, output, call, ret, status or "ok", key, index)


def numbered(ops: Iterable[Op]) -> tuple[Op, ...]:
    """The operations with `index` set to their place in the sequence."""
    return tuple(attrs.evolve(o, index=i) for i, o in enumerate(ops))


def prefix(ops: Iterable[Op], cut: float) -> tuple[Op, ...]:
    """The history as it stood just before time `cut`: operations invoked before it, those that had
    not completed by then pending (info: they may have taken effect or not, output unknown)."""
    out: list[Op] = []
    for o in ops:
        if o.call >= cut:
            continue
        if o.ret >= cut:
            o = attrs.evolve(o, status="info", ret=math.inf, output=None)
        out.append(o)
    return tuple(out)

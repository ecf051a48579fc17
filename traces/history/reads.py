"""What a register history owes when its reads are serializable (etcd's second read mode, served
from a member's own store: etcd.io/docs/v3.4/learning/api_guarantees/), where the history as a
whole is not owed linearizability.

What is owed: the writes and compare-and-sets alone are linearizable (a cas reads the current
value: it is linearizable in either mode; `writes_only` is the history the checker is given), and
every read returns a value some write or cas on its key wrote, invoked before the read returned
(or nothing, before any), never one from nowhere or from the future (`reads_written`). How many
reads were stale is reported, not judged: a read that returned a value other than the last one
written before it was invoked (by writes that completed before it).

A cluster run with serializable reads and `meshcheck history check --reads serializable` both
check a history this way, so the command replays the run's verdict.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence

import attrs

from meshcheck.traces.history.history import Op

MODES = ("linearizable", "serializable")


def writes_only(ops: Sequence[Op]) -> list[Op]:
    """The history without its reads: what must be linearizable under serializable reads."""
    return [o for o in ops if o.f != "read"]


@attrs.frozen
class ReadsWritten:
    """`reads`: ok reads checked; `stale`: how many returned an older value than the write last
    done before them; `unwritten`: the first read of a value no write invoked before it wrote
    (None: every read returned a written value)."""

    reads: int
    stale: int
    unwritten: Op | None


def reads_written(ops: Sequence[Op]) -> ReadsWritten:
    """Every ok read returns None or a value a write or cas on its key wrote, invoked before the
    read returned; and the stale reads among them, counted."""
    invoked: dict[Hashable, list[tuple[float, Hashable]]] = {}
    done: dict[Hashable, list[tuple[float, Hashable]]] = {}
    for o in ops:
        if o.f == "read" or o.status == "fail":
            continue
        value = o.input[1] if o.f == "cas" and isinstance(o.input, tuple) else o.input
        invoked.setdefault(o.key, []).append((o.call, value))
        if o.status == "ok":
            done.setdefault(o.key, []).append((o.ret, value))
    reads = [o for o in ops if o.f == "read" and o.status == "ok"]
    stale = 0
    for r in reads:
        if r.output is not None and not any(
            t < r.ret and v == r.output for t, v in invoked.get(r.key, [])
        ):
            return ReadsWritten(len(reads), stale, r)
        before = [(t, v) for t, v in done.get(r.key, []) if t < r.call]
        if before and max(before, key=lambda tv: tv[0])[1] != r.output:
            stale += 1
    return ReadsWritten(len(reads), stale, None)

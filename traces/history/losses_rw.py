"""What an rw-register history lost (traces/history/rw_register.py), in the words and the table
of traces/history/losses.py, whose count it reuses: each transaction's writes and external reads
(a read of a key before the transaction writes it) as operations on registers, with the
transaction's span. Values written to a key are unique, as for a register workload.

- acknowledged: the writes of committed (ok) transactions, one per micro-operation (a write the
  transaction overwrites itself is acknowledged too: a later read of an older value loses both);
- lost: an acknowledged write that a read of its key disproves, the read's transaction invoked
  after the write's returned, of a value only writes done before the write began could have put
  (losses.py `count`). A write overwritten before any read is not counted: the count is a floor.
  The claim rests on real time: under strict serializability such a write is gone, while a history
  checked for serializability alone may order the read first;
- recovered: a write of a transaction whose outcome is unknown (info) that a read returned;
- unexpected: an external read of a value no write of a transaction that did not fail, invoked
  before the read returned, could have put.

O((reads + writes) log reads), as losses.py's count.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck.traces.history import events
from meshcheck.traces.history import losses
from meshcheck.traces.history import reader
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import Status
from meshcheck.traces.history.rw_history import Txn


def operations(txns: Sequence[Txn]) -> list[Op]:
    """Each write of a transaction that did not fail, and each external read of a committed one, as
    an operation of the register model (`index`: the transaction's)."""
    ops: list[Op] = []
    for t in txns:
        if t.status == "fail":
            continue
        status: Status = "ok" if t.status == "ok" else "info"
        written = set()
        for f, k, v in t.mops:
            if f == "w":
                written.add(k)
                ops.append(Op(t.process, "write", v, None, t.call, t.ret, status, k, t.index))
            elif t.status == "ok" and k not in written:
                written.add(k)  # the transaction's first read of k is its external read
                ops.append(Op(t.process, "read", None, v, t.call, t.ret, "ok", k, t.index))
    return ops


def count(txns: Sequence[Txn]) -> losses.Losses:
    """The counts and the lost writes of an rw-register history (the module's docstring)."""
    with reader.bulk():  # an operation a write and a read: none in a cycle
        return losses.count(operations(txns))


def _value(v: object) -> str:
    return "nothing" if v is None else repr(v)


def _span(o: Op) -> str:
    return f"process {o.process}, {events.span(o.call, o.ret)}"


def account(found: losses.Losses) -> losses.Account:
    """The table of traces/history/losses.py: each write and read named by its transaction,
    process and the history's lines."""

    def lost(item: losses.Lost) -> str:
        w, r = item.write, item.read
        return (
            f"T{w.index} wrote {_value(w.input)} to {w.key!r} ({_span(w)}); T{r.index} read "
            f"{_value(r.output)} from {r.key!r} after it ({_span(r)})"
        )

    def unexpected(r: Op) -> str:
        return (
            f"T{r.index} read {_value(r.output)} from {r.key!r} ({_span(r)}), which no write "
            "could have written"
        )

    def recovered(w: Op) -> str:
        what = f"T{w.index} wrote {_value(w.input)} to {w.key!r} ({_span(w)})"
        return what + ", outcome unknown, read back"

    return losses.Account(
        "writes",
        found.acknowledged,
        losses.named(found.lost, lost),
        found.indeterminate,
        found.recovered,
        losses.named(found.unexpected, unexpected),
        "read",
        recovered_named=losses.named(found.recovered_writes, recovered),
    )


def render(found: losses.Losses) -> str:
    """The account as `meshcheck history check` prints it (losses.py's Account)."""
    return account(found).render()

"""Sequential consistency of a register, key by key, decided by a serial order of one-operation
transactions: the graph search of rw-register (traces/history/rw_register.py) in the place of the
operation-by-operation search (checker.py, sequential.py), which on a history of a thousand
operations or more may decide nothing in its budget.

Sequential consistency of one register (Lamport 1979; Viotti and Vukolić, ACM CSUR 49(1), 2016,
section 3.3) asks for a total order of its operations that keeps each process's order and in which
every read returns the last value written before it. Make each operation a transaction of one
micro-operation (a write `["w", k, v]`, a read `["r", k, v]`; an ok cas a read of its old value and
a write of its new one, taken together) and that is a serial order of the transactions that keeps
each process's order: strong session serializability (Daudjee and Salem, "Lazy Database
Replication with Ordering Guarantees", ICDE 2004), which rw-register checks with process-order
edges in real time's place (consistency.py's PROCESS_EDGES). rw-register says it holds only when
it has such an order and has replayed every read in it, so a key it says holds is sequentially
consistent, whatever its pruning (writes that follow reads, the elimination of the orders that
would close a cycle) did.

Only that direction is taken: `holds` is True when every key's order was found. When a key's is
not (an anomaly, or undecided: a duplicate value, an indeterminate cas, a history past the
elimination's bounds), the caller searches as before, and that search alone says broken: its
window is what a report shows.

Its process order is checker.py's: an `info` operation precedes nothing (in_process_order: no edge
out of one whose outcome is unknown) and took effect only when a read saw its write (rw-register:
otherwise it is left out, which sequential consistency allows: it may never have taken effect).
A pending cas is left to the search: rw-register does not hold a transaction whose outcome is
unknown to what it read.

Keys one by one, as the search does: sequential consistency of each key, weaker than of the map
as a whole (sequential consistency is not local: Herlihy and Wing, TOPLAS 12(3), 1990, section
3.4).
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Sequence

from meshcheck.traces.history import rw_register
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.rw_history import Mop
from meshcheck.traces.history.rw_history import Txn

# the model rw-register checks: a serial order that keeps each process's order
MODEL = "strong-session-serializable"
# the models whose operations are a register's reads, writes and cas (a subclass may mean other
# things by them: rsm's reads are queries)
REGISTERS = (Model, CasRegister, KeyValue)


def holds(history: Sequence[Op], model: Model) -> bool:
    """Whether every key's operations have an order that keeps each process's order and replays
    every read, found by rw-register (see the module's docstring); False when any key's was not
    found (not that none exists)."""
    if type(model) not in REGISTERS:
        return False
    for _, ops in model.partition(history):
        txns = transactions(ops)
        if txns is None or not any(t.status == "ok" for t in txns):
            if txns is None:
                return False
            continue
        if rw_register.check(txns, MODEL).holds is not True:
            return False
    return True


def transactions(ops: Sequence[Op]) -> list[Txn] | None:
    """The operations of one key as transactions of one micro-operation (an ok cas: a read and a
    write), in the order given; None when one cannot be said so (a cas not ok and not failed, a
    write of null, which rw-register reads as the initial state, an operation of no process)."""
    out: list[Txn] = []
    for i, o in enumerate(ops):
        if o.process is None:  # rw-register orders no operation of no process
            return None
        k: Hashable = "k"  # one key
        mops: tuple[Mop, ...]
        if o.f == "write" and o.input is not None:
            mops = (("w", k, o.input),)
        elif o.f == "read":
            mops = (("r", k, o.output if o.status == "ok" else None),)
        elif o.f == "cas" and o.status == "fail":
            mops = ()
        elif o.f == "cas" and o.status == "ok" and isinstance(o.input, tuple) and len(o.input) == 2:
            mops = (("r", k, o.input[0]), ("w", k, o.input[1]))
        else:
            return None
        out.append(Txn(i, o.process, mops, o.call, o.ret, o.status))
    return out

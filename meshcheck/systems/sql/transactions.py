"""One operation of a workload as one SQL transaction, run on a DB-API connection (PEP 249) in
autocommit mode, so that the transaction's BEGIN and COMMIT are statements this module sends
itself: whatever happens before COMMIT is sent, the database did not commit the transaction (a
transaction left open is rolled back when its connection goes).

`Guard` is what the client and the thread that runs the transaction agree on: once the client
gives up (its deadline passed) no COMMIT is sent; once COMMIT is sent, giving up leaves the
outcome unknown."""

from __future__ import annotations

import threading
from typing import Any
from typing import Protocol

from meshcheck.systems.plugin import Invocation
from meshcheck.systems.sql.statements import APPEND
from meshcheck.systems.sql.statements import REGISTERS
from meshcheck.systems.sql.statements import RW
from meshcheck.systems.sql.statements import Dialect


class Cursor(Protocol):
    rowcount: int

    def execute(self, query: Any, params: Any = ...) -> Any: ...

    def fetchone(self) -> Any: ...


class Guard:
    """Whether COMMIT went out, decided once under a lock: by the thread about to send it
    (`commit`), or by the client giving up first (`abandon`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.abandoned = False
        self.committing = False

    def commit(self) -> bool:
        """Whether COMMIT may be sent now (not once the client has given up)."""
        with self._lock:
            if self.abandoned:
                return False
            self.committing = True
            return True

    def abandon(self) -> bool:
        """Give up; whether COMMIT had been sent already."""
        with self._lock:
            self.abandoned = True
            return self.committing


class Abandoned(Exception):
    """The client gave up before COMMIT: the transaction was never committed."""


class Refused(Exception):
    """A cas whose compare failed: the transaction was rolled back, nothing written."""


def _read_list(v: Any) -> list[int]:
    return [int(x) for x in str(v).split(",")] if v not in (None, "") else []


def run(
    cur: Cursor, dialect: Dialect, isolation: str, op: Invocation, guard: Guard, workload: str
) -> Any:
    """Run `op` (of `workload`) as one transaction; its output (what it read). Raises the driver's error, or
    `Refused` (a cas that changed nothing), or `Abandoned`; a transaction not committed is rolled
    back (by ROLLBACK, or by the connection's end)."""
    for statement in dialect.begins(isolation):
        cur.execute(statement)
    try:
        output = _body(cur, dialect, op, workload)
    except Refused:
        cur.execute("ROLLBACK")
        raise
    if not guard.commit():
        raise Abandoned()
    cur.execute("COMMIT")
    return output


def _body(cur: Cursor, dialect: Dialect, op: Invocation, workload: str) -> Any:
    if op.f == "txn" and workload == "rw-register":
        return _registers_txn(cur, dialect, op.value)
    if op.f == "txn":
        return _appends(cur, dialect, op.value)
    write, read = dialect.table(REGISTERS)
    if op.f == "read":
        cur.execute(read, (op.key,))
        row = cur.fetchone()
        return None if row is None else row[0]
    if op.f == "write":
        cur.execute(write, (op.key, op.value, op.value))
        return None
    if op.f == "cas":
        old, new = op.value
        cur.execute(dialect.cas(REGISTERS), (new, op.key, old))
        if cur.rowcount != 1:
            raise Refused()
        return None
    raise ValueError(f"the SQL client does not run {op.f!r}")


def _appends(cur: Cursor, dialect: Dialect, mops: list[list[Any]]) -> list[list[Any]]:
    done: list[list[Any]] = []
    _, read = dialect.table(APPEND)
    for f, k, v in mops:
        if f == "r":
            cur.execute(read, (k,))
            row = cur.fetchone()
            done.append(["r", k, _read_list(None if row is None else row[0])])
        else:
            cur.execute(dialect.append, (k, str(v), str(v)))
            done.append(["append", k, v])
    return done


def _registers_txn(cur: Cursor, dialect: Dialect, mops: list[list[Any]]) -> list[list[Any]]:
    """rw-register's micro-operations: reads (null: never written) and writes."""
    write, read = dialect.table(RW)
    done: list[list[Any]] = []
    for f, k, v in mops:
        if f == "r":
            cur.execute(read, (k,))
            row = cur.fetchone()
            done.append(["r", k, None if row is None else int(row[0])])
        else:
            cur.execute(write, (k, v, v))
            done.append(["w", k, v])
    return done

"""A client of a SQL database for meshcheck's transactional workloads, bound to one node (Jepsen
binds clients to nodes): each operation is one transaction (transactions.py) on a blocking DB-API
driver, run on the client's own thread and awaited for at most the operation's deadline. Which
driver, and how its errors sort, is each database's (postgresql.py, mariadb.py).

Completions, by the one rule (meshcheck/systems/outcomes.py, docs/plugins.md; docs/sql.md has
the table):

- the connection could not be made (`refused`): fail;
- the connection was lost, or the deadline passed, before COMMIT was sent (`lost-before-send`):
  fail, since a transaction never committed is rolled back, and no COMMIT is sent once the client
  has given up (transactions.py `Guard`);
- the database refused the transaction (`rejected`): a serialization failure or a deadlock (SQL
  state class 40; MariaDB's 1213, which is also how Galera reports a transaction that failed
  certification), a write on a read-only standby, a node not ready, a cas whose compare found
  another value, any error before COMMIT (the transaction is then rolled back): fail;
- no answer to COMMIT in time (`timeout`), the connection lost during COMMIT
  (`lost-during-commit`), or another error answering COMMIT (`error`): info for a transaction
  that writes; a transaction of reads is fail whatever stopped it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import Protocol

from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems.outcomes import Failure
from meshcheck.systems.outcomes import outcome
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.sql import transactions
from meshcheck.systems.sql.statements import ISOLATION
from meshcheck.systems.sql.statements import Dialect

WORKLOADS = ("list-append", "rw-register", "registers", "cas")


class Driver(Protocol):
    """One database's driver: how to connect (a DB-API connection in autocommit mode, the
    tables made), and how its errors sort."""

    dialect: Dialect

    def connect(self, endpoint: Endpoint, options: Mapping[str, Any], timeout: float) -> Any: ...

    def error(self, e: BaseException) -> bool:
        """Whether `e` is the driver's own error (anything else is a bug: raised on)."""
        ...

    def lost(self, e: BaseException) -> bool:
        """Whether `e` says the connection is gone."""
        ...

    def rejected(self, e: BaseException) -> bool:
        """Whether `e` says the database did not do the transaction (serialization failure,
        deadlock, read-only, not ready)."""
        ...

    def abort(self, conn: Any) -> None:
        """End `conn` from another thread than the one using it."""
        ...


def writes(op: Invocation) -> bool:
    if op.f == "read":
        return False
    if op.f == "txn":
        return any(m[0] != "r" for m in op.value)
    return True


class SqlClient:
    def __init__(self, driver: Driver, settings: ClientSettings) -> None:
        isolation = str(settings.options.get("isolation", "serializable"))
        if isolation not in ISOLATION:
            raise ConfigError(
                f"[client] isolation {isolation!r}: the SQL client knows {', '.join(ISOLATION)}"
            )
        self._driver = driver
        self._isolation = isolation
        self._options = settings.options
        self._workload = settings.workload
        self._endpoint: Endpoint | None = None
        self._conn: Any = None
        self._pool: ThreadPoolExecutor | None = None

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        """A connection to `endpoint` (OSError or TimeoutError when none is had in time; the
        next invocation tries again)."""
        await self.close()
        self._endpoint = endpoint
        if not await self._connect(timeout):
            raise TimeoutError(f"no connection to {endpoint.node}")

    async def close(self) -> None:
        self._drop()
        self._endpoint = None

    def _drop(self) -> None:
        """Forget the connection; end it on a thread of its own (its thread may be blocked)."""
        conn, self._conn = self._conn, None
        pool, self._pool = self._pool, None
        if conn is not None:
            threading.Thread(target=self._driver.abort, args=(conn,), daemon=True).start()
        if pool is not None:
            pool.shutdown(wait=False)

    async def _connect(self, timeout: float) -> bool:
        assert self._endpoint is not None
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"sql-{self._driver.dialect.name}")
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(
            pool, self._driver.connect, self._endpoint, self._options, timeout
        )
        try:
            conn = await asyncio.wait_for(call, timeout)
        except (TimeoutError, OSError) as e:
            pool.shutdown(wait=False)
            if isinstance(e, TimeoutError):
                call.add_done_callback(self._late)
            return False
        except Exception as e:
            pool.shutdown(wait=False)
            if not self._driver.error(e):
                raise
            return False
        self._conn, self._pool = conn, pool
        return True

    def _late(self, call: asyncio.Future[Any]) -> None:
        """A connection made after its deadline: ended."""
        if not call.cancelled() and call.exception() is None:
            self._driver.abort(call.result())

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        changes = writes(op)
        if self._endpoint is None:  # never opened, or closed: nothing was sent
            return Completion(outcome("lost-before-send", writes=changes))
        loop = asyncio.get_running_loop()
        start = loop.time()
        if self._conn is None and not await self._connect(timeout):
            return Completion(outcome("refused", writes=changes))
        assert self._pool is not None
        guard = transactions.Guard()
        conn, pool = self._conn, self._pool
        call = loop.run_in_executor(pool, self._run, conn, op, guard)
        try:
            left = max(0.0, timeout - (loop.time() - start))
            output = await asyncio.wait_for(call, left)
        except TimeoutError:
            sent = guard.abandon()
            self._drop()
            return Completion(outcome("timeout" if sent else "lost-before-send", writes=changes))
        except transactions.Refused:
            return Completion(outcome("rejected", writes=changes))
        except Exception as e:
            if not self._driver.error(e):
                raise
            return Completion(outcome(self._failure(e, guard, conn), writes=changes))
        return Completion("ok", output)

    def _run(self, conn: Any, op: Invocation, guard: transactions.Guard) -> Any:
        cur = conn.cursor()
        return transactions.run(
            cur, self._driver.dialect, self._isolation, op, guard, self._workload
        )

    def _failure(self, e: BaseException, guard: transactions.Guard, conn: Any) -> Failure:
        """The class of the error `e` a transaction ended with; the connection dropped when it
        is gone, else its transaction rolled back."""
        if self._driver.lost(e):
            self._drop()
            return "lost-during-commit" if guard.committing else "lost-before-send"
        if self._pool is not None:
            self._pool.submit(self._rollback, conn)
        if self._driver.rejected(e):
            return "rejected"
        return "error" if guard.committing else "rejected"

    def _rollback(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.cursor().execute("ROLLBACK")

"""MariaDB's (and Galera's) driver for the SQL client: PyMySQL (pymysql.readthedocs.io), pure
Python, maintained under the PyMySQL organisation, with no C library to build against the server's
headers (mysqlclient and MariaDB Connector/Python both need one). Its errors carry MariaDB's error
number (mariadb.com/kb/en/mariadb-error-codes/), which sorts them:

- 1213 (ER_LOCK_DEADLOCK: a deadlock, and how Galera reports a transaction that failed
  certification or was aborted by a replicated one), 1205 (lock wait timeout), 1020 (record
  changed since last read), 1047 (WSREP has not yet prepared node for application use: a node out
  of the primary component), 1290 and 1792 (read-only): the transaction was refused;
- 2006 (server has gone away), 2013 (lost connection during query), 2014, 2055, and PyMySQL's
  InterfaceError (the connection already closed): the connection is gone."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import SystemPlugin
from meshcheck.systems.sql.client import WORKLOADS
from meshcheck.systems.sql.client import SqlClient
from meshcheck.systems.sql.statements import MARIADB as DIALECT

REFUSED = frozenset({1213, 1205, 1020, 1047, 1290, 1792})
GONE = frozenset({2006, 2013, 2014, 2055})


def _number(e: BaseException) -> int | None:
    args = getattr(e, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class PyMySQL:
    dialect = DIALECT

    def connect(self, endpoint: Endpoint, options: Mapping[str, Any], timeout: float) -> Any:
        import pymysql

        conn = pymysql.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=str(options.get("user", "root")),
            password=str(options.get("password", "")),
            connect_timeout=max(1.0, timeout),
            autocommit=True,
        )
        try:
            database = str(options.get("database", "meshcheck"))
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
                cur.execute(f"USE `{database}`")
                for statement in DIALECT.tables:
                    cur.execute(statement)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        return conn

    def error(self, e: BaseException) -> bool:
        import pymysql

        return isinstance(e, pymysql.err.MySQLError)

    def lost(self, e: BaseException) -> bool:
        import pymysql

        return isinstance(e, pymysql.err.InterfaceError) or (
            isinstance(e, pymysql.err.OperationalError) and _number(e) in GONE
        )

    def rejected(self, e: BaseException) -> bool:
        return _number(e) in REFUSED

    def abort(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.close()


def _client(settings: ClientSettings) -> SqlClient:
    return SqlClient(PyMySQL(), settings)


MARIADB = SystemPlugin("mariadb", client=_client, workloads=WORKLOADS)

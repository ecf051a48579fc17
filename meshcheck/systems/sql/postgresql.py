"""PostgreSQL's driver for the SQL client: psycopg 3 (psycopg.org/psycopg3/docs/), the
PostgreSQL project's own maintained adapter, on libpq (Debian's libpq5, installed beside the
server). Its errors carry the SQLSTATE (PostgreSQL's "Appendix A. Error Codes"), which sorts them:

- class 40 (40001 serialization_failure, 40P01 deadlock_detected) and 25006
  (read_only_sql_transaction: a write on a standby): the transaction was refused;
- no SQLSTATE (libpq's own "server closed the connection unexpectedly"), class 08
  (connection_exception) or 57P01-57P03 (the server shutting down): the connection is gone."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import SystemPlugin
from meshcheck.systems.sql.client import WORKLOADS
from meshcheck.systems.sql.client import SqlClient
from meshcheck.systems.sql.statements import POSTGRESQL as DIALECT

REFUSED = ("40", "25006")
GONE = ("08", "57P01", "57P02", "57P03")


class Psycopg:
    dialect = DIALECT

    def connect(self, endpoint: Endpoint, options: Mapping[str, Any], timeout: float) -> Any:
        import psycopg

        conn = psycopg.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=str(options.get("user", "meshcheck")),
            dbname=str(options.get("database", "postgres")),
            connect_timeout=max(1, math.ceil(timeout)),
            autocommit=True,
        )
        try:
            for statement in DIALECT.tables:
                # two clients creating a table at once: one of them gets a unique violation on
                # the catalog, and the table is there; a standby makes none (read-only): the
                # primary's reach it by replication
                with contextlib.suppress(
                    psycopg.errors.UniqueViolation, psycopg.errors.ReadOnlySqlTransaction
                ):
                    conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def error(self, e: BaseException) -> bool:
        import psycopg

        return isinstance(e, psycopg.Error)

    def lost(self, e: BaseException) -> bool:
        import psycopg

        state = getattr(e, "sqlstate", None)
        return isinstance(e, psycopg.OperationalError) and (state is None or state.startswith(GONE))

    def rejected(self, e: BaseException) -> bool:
        state = getattr(e, "sqlstate", None)
        return state is not None and state.startswith(REFUSED)

    def abort(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.cancel_safe(timeout=1.0)
        with contextlib.suppress(Exception):
            conn.close()


def _client(settings: ClientSettings) -> SqlClient:
    return SqlClient(Psycopg(), settings)


POSTGRESQL = SystemPlugin("postgresql", client=_client, workloads=WORKLOADS)

"""The SQL each workload runs, per dialect. Every table is a row per key (Jepsen's SQL append test,
jepsen-io/jepsen's galera and stolon tests: `append` is an upsert that concatenates to a text
column, a read reads the whole value); the isolation level is set for each transaction.

- list-append: `meshcheck_append (k, v text)`, v the appended values joined by commas;
- rw-register: `meshcheck_rw (k, v bigint)`, each write a value unique per key;
- registers and cas: `meshcheck_registers (k, v text)`; a cas is an UPDATE guarded by the old
  value, which took effect when it changed one row."""

from __future__ import annotations

import attrs

# the isolation levels a workload may ask for (the `[client]` option `isolation`), as SQL says them
ISOLATION = {
    "serializable": "SERIALIZABLE",
    "repeatable-read": "REPEATABLE READ",
    "read-committed": "READ COMMITTED",
    "read-uncommitted": "READ UNCOMMITTED",
}
APPEND = "meshcheck_append"
RW = "meshcheck_rw"
REGISTERS = "meshcheck_registers"


@attrs.frozen
class Dialect:
    """How one database says each statement (parameters as `%s`: psycopg's and PyMySQL's
    style)."""

    name: str
    tables: tuple[str, ...]  # CREATE TABLE IF NOT EXISTS, for each table
    begin: tuple[str, ...]  # statements that open a transaction at isolation {level}
    append: str  # (k, v, v)
    write: str  # (k, v, v): an upsert
    read: str  # (k,) -> v

    def begins(self, isolation: str) -> tuple[str, ...]:
        return tuple(s.format(level=ISOLATION[isolation]) for s in self.begin)

    def table(self, stem: str) -> tuple[str, str]:
        """`append`, `write` and `read` for the table `stem` (their `{t}`)."""
        return self.write.format(t=stem), self.read.format(t=stem)

    def cas(self, stem: str) -> str:
        return f"UPDATE {stem} SET v = %s WHERE k = %s AND v = %s"


POSTGRESQL = Dialect(
    "postgresql",
    tables=(
        f"CREATE TABLE IF NOT EXISTS {APPEND} (k varchar(64) PRIMARY KEY, v text NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {RW} (k varchar(64) PRIMARY KEY, v bigint)",
        f"CREATE TABLE IF NOT EXISTS {REGISTERS} (k varchar(64) PRIMARY KEY, v text)",
    ),
    begin=("BEGIN ISOLATION LEVEL {level}",),
    append=(
        f"INSERT INTO {APPEND} AS t (k, v) VALUES (%s, %s) "
        "ON CONFLICT (k) DO UPDATE SET v = t.v || ',' || %s"
    ),
    write="INSERT INTO {t} AS t (k, v) VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = %s",
    read="SELECT v FROM {t} WHERE k = %s",
)

MARIADB = Dialect(
    "mariadb",
    tables=(
        f"CREATE TABLE IF NOT EXISTS {APPEND} (k varchar(64) PRIMARY KEY, v text NOT NULL)"
        " ENGINE=InnoDB",
        f"CREATE TABLE IF NOT EXISTS {RW} (k varchar(64) PRIMARY KEY, v bigint) ENGINE=InnoDB",
        f"CREATE TABLE IF NOT EXISTS {REGISTERS} (k varchar(64) PRIMARY KEY, v text) ENGINE=InnoDB",
    ),
    begin=("SET TRANSACTION ISOLATION LEVEL {level}", "START TRANSACTION"),
    append=(
        f"INSERT INTO {APPEND} (k, v) VALUES (%s, %s) "
        "ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', %s)"
    ),
    write="INSERT INTO {t} (k, v) VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = %s",
    read="SELECT v FROM {t} WHERE k = %s",
)

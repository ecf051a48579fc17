"""meshcheck's `rw-register` workload (traces/history/rw_register.py checks it, as Elle's
rw-register): each client runs transactions of one to four micro-operations on a few registers,
reads (`["r", k, null]`) and writes of values unique per key (`["w", k, v]`). Unique values let a
read name its writer; what committed transactions read and wrote must fit one serial order (in
real time, for strict serializability). How a system runs a transaction is its plug-in's (the SQL
client: one transaction, meshcheck/systems/sql/transactions.py)."""

from __future__ import annotations

from meshcheck.systems.append_workload import AppendClients

PREFIX = "rw/"


class RwClients(AppendClients):
    """list-append's transactions, with writes (`["w", k, v]`) in place of appends."""

    prefix = PREFIX
    write = "w"

"""The list-append workload's transactions on etcd (Jepsen's etcd 3.4.3 analysis ran the same,
jepsen.io/analyses/etcd-3.4.3): each list is a key whose value is the JSON list of what was
appended to it. A transaction is a read-then-txn:

1. every key it touches is read in one transaction of ranges (one snapshot: a revision of the
   whole store), serializable when the run's reads are;
2. a transaction of puts writes every list it appends to, guarded by a compare per key touched
   (read or appended) that its mod_revision is still the one read (0: still absent);
3. a compare that fails means another transaction came between: read again and retry, up to
   `RETRIES` times; then the transaction `fail`s (nothing of it was written).

A transaction that only reads is step 1 alone. What the reads return is the snapshot, with the
transaction's own earlier appends applied, so what a transaction reads and writes is one point in
etcd's history: strict serializability is owed, and checked (traces/history/list_append.py)."""

from __future__ import annotations

import json
from typing import Any

from meshcheck.systems.etcd.gateway import Gateway
from meshcheck.systems.etcd.gateway import b64
from meshcheck.systems.etcd.gateway import unb64

RETRIES = 5
Mop = list[Any]  # ["append", key, value] or ["r", key, list or None]


async def snapshot(
    g: Gateway, keys: list[str], timeout: float, serializable: bool
) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """Each key's list and mod_revision (0: absent), read in one transaction."""
    ranges: list[dict[str, Any]] = []
    for k in keys:
        body: dict[str, Any] = {"key": b64(k)}
        if serializable:
            body["serializable"] = True
        ranges.append({"request_range": body})
    answer = await g.txn([], ranges, timeout=timeout)
    lists: dict[str, list[Any]] = {}
    revs: dict[str, int] = {}
    for k, r in zip(keys, answer.get("responses", []), strict=True):
        kvs = r.get("response_range", {}).get("kvs") or []
        lists[k] = json.loads(unb64(kvs[0].get("value", ""))) if kvs else []
        revs[k] = int(kvs[0].get("mod_revision", 0)) if kvs else 0
    return lists, revs


async def transact(
    g: Gateway, mops: list[Mop], timeout: float, serializable: bool, guarded: bool = True
) -> tuple[bool, list[Mop]]:
    """Run the transaction; (whether it committed, the micro-operations with what was read).
    Unless `guarded`, the puts go without their compares (a mutant: lost updates)."""
    keys = sorted({str(m[1]) for m in mops})
    writes = any(m[0] == "append" for m in mops)
    for _ in range(RETRIES if writes else 1):
        lists, revs = await snapshot(g, keys, timeout, serializable and not writes)
        done: list[Mop] = []
        for f, k, v in mops:
            if f == "r":
                done.append(["r", k, list(lists[k])])
            else:
                lists[k] = [*lists[k], v]
                done.append(["append", k, v])
        if not writes:
            return True, done
        compare = [
            {"key": b64(k), "target": "MOD", "result": "EQUAL", "mod_revision": str(revs[k])}
            for k in keys
        ]
        puts = [
            {"request_put": {"key": b64(k), "value": b64(json.dumps(lists[k]))}}
            for k in sorted({str(m[1]) for m in mops if m[0] == "append"})
        ]
        answer = await g.txn(compare if guarded else [], puts, timeout=timeout)
        if answer.get("succeeded", False):
            return True, done
    return False, mops

"""How fast the list-append checker (traces/history/list_append.py) decides a 100,000-transaction
history, beside the linearizability checker on a key-value history of 100,000 operations.

Workload (`generate`): P processes run transactions of 1 to 4 micro-operations (append or read,
half each) on a pool of 8 active keys; a key is retired after 64 appends and a fresh one takes
its place (as Elle's list-append workload rotates keys, so reads stay short). Each transaction is
invoked, takes effect at a later event and completes at a later one still, the processes' events
interleaved at random, so up to P transactions overlap; 1% fail (no effect), 0.5% are left
pending (info: taking effect or not, by a coin). The history is strict serializable by
construction: the checker must find nothing.

Rows:
- list-append, 100,000 transactions, 10 processes: check for strict serializability (every
  edge: ww, wr, rw, rt); baseline: the same history checked for serializability (no rt edges);
- the same history with one read in the middle made stale (`make_stale`): the check, with the
  components and the shortest cycles explained; baseline: the check of the valid original;
- the whole command on the same history written as JSON lines: `meshcheck history check --model
  list-append FILE` run as a user runs it (a subprocess: the interpreter's start, reading and
  parsing the file, pairing its events, the check, the count of what was lost, which a second
  core counts beside the check (traces/history/alongside.py), the report); baseline: the check
  alone, as in the first row (the target: the whole command within 1.5x of the check, a ratio
  of 0.67 or more);
- the same command's throughput, transactions a second; baseline: Elle's published figure,
  "100-160,000 transactions/sec is readily attainable on modern hardware" (its README,
  https://github.com/jepsen-io/elle, on histories of millions of transactions, on the JVM and in
  parallel), its lower end;
- kv (models.KeyValue), 100,000 operations on 1,000 keys, 10 processes: the linearizability
  checker (traces/history/checker.py, split by key); baseline: the kv row of 10,000 operations on
  100 keys of bench_history.py, scaled by 10 (linear growth would give a ratio of 1).

The graph library (rustworkx) was chosen on this workload: traces/history/cycles.py.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.bench_history import generate as generate_kv
from bench.common import Row
from bench.interleaving import Interleaving
from meshcheck.traces.history import checker
from meshcheck.traces.history import list_append
from meshcheck.traces.history import txn
from meshcheck.traces.history.list_append import Txn
from meshcheck.traces.history.models import KeyValue

GROUP = "History"
N = 100_000
KV = KeyValue()
# Elle's README: "100-160,000 transactions/sec is readily attainable on modern hardware"
ELLE = 100_000
# the whole command (the file read included) within this many times the check
WHOLE_TARGET = 1.5


def generate(
    n: int,
    processes: int,
    seed: int,
    *,
    active: int = 8,
    per_key: int = 64,
    fail: float = 0.01,
    pending: float = 0.005,
) -> list[Txn]:
    """A strict serializable list-append history of n transactions (see the module's docstring)."""
    rng = random.Random(seed)
    lists: dict[int, list[int]] = {}
    appends: dict[int, int] = {}
    pool = list(range(active))
    fresh = active
    counter = 0
    clients: Interleaving[tuple[float, list[list[object]], bool]]
    clients = Interleaving(n, processes, rng)
    running = clients.running
    done: list[tuple[float, float, int, tuple[list_append.Mop, ...], str]] = []
    for p, starting in clients.turns():
        now = clients.now
        if starting:
            mops: list[list[object]] = []
            for _ in range(rng.randint(1, 4)):
                k = rng.choice(pool)
                if rng.random() < 0.5:
                    counter += 1
                    mops.append(["append", k, counter])
                    appends[k] = appends.get(k, 0) + 1
                    if appends[k] >= per_key and k in pool:
                        pool[pool.index(k)] = fresh
                        fresh += 1
                else:
                    mops.append(["r", k, None])
            running[p] = (now, mops, False)
            continue
        call, mops, applied = running[p]
        outcome = "ok"
        if not applied:
            roll = rng.random()
            if roll < fail:
                outcome = "fail"
            elif roll < fail + pending:
                outcome = "info"
            if outcome == "ok" or (outcome == "info" and rng.random() < 0.5):
                for m in mops:
                    lst = lists.setdefault(int(str(m[1])), [])
                    if m[0] == "append":
                        lst.append(int(str(m[2])))
                    else:
                        m[2] = list(lst)
            if outcome == "ok":
                running[p] = (call, mops, True)
                continue
        del running[p]
        ret = math.inf if outcome == "info" else float(now)
        frozen = tuple(
            (str(m[0]), m[1], tuple(m[2]) if isinstance(m[2], list) else m[2]) for m in mops
        )
        if outcome != "ok":
            frozen = tuple((f, k, None if f == "r" else v) for f, k, v in frozen)
        done.append((float(call), ret, p, frozen, outcome))
        if outcome == "info":
            clients.renew(p)
    done.sort(key=lambda d: d[0])
    return [Txn(i, p, m, c, r, s) for i, (c, r, p, m, s) in enumerate(done)]


def to_jsonl(txns: Sequence[txn.Txn], path: Path) -> None:
    """The history as JSON lines (invocations and completions in time order, as a file holds): a
    list-append history, or rw-register's (bench_rw_register.py)."""
    events: list[tuple[float, dict[str, object]]] = []
    for t in txns:
        invoked = [[f, k, None if f == "r" else v] for f, k, v in t.mops]
        events.append(
            (t.call, {"process": t.process, "type": "invoke", "f": "txn", "value": invoked})
        )
        if t.ret != math.inf:
            value = [[f, k, list(v) if isinstance(v, tuple) else v] for f, k, v in t.mops]
            events.append(
                (t.ret, {"process": t.process, "type": t.status, "f": "txn", "value": value})
            )
    events.sort(key=lambda e: e[0])
    path.write_text("".join(json.dumps(e) + "\n" for _, e in events), encoding="utf-8")


def make_stale(txns: Sequence[Txn], start: int) -> list[Txn]:
    """The history with the first committed read of more than 5 values from `start` on missing
    its last 3: a stale read, an rw edge back in time, so a cycle (G-single or worse)."""
    out = list(txns)
    for i in range(start, len(txns)):
        t = txns[i]
        long = [m for m in t.mops if m[0] == "r" and isinstance(m[2], tuple) and len(m[2]) > 5]
        if t.status == "ok" and long:
            mops = tuple(
                (f, k, v[:-3]) if (f, k, v) == long[0] and isinstance(v, tuple) else (f, k, v)
                for f, k, v in t.mops
            )
            out[i] = Txn(t.index, t.process, mops, t.call, t.ret, t.status)
            return out
    raise AssertionError("no read to make stale")


def _timed(txns: Sequence[Txn], consistency: str) -> tuple[float, list_append.Report]:
    start = time.perf_counter()
    report = list_append.check(txns, consistency)
    return time.perf_counter() - start, report


def command(path: Path) -> float:
    """Seconds `meshcheck history check --model list-append FILE` takes as a command (a new
    interpreter); it must find the history strict serializable (exit 0)."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "meshcheck",
            "history",
            "check",
            "--model",
            "list-append",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    assert done.returncode == 0 and "no anomaly found" in done.stdout, (done.stdout, done.stderr)
    return seconds


def whole_rows(n: int, runs: int, whole: float, check: float) -> list[Row]:
    """The rows of the whole command on a history of n transactions: its median seconds `whole`
    against `check`, the check's alone, and its throughput against Elle's (the module's
    docstring)."""
    times = whole / check
    verdict = "met" if times <= WHOLE_TARGET else "not met"
    return [
        Row(
            GROUP,
            f"the same {n:,} transactions as a JSON lines file: the whole command "
            "(meshcheck history check --model list-append FILE: start, read, check)",
            whole,
            "s",
            runs,
            baseline="the check alone (the first row)",
            ratio=check / whole,
            note=f"{times:.2f}x the check alone (target: within {WHOLE_TARGET}x: {verdict})",
        ),
        Row(
            GROUP,
            f"the whole command's throughput, {n:,} transactions",
            n / whole,
            "txn/s",
            runs,
            baseline=f"Elle's published {ELLE // 1000}-160k txn/s (github.com/jepsen-io/elle)",
            ratio=n / whole / ELLE,
        ),
    ]


def bench(runs: int) -> list[Row]:
    txns = generate(N, 10, seed=1)
    strict, serial, whole = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        to_jsonl(txns, path)
        for _ in range(runs):  # the whole command in turn with the check, as the load varies
            t, report = _timed(txns, "strict-serializable")
            assert report.holds, report.anomalies
            strict.append(t)
            serial.append(_timed(txns, "serializable")[0])
            whole.append(command(path))
    rows = [
        Row(
            GROUP,
            f"list-append, {N:,} transactions, 10 processes: strict serializable "
            f"({report.edges:,} edges)",
            statistics.median(strict),
            "s",
            runs,
            baseline="the same checked for serializability (no rt edges)",
            ratio=statistics.median(serial) / statistics.median(strict),
        )
    ]
    rows.extend(whole_rows(N, runs, statistics.median(whole), statistics.median(strict)))
    stale = make_stale(txns, N // 2)
    broken, kinds = [], set()
    for _ in range(runs):
        t, report = _timed(stale, "strict-serializable")
        broken.append(t)
        kinds.add(", ".join(report.anomalies))
    rows.append(
        Row(
            GROUP,
            f"the same with one read made stale at transaction {N // 2:,}: check and the "
            f"shortest cycles ({'/'.join(sorted(kinds))})",
            statistics.median(broken),
            "s",
            runs,
            baseline="the check of the valid original",
            ratio=statistics.median(strict) / statistics.median(broken),
        )
    )
    ops = generate_kv(N, 10, 1_000, seed=N)
    small = generate_kv(10_000, 10, 100, seed=10_100)
    big, small_t, verdicts = [], [], set()
    for _ in range(runs):
        start = time.perf_counter()
        result = checker.check(ops, KV, 600.0)
        big.append(time.perf_counter() - start)
        verdicts.add(result.verdict)
        start = time.perf_counter()
        checker.check(small, KV, 600.0)
        small_t.append(time.perf_counter() - start)
    rows.append(
        Row(
            GROUP,
            f"kv, {N:,} ops on 1,000 keys, 10 processes: check ({'/'.join(sorted(verdicts))})",
            statistics.median(big),
            "s",
            runs,
            baseline="10 x the check of 10,000 ops on 100 keys",
            ratio=10 * statistics.median(small_t) / statistics.median(big),
        )
    )
    return rows

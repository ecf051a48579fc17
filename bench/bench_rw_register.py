"""How fast the rw-register checker (traces/history/rw_register.py) decides a 100,000-transaction
history on 2,000 keys, and whether it finds one stale read in it.

Workload (`generate`): P processes run transactions of 1 to 4 micro-operations (a write of a fresh
value or a read, half each) on 2,000 keys drawn at random. Each transaction is invoked, takes
effect at a later event (its reads answered, its writes installed) and completes at a later one
still, the processes' events interleaved at random (bench/interleaving.py), so up to P overlap;
1% fail (no effect), 0.5% are left pending (info: taking effect or not, by a coin). The history
is strict serializable by construction.

Rows:
- rw-register, 100,000 transactions on 2,000 keys, 20 processes: the check for strict
  serializability; baseline: list-append's check of its 100,000 transactions
  (bench_list_append.py's first row), measured here too;
- the same history with one read in the middle made stale (`make_stale`: it answers the value
  its key held before a write that completed before the read was invoked), checked for strict
  serializability with `--linearizable-keys` (Elle's option that lets it find such a read:
  rw_keys.py): the anomaly found; without the option the elimination does not run on a history
  this large (rw_history.ELIMINATED) and the verdict is undecided;
- the whole command on the valid history as JSON lines, beside list-append's whole command on
  its 100,000 transactions (bench_list_append.py's `command`, measured here too), and its
  throughput against Elle's published rate (bench_list_append.py's ELLE).
"""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.bench_list_append import ELLE
from bench.bench_list_append import command as la_command
from bench.bench_list_append import generate as generate_la
from bench.bench_list_append import to_jsonl
from bench.common import Row
from bench.interleaving import Interleaving
from meshcheck.traces.history import list_append
from meshcheck.traces.history import rw_keys
from meshcheck.traces.history import rw_register
from meshcheck.traces.history.rw_history import Txn

GROUP = "History"
N = 100_000
KEYS = 2_000
# runs at most: each takes minutes (a check of the valid history, one of the stale, the command)
RUNS = 2


def generate(
    n: int,
    processes: int,
    seed: int,
    *,
    keys: int = KEYS,
    fail: float = 0.01,
    pending: float = 0.005,
) -> list[Txn]:
    """A strict serializable rw-register history of n transactions (the module's docstring)."""
    rng = random.Random(seed)
    state: dict[int, int] = {}
    counter = 0
    clients: Interleaving[tuple[float, list[list[object]], bool]]
    clients = Interleaving(n, processes, rng)
    running = clients.running
    done: list[tuple[float, float, int, tuple[rw_register.Mop, ...], str]] = []
    for p, starting in clients.turns():
        now = clients.now
        if starting:
            mops: list[list[object]] = []
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(keys)
                if rng.random() < 0.5:
                    counter += 1
                    mops.append(["w", k, counter])
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
                    k = int(str(m[1]))
                    if m[0] == "w":
                        state[k] = int(str(m[2]))
                    else:
                        m[2] = state.get(k)
            if outcome == "ok":
                running[p] = (call, mops, True)
                continue
        del running[p]
        ret = math.inf if outcome == "info" else float(now)
        frozen: tuple[rw_register.Mop, ...] = tuple(
            (str(m[0]), int(str(m[1])), None if m[2] is None else int(str(m[2]))) for m in mops
        )
        if outcome != "ok":
            frozen = tuple((f, k, None if f == "r" else v) for f, k, v in frozen)
        done.append((float(call), ret, p, frozen, outcome))
        if outcome == "info":
            clients.renew(p)
    done.sort(key=lambda d: d[0])
    return [Txn(i, p, m, c, r, s) for i, (c, r, p, m, s) in enumerate(done)]


def make_stale(txns: Sequence[Txn], start: int) -> tuple[list[Txn], int]:
    """The history with the first committed read from `start` on, of a key with an earlier
    version whose overwrite completed before the read was invoked, answering that earlier
    version; and the stale transaction's index."""
    out = list(txns)
    writes: dict[int, list[tuple[float, int]]] = {}  # key -> (completion, value) of ok writes
    for t in txns:
        if t.status == "ok":
            for k, v in t.last("w").items():
                writes.setdefault(int(str(k)), []).append((t.ret, int(str(v))))
    for i in range(start, len(txns)):
        t = txns[i]
        if t.status != "ok" or any(f == "w" for f, _, _ in t.mops):
            continue
        for f, k, v in t.mops:
            done = sorted(w for w in writes.get(int(str(k)), []) if w[0] < t.call)
            if f == "r" and v is not None and len(done) > 1 and done[-2][1] != v:
                old = done[-2][1]
                mops = tuple((g, j, old if (g, j) == (f, k) else w) for g, j, w in t.mops)
                out[i] = Txn(t.index, t.process, mops, t.call, t.ret, t.status)
                return out, i
    raise AssertionError("no read to make stale")


def _timed(
    txns: Sequence[Txn], consistency: str, keys: Sequence[str] = ()
) -> tuple[float, rw_register.Report]:
    start = time.perf_counter()
    report = rw_register.check(txns, consistency, keys)
    return time.perf_counter() - start, report


def command(path: Path) -> float:
    """Seconds `meshcheck history check --model rw-register FILE` takes as a command; it must
    find the history strict serializable (exit 0)."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "meshcheck",
            "history",
            "check",
            "--model",
            "rw-register",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    assert done.returncode == 0 and "no anomaly found" in done.stdout, (done.stdout, done.stderr)
    return seconds


def bench(runs: int) -> list[Row]:
    runs = min(runs, RUNS)
    txns = generate(N, 20, seed=2)
    la = generate_la(N, 10, seed=1)
    valid, appends, whole, la_whole = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        to_jsonl(txns, path)
        la_path = Path(tmp) / "list-append.jsonl"
        to_jsonl(la, la_path)
        for _ in range(runs):
            t, report = _timed(txns, "strict-serializable")
            assert report.holds is True, rw_register.render(report, "bench")
            valid.append(t)
            start = time.perf_counter()
            list_append.check(la)
            appends.append(time.perf_counter() - start)
            whole.append(command(path))
            la_whole.append(la_command(la_path))
    rows = [
        Row(
            GROUP,
            f"rw-register, {N:,} transactions on {KEYS:,} keys, 20 processes: strict "
            f"serializable ({report.edges:,} edges)",
            statistics.median(valid),
            "s",
            runs,
            baseline="list-append's check of its 100,000 transactions (bench_list_append.py)",
            ratio=statistics.median(appends) / statistics.median(valid),
        )
    ]
    stale, at = make_stale(txns, N // 2)
    found, kinds = [], set()
    for _ in range(runs):
        t, report = _timed(stale, "strict-serializable", (rw_keys.LINEARIZABLE,))
        assert report.holds is False, rw_register.render(report, "bench")
        found.append(t)
        kinds.add(", ".join(report.anomalies))
    rows.append(
        Row(
            GROUP,
            f"the same with one read made stale at transaction {at:,}, --linearizable-keys: "
            f"found ({'/'.join(sorted(kinds))})",
            statistics.median(found),
            "s",
            runs,
            baseline="the check of the valid original",
            ratio=statistics.median(valid) / statistics.median(found),
        )
    )
    median = statistics.median(whole)
    rows.append(
        Row(
            GROUP,
            f"the rw-register whole command, {N:,} transactions on {KEYS:,} keys "
            "(meshcheck history check --model rw-register FILE)",
            median,
            "s",
            runs,
            baseline="list-append's whole command on its 100,000 transactions",
            ratio=statistics.median(la_whole) / median,
        )
    )
    rows.append(
        Row(
            GROUP,
            f"the rw-register whole command's throughput, {N:,} transactions on {KEYS:,} keys "
            "(meshcheck history check --model rw-register FILE)",
            N / median,
            "txn/s",
            runs,
            baseline=f"Elle's published {ELLE // 1000}-160k txn/s (github.com/jepsen-io/elle)",
            ratio=N / median / ELLE,
            note=f"{median:.1f} s for the command",
        )
    )
    return rows

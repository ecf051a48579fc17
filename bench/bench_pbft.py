"""The PBFT implementation under the simulator: committed requests per CPU-second, batching, and
what the signatures cost.

Four replicas (f = 1) and one client that sends a request every tick, no faults, no trace: the
protocol's own cost. "Committed" counts the requests the client accepted (f+1 matching replies).
The baseline is the same run with batch size 1, measured in the same process; batch size 10 lets
the primary order ten requests with one round of pre-prepare, prepare and commit. The crypto share
is the CPU time spent inside Ed25519 signing and verification (a timer wrapped around
`Signer.sign` and `KeyRing.verify` for the run) over the run's whole CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from bench.common import Row
from meshcheck.impl.pbft import crypto
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.sim import Workload

GROUP = "PBFT sim"
REQUESTS = 600  # one request per tick, then time for the last ones to commit


@attrs.frozen
class Measured:
    committed_per_s: float
    crypto_share: float


@contextmanager
def _crypto_timer() -> Iterator[list[float]]:
    """Adds the CPU seconds spent signing and verifying to the one-element list it yields."""
    spent = [0.0]
    sign, verify = crypto.Signer.sign, crypto.KeyRing.verify

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args)
            finally:
                spent[0] += time.process_time() - start

        return wrapper

    crypto.Signer.sign = timed(sign)  # type: ignore[method-assign]
    crypto.KeyRing.verify = timed(verify)  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        crypto.Signer.sign = sign  # type: ignore[method-assign]
        crypto.KeyRing.verify = verify  # type: ignore[method-assign]


def one_run(*, seed: int, batch_size: int, measure_crypto: bool = False) -> Measured:
    sim = pbft_cluster(
        4,
        seed=seed,
        batch_size=batch_size,
        workload=Workload(every=1, until=REQUESTS, make=lambda k: f"op{k}"),
        record=False,
        retransmit_every=None,
    )
    with _crypto_timer() as spent:
        start = time.process_time()
        sim.run(until=REQUESTS * 4)
        cpu = time.process_time() - start
    client = sim.nodes["c1"]
    committed = len(client.accepted)
    if committed < REQUESTS * 9 // 10:
        raise RuntimeError(f"only {committed} of {REQUESTS} requests committed (seed {seed})")
    return Measured(committed / cpu, spent[0] / cpu)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bench(runs: int = 5) -> list[Row]:
    single = [one_run(seed=k, batch_size=1) for k in range(runs)]
    batched = [one_run(seed=k, batch_size=10) for k in range(runs)]
    base = _median([m.committed_per_s for m in single])
    batch = _median([m.committed_per_s for m in batched])
    base_name = "committed requests/CPU-s, n=4, batch 1"
    return [
        Row(GROUP, base_name, base, "req/s", runs, note="Ed25519 on every message"),
        Row(
            GROUP,
            "committed requests/CPU-s, n=4, batch 10",
            batch,
            "req/s",
            runs,
            baseline=base_name,
            ratio=batch / base,
        ),
        Row(
            GROUP,
            "CPU share in Ed25519 sign+verify, batch 1",
            100 * _median([m.crypto_share for m in single]),
            "%",
            runs,
        ),
        Row(
            GROUP,
            "CPU share in Ed25519 sign+verify, batch 10",
            100 * _median([m.crypto_share for m in batched]),
            "%",
            runs,
        ),
    ]

"""bench/interleaving.py, the random interleaving both history benchmarks generate from: n
operations start, each process runs one at a time, and a process renewed after a pending
operation never runs again while its slot goes on as p + P."""

from __future__ import annotations

import random

from bench.interleaving import Interleaving


def test_n_operations_one_at_a_time_and_a_renewed_process_never_returns() -> None:
    clients: Interleaving[int] = Interleaving(200, 4, random.Random(5))
    starts: list[int] = []
    retired: set[int] = set()
    times = []
    for p, starting in clients.turns():
        times.append(clients.now)
        assert p not in retired
        if starting:
            assert p not in clients.running
            clients.running[p] = 0
            starts.append(p)
        elif clients.running[p] == 0:
            clients.running[p] = 1  # its linearization point
        else:
            del clients.running[p]
            if len(starts) % 3 == 0:  # left pending: the slot goes on as a new process
                clients.renew(p)
                retired.add(p)
    assert len(starts) == 200 and not clients.running
    assert times == sorted(times) and len(set(times)) == len(times)
    assert retired and {p % 4 for p in starts} == {0, 1, 2, 3}
    assert any(p >= 4 for p in starts)  # renewed processes ran operations

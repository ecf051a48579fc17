"""The free-run schedule the Raft adapter tests share (tests/adapter_example.py's core, its driver
and plug-ins): 1500 ticks under every fault the simulator injects."""

from __future__ import annotations

from typing import Any

from meshcheck.property_tests.free_runs import Schedule

# 5 % of messages dropped, 5 % duplicated, 10 % delayed; crashes and partitions at 0.3
FAULTS: dict[str, Any] = {
    "drop": 0.05,
    "duplicate": 0.05,
    "delay": 0.1,
    "crash": 0.3,
    "partition": 0.3,
}


def faulty(seed: int, **knobs: Any) -> Schedule:
    """The faulty run of `seed`, with `knobs` (a timeout, ...) set too."""
    return Schedule(seed=seed, ticks=1500, **FAULTS, **knobs)

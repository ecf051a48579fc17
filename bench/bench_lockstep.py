"""Lockstep of the Raft and PBFT implementations against their specs, and TLC on the Raft default model.

Rows, per protocol:
- lockstep steps/s: the lockstep property test (property_tests/<protocol>/lockstep.py) with no bug,
  20 derandomized examples of up to 40 steps, the successor cache emptied before each run; a step
  is one spec action taken by TLC and by the implementation, both states compared, plus the
  enabledness check. Baseline: a seeded random walk of the same model through the Stepper alone
  (successors and the chosen state converted to Python): what the TLC side costs without the
  implementation and Hypothesis. PBFT's implementation signs and verifies every message (Ed25519).
- TLC distinct states/s on specs/Raft.cfg (the model `make verify` checks), 2 workers, at most 3
  runs (each takes about a minute).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

from hypothesis import settings

from bench.common import Row
from meshcheck.property_tests.pbft import lockstep as pbft_ls
from meshcheck.property_tests.raft import lockstep as raft_ls
from meshcheck.specs.tlc.check import Outcome, check

# group name, lockstep module, what a lockstep run is
PROTOCOLS: tuple[tuple[str, ModuleType, str], ...] = (
    ("Raft lockstep", raft_ls, "3 servers"),
    ("PBFT lockstep", pbft_ls, "n = 4, r1 Byzantine"),
)
SPECS = Path(__file__).resolve().parent.parent / "specs"
SETTINGS = settings(
    max_examples=20, stateful_step_count=40, deadline=None, derandomize=True, database=None
)


def _lockstep(ls: ModuleType) -> float:
    ls.clear_successors()
    fired: Counter[str] = Counter()
    start = time.perf_counter()
    ls.lockstep(frozenset(), SETTINGS, fired=fired)
    return sum(fired.values()) / (time.perf_counter() - start)


def _walk(ls: ModuleType, steps: int = 1_000) -> float:
    stepper = ls.lockstep_stepper()
    rng = random.Random(7)
    (init,) = stepper.init_states()
    state, taken = init, 0
    start = time.perf_counter()
    while taken < steps:
        succs = stepper.successors(state)
        if not succs or rng.random() < 1 / 40:  # restart as often as a 40-step program ends
            state = init
            continue
        state = rng.choice(succs).state
        _ = state.values
        taken += 1
    return taken / (time.perf_counter() - start)


def _tlc_default() -> tuple[float, int]:
    r = check(SPECS / "Raft.tla", SPECS / "Raft.cfg", workers=2, deadlock=False)
    assert r.outcome is Outcome.HOLDS, r.message
    return r.distinct / r.seconds, r.distinct


def _protocol_rows(group: str, ls: ModuleType, what: str, runs: int) -> list[Row]:
    _lockstep(ls)  # warm: JVM, TLC parse, imports
    walk = sorted(_walk(ls) for _ in range(runs))[runs // 2]
    steps = sorted(_lockstep(ls) for _ in range(runs))[runs // 2]
    walk_name = "Stepper walk of the lockstep model, steps/s"
    return [
        Row(group, walk_name, walk, "steps/s", runs, note="TLC side only"),
        Row(
            group,
            "lockstep steps/s (TLC + implementation + Hypothesis)",
            steps,
            "steps/s",
            runs,
            baseline=walk_name,
            ratio=steps / walk,
            note=f"{what}, 20 examples x 40 steps",
        ),
    ]


def bench(runs: int = 5) -> list[Row]:
    rows = [r for group, ls, what in PROTOCOLS for r in _protocol_rows(group, ls, what, runs)]
    tlc_runs = min(runs, 3)
    tlc, distinct = sorted(_tlc_default() for _ in range(tlc_runs))[tlc_runs // 2]
    rows.append(
        Row(
            "TLC",
            "Raft default model (Raft.cfg), distinct states/s",
            tlc,
            "states/s",
            tlc_runs,
            note=f"2 workers, {distinct:,} distinct states",
        )
    )
    return rows

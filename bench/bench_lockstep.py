"""Lockstep of every protocol's implementation against its spec, and TLC on the Raft default model.

Rows, per lockstep spec (every `LockstepSpec` a protocol's harness has: Raft, PBFT, the hybrid
layer's ThreatLevel.tla and Hybrid.tla, Gossip, HotStuff honest and with a Byzantine puppet):
- lockstep steps/s: the lockstep property test (property_tests/harness.py) with no bug, 20
  derandomized examples of up to 40 steps, the successor cache emptied before each run; a step is
  one spec action taken by TLC and by the implementation, both states compared, plus the
  enabledness check. Baseline: a seeded random walk of the same model through the Stepper alone
  (successors and the chosen state converted to Python): what the TLC side costs without the
  implementation and Hypothesis. PBFT's and HotStuff's implementations sign and verify every
  message (Ed25519), remembered within the process under lockstep (impl/pbft/crypto.py
  `memoised`). Both rates are given per second of the process's CPU time too (the JVM's threads
  included), with their ratio: steadier than the wall clock on a loaded machine.
- TLC distinct states/s on specs/Raft.cfg (the model `make verify` checks), 2 workers, at most 3
  runs (each takes about a minute).

`python -m bench --only lockstep` runs them all; `BENCH_LOCKSTEP=raft,pbft` (group names' first
words, lower case) keeps some lockstep rows and skips the TLC row.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

from hypothesis import settings

from bench.common import Row
from meshcheck.property_tests import harness
from meshcheck.property_tests.gossip.lockstep import GOSSIP
from meshcheck.property_tests.hotstuff.lockstep import HOTSTUFF
from meshcheck.property_tests.hotstuff.lockstep import HOTSTUFF_BYZANTINE
from meshcheck.property_tests.hybrid.lockstep import HYBRID
from meshcheck.property_tests.hybrid.lockstep import THREAT
from meshcheck.property_tests.pbft.lockstep import PBFT
from meshcheck.property_tests.raft.lockstep import RAFT
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import check

# group name, lockstep spec, what a lockstep run is
PROTOCOLS: tuple[tuple[str, harness.LockstepSpec, str], ...] = (
    ("Raft lockstep", RAFT, "3 servers"),
    ("PBFT lockstep", PBFT, "n = 4, r1 Byzantine"),
    ("ThreatLevel lockstep", THREAT, "3 reporters, n1 Byzantine"),
    ("Hybrid lockstep", HYBRID, "4 nodes, n1 Byzantine"),
    ("Gossip lockstep", GOSSIP, "3 nodes, 2 keys"),
    ("HotStuff lockstep", HOTSTUFF, "n = 4, all honest"),
    ("HotStuff-Byzantine lockstep", HOTSTUFF_BYZANTINE, "n = 4, r1 a Byzantine puppet"),
)
SPECS = Path(__file__).resolve().parent.parent / "specs"
SETTINGS = settings(
    max_examples=20, stateful_step_count=40, deadline=None, derandomize=True, database=None
)


def _lockstep(spec: harness.LockstepSpec) -> tuple[float, float]:
    """Steps per second of wall-clock time and per second of the process's CPU time."""
    spec.successors.clear()
    fired: Counter[str] = Counter()
    start, cpu = time.perf_counter(), time.process_time()
    harness.lockstep(spec, frozenset(), SETTINGS, fired=fired)
    steps = sum(fired.values())
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def _walk(spec: harness.LockstepSpec, steps: int = 1_000) -> tuple[float, float]:
    stepper = spec.stepper()
    rng = random.Random(7)
    (init,) = stepper.init_states()
    state, taken = init, 0
    start, cpu = time.perf_counter(), time.process_time()
    while taken < steps:
        succs = stepper.successors(state)
        if not succs or rng.random() < 1 / 40:  # restart as often as a 40-step program ends
            state = init
            continue
        state = rng.choice(succs).state
        _ = state.values
        taken += 1
    return taken / (time.perf_counter() - start), taken / (time.process_time() - cpu)


def _tlc_default() -> tuple[float, int]:
    r = check(SPECS / "Raft.tla", SPECS / "Raft.cfg", workers=2, deadlock=False)
    assert r.outcome is Outcome.HOLDS, r.message
    return r.distinct / r.seconds, r.distinct


def _protocol_rows(group: str, spec: harness.LockstepSpec, what: str, runs: int) -> list[Row]:
    _lockstep(spec)  # warm: JVM, TLC parse, imports
    # interleaved, so that a change in the machine's load falls on both alike
    pairs = [(_walk(spec), _lockstep(spec)) for _ in range(runs)]
    walks, locks = [p[0] for p in pairs], [p[1] for p in pairs]
    walk, walk_cpu = (sorted(w[k] for w in walks)[runs // 2] for k in (0, 1))
    steps, steps_cpu = (sorted(s[k] for s in locks)[runs // 2] for k in (0, 1))
    walk_name = "Stepper walk of the lockstep model, steps/s"
    walk_cpu_name = "Stepper walk, steps per CPU-second"
    note = f"{what}, 20 examples x 40 steps"
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
            note=note,
        ),
        Row(group, walk_cpu_name, walk_cpu, "steps/CPU-s", runs, note="TLC side only"),
        Row(
            group,
            "lockstep steps per CPU-second",
            steps_cpu,
            "steps/CPU-s",
            runs,
            baseline=walk_cpu_name,
            ratio=steps_cpu / walk_cpu,
            note=note,
        ),
    ]


def bench(runs: int = 5) -> list[Row]:
    only = [w for w in os.environ.get("BENCH_LOCKSTEP", "").lower().split(",") if w]
    chosen = [p for p in PROTOCOLS if not only or p[0].split()[0].lower() in only]
    rows = [r for group, spec, what in chosen for r in _protocol_rows(group, spec, what, runs)]
    if only:
        return rows
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

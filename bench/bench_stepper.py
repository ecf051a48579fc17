"""How fast the Stepper walks TLC's state graph, and what converting states to Python costs.

Workload: random walks of depth 30 (seeded, so every run walks the same paths) over
tests/specs/stepper_raft.tla, a small Raft-like spec with 58 action instances (3 servers). This is the
lockstep replay's access pattern: ask for the successors of a state, pick one, go on.

Rows:
- successors() calls per second, states kept in Java (the default, lazy path);
- the same, converting every successor state to Python (what a test that compares whole states pays);
  baseline: the lazy walk;
- the lazy walk again through one `getNextStates(action, state)` call per action instead of TLC's
  all-actions functor, the way the first bridge did it: baseline for the first row;
- converting one state to Python, one variable of it, and building a TLC state from Python values;
  baseline: TLC's own `toString()` of the state (about what any conversion must at least pay).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.common import Row
from meshcheck.impl.base.values import FrozenDict
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.values import ValueBuilder
from meshcheck.specs.tlc.values import to_python

SPEC = Path(__file__).resolve().parent.parent / "tests" / "specs" / "stepper_raft.tla"
WALKS = 20
DEPTH = 30
GROUP = "Stepper"
T = TypeVar("T")


def _walk(stepper: Stepper, next_states: Callable[[State], list[State]], convert: bool) -> float:
    """successors() calls per second over WALKS seeded random walks of depth DEPTH."""
    rng = random.Random(20240601)
    (init,) = stepper.init_states()
    calls = 0
    start = time.perf_counter()
    for _ in range(WALKS):
        state = init
        for _ in range(DEPTH):
            succs = next_states(state)
            calls += 1
            if convert:
                for s in succs:
                    _ = s.values
            if not succs:
                break
            state = rng.choice(succs)
    return calls / (time.perf_counter() - start)


def _per_action(stepper: Stepper) -> Callable[[State], list[State]]:
    """Successors through one TLC call per action: the baseline the functor path replaced."""
    tool = stepper._tool
    actions = [a for acts in stepper._java_actions.values() for a in acts]

    def next_states(state: State) -> list[State]:
        out = []
        for act in actions:
            vec = tool.getNextStates(act, state.java)
            for i in range(vec.size()):
                java = vec.elementAt(i)
                out.append(State(java, int(java.fingerPrint()), stepper._vars))
        return out

    return next_states


def _sample(stepper: Stepper) -> list[State]:
    """About 200 states along one seeded walk, all successors of each visited state."""
    rng = random.Random(7)
    (state,) = stepper.init_states()
    out: list[State] = []
    for _ in range(DEPTH):
        succs = [t.state for t in stepper.successors(state)]
        out.extend(succs)
        if not succs:
            break
        state = rng.choice(succs)
    return out


def _per_state_us(items: list[T], fn: Callable[[T], object]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def _interleaved(runs: int, subjects: dict[str, Callable[[], float]]) -> dict[str, float]:
    """The median of each subject over `runs` rounds, each round measuring every subject once.

    Interleaving keeps a slow phase of a shared machine from landing on one subject only: measured
    back to back on 2 busy cores, the same walk varied 3x from one second to the next.
    """
    seen: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, fn in subjects.items():
            seen[name].append(fn())
    return {name: statistics.median(xs) for name, xs in seen.items()}


def _fresh(s: State) -> State:
    return State(s.java, s.fingerprint, s._vars)  # no cached conversions


def bench(runs: int = 5) -> list[Row]:
    with Stepper(SPEC) as stepper:

        def lazy_succ(s: State) -> list[State]:
            return [t.state for t in stepper.successors(s)]

        per_action = _per_action(stepper)
        for _ in range(4):  # warm up the JIT of TLC's evaluator and of JPype's call paths
            _walk(stepper, lazy_succ, convert=True)
            _walk(stepper, per_action, convert=False)

        states = _sample(stepper)
        values = [s.values for s in states]
        keys = [stepper._vars.keys[v] for v in stepper.vars]
        builder = ValueBuilder(stepper.rt, stepper.model_values)

        def cold_to_python(s: State) -> object:
            return [to_python(s.java.lookup(k)) for k in keys]

        def cold_to_tlc(vals: FrozenDict) -> object:
            return [builder._build(v) for v in vals.values()]  # no memo

        m = _interleaved(
            runs,
            {
                "lazy": lambda: _walk(stepper, lazy_succ, convert=False),
                "old": lambda: _walk(stepper, per_action, convert=False),
                "converted": lambda: _walk(stepper, lazy_succ, convert=True),
                "to_string": lambda: _per_state_us(states, lambda s: str(s.java.toString())),
                "cold": lambda: _per_state_us(states, cold_to_python),
                "whole": lambda: _per_state_us(states, lambda s: _fresh(s).values),
                "one": lambda: _per_state_us(states, lambda s: _fresh(s)["currentTerm"]),
                "built_cold": lambda: _per_state_us(values, cold_to_tlc),
                "built": lambda: _per_state_us(values, stepper.state),
            },
        )
        lazy, old, converted = m["lazy"], m["old"], m["converted"]
        to_string, cold, whole, one = m["to_string"], m["cold"], m["whole"], m["one"]
        built_cold, built = m["built_cold"], m["built"]
        n_actions = len(stepper.actions)

    note = f"stepper_raft, {n_actions} actions, {WALKS} walks x depth {DEPTH}"
    sample = f"{len(states)} states of one walk"
    return [
        Row(GROUP, "successors(): walk, states stay in Java", lazy, "calls/s", runs,
            baseline="successors: one TLC call per action", ratio=lazy / old, note=note),
        Row(GROUP, "successors: one TLC call per action", old, "calls/s", runs, note=note),
        Row(GROUP, "successors(): walk, every state to Python", converted, "calls/s", runs,
            baseline="successors(): walk, states stay in Java", ratio=converted / lazy, note=note),
        Row(GROUP, "TLC toString() of a state", to_string, "us/state", runs, note=sample),
        Row(GROUP, "to_python: whole state, no memo", cold, "us/state", runs,
            baseline="TLC toString() of a state", ratio=to_string / cold, note=sample),
        Row(GROUP, "State.values: whole state, memo warm", whole, "us/state", runs,
            baseline="to_python: whole state, no memo", ratio=cold / whole, note=sample),
        Row(GROUP, "State[var]: one variable, memo warm", one, "us/state", runs,
            baseline="State.values: whole state, memo warm", ratio=whole / one, note=sample),
        Row(GROUP, "to_tlc: whole state, no memo", built_cold, "us/state", runs,
            baseline="TLC toString() of a state", ratio=to_string / built_cold, note=sample),
        Row(GROUP, "Stepper.state(values): memo warm", built, "us/state", runs,
            baseline="to_tlc: whole state, no memo", ratio=built_cold / built, note=sample),
    ]  # fmt: skip

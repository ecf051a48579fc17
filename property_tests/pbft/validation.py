"""Trace validation: every step of a free run of impl/pbft is a step of specs/PBFT.tla.

A free run under faults (free_runs.py's schedules, batch_size 1, at most one Byzantine replica)
records its trace in the spec's vocabulary: the refinement mapping of the group after each spec
action, and the action it was (the replicas name their own steps: impl/pbft/actions.py). TLC
(through the Stepper, in this process) is the judge: the first state must be an initial state, each
next state a successor of the one before by the action instance the trace names, and no invariant
of the model may fail, and no step may break one of its action properties (ViewMonotonic,
StableCheckpointMonotonic: transitions.py, in Python). This catches what Agreement and Validity alone cannot: a replica that takes a
step the protocol does not allow (prepares what the primary did not pre-prepare, commits on too few
prepares, takes a checkpoint as stable too early) before it breaks an invariant, or without ever
breaking one.

The model is models/Validate.cfg (four replicas, the run's operations op1..op30, its checkpoint
interval and window, views and sequence numbers beyond a run's). A Byzantine replica of the
run is the model's Byzantine constant: one Stepper per such set, built from the same file. The
successor that matches is TLC's own state, and the next step starts from it: only the initial
state is built from Python values.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.pbft.byzantine import byzantine_strategy
from meshcheck.property_tests import validation
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.pbft.free_runs import cluster
from meshcheck.property_tests.pbft.free_runs import knob
from meshcheck.property_tests.pbft.free_runs import op
from meshcheck.property_tests.pbft.free_runs import run
from meshcheck.property_tests.pbft.free_runs import schedules
from meshcheck.property_tests.pbft.transitions import broken

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import Stepper

SPEC = resource("meshcheck.specs", "PBFT.tla")
MODEL = resource("meshcheck.property_tests.pbft", "models", "Validate.cfg")

# TLC judges each step: several milliseconds each (the spec's Execute and Accept quantify over the
# model's views, sequence numbers and requests, and msgs, hundreds of records, is converted to
# compare), more as msgs grows, so the runs are shorter than the free runs': up to 1000 ticks, a
# request every 50 ticks or more (at most 20, within the model's 30 operations).
VALIDATION_TICKS = (200, 1000)
EVERY = (50, 100)


def validation_model() -> dict[str, Any]:
    """The model's constants."""
    return validation.model_constants(MODEL)


@functools.cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="meshcheck-pbft-validate-"))


@functools.cache
def validation_stepper(byzantine: frozenset[str] = frozenset()) -> Stepper:
    """The Stepper over PBFT.tla with models/Validate.cfg and these Byzantine replicas (loading TLC
    costs seconds: one per set, for the life of the process)."""
    from meshcheck.specs.tlc.stepper import Stepper

    if not byzantine:
        return Stepper(SPEC, MODEL)
    lines = MODEL.read_text().splitlines()
    names = ", ".join(f'"{b}"' for b in sorted(byzantine))
    text = "\n".join(
        f"    Byzantine = {{{names}}}" if line.strip().startswith("Byzantine") else line
        for line in lines
    )
    cfg = _folder() / f"Validate_{'_'.join(sorted(byzantine))}.cfg"
    cfg.write_text(text + "\n")
    return Stepper(SPEC, cfg)


def in_bounds(state: Any) -> bool:
    """Whether a state of the run lies inside the model (views and sequence numbers)."""
    model = validation_model()
    views = state["view"].values()
    seqs = [m["seq"] for m in state["msgs"] if "seq" in m]
    top_view, top_seq = max(views, default=0), max(seqs, default=0)
    return bool(top_view <= model["MaxView"] and top_seq <= model["MaxSeq"])


def transitions(before: Step, after: Step) -> list[str]:
    """PBFT.tla's action properties the step into `after` breaks (transitions.py `broken`)."""
    return broken(before.state, after.state)


VALIDATION = validation.Validation(in_bounds=in_bounds, transitions=transitions)


def first_bad_step(trace: Trace, stepper: Stepper) -> tuple[int, str] | None:
    """(k, what is wrong) for the first step k that is not a spec step or breaks an invariant;
    None if the trace (up to the first state outside the model's bounds) is a behaviour of it."""
    return validation.first_bad_step(trace, stepper, VALIDATION)


def first_step_not_in_spec(trace: Trace, stepper: Stepper) -> str | None:
    """None if the trace is a behaviour of the stepper's spec and model; else what went wrong, and
    where (for tests that check a hand-made run)."""
    return validation.first_step_not_in_spec(trace, stepper, VALIDATION)


def validation_schedules() -> st.SearchStrategy[Schedule]:
    """Free-run schedules within the model: four replicas, at most one of them Byzantine, the
    model's checkpoint interval, a request every 50 ticks or more."""
    model = validation_model()
    return st.builds(
        lambda s, byzantine, every: s.with_knobs(
            every=every, byzantine=byzantine, checkpoint_every=model["CheckpointEvery"]
        ),
        schedules(model["N"], *VALIDATION_TICKS, byzantine=False),
        byzantine_strategy(model["N"], max_faulty=1),
        st.sampled_from(EVERY),
    )


def check_validation(schedule: Schedule, bugs: frozenset[str]) -> None:
    """One free run of the model's replicas: its trace is a behaviour of the spec."""
    model = validation_model()
    if 2 * knob(schedule, "checkpoint_every") != model["Window"]:
        raise ValueError("the run's window must be the model's")
    sim = cluster(schedule, model["N"], bugs, make=op)
    overload = run(sim, schedule, schedule.ticks)
    trace = sim.trace()
    stepper = validation_stepper(frozenset(knob(schedule, "byzantine")))
    validation.check_run(trace, schedule, stepper, VALIDATION, "PBFT.tla", overload)


def trace_validation(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: every free run (with the mutants `bugs`) is a behaviour of specs/PBFT.tla under
    models/Validate.cfg."""

    @share(settings, 1 / 8)  # a run and its validation: 0.65 s on average (60 runs), up to 5 s
    @given(validation_schedules())
    def runs_are_spec_behaviours(schedule: Schedule) -> None:
        check_validation(schedule, bugs)

    runs_are_spec_behaviours()

"""`meshcheck validate` never cries wolf on a network that duplicates and drops (issue [16] item 2).

The property: take the reference core's free runs under duplication (20% of messages), loss,
delay, crashes and partitions, write the logs its nodes would write (traces/logs/reference.py),
delete nothing and reorder nothing, and every one comes back *valid* from the validator
(traces/logs/validate.py), which is told nothing of the network's faults and must infer each
duplication, of any multiplicity, and each drop. Drawn: the run's seed, every variable a node has
or the five most implementations expose, and the core's no-op on election on or off (the model's
LeaderNoOp set to match, as `meshcheck validate --set LeaderNoOp=FALSE` does).

A check of the implementation too: with a catalogue bug switched on (impl/raft/mutants.py), a log
the validator calls invalid is a failure of the core, and its message names the record.

`blind`: the same records as an implementation writes them that does not log which message a
receive took; tests/test_validate_regressions.py holds those to "never invalid" (the walk explains
one receive again with an old copy, not every combination: docs/logs.md). The survey over every
mode and hundreds of runs is meshcheck/log_survey.py.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.raft.free_runs import cluster
from meshcheck.property_tests.raft.free_runs import run
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.specs.tlc import cfg
from meshcheck.traces.logs import LogRecord
from meshcheck.traces.logs import merge
from meshcheck.traces.logs import reference
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import Verdict
from meshcheck.traces.logs.validate import stepper_for
from meshcheck.traces.logs.validate import validation_model as log_model
from meshcheck.violated import REFINEMENT
from meshcheck.violated import Violated

TICKS = 800
# seconds one validation may take before its verdict is "unknown" (named logs of 800 ticks take
# under a second here: docs/logs.md)
BUDGET = 120.0


def faulty_schedule(seed: int) -> Schedule:
    """A run in which one message in five is duplicated, beside loss, delay, crashes, partitions."""
    return Schedule(
        seed=seed, ticks=TICKS, drop=0.05, duplicate=0.2, delay=0.1, crash=0.1, partition=0.1
    )


def model_run(
    schedule: Schedule, bugs: frozenset[str] = frozenset(), **options: Any
) -> Simulator[RaftNode]:
    """A free run of the validation model's servers whose clients write the model's values, run to
    the schedule's end (its logs are in the vocabulary of models/Logs.cfg); `options` are the
    core's (`leader_noop`, `pre_vote`: the spec variants, tests/test_leader_noop.py and
    tests/test_pre_vote.py)."""
    nodes, values, budget = validation_model()
    sim = cluster(
        schedule,
        nodes,
        bugs,
        make=lambda n: values[(n - 1) % len(values)],
        budget=budget,
        **options,
    )
    run(sim, schedule, schedule.ticks)
    return sim


def faulty_run(seed: int, *, bugs: frozenset[str] = frozenset(), noop: bool = True) -> Trace:
    """The recorded trace of the reference core's faulty run `seed`."""
    return model_run(faulty_schedule(seed), bugs, leader_noop=noop).trace()


def faulty_log(trace: Trace, variables: tuple[str, ...], run: str = "r") -> list[LogRecord]:
    """The trace's logs, as its nodes would write them with `variables`, merged."""
    per_node = reference.records(trace, run, variables=variables)
    return merge(list(per_node.values()))


def duplications(trace: Trace) -> int:
    return sum(1 for s in trace.steps if s.action == "DuplicateMessage")


def blind(records: list[LogRecord]) -> list[LogRecord]:
    """The records as an implementation logs them that does not say which message a receive took."""
    return [
        attrs.evolve(r, params={k: v for k, v in r.params.items() if k != "m"})
        if r.action.startswith("Handle")
        else r
        for r in records
    ]


@functools.cache
def model_for(noop: bool) -> str | None:
    """The log model (property_tests/raft/models/Logs.cfg), with LeaderNoOp = FALSE when `noop` is
    off, written once per process."""
    if noop:
        return None
    path = log_model("Raft")
    text = cfg.with_constants(path.read_text(encoding="utf-8"), {"LeaderNoOp": "FALSE"}, path)
    folder = Path(tempfile.mkdtemp(prefix="meshcheck-logs-"))
    written = folder / path.name
    written.write_text(text, encoding="utf-8")
    return str(written)


def validate_log(records: list[LogRecord], *, noop: bool = True) -> Verdict:
    return Validator(stepper_for("Raft", model_for(noop))).run(records, budget=BUDGET)


def check_log(seed: int, variables: tuple[str, ...], noop: bool, bugs: frozenset[str]) -> None:
    """One faulty run's named log must be valid (CheckFailed with the validator's verdict)."""
    trace = faulty_run(seed, bugs=bugs, noop=noop)
    verdict = validate_log(faulty_log(trace, variables, f"seed-{seed}"), noop=noop)
    if verdict.verdict != "valid":
        kind = "full" if variables == reference.FULL else "partial"
        raise failure(
            f"its {kind}-state log (no-op {'on' if noop else 'off'}) is {verdict.verdict}: "
            + " / ".join(verdict.render().splitlines()[:3]),
            faulty_schedule(seed),
            trace,
            violated=Violated(REFINEMENT, "Raft.tla"),
        )


# the profile's examples this check gets (ci: 30 logs in about 10 CPU-seconds; dev: 100)
SHARE = 1 / 2


def logs_under_duplication(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: every faulty run's log, with full or partial state, the no-op on or off, is
    valid."""

    @share(settings, SHARE)
    @given(
        seed=st.integers(1, 1_000_000),
        variables=st.sampled_from([reference.PARTIAL, reference.FULL]),
        noop=st.booleans(),
    )
    def logs_validate(seed: int, variables: tuple[str, ...], noop: bool) -> None:
        check_log(seed, variables, noop, bugs)

    logs_validate()

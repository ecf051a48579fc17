"""Running a directed scenario on a target: its verdict, and a failure's replayable artefacts.

`outcome(target, scenario, seed, bugs)` runs one scenario (property_tests/directed/library.py) on a
fresh cluster of the target and judges it, in this order:

- the script's own steps: `Unreached` (the set-up missed its situation), `Broken` (its property
  failed, or CommitLiveness while it waited: property_tests/directed/liveness.py), or the
  implementation raising (a `CheckFailed` of the simulator's run);
- then, whatever the script said, the whole recorded trace: the target's safety invariants of
  Raft.tla after every step and the action properties of its spec's shape on every step
  (property_tests/shapes.py: CommitIndexMonotonic, MatchIndexMonotonic, as far as the states
  give their variables), no two nodes applying different values at one index (the simulator's
  checker), and the client-history checks (property_tests/histories.py; `linearizable` as the
  target says, `RaftTarget.linearize`: a plug-in's answers as its own).

The verdict is `pass` (reached, and everything held), `fail` (something broke, reached or not) or
`unreached` (nothing broke, but the scenario did not test what it is about: a defect of the
scenario or a limit of the implementation, never a pass).

A failing run's trace is written as ITF with what re-runs it (`#meta.rerun`: the protocol's
harness check "scenario" on the schedule `Schedule(seed, ticks=0, scenario=NAME)`, replayed by
`meshcheck trace replay`), and its NDJSON log beside it, which `meshcheck validate` reads
(`write_artefacts`): client values as the validation model's, and the command printed with every
constant the run needs (`settings`: the servers, LeaderNoOp=FALSE for a leader elected without a
no-op). `check` is the one-run check the harnesses re-run by.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import IO
from typing import Any
from typing import Literal

import attrs

from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.spec_values import log_view
from meshcheck.impl.adapters.spec_values import record_view
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import Value
from meshcheck.property_tests.directed.library import BY_NAME
from meshcheck.property_tests.directed.library import Scenario
from meshcheck.property_tests.directed.script import Broken
from meshcheck.property_tests.directed.script import Script
from meshcheck.property_tests.directed.script import Unreached
from meshcheck.property_tests.directed.target import LEADER
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.failure import named_in
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import divergence
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.record import Rerun
from meshcheck.property_tests.record import replay_command
from meshcheck.property_tests.record import with_rerun
from meshcheck.property_tests.shapes import shape_of
from meshcheck.traces import itf
from meshcheck.traces.logs import reference
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.format import write
from meshcheck.violated import explained

Verdict = Literal["pass", "fail", "unreached"]
CHECK = "scenario"  # the name of the re-run check in the protocols' harnesses
NOOP_CONSTANT = "LeaderNoOp"  # specs/Raft.tla's constant: a new leader appends a no-op (section 8)


@attrs.frozen
class Outcome:
    """One scenario on one target: reached (what the script found), the verdict, what broke."""

    protocol: str
    scenario: str
    seed: int
    bugs: tuple[str, ...]
    reached: str | None
    verdict: Verdict
    problem: str | None
    seconds: float
    trace: Trace | None = attrs.field(default=None, repr=False, eq=False)
    log: tuple[dict[str, Any], ...] = attrs.field(default=(), repr=False, eq=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "scenario": self.scenario,
            "seed": self.seed,
            "bugs": list(self.bugs),
            "reached": self.reached,
            "verdict": self.verdict,
            "problem": self.problem,
            "seconds": round(self.seconds, 3),
        }


def schedule_of(scenario: str, seed: int) -> Schedule:
    """The schedule a scenario's run is named by (`#meta.rerun`): its seed and the scenario."""
    return Schedule(seed=seed, ticks=0, scenario=scenario)


def scenario_of(schedule: Schedule) -> Scenario:
    name = schedule.knob("scenario", "")
    if name not in BY_NAME:
        raise ValueError(f"no directed scenario {name!r} (scenarios: {', '.join(BY_NAME)})")
    return BY_NAME[name]


def outcome(
    target: RaftTarget, scenario: Scenario, seed: int = 1, bugs: frozenset[str] = frozenset()
) -> Outcome:
    """Run `scenario` on `target` (with the mutants `bugs`) and judge it."""
    started = time.perf_counter()
    schedule = schedule_of(scenario.name, seed)
    log = NdjsonLog(f"{target.protocol}-{scenario.name}") if target.logs == "adapter" else None
    problem: str | None = None
    unreached: str | None = None
    with target.running(bugs):
        s = Script(target, schedule, scenario.nodes, bugs, log)
        try:
            scenario.script(s)
            if s.reached is None:
                unreached = "the script ended without saying its situation was reached"
        except Unreached as missed:
            unreached = str(missed)
        except Broken as broken:
            problem = str(broken)
        except CheckFailed as raised:  # the implementation raised, or the run stormed
            problem = raised.message.split("; run ", 1)[0]  # the schedule is the scenario's
    trace = s.sim.trace()
    problem = problem or _trace_problem(target, s, trace)
    verdict: Verdict = "fail" if problem else ("unreached" if unreached else "pass")
    return Outcome(
        protocol=target.protocol,
        scenario=scenario.name,
        seed=seed,
        bugs=tuple(sorted(bugs)),
        reached=s.reached,
        verdict=verdict,
        problem=problem or unreached,
        seconds=time.perf_counter() - started,
        trace=trace,
        log=tuple(log.records) if log is not None else (),
    )


def _trace_problem(target: RaftTarget, s: Script, trace: Trace) -> str | None:
    """What the whole run breaks: an invariant after a step or an action property on it (the
    invariants named first), a divergence, the client history."""
    steps = trace.steps
    broken = action_properties(target, trace)
    for k in range(1, len(steps)):
        names = target.violated(steps[k].state, steps[k - 1].state)
        names += broken(steps[k - 1].state, steps[k])
        if names:
            step = steps[k]
            return (
                f"step {k} {step.label()} at t={step.meta.get('time')} violates {', '.join(names)}"
            )
    return divergence(s.sim) or check_history(s.sim, linearize=target.linearize)


def action_properties(
    target: RaftTarget, trace: Trace
) -> Callable[[Mapping[str, Value], Step], list[str]]:
    """The action properties of the target's shape (property_tests/shapes.py: the shape of the
    spec it names; Raft's CommitIndexMonotonic and MatchIndexMonotonic) whose variables the
    trace's states give, as what a step breaks: `(state before, step) -> names`. The free runs of
    every Raft-shaped protocol check them on every step; so does a scenario's run."""
    shape = shape_of(target.spec)
    if shape is None or not trace.steps:
        return lambda before, step: []
    _, transitions = shape.decided(frozenset(trace.steps[0].state))

    def broken(before: Mapping[str, Value], step: Step) -> list[str]:
        return shape.broken(transitions, before, step.state, step.action, step.params)

    return broken


def check(target: RaftTarget, schedule: Schedule, nodes: int, bugs: frozenset[str]) -> None:
    """The one-run check a protocol's harness re-runs a recorded scenario failure by: CheckFailed
    (with the run's trace) unless the scenario passes. `nodes` is the scenario's own size."""
    found = outcome(target, scenario_of(schedule), schedule.seed, bugs)
    if found.verdict != "pass":
        assert found.trace is not None
        raise failure(f"{found.verdict}: {found.problem}", schedule, found.trace)


@attrs.frozen
class Artefacts:
    """A failing run written out: its trace, its NDJSON log, and the commands that replay them.
    `unlogged`: why no log was written (then `log` is where it would be, and `validate` no
    command to print), None when it was."""

    trace: Path
    log: Path
    replay: str
    validate: str
    unlogged: str | None = None


def write_artefacts(target: RaftTarget, found: Outcome, folder: Path) -> Artefacts:
    """Write a failing outcome's ITF trace (with what re-runs it) and its NDJSON log to `folder`."""
    assert found.trace is not None
    scenario = BY_NAME[found.scenario]
    stem = f"{found.protocol}-{found.scenario}"
    rerun = Rerun(
        found.protocol,
        CHECK,
        scenario.nodes,
        repr(schedule_of(found.scenario, found.seed)),
        found.bugs,
    )
    trace = with_rerun(found.trace, rerun)
    named = named_in(found.problem or "")
    trace = attrs.evolve(
        trace, meta=explained(trace.meta, f"{found.protocol} {found.scenario}", named)
    )
    folder.mkdir(parents=True, exist_ok=True)
    trace_path = itf.write(trace, folder / f"{stem}.itf.json")
    log_path = folder / f"{stem}.ndjson"
    replay = replay_command(trace_path, trace)
    if target.logs == "adapter" and not found.log:
        # an adapter that names no step of the spec logs none (impl/adapters/contract.py): a log
        # of no records is nothing `meshcheck validate` reads
        unlogged = (
            f"none: {target.protocol}'s adapter names no step of {target.spec} (its driver's "
            "Collected.steps), so its runs log nothing to validate; the trace has every step"
        )
        return Artefacts(trace_path, log_path, replay, "", unlogged=unlogged)
    if target.logs == "adapter":
        with log_path.open("w", encoding="utf-8") as out:
            _write_records(found.log, out)
    else:
        write(_trace_records(found.trace, stem), log_path)
    shown = _shown(log_path)
    extra = "".join(f" --set {shlex.quote(s)}" for s in settings(target, found.trace))
    return Artefacts(
        trace_path, log_path, replay, f"meshcheck validate --spec {target.spec}{extra} {shown}"
    )


def settings(target: RaftTarget, trace: Trace) -> list[str]:
    """The constants a run's log validates under (`meshcheck validate --set`): the servers when
    they are not the validation model's three, the target's own (`RaftTarget.settings`), and
    `LeaderNoOp=FALSE` when a leader of the run was elected without appending a no-op (Raft
    section 8; specs/Raft.tla's LeaderNoOp), unless the target sets LeaderNoOp itself."""
    found = []
    servers = tuple(str(n) for n in trace.meta.get("nodes", ()))
    if len(servers) != 3:
        found.append(f"Server={{{','.join(servers)}}}")
    found.extend(target.settings)
    named = {s.split("=", 1)[0] for s in target.settings}
    if NOOP_CONSTANT not in named and elected_without_noop(trace) and _gives(target.spec):
        found.append(f"{NOOP_CONSTANT}=FALSE")
    return found


def _gives(spec: str) -> bool:
    """Whether the spec's validation model gives the constant LeaderNoOp (`--set` sets only a
    constant the model has)."""
    from meshcheck.specs.tlc import cfg
    from meshcheck.traces.logs.validate import SPECS
    from meshcheck.traces.logs.validate import validation_model

    if spec not in SPECS:
        return False
    model = validation_model(spec)
    return NOOP_CONSTANT in cfg.parse_cfg(model.read_text(encoding="utf-8"), model).assigned()


def elected_without_noop(trace: Trace) -> bool:
    """Whether a step of the trace makes a node leader with its log no longer than before (as far
    as the refinement maps role and log: unknown is no)."""
    steps = trace.steps
    for k in range(1, len(steps)):
        before, after = steps[k - 1].state, steps[k].state
        roles, old_roles = after.get("role"), before.get("role")
        logs, old_logs = after.get("log"), before.get("log")
        if not all(isinstance(v, Mapping) for v in (roles, old_roles, logs, old_logs)):
            return False
        assert isinstance(roles, Mapping) and isinstance(old_roles, Mapping)
        assert isinstance(logs, Mapping) and isinstance(old_logs, Mapping)
        for i, role in roles.items():
            if role == LEADER and old_roles.get(i) != LEADER and i in logs and i in old_logs:
                now, then = logs[i], old_logs[i]
                if isinstance(now, tuple) and isinstance(then, tuple) and len(now) <= len(then):
                    return True
    return False


def _write_records(records: tuple[dict[str, Any], ...], out: IO[str]) -> None:
    """The adapter's records, client values as the validation model's (`record_view`: the
    scenarios' writes are unique commands; a value the adapter mapped stays as it is)."""
    import json

    for record in records:
        out.write(json.dumps(record_view(record), separators=(",", ":")) + "\n")


def _trace_records(trace: Trace, run: str) -> list[LogRecord]:
    """The reference core's log from its trace (traces/logs/reference.py), the five variables
    most implementations expose, client values as the validation model's (`log_view`)."""
    per_node = reference.records(trace, run, variables=reference.PARTIAL)
    merged = sorted(
        (r for records in per_node.values() for r in records), key=lambda r: (r.clock, r.node)
    )
    return [
        attrs.evolve(
            r,
            params={k: log_view(k, v) for k, v in r.params.items()},
            state={k: log_view(k, v) for k, v in r.state.items()},
        )
        for r in merged
    ]


def _shown(path: Path) -> str:
    here = Path.cwd()
    return str(path.relative_to(here) if path.is_relative_to(here) else path)

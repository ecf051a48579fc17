"""Trace validation: every step of a free run of impl/hybrid is a step of specs/Hybrid.tla.

A free run (free_runs.py, without crashes: Hybrid.tla has none, and a restarted node replays its
epoch from the epoch's start) records its trace in the spec's vocabulary: the simulator plugin
(impl/hybrid/simulation.py) cuts each event at the Hybrid.tla actions the node reported as `Action`
effects where it took them (impl/hybrid/node.py: a node that applies three committed entries
reports three Apply(i), each after the Order that puts the entry in the chain, which is a step only
for the first honest node to apply it; then Switch(i), Submit(o), Reply(o), Reject(o)), with the
refinement mapping (impl/hybrid/refinement.py) after each. The mapping only checks the reports: a
change they do not explain, or a report it does not bear out, is a step named UNEXPLAINED, and
fails here. TLC (the Stepper, in this process) is the judge: the first
state must be the initial state, each next state a successor of the one before by the action
instance the trace names, and no invariant of the model may fail in any state.

The BFT epochs run PBFT or HotStuff (`bft`, impl/hybrid/bft.py): the node reports each epoch's
committed entries as the same Order and Apply actions whichever protocol committed them, so one
spec and one mapping judge both. The model is models/HybridValidate.cfg for PBFT runs (four nodes)
and models/HybridValidate7.cfg for HotStuff runs (seven: free_runs.HOTSTUFF_NODES): n1 is the
run's Byzantine node (the mapping's functions are restricted to the spec's honest nodes), the
client's ops c1/1..c1/60, and bounds no run reaches. The runs use thresholds with which no evidence
demands Medium (timing_medium above n; with f = 2, sig_medium = sig_high = f + 1 as for_f(1) has
it): Hybrid.tla's DemandedOne has no kind for Medium (one bad signature is Low, f + 1 reporters
are High), which only a quiet period reaches.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import PBFT
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.refinement import UNEXPLAINED
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import network_faults
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.hybrid.free_runs import BEHAVIOURS
from meshcheck.property_tests.hybrid.free_runs import HOTSTUFF_NODES
from meshcheck.property_tests.hybrid.free_runs import PBFT_EQUIVOCATE
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import knob
from meshcheck.property_tests.hybrid.free_runs import play
from meshcheck.property_tests.hybrid.free_runs import prepare
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.violated import INVARIANT
from meshcheck.violated import Violated

SPEC = resource("meshcheck.specs", "Hybrid.tla")
MODEL = resource("meshcheck.property_tests.hybrid", "models", "HybridValidate.cfg")
MODEL_7 = resource("meshcheck.property_tests.hybrid", "models", "HybridValidate7.cfg")
THRESHOLDS = Thresholds.for_f(1, timing_medium=5)
# seven nodes, f = 2: f + 1 bad-signature reporters are High with nothing at Medium between
THRESHOLDS_7 = Thresholds.for_f(2, sig_medium=3, timing_medium=8)
MAX_OPS = 40  # before the calm (four more after it): within the model's 60


@attrs.frozen
class Setup:
    """What a validated run of one BFT protocol runs with: nodes, thresholds, the model."""

    n: int
    thresholds: Thresholds
    model: str


SETUPS: Mapping[str, Setup] = {
    PBFT: Setup(4, THRESHOLDS, str(MODEL)),
    HOTSTUFF: Setup(HOTSTUFF_NODES, THRESHOLDS_7, str(MODEL_7)),
}


@functools.cache
def validation_stepper(model: str = str(MODEL)) -> Stepper:
    return Stepper(SPEC, model)


@functools.cache
def constants(model: str = str(MODEL)) -> dict[str, Any]:
    return dict(read_cfg(model).values())


def normalize(mapped: Mapping[str, Value], model: str = str(MODEL)) -> FrozenDict:
    """The mapping's values as `model`'s: functions over the honest nodes, over 1..MaxEpoch,
    over Ops."""
    c = constants(model)
    honest = sorted(set(c["Nodes"]) - set(c["Byzantine"]))
    epochs = range(1, c["MaxEpoch"] + 1)

    def nodes(var: str) -> FrozenDict:
        value = mapped[var]
        assert isinstance(value, Mapping)
        return FrozenDict({i: value[i] for i in honest if i in value})

    protocol = nodes("protocol")
    chain = mapped["chain"]
    outcome = mapped["outcome"]
    assert isinstance(chain, Mapping) and isinstance(outcome, Mapping)
    return FrozenDict(
        {
            "epoch": nodes("epoch"),
            "protocol": FrozenDict(
                {i: tuple(p.get(e, "none") for e in epochs) for i, p in protocol.items()}
            ),
            "level": nodes("level"),
            "applied": nodes("applied"),
            "history": nodes("history"),
            "chain": tuple(chain.get(e, ()) for e in epochs),
            "submitted": mapped["submitted"],
            "outcome": FrozenDict({o: outcome.get(o, "none") for o in sorted(c["Ops"])}),
        }
    )


def validate(trace: Trace, model: str = str(MODEL)) -> int:
    """Check every step of `trace` against `model` (the run's node count: `SETUPS`); the number of
    spec steps checked. CheckFailed on the first step the spec does not allow (its `steps`: the
    trace steps up to it)."""
    from meshcheck.property_tests.lockstep import differences

    stepper = validation_stepper(model)
    (state,) = stepper.init_states()
    checked = 0
    for k, step in enumerate(trace.steps):
        want = normalize(step.state, model)
        where = f"step {k} ({step.label()}, at {step.meta.get('node')}: {step.meta.get('event')})"
        if k == 0:
            if state.values != want:
                first = "; ".join(differences(state.values, want))
                raise CheckFailed(f"{where}: not Hybrid.tla's initial state: {first}", steps=0)
            continue
        if want == state.values:
            continue  # a change the spec does not see (a node outside its honest set)
        if step.action == UNEXPLAINED:  # the nodes' reports and the state change disagree
            raise CheckFailed(
                f"{where}: the actions the nodes reported do not explain the step: "
                f"{step.params.get('why')}; the implementation went to:\n  "
                + "\n  ".join(differences(state.values, want)),
                steps=k,
                trace=trace,
            )
        action = ActionInstance(step.action, step.params)
        if action not in stepper.actions:
            found = stepper.find_step(state, stepper.state(want))
            hint = f" ({found.action.label()} would do)" if found is not None else ""
            raise CheckFailed(
                f"{where}: no step of Hybrid.tla{hint}; the implementation went to:\n  "
                + "\n  ".join(differences(state.values, want)),
                steps=k,
                trace=trace,
            )
        nexts = {s.values: s for s in stepper.successors_of(state, action)}
        if want not in nexts:
            shown = next(iter(nexts), None)
            lines = ["the spec does not allow it here"]
            if shown is not None:
                lines = ["where the spec's step goes, the implementation is not:"]
                lines += differences(shown, want)
            raise CheckFailed(f"{where}: " + "\n  ".join(lines), steps=k, trace=trace)
        state = nexts[want]
        bad = stepper.violated(state)
        if bad:
            raise CheckFailed(
                f"{where}: {', '.join(bad)} violated",
                steps=k,
                trace=trace,
                violated=Violated(INVARIANT, ", ".join(bad)),
            )
        checked += 1
    return checked


def validation_schedules() -> st.SearchStrategy[Schedule]:
    names = sorted([*BEHAVIOURS, PBFT_EQUIVOCATE])
    return st.builds(
        Schedule,
        **network_faults([400, 600, 800], crash=False),
        behaviours=st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True).map(tuple),
        target=st.just("n1"),
        start=st.integers(1, 4),
        stop=st.one_of(st.none(), st.integers(3, 10)),
    )


def recorded_run(schedule: Schedule, bugs: frozenset[str], bft: str) -> Run:
    """The cluster of a recorded free run, the BFT epochs running `bft` with its model's
    thresholds and size (SETUPS), and no monitor (the spec judges the run): ready to `play`."""
    setup = SETUPS[bft]
    return prepare(
        schedule,
        bugs,
        record=True,
        monitor=False,
        thresholds=setup.thresholds,
        bft=bft,
        n=setup.n,
    )


def validate_run(
    schedule: Schedule, bugs: frozenset[str] = frozenset(), *, bft: str | None = None
) -> int:
    """One recorded free run, the BFT epochs running `bft` (by default the protocol the schedule
    names, free_runs.py KNOBS "bft"), validated; the number of spec steps. A run that misses a
    liveness bound has its trace validated first (a step the spec does not allow is the better
    report)."""
    bft = knob(schedule, "bft") if bft is None else bft
    setup = SETUPS[bft]
    out = recorded_run(schedule, bugs, bft)
    try:
        play(out, schedule, max_ops=MAX_OPS)
    except CheckFailed:
        validate(out.hc.sim.trace(), setup.model)
        raise
    return validate(out.hc.sim.trace(), setup.model)


def trace_validation(
    bugs: frozenset[str], settings: hypothesis.settings, *, bft: str = PBFT
) -> None:
    """The check: recorded free runs under a thirtieth of `settings`' examples (ci 2, dev 7, deep
    67), the BFT epochs running `bft`, each validated against Hybrid.tla. A PBFT run and its
    validation take 3 to 10 s; a HotStuff run with seven nodes 1 to 17 s, 4.4 s on average over 40
    drawn runs. (A sixtieth for HotStuff, ci 1 and dev 3, let deescalate_critical_to_none survive
    `meshcheck mutants hybrid --all` in the default profile: few drawn runs reach Critical and then
    a quiet period.)"""

    @share(settings, 1 / 30, least=2)
    @given(schedule=validation_schedules())
    def check(schedule: Schedule) -> None:
        # the BFT protocol in the schedule: a failure's record (property_tests/record.py keeps the
        # schedule's repr) validates its run again with the protocol it ran, not PBFT's default
        validate_run(schedule if bft == PBFT else schedule.with_knobs(bft=bft), bugs)

    check()

"""What a step of a trace is called: one rule, used by `trace show`, `trace diff` and `trace timeline`.

1. The action the trace names for the step: ITF's per-state `#meta.action` with its `#meta.params`
   (TLC's counterexamples, meshcheck's own traces).
2. Else the action Quint names: `quint run --mbt` adds the state variables `mbt::actionTaken` (the
   action's name) and `mbt::nondetPicks` (a record of each nondeterministic choice as an Option:
   `{"tag": "Some", "value": v}` or `{"tag": "None", ...}`); the picks made become the parameters.
3. Else "Init" for the first state and "step N" for state N.

A later state without `#meta.action` reads as `Step.action == INIT` (traces/itf.py); the first
state reads so whether or not it was labelled, and Quint's name for it (`init`) wins there.
"""

from __future__ import annotations

from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value

ACTION_TAKEN = "mbt::actionTaken"
NONDET_PICKS = "mbt::nondetPicks"
LABEL_VARS = (ACTION_TAKEN, NONDET_PICKS)  # state variables that only say how a step is labelled


def _picks(value: Value) -> FrozenDict:
    if not isinstance(value, FrozenDict):
        return FrozenDict()
    out: dict[str, Value] = {}
    for name, pick in value.items():
        if not isinstance(name, str):
            continue
        if isinstance(pick, FrozenDict) and pick.keys() == {"tag", "value"}:
            if pick["tag"] == "Some":
                out[name] = pick["value"]
        else:  # an older Quint wrote the value itself
            out[name] = pick
    return FrozenDict(out)


def action(trace: Trace, i: int) -> tuple[str, FrozenDict]:
    """(action name, parameters) of step `i` by the rule of this module."""
    step = trace.steps[i]
    if step.action != INIT:
        return step.action, step.params
    if i == 0 and step.params:
        return step.action, step.params
    taken = step.state.get(ACTION_TAKEN)
    if isinstance(taken, str) and taken:
        return taken, _picks(step.state.get(NONDET_PICKS))
    return (INIT if i == 0 else f"step {i}"), FrozenDict()


def labelled(trace: Trace, i: int) -> Step:
    """Step `i` with the action and parameters of `action(trace, i)`."""
    name, params = action(trace, i)
    step = trace.steps[i]
    if name == step.action and params is step.params:
        return step
    return Step(step.state, name, params, step.meta)


def label(trace: Trace, i: int) -> str:
    """`Action(p=v, q=w)`: step `i` as people write it."""
    return labelled(trace, i).label()

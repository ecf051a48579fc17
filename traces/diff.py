"""`meshcheck trace diff MODEL IMPL`: where the implementation's trace leaves the model's.

Both traces are sequences of abstract states over the same variables (the implementation's through
its refinement mapping), step i of one against step i of the other. What a reader needs is the first
step at which they differ, and only what differs there: a function over servers narrowed to the
servers that differ (`commitIndex[s1]`), a message collection to the messages only one side has.
Steps before it agree and are summarised one line each (the action and its parameters, labelled as
`trace show` and the timeline label them, traces/labels.py; both when the two traces name different
actions). Which variables hold messages is what the model trace's display hints say
(traces/hints.py). Short values are set side by side, long ones one above the
other so that nothing that differs is cut off.

Traces over different variables are not two runs of one protocol: a MeshcheckError (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from meshcheck import words
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.text import ordered
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces import cluster
from meshcheck.traces import labels
from meshcheck.traces.hints import NOTHING
from meshcheck.traces.hints import DisplayHints
from meshcheck.traces.hints import hints_for
from meshcheck.traces.show import _BOLD
from meshcheck.traces.show import _CHANGED
from meshcheck.traces.show import _DIM
from meshcheck.traces.show import _RESET

SIDE_BY_SIDE = 36  # values up to this long go in columns; longer ones one above the other


@attrs.frozen
class Divergence:
    """The first step at which the traces' states differ (None: they agree on every common step)."""

    index: int | None
    rows: tuple[tuple[str, str, str], ...]  # (what, model's value, impl's value)
    model_steps: int
    impl_steps: int

    @property
    def agree(self) -> bool:
        return self.index is None and self.model_steps == self.impl_steps


def check_comparable(model: Trace, impl: Trace, model_name: str, impl_name: str) -> None:
    """MeshcheckError unless both traces have the same variables."""
    only_model = [v for v in model.vars if v not in impl.vars]
    only_impl = [v for v in impl.vars if v not in model.vars]
    if only_model or only_impl:
        parts = words.groups(
            (f"only {model_name} has", only_model), (f"only {impl_name} has", only_impl)
        )
        raise MeshcheckError(
            f"{model_name} and {impl_name} are traces of different variables ({parts}): "
            "not two runs of one protocol"
        )


def differences(
    name: str, a: Value, b: Value, hints: DisplayHints = NOTHING
) -> Iterator[tuple[str, str, str]]:
    """(what, a, b) rows for where two values of variable `name` differ, narrowed to the keys of
    functions that differ and to the messages only one side has."""
    if a == b:
        return
    same_domain = isinstance(a, FrozenDict) and isinstance(b, FrozenDict) and a.keys() == b.keys()
    if same_domain and a and cluster.bag(a, hints) is None:  # a function: the keys that differ
        for key in ordered(a):
            yield from differences(f"{name}[{format_value(key)}]", a[key], b[key], hints)
        return
    ba, bb = cluster.bag(a, hints), cluster.bag(b, hints)
    if ba is not None and bb is not None and (ba or bb):
        for m in ordered((ba - bb).elements()):
            yield f"{name} (only in model)", cluster.brief(m, hints), ""
        for m in ordered((bb - ba).elements()):
            yield f"{name} (only in impl)", "", cluster.brief(m, hints)
        return
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        if a - b:
            yield f"{name} (only in model)", format_value(a - b), ""
        if b - a:
            yield f"{name} (only in impl)", "", format_value(b - a)
        return
    yield name, format_value(a), format_value(b)


def compare(model: Trace, impl: Trace, hints: DisplayHints | None = None) -> Divergence:
    """The first step at which `impl`'s state differs from `model`'s (same variables assumed)."""
    h = hints_for(model) if hints is None else hints
    common = min(len(model), len(impl))
    for i in range(common):
        m, p = model.steps[i].state, impl.steps[i].state
        if m != p:
            rows = [r for v in model.vars for r in differences(v, m[v], p[v], h)]
            return Divergence(i, tuple(rows), len(model), len(impl))
    return Divergence(None, (), len(model), len(impl))


def render(
    model: Trace,
    impl: Trace,
    *,
    model_name: str = "model",
    impl_name: str = "impl",
    color: bool = False,
    hints: DisplayHints | None = None,
) -> tuple[str, bool]:
    """(the report, whether the traces agree). MeshcheckError for traces of different variables.
    `hints`: the display hints (default: the model trace's, `hints_for(model)`)."""
    check_comparable(model, impl, model_name, impl_name)
    h = hints_for(model) if hints is None else hints

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    found = compare(model, impl, h)
    lines = [
        f"model: {model_name} ({_source(model)}, {len(model)} states)",
        f"impl:  {impl_name} ({_source(impl)}, {len(impl)} states)",
        "",
    ]
    end = found.index if found.index is not None else min(len(model), len(impl))
    if end > 0:
        lines.append(f"Steps 0-{end - 1} agree:" if end > 1 else "Step 0 agrees:")
        width = len(str(end - 1))
        for i in range(end):
            ms, ps = labels.labelled(model, i), labels.labelled(impl, i)
            text = ms.label()
            if not same_step(ms, ps):
                text += paint(_DIM, f"   (impl: {_cut(_label(ps, h))})")
            lines.append(f"  {i:>{width}}  {text}")
        lines.append("")
    if found.index is None:
        if found.agree:
            lines.append(f"The traces agree on all {len(model)} states.")
        else:
            longer, shorter = ("model", "impl") if len(model) > len(impl) else ("impl", "model")
            lines.append(
                f"The traces agree as far as both go; the {shorter}'s ends at step "
                f"{min(len(model), len(impl)) - 1}, the {longer}'s goes on to step "
                f"{max(len(model), len(impl)) - 1}."
            )
        return "\n".join(lines) + "\n", found.agree
    i = found.index
    ms, ps = labels.labelled(model, i), labels.labelled(impl, i)
    lines.append(paint(_BOLD, f"Step {i} differs"))
    lines.append(f"  model took {ms.label()}")
    lines.append(f"  impl  took {_cut(_label(ps, h))}")
    if ps.meta:
        notes = ", ".join(f"{k}={format_value(ps.meta[k])}" for k in sorted(ps.meta))
        lines.append(paint(_DIM, _cut(f"  (impl: {notes})")))
    lines.append("")
    side = [r for r in found.rows if len(r[1]) <= SIDE_BY_SIDE and len(r[2]) <= SIDE_BY_SIDE]
    stacked = [r for r in found.rows if r not in side]
    if side:
        w0 = max(len(r[0]) for r in side)
        w1 = max(max(len(r[1]) for r in side), len("model"))
        lines.append(f"  {'':<{w0}}  {'model':<{w1}}  impl")
        for what, a, b in side:
            cell_a = paint(_CHANGED, a.ljust(w1)) if a else " " * w1
            lines.append(f"  {what:<{w0}}  {cell_a}  {paint(_CHANGED, b) if b else ''}".rstrip())
    for what, a, b in stacked:
        if not a or not b:  # a message only one side has: one line
            lines.append(f"  {what}: {paint(_CHANGED, a or b)}")
            continue
        lines.append(f"  {what}")
        lines.append(f"    model: {paint(_CHANGED, a) if a else '(none)'}")
        lines.append(f"    impl:  {paint(_CHANGED, b) if b else '(none)'}")
    return "\n".join(lines) + "\n", False


def same_step(a: Step, b: Step) -> bool:
    """The same action with the same parameters, where both name them (the implementation's
    trace also names the message a handler took, which the model's action leaves implicit).
    Pass steps labelled by `labels.labelled`, so that unlabelled steps compare by their labels."""
    shared = a.params.keys() & b.params.keys()
    return a.action == b.action and all(a.params[k] == b.params[k] for k in shared)


def _label(step: Step, hints: DisplayHints) -> str:
    """The step's label, a message it names (the implementation's handlers and faults do) in
    brief: `HandleAppendEntriesResponse(i=s1, j=s2) taking AppendEntriesResponse s2->s1 (...)`."""
    plain = {k: v for k, v in step.params.items() if not cluster.is_message(v, hints)}
    text = attrs.evolve(step, params=FrozenDict(plain)).label()
    taken = [v for v in step.params.values() if cluster.is_message(v, hints)]
    return text + "".join(f" taking {cluster.brief(m, hints, width=80)}" for m in taken)


def _cut(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _source(trace: Trace) -> str:
    source = trace.meta.get("source")
    return str(source) if isinstance(source, str) else "trace"

"""`meshcheck trace show`: a trace as people read a counterexample, step by step.

What makes a trace of hundreds of steps readable is showing only what each step did: its action and
parameters, then the variables it changed (marked `*`), the old value beside the new when it is short.
A function over servers (`currentTerm`, `log`, `nextIndex[i][j]`) whose domain did not change is shown
key by key, only the keys that changed: `currentTerm[s2]: 1 -> 2`. A long set that changed (a message
bag) is shown as what was added and removed, a long sequence that grew as what was appended.

Steps are numbered from 0 (the initial state), as ITF's `states[i]`, `Trace.loop` and the `where` of a
`TraceFormatError` number them, so an error about `states[7]` points at "Step 7".

Two views for cluster traces (traces/cluster.py finds the nodes, by the protocol's display hints,
traces/hints.py): `compact`, one aligned line per node with the columns the hints name (Raft: role,
term, vote, log, commit index; PBFT: status, view, executed, stable checkpoint) for the nodes a step
changed, the messages it sent or took as `+`/`-` lines, and every other variable as what changed
(`pc[p1]: idle -> want`, `turn: p1 -> p2`); and `node`, one server's view (its keys of the per-node
functions, the messages from or to it), in which a run of steps that changed nothing it holds is
folded into one line. A step is labelled by traces/labels.py, as in `trace diff` and the timeline.

A counterexample explains itself: its header names the check that failed and the property it
violates (`#meta.check`, `#meta.property`: meshcheck/violated.py), and the variables that property
reads (`property_vars`, derived from its definition in the spec: traces/reads.py) are always shown,
whatever `--vars` keeps or the compact layout hides, and at the last step even when that step left
them unchanged: the last step of a MatchIndexMonotonic counterexample shows `matchIndex`.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.text import ordered
from meshcheck.impl.base.text import sort_key
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces import cluster
from meshcheck.traces import labels
from meshcheck.traces import reads
from meshcheck.traces.hints import NOTHING
from meshcheck.traces.hints import DisplayHints
from meshcheck.traces.hints import hints_for
from meshcheck.violated import property_of

SHORT = 40  # an old value up to this long is printed in full beside the new one
_HEADER = ("source", "check", "property", "spec", "config", "violation", "description", "seed")

_BOLD, _DIM, _CHANGED, _LOOP, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[33m", "\x1b[35m", "\x1b[0m"


# ---------------------------------------------------------------------------------------------------
# Values


# ---------------------------------------------------------------------------------------------------
# Changes


def _is_bag(v: Value, hints: DisplayHints) -> bool:
    found = cluster.bag(v, hints)
    return found is not None and (bool(found) or v == () or v == FrozenDict())


def _changes(
    name: str, old: Value, new: Value, hints: DisplayHints = NOTHING
) -> Iterator[tuple[str, str]]:
    """(what, how) lines for one changed variable, narrowed to the keys of functions that changed."""
    if (
        isinstance(old, FrozenDict)
        and isinstance(new, FrozenDict)
        and old
        and old.keys() == new.keys()
    ):
        for key in ordered(new):
            if old[key] != new[key]:
                yield from _changes(f"{name}[{format_value(key)}]", old[key], new[key], hints)
        return
    if not isinstance(new, frozenset) and _is_bag(old, hints) and _is_bag(new, hints):
        # a bag of messages (record -> copies): the copies that came and went
        gone, added = cluster.change(old, new, hints)
        parts = [f"added {format_value(m)}" for m in added] + [
            f"removed {format_value(m)}" for m in gone
        ]
        yield name, ", ".join(parts) if parts else f"{format_value(old)} -> {format_value(new)}"
        return
    before = format_value(old)
    if len(before) <= SHORT:
        yield name, f"{before} -> {format_value(new)}"
    elif isinstance(old, frozenset) and isinstance(new, frozenset):
        parts = []
        if new - old:
            parts.append(f"added {format_value(new - old)}")
        if old - new:
            parts.append(f"removed {format_value(old - new)}")
        yield name, ", ".join(parts)
    elif isinstance(old, tuple) and isinstance(new, tuple) and new[: len(old)] == old:
        yield name, f"appended {format_value(new[len(old) :])}"
    else:
        yield name, f"{format_value(new)}  (was {format_value(old, width=SHORT)})"


# ---------------------------------------------------------------------------------------------------
# The trace


def _meta_text(v: Value) -> str:
    if isinstance(v, str):
        return v
    if (
        isinstance(v, FrozenDict)
        and isinstance(v.get("kind"), str)
        and isinstance(v.get("name"), str)
    ):
        return f"{v['kind']} {v['name']}"  # a violation: {kind: invariant, name: TypeOK}
    return format_value(v)


def _header(trace: Trace, extra: Sequence[tuple[str, str]] = ()) -> list[str]:
    meta = trace.meta
    keys = [k for k in _HEADER if k in meta]
    keys += sorted((k for k in meta if k not in _HEADER and k != "format"), key=sort_key)
    rows = [(str(k), _meta_text(meta[k])) for k in keys]
    n = len(trace)
    states = str(n)
    if trace.loop is not None:
        states += f" (a lasso: step {n - 1} goes back to step {trace.loop}, forever)"
    rows.append(("states", states))
    rows += extra
    width = max(len(k) for k, _ in rows) + 1
    return [f"{k + ':':<{width}} {v}" for k, v in rows]


def property_vars(trace: Trace, hints: DisplayHints | None = None) -> list[str]:
    """The variables of `trace` the property it violates reads (`#meta.property`, or a model
    checker's `#meta.violation`), in the trace's order: derived from the property's definition in
    the spec the trace names (`#meta.spec`), else in its protocol's specs (the hints' `specs`);
    none for a property no spec defines (a check's own bound, a client-history anomaly)."""
    named = property_of(trace.meta)
    if named is None:
        return []
    h = hints_for(trace) if hints is None else hints
    spec = trace.meta.get("spec")
    specs = ([spec] if isinstance(spec, str) and spec else []) + list(h.specs)
    found: set[str] = set()
    for name in named.split(", "):  # a check that found several broken at once names them all
        for candidate in specs:
            path = reads.spec_file(candidate)
            got = reads.reads(path, name, trace.vars) if path is not None else None
            if got is not None:
                found |= got
                break
    return [v for v in trace.vars if v in found]


def _check_vars(trace: Trace, vars: Sequence[str] | None) -> list[str]:
    if isinstance(vars, str):
        vars = [vars]  # one name, not its letters
    if vars is not None:
        unknown = [v for v in vars if v not in trace.vars]
        if unknown:
            raise MeshcheckError(
                f"unknown variable{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                f"the trace has {', '.join(trace.vars)}"
            )
    return [v for v in trace.vars if vars is None or v in vars]


def _step_head(trace: Trace, i: int, paint: _Paint) -> list[str]:
    """Step i's heading line, and its notes (what the trace's meta says of it) when it has any."""
    head = paint(_BOLD, f"Step {i}  {labels.label(trace, i)}")
    if i == trace.loop:
        head += "  " + paint(_LOOP, "<- loop starts here")
    notes = _notes(trace.steps[i])
    return [head] if notes is None else [head, notes]


def _notes(step: Step) -> str | None:
    if not step.meta:
        return None
    return (
        "  ("
        + ", ".join(f"{k}={format_value(step.meta[k])}" for k in sorted(step.meta, key=sort_key))
        + ")"
    )


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text


def render(
    trace: Trace,
    *,
    vars: Sequence[str] | None = None,
    color: bool = False,
    full: bool = False,
    compact: bool = False,
    node: str | None = None,
    hints: DisplayHints | None = None,
) -> str:
    """The trace as text: a header, then each step's label and what it changed.

    `vars` keeps only those variables (MeshcheckError for a name the trace lacks); `full` also lists
    the variables a step left unchanged (in the compact view: every node's line at every step);
    `color` adds ANSI colors; `compact` shows a cluster trace one line per node; `node` shows only
    what that node holds (MeshcheckError for a node the trace lacks). `hints`: the protocol's
    display hints (default: `hints_for(trace)`).
    """
    shown = _check_vars(trace, vars)
    h = hints_for(trace) if hints is None else hints
    about = property_vars(trace, h)  # always shown, whatever `vars` keeps (the module says why)
    shown = [v for v in trace.vars if v in shown or v in about]
    paint = _Paint(color)
    view = trace
    ids = cluster.nodes(trace, h)
    extra = []
    if node is not None:
        mine = cluster.node_named(trace, node, h)
        view = cluster.restrict(trace, mine, h)
        per_node = cluster.per_node_vars(trace, ids, h)
        ids = (mine,)
        extra.append(("node", f"{node} (its keys of per-node variables, messages from or to it)"))
    else:
        per_node = cluster.per_node_vars(trace, ids, h)
    lines = [*_header(trace, extra), ""]
    if compact:
        layout = _Layout(ids, per_node, cluster.message_vars(trace, h), h, about)
        lines += _compact(
            view, shown, vars is not None, paint, layout, full=full, fold=node is not None
        )
    else:
        # Quint's labelling variables are in each step's label already (traces/labels.py)
        plain = shown if vars is not None else [v for v in shown if v not in labels.LABEL_VARS]
        lines += _plain(view, plain, paint, h, full=full, fold=node is not None, about=about)
    if trace.loop is not None:
        lines.append(paint(_LOOP, f"back to step {trace.loop}"))
    return "\n".join(lines) + "\n"


def _plain(
    trace: Trace,
    shown: list[str],
    paint: _Paint,
    hints: DisplayHints,
    *,
    full: bool,
    fold: bool,
    about: Sequence[str] = (),
) -> list[str]:
    lines: list[str] = []
    folded = _Folder(trace, lines, paint)
    last = len(trace.steps) - 1
    for i, step in enumerate(trace.steps):
        changed = trace.changed(i)
        if fold and i > 0 and not (changed & set(shown)) and not full and i != trace.loop:
            folded.add(i)
            continue
        folded.flush()
        lines += _step_head(trace, i, paint)
        if i > 0 and not changed:
            lines.append("  (no change)")
        for name in shown:
            new = step.state[name]
            if name not in changed:
                if full or (i == last and name in about):
                    lines.append(f"    {name}: {format_value(new)}")
            elif i == 0:
                lines.append(f"  {paint(_CHANGED, '*')} {name}: {format_value(new)}")
            else:
                for what, how in _changes(name, trace.steps[i - 1].state[name], new, hints):
                    lines.append(f"  {paint(_CHANGED, '*')} {what}: {how}")
    folded.flush()
    return lines


class _Folder:
    """Folds a run of steps that changed nothing shown into one line: `Steps 4-9: ...`."""

    def __init__(self, trace: Trace, lines: list[str], paint: _Paint) -> None:
        self.trace, self.lines, self.paint = trace, lines, paint
        self.run: list[int] = []

    def add(self, i: int) -> None:
        self.run.append(i)

    def flush(self) -> None:
        if not self.run:
            return
        first, last = self.run[0], self.run[-1]
        said = [labels.label(self.trace, k) for k in self.run]
        names = ", ".join(said[:3]) + (f", ... {len(said) - 3} more" if len(said) > 3 else "")
        where = f"Step {first}" if first == last else f"Steps {first}-{last}"
        self.lines.append(self.paint(_DIM, f"{where}  (nothing shown changed: {names})"))
        self.run = []


class _Layout:
    """What the compact view draws how: the nodes, the per-node variables, the message variables."""

    def __init__(
        self,
        ids: Sequence[Value],
        per_node: Sequence[str],
        boxes: Sequence[str],
        hints: DisplayHints,
        about: Sequence[str] = (),
    ) -> None:
        self.ids, self.per_node, self.boxes, self.hints = tuple(ids), set(per_node), boxes, hints
        self.about = frozenset(about)  # what the violated property reads: shown at the last step


def _compact(
    trace: Trace,
    shown: list[str],
    filtered: bool,
    paint: _Paint,
    layout: _Layout,
    *,
    full: bool,
    fold: bool,
) -> list[str]:
    ids, per_node, h = layout.ids, layout.per_node, layout.hints
    cols = cluster.columns([v for v in shown if v in per_node], h)
    boxes = [v for v in layout.boxes if v in shown]
    # Every other variable is shown as what changed, but for the per-node ones the protocol's
    # layout leaves out on purpose (its hints' `hidden`, unless asked for by name with --vars)
    # and Quint's labelling variables, which the step's label already says (traces/labels.py).
    # What the violated property reads is never left out.
    about = layout.about
    left_out = (set(labels.LABEL_VARS) | (set(h.hidden) & per_node)) - about
    rest = [
        v
        for v in shown
        if v not in cols.used() and v not in boxes and (filtered or v not in left_out)
    ]
    rows = (
        [[cluster.node_fields(s.state, n, cols) for n in ids] for s in trace.steps]
        if not cols.empty()
        else [[[] for _ in ids] for _ in trace.steps]
    )
    widths = [0] * max((len(f) for r in rows for f in r), default=0)
    for r in rows:
        for fields in r:
            for k, f in enumerate(fields):
                widths[k] = max(widths[k], len(f))
    names = [format_value(n) for n in ids]
    name_width = max((len(n) for n in names), default=0)

    def line(i: int, n: int, mark: bool) -> str:
        fields = rows[i][n]
        before = rows[i - 1][n] if i > 0 else fields
        cells = []
        for k, f in enumerate(fields):
            cell = f.ljust(widths[k])
            cells.append(paint(_CHANGED, cell) if mark and i > 0 and f != before[k] else cell)
        star = paint(_CHANGED, "*") if mark else " "
        return f"  {star} {names[n]:<{name_width}}  " + "  ".join(cells).rstrip()

    lines: list[str] = []
    folded = _Folder(trace, lines, paint)
    last = len(trace.steps) - 1
    # at the last step, every node's line when the property reads one of its columns
    whole = bool(about & set(cols.used()))
    for i, step in enumerate(trace.steps):
        body: list[str] = []
        for n in range(len(ids) if not cols.empty() else 0):
            moved = i == 0 or rows[i][n] != rows[i - 1][n]
            if moved or full or (i == last and whole):
                body.append(line(i, n, moved and i > 0))
        for v in boxes:
            gone, added = cluster.change(trace.steps[i - 1].state[v] if i else (), step.state[v], h)
            marks = [("+", m) for m in added] + [("-", m) for m in gone]
            for k, (sign, m) in enumerate(marks):
                lead = f"{v}:" if k == 0 else ""
                body.append(
                    f"    {lead:<{len(v) + 1}} {paint(_CHANGED, sign)} {cluster.brief(m, h)}"
                )
        changed = trace.changed(i)
        for name in rest:
            new = step.state[name]
            if i == 0:
                body.append(f"    {name}: {format_value(new)}")
            elif name in changed:
                for what, how in _changes(name, trace.steps[i - 1].state[name], new, h):
                    body.append(f"  {paint(_CHANGED, '*')} {what}: {how}")
            elif full or (i == last and name in about):
                body.append(f"    {name}: {format_value(new)}")
        if fold and i > 0 and not body and i != trace.loop:
            folded.add(i)
            continue
        folded.flush()
        lines += _step_head(trace, i, paint)
        lines += body
    folded.flush()
    return lines

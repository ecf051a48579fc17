"""`meshcheck trace show`: a trace as people read a counterexample, step by step.

What makes a trace of hundreds of steps readable is showing only what each step did: its action and
parameters, then the variables it changed (marked `*`), the old value beside the new when it is short.
A function over servers (`currentTerm`, `log`, `nextIndex[i][j]`) whose domain did not change is shown
key by key, only the keys that changed: `currentTerm[s2]: 1 -> 2`. A long set that changed (a message
bag) is shown as what was added and removed, a long sequence that grew as what was appended.

Steps are numbered from 0 (the initial state), as ITF's `states[i]`, `Trace.loop` and the `where` of a
`TraceFormatError` number them, so an error about `states[7]` points at "Step 7".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence

from meshcheck.errors import MeshcheckError

from .itf import Unserializable, ordered, sort_key
from .model import INIT, Trace
from .values import FrozenDict, Value

SHORT = 40  # an old value up to this long is printed in full beside the new one
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = frozenset({"TRUE", "FALSE"})  # a string spelled so would read as a boolean
_HEADER = ("source", "spec", "config", "violation", "description", "seed")

_BOLD, _DIM, _CHANGED, _LOOP, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[33m", "\x1b[35m", "\x1b[0m"


# ---------------------------------------------------------------------------------------------------
# Values


def _is_ident(s: object) -> bool:
    return isinstance(s, str) and _IDENT.fullmatch(s) is not None and s not in _KEYWORDS


def _fmt(v: Value) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        # Model values (s1, Follower) and strings are both str: bare when it reads as a name.
        return v if _is_ident(v) else json.dumps(v, ensure_ascii=False)
    if isinstance(v, tuple):
        return "<<" + ", ".join(_fmt(x) for x in v) + ">>"
    if isinstance(v, frozenset):
        return "{" + ", ".join(_fmt(x) for x in ordered(v)) + "}"
    if isinstance(v, FrozenDict):
        if not v:
            return "<<>>"  # the empty function is the empty sequence, as TLC prints it
        if all(_is_ident(k) for k in v):
            return "[" + ", ".join(f"{k} |-> {_fmt(v[k])}" for k in sorted(v)) + "]"
        return "(" + " @@ ".join(f"{_fmt(k)} :> {_fmt(v[k])}" for k in ordered(v)) + ")"
    if isinstance(v, Unserializable):
        return f"(unserializable: {v.text})"
    return repr(v)  # display only: a trace viewer shows what it is given


def format_value(v: Value, *, width: int | None = None) -> str:
    """A value as TLA+ writes it, on one line: {1, 2}, <<a, b>>, [f |-> 1], (k :> v @@ ...).

    Sets, functions and records in one canonical order. With `width`, a longer text is cut to `width`
    characters ending in "...".
    """
    if width is not None and width < 4:
        raise ValueError(f"width must be at least 4, got {width}")
    text = _fmt(v)
    if width is not None and len(text) > width:
        return text[: width - 3] + "..."
    return text


# ---------------------------------------------------------------------------------------------------
# Changes


def _changes(name: str, old: Value, new: Value) -> Iterator[tuple[str, str]]:
    """(what, how) lines for one changed variable, narrowed to the keys of functions that changed."""
    if (
        isinstance(old, FrozenDict)
        and isinstance(new, FrozenDict)
        and old
        and old.keys() == new.keys()
    ):
        for key in ordered(new):
            if old[key] != new[key]:
                yield from _changes(f"{name}[{_fmt(key)}]", old[key], new[key])
        return
    before = _fmt(old)
    if len(before) <= SHORT:
        yield name, f"{before} -> {_fmt(new)}"
    elif isinstance(old, frozenset) and isinstance(new, frozenset):
        parts = []
        if new - old:
            parts.append(f"added {_fmt(new - old)}")
        if old - new:
            parts.append(f"removed {_fmt(old - new)}")
        yield name, ", ".join(parts)
    elif isinstance(old, tuple) and isinstance(new, tuple) and new[: len(old)] == old:
        yield name, f"appended {_fmt(new[len(old) :])}"
    else:
        yield name, f"{_fmt(new)}  (was {format_value(old, width=SHORT)})"


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
    return _fmt(v)


def _header(trace: Trace) -> list[str]:
    meta = trace.meta
    keys = [k for k in _HEADER if k in meta]
    keys += sorted((k for k in meta if k not in _HEADER and k != "format"), key=sort_key)
    rows = [(str(k), _meta_text(meta[k])) for k in keys]
    n = len(trace)
    states = str(n)
    if trace.loop is not None:
        states += f" (a lasso: step {n - 1} goes back to step {trace.loop}, forever)"
    rows.append(("states", states))
    width = max(len(k) for k, _ in rows) + 1
    return [f"{k + ':':<{width}} {v}" for k, v in rows]


def render(
    trace: Trace,
    *,
    vars: Sequence[str] | None = None,
    color: bool = False,
    full: bool = False,
) -> str:
    """The trace as text: a header, then each step's label and what it changed.

    `vars` keeps only those variables (MeshcheckError for a name the trace lacks); `full` also lists
    the variables a step left unchanged; `color` adds ANSI colors.
    """
    if isinstance(vars, str):
        vars = [vars]  # one name, not its letters
    if vars is not None:
        unknown = [v for v in vars if v not in trace.vars]
        if unknown:
            raise MeshcheckError(
                f"unknown variable{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                f"the trace has {', '.join(trace.vars)}"
            )
    shown = [v for v in trace.vars if vars is None or v in vars]

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [*_header(trace), ""]
    for i, step in enumerate(trace.steps):
        label = step.label() if i == 0 or step.action != INIT else "(unlabelled step)"
        head = paint(_BOLD, f"Step {i}  {label}")
        if i == trace.loop:
            head += "  " + paint(_LOOP, "<- loop starts here")
        lines.append(head)
        if step.meta:
            notes = ", ".join(f"{k}={_fmt(step.meta[k])}" for k in sorted(step.meta, key=sort_key))
            lines.append(f"  ({notes})")
        changed = trace.changed(i)
        if i > 0 and not changed:
            lines.append("  (no change)")
        for name in shown:
            new = step.state[name]
            if name not in changed:
                if full:
                    lines.append(f"    {name}: {_fmt(new)}")
            elif i == 0:
                lines.append(f"  {paint(_CHANGED, '*')} {name}: {_fmt(new)}")
            else:
                for what, how in _changes(name, trace.steps[i - 1].state[name], new):
                    lines.append(f"  {paint(_CHANGED, '*')} {what}: {how}")
    if trace.loop is not None:
        lines.append(paint(_LOOP, f"back to step {trace.loop}"))
    return "\n".join(lines) + "\n"

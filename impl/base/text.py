"""Values as TLA+ writes them, in one canonical order: how every view, trace writer and message prints
a value (`format_value`) and orders sets, functions and records (`sort_key`, `ordered`).

Part of the base layer: the trace's `Step.label()`, the ITF writer (traces/itf.py) and the views
(traces/show.py) all print values the same way through here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Json
from meshcheck.impl.base.values import Unserializable
from meshcheck.impl.base.values import Value

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = frozenset({"TRUE", "FALSE"})  # a string spelled so would read as a boolean


# ---------------------------------------------------------------------------------------------------
# One canonical order over values


def sort_key(v: Value) -> tuple[Any, ...]:
    """A total order over values, independent of hashing: how sets, maps and records are written.

    Kinds first (booleans, integers, strings, tuples, sets, functions), then by content, so that
    integers sort as numbers ({1, 2, 10}, not {1, 10, 2}).
    """
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, int):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    if isinstance(v, tuple):
        return (3, tuple(sort_key(x) for x in v))
    if isinstance(v, frozenset):
        return (4, tuple(sorted(sort_key(x) for x in v)))
    if isinstance(v, FrozenDict):
        return (5, tuple(sorted((sort_key(k), sort_key(x)) for k, x in v.items())))
    if isinstance(v, Unserializable):
        return (6, v.text)
    if isinstance(v, Json):
        return (7, v.text)
    raise TypeError(not_a_value(v))


def not_a_value(v: object) -> str:
    return (
        f"not a TLA+ value: {v!r} ({type(v).__name__}); "
        "use bool, int, str, tuple, frozenset or FrozenDict (impl.base.values.freeze converts)"
    )


def ordered(values: Iterable[Value]) -> list[Value]:
    """`values` in the canonical order of `sort_key` (plain `sorted` when all are str or all int)."""
    items = list(values)
    kinds = {type(x) for x in items}
    if kinds == {str} or kinds == {int}:
        return sorted(items)  # the same order, without building keys (sets of servers, of indexes)
    return sorted(items, key=sort_key)


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
    if isinstance(v, Json):
        return v.text  # a #meta value that is not a TLA+ value: its JSON
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

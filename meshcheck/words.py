"""Counted nouns in what the commands print: `count(1, "operation")` is "1 operation",
`count(3, "operation")` "3 operations", so that no output says "1 operations"."""

from __future__ import annotations

from collections.abc import Sequence

# nouns whose plural is not the singular and an s
_IRREGULAR = {
    "entry": "entries",
    "history": "histories",
    "process": "processes",
    "anomaly": "anomalies",
    "replica": "replicas",
    "property": "properties",
    "acquisition": "acquisitions",
    "class": "classes",
}


def plural(noun: str) -> str:
    """`noun`'s plural: the irregular ones of this module, else with an s."""
    return _IRREGULAR.get(noun, noun + "s")


def count(n: int, noun: str, many: str | None = None, *, commas: bool = False) -> str:
    """ "1 noun", "n nouns" (`many`: the plural, when it is not `plural(noun)`); `commas`: n with
    thousands separators ("1,234 steps")."""
    number = f"{n:,}" if commas else str(n)
    return f"{number} {noun if n == 1 else (many or plural(noun))}"


def groups(*named: tuple[str, Sequence[object]]) -> str:
    """Each (label, items) with items, as "label a, b", joined by "; ": `groups(("missing",
    ["x"]), ("unknown", []))` is "missing x"."""
    return "; ".join(f"{label} {', '.join(map(str, items))}" for label, items in named if items)

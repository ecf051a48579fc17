"""Numbers given on the command line, checked once for every command: a value that is not a number,
or out of its range, is one line naming the option (exit 2 through MeshcheckError)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from meshcheck.impl.base.errors import MeshcheckError

N = TypeVar("N", int, float)


def number(name: str, text: str, lo: float, hi: float) -> float:
    """`--name text` as a number from lo to hi."""
    return _bounded(name, text, lo, hi, float, "a number", f"{lo:g} to {hi:g}")


def whole(name: str, text: str, lo: int, hi: int) -> int:
    """`--name text` as a whole number from lo to hi (bounds printed whole: 4294967295)."""
    return _bounded(name, text, lo, hi, int, "a whole number", f"{lo} to {hi}")


def _bounded(
    name: str, text: str, lo: N, hi: N, kind: Callable[[str], N], what: str, bounds: str
) -> N:
    try:
        value = kind(text)
    except ValueError:
        raise MeshcheckError(f"--{name} {text}: not {what}") from None
    if not lo <= value <= hi:
        raise MeshcheckError(f"--{name} {text}: expected {bounds}")
    return value

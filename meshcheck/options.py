"""Numbers given on the command line, checked once for every command: a value that is not a number,
or out of its range, is one line naming the option (exit 2 through MeshcheckError)."""

from __future__ import annotations

from meshcheck.impl.base.errors import MeshcheckError


def number(name: str, text: str, lo: float, hi: float) -> float:
    """`--name text` as a number from lo to hi."""
    try:
        value = float(text)
    except ValueError:
        raise MeshcheckError(f"--{name} {text}: not a number") from None
    if not lo <= value <= hi:
        raise MeshcheckError(f"--{name} {text}: expected {lo:g} to {hi:g}")
    return value


def whole(name: str, text: str, lo: int, hi: int) -> int:
    """`--name text` as a whole number from lo to hi (bounds printed whole: 4294967295)."""
    try:
        value = int(text)
    except ValueError:
        raise MeshcheckError(f"--{name} {text}: not a whole number") from None
    if not lo <= value <= hi:
        raise MeshcheckError(f"--{name} {text}: expected {lo} to {hi}")
    return value

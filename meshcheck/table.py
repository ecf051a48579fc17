"""Plain-text tables: the one shape every summary in meshcheck ends in (also valid Markdown)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> str:
    """A Markdown table; columns whose index is in `right` are right-aligned (numbers)."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def count(n: int | None) -> str:
    """12,345 for a number, "" for None."""
    return "" if n is None else f"{n:,}"


def seconds(s: float) -> str:
    return f"{s:.1f}" if s >= 10 else f"{s:.2f}"

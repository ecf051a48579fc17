"""Plain-text tables: the one shape every summary in meshcheck ends in (also valid Markdown)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from collections.abc import Sequence

# the widest line a command prints unless asked for a wide one (`verify --table`, `mutants --all`)
WIDE = 120


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> str:
    """A Markdown table; columns whose index is in `right` are right-aligned (numbers).

    A `|` inside a cell (`|Q| > n/2`) is escaped, so it does not split the cell.
    """
    cells = [[c.replace("|", "\\|") for c in row] for row in (header, *rows)]
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
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def count(n: int | None) -> str:
    """12,345 for a number, "" for None."""
    return "" if n is None else f"{n:,}"


def seconds(s: float) -> str:
    return f"{s:.1f}" if s >= 10 else f"{s:.2f}"


def format_fitted(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    label: Callable[[Sequence[str]], str] = lambda row: row[0],
    width: int = WIDE,
) -> str:
    """`format_table`, its last column cut where a line would pass `width`, and each cell cut so
    printed whole under the table, after its row's `label`: long output stays readable in a
    terminal and nothing is lost."""
    narrow = format_table(header, [[*r[:-1], ""] for r in rows], right=right).split("\n")[0]
    room = max(20, width - len(narrow) + len(header[-1]))
    body = [[*r[:-1], r[-1] if len(r[-1]) <= room else r[-1][: room - 3] + "..."] for r in rows]
    below: list[str] = []
    for r in rows:
        if len(r[-1]) > room:
            below += textwrap.wrap(f"{label(r)}: {r[-1]}", width, subsequent_indent="  ")
    text = format_table(header, body, right=right)
    return text + ("\n\n" + "\n".join(below) if below else "")

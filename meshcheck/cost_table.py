"""`python -m meshcheck.cost_table [REPORT] [--least S]`: what `meshcheck verify`'s checks cost
and what they caught, as the Markdown tables of docs/verify-cost.md, from a verify JSON report
(default reports/verify.json).

Two tables: per kind of check, its rows, wall-clock seconds, CPU-seconds and the distinct mutants
its rows' checks have killed; then every row of at least `--least` CPU-seconds (default 10), the
costliest first, with its wall-clock seconds, its examples (and where the saturation stop ended a
property test, property_tests/saturation.py) and the mutants its check has killed
(meshcheck/kills.py). A report that cannot be read is one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck import table
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE


def _rows(doc: Any) -> list[dict[str, Any]]:
    checks = doc.get("checks") if isinstance(doc, dict) else None
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise ValueError("no list of checks")
    return [c for c in checks if c.get("kind") != "coverage"]


WIDE = 60  # the mutants' names are cut to this many characters


def _kills(names: Sequence[str], own: str) -> str:
    """How many mutants, and their names (the row's own protocol's without its prefix), cut."""
    if not names:
        return ""
    text = f"{len(names)}: " + ", ".join(n.removeprefix(f"{own}:") for n in names)
    return text if len(text) <= WIDE else text[: WIDE - 3] + "..."


def by_kind(rows: list[dict[str, Any]]) -> str:
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    body = []
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        killed = {k for r in mine for k in r.get("kills") or ()}
        body.append(
            (
                kind,
                str(len(mine)),
                f"{sum(r['seconds'] for r in mine):,.0f}",
                f"{sum(r.get('cpu') or 0 for r in mine):,.0f}",
                str(len(killed)) if killed else "",
            )
        )
    cpu = sum(r.get("cpu") or 0 for r in rows)
    wall = sum(r["seconds"] for r in rows)
    body.append(("all", str(len(rows)), f"{wall:,.0f}", f"{cpu:,.0f}", ""))
    header = ("kind", "rows", "seconds (wall, summed)", "CPU-seconds", "mutants killed")
    return table.format_table(header, body, right=(1, 2, 3, 4))


def costliest(rows: list[dict[str, Any]], least: float) -> str:
    chosen = sorted(
        (r for r in rows if (r.get("cpu") or 0) >= least), key=lambda r: -(r.get("cpu") or 0)
    )
    body = []
    for r in chosen:
        own = r["name"].split("/", 1)[0] if r["kind"] == "tests" else r["name"]
        count = f"{r['count']:,} {r['unit']}" if r.get("count") is not None else ""
        saturated = r.get("detail", "") if r.get("detail", "").startswith("saturated") else ""
        body.append(
            (
                r["kind"],
                r["name"],
                f"{r.get('cpu') or 0:,.1f}",
                f"{r['seconds']:,.1f}",
                f"{count} ({saturated})" if saturated else count,
                _kills(r.get("kills") or (), own),
            )
        )
    header = ("kind", "row", "CPU-s", "wall s", "count", "mutants its check has killed")
    return table.format_table(header, body, right=(2, 3))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meshcheck.cost_table", description=__doc__)
    parser.add_argument("report", nargs="?", default="reports/verify.json")
    parser.add_argument("--least", type=float, default=10.0, metavar="S")
    args = parser.parse_args(argv)
    try:
        doc = json.loads(Path(args.report).read_text(encoding="utf-8"))
        rows = _rows(doc)
        text = f"{by_kind(rows)}\n\n{costliest(rows, args.least)}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cost_table: {args.report}: not a verify report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return EXIT_HOLDS


if __name__ == "__main__":
    sys.exit(main())

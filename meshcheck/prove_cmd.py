"""`meshcheck prove [NAME ...]`: run the Z3 proof sets of `models/` and print their table."""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck.errors import EXIT_HOLDS, EXIT_USAGE, EXIT_VIOLATED, MeshcheckError


def run_prove(names: Sequence[str]) -> int:
    from models.registry import PROOF_SETS, render

    unknown = [n for n in names if n not in PROOF_SETS]
    if unknown:
        raise MeshcheckError(
            f"unknown proof set {', '.join(unknown)} (known: {', '.join(sorted(PROOF_SETS))})"
        )
    results = [r for name in (names or sorted(PROOF_SETS)) for r in PROOF_SETS[name]()]
    print(render(results))
    statuses = {r.status for r in results}
    if "failed" in statuses:
        return EXIT_VIOLATED
    if "unknown" in statuses:
        return EXIT_USAGE
    return EXIT_HOLDS

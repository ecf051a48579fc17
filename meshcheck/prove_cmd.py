"""`meshcheck prove [NAME ...]`: run the Z3 proof sets of `models/` and print their table."""

from __future__ import annotations

from collections.abc import Sequence


def run_prove(names: Sequence[str]) -> int:
    from meshcheck.models import registry

    results = [r for name in (names or sorted(registry.PROOF_SETS)) for r in registry.run(name)]
    print(registry.render(results))
    return registry.exit_code(results)

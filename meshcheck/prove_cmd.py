"""`meshcheck prove [NAME ...]`: run the Z3 proof sets of the registered protocols (each
descriptor's `proofs`) and print their table."""

from __future__ import annotations

from collections.abc import Sequence


def run_prove(names: Sequence[str]) -> int:
    from meshcheck.models import registry

    proof_sets = [registry.proof_set(name) for name in (names or registry.names())]
    results = [r for prove in proof_sets for r in prove()]
    print(registry.render(results))
    return registry.exit_code(results)

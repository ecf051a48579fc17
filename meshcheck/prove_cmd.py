"""`meshcheck prove [NAME ...]`: run the Z3 proof sets of the registered protocols (each
descriptor's `proofs`) and print a line per group of obligations (`--table`: one per obligation),
then each one not proved in full."""

from __future__ import annotations

from collections.abc import Sequence


def run_prove(names: Sequence[str], wide: bool = False) -> int:
    from meshcheck import proofs as registry

    proof_sets = [registry.proof_set(name) for name in (names or registry.names())]
    results = [r for prove in proof_sets for r in prove()]
    print(registry.render(results) if wide else registry.summary(results))
    return registry.exit_code(results)

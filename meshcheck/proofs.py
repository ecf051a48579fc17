"""The proof sets `meshcheck prove NAME` runs (each protocol's descriptor names its own, in models/), and the table it prints.

A protocol's proof set is its descriptor's `proofs` (meshcheck/protocol.py): a function with no
arguments that runs every obligation and returns the results in a stable order. The set is named
after the protocol, as every command names it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

from meshcheck import table
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.models.proof import ProofResult


class UnknownProofSet(MeshcheckError):
    """`meshcheck prove NAME` with a NAME no protocol registered."""


def names() -> list[str]:
    """The registered protocols that have a proof set, sorted."""
    from meshcheck import registry

    return [name for name, p in registry.protocols().items() if p.proofs is not None]


def proof_set(name: str) -> Callable[[], list[ProofResult]]:
    """The proof set of protocol `name`; UnknownProofSet (exit 2) listing the known ones."""
    from meshcheck import registry

    protocol = registry.protocols().get(name)
    if protocol is None or protocol.proofs is None:
        raise UnknownProofSet(f"no proof set {name!r} (known: {', '.join(names())})")
    prove: Callable[[], list[ProofResult]] = protocol.load("proofs")
    return prove


def run(name: str) -> list[ProofResult]:
    """The results of proof set `name`; UnknownProofSet (exit 2) if there is none."""
    return proof_set(name)()


def exit_code(results: Sequence[ProofResult]) -> int:
    """0 when everything is proved, 1 when a proof failed, 2 when Z3 gave up (a tool problem)."""
    if any(r.status == "failed" for r in results):
        return EXIT_VIOLATED
    if any(r.status == "unknown" for r in results):
        return EXIT_USAGE
    return EXIT_HOLDS


_HEADER = ("obligation", "invariant", "transition", "result", "seconds")


def summary(results: Sequence[ProofResult]) -> str:
    """One line per group of obligations (those of one name: `pbft.agreement consecution`),
    proved out of run and seconds, then the same closing lines as `render`: a set of hundreds of
    obligations reads in a screen (`meshcheck prove --table` has each one)."""
    groups: dict[str, list[ProofResult]] = {}
    for r in results:
        groups.setdefault(r.name, []).append(r)
    rows = [
        (name, f"{sum(r.proved for r in mine)}/{len(mine)}", f"{sum(r.seconds for r in mine):.3f}")
        for name, mine in groups.items()
    ]
    table_text = table.format_table(("obligations", "proved", "seconds"), rows, right=(1, 2))
    return table_text + "\n\n" + render(results).split("\n\n", 1)[1]


def render(results: Sequence[ProofResult]) -> str:
    """A table (obligation, invariant, transition, result, seconds), then why each failure failed.

    The table is `meshcheck.table`'s, the one look of every summary meshcheck prints. Seconds keep three
    decimals: most obligations take a few milliseconds.
    """
    rows = [
        (r.name, r.invariant or "-", r.transition or "-", r.status, f"{r.seconds:.3f}")
        for r in results
    ]
    # A blank line ends the table, so the lines after it stay text in Markdown too.
    lines = [table.format_table(_HEADER, rows, right=(4,)), ""]
    proved = sum(r.proved for r in results)
    total = sum(r.seconds for r in results)
    lines.append(f"{proved}/{len(results)} proved in {total:.3f} s")
    for r in results:
        if r.proved:
            continue
        joiner = " in " if r.kind == "bounded" else " under "
        what = joiner.join(x for x in (r.invariant, r.transition) if x)
        lines.append("")
        lines.append(f"{r.status.upper()}: {r.name}: {what}")
        if r.detail:
            lines.append(r.detail)
        if r.counterexample is not None:
            lines.append(r.counterexample.render())
    return "\n".join(lines)

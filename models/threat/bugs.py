"""The threat layer's mutants the Z3 proofs must kill, under the names specs/Hybrid.tla, impl/hybrid and
the kill matrix share: one name, one bug, everywhere."""

from __future__ import annotations

from collections.abc import Iterable

from meshcheck.impl.base.bugs import Bugs
from meshcheck.impl.base.errors import MeshcheckError

BUGS = Bugs()

SWITCH_DROPS_LAST_RAFT_TERM = BUGS.declare(
    "switch_drops_last_raft_term",
    "A switch out of a Raft epoch carries the history only up to the start of the last Raft term, "
    "dropping ops committed in that term (switch model: the carried prefix is cut).",
)

DEESCALATE_CRITICAL_TO_NONE = BUGS.declare(
    "deescalate_critical_to_none",
    "De-escalation from Critical goes straight to None instead of one level down (`step`).",
)

SWITCH_ON_OWN_EVIDENCE = BUGS.declare(
    "switch_on_own_evidence",
    "A node switches protocol when its own detector sees evidence, at its own position, instead "
    "of at the committed switch entry every node agrees on (switch model).",
)

EQUIVOCATION_IS_LOW = BUGS.declare(
    "equivocation_is_low",
    "Equivocation demands Low instead of Critical (`demanded`).",
)


class UnknownBug(MeshcheckError):
    """A mutant name the threat models do not know."""


def check_bugs(bugs: Iterable[str]) -> frozenset[str]:
    found = frozenset(bugs)
    unknown = sorted(found - BUGS.keys())
    if unknown:
        raise UnknownBug(f"unknown threat mutants {unknown} (known: {', '.join(sorted(BUGS))})")
    return found

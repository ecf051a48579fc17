"""The threat layer in Z3 (`meshcheck prove threat`): the level transition function over every input, the
replicated clock for every f, and the switch rule in an abstract model of epochs and histories.

impl/hybrid/levels.py defines the level table and `step`; specs/ThreatLevel.tla and specs/Hybrid.tla
check them for small bounds with TLC. Here:

1. `formula`: `demanded`, `step` and the protocol table as Z3 terms over unbounded integers, written
   branch by branch after levels.py (tests/test_hybrid_levels.py checks that they agree).
2. `obligations`: one lemma per row, each over every level, count, timer value and threshold:
   escalation is monotone in the evidence and in the level, immediate, never below what the evidence
   demands; de-escalation is one level at a time and only after the quiet period and the dwell, and
   reaches None within four steps once evidence stops; Critical needs equivocation; BFT needs
   self-proving evidence or SigHigh bad-signature reporters, so with SigHigh = f+1 f Byzantine
   reporters cannot force it, and self-proving evidence escalates on its own; the protocol table is
   total, monotone and runs Raft exactly below High. And the replicated clock: the (f+1)-th highest of
   n >= 2f+1 reports lies between the honest ones, for every f.
3. `switch` (state, transitions), `switch_invariants` and `switch_proof` (the obligations): the switch
   rule in an abstract model, with Agreement, CommittedPrefixPreserved and NoOpTwice as inductive
   invariants (non-vacuity, initiation, consecution, bounded runs), for unbounded histories, epochs
   and op ids.

The mutants (`bugs.BUGS`) switch one rule each; `prove(bugs=...)` runs the same obligations on them,
and tests/test_models_threat.py shows each fails with a counterexample.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import prove_lemma
from meshcheck.models.threat import switch_proof
from meshcheck.models.threat.bugs import BUGS
from meshcheck.models.threat.bugs import DEESCALATE_CRITICAL_TO_NONE
from meshcheck.models.threat.bugs import EQUIVOCATION_IS_LOW
from meshcheck.models.threat.bugs import SWITCH_DROPS_LAST_RAFT_TERM
from meshcheck.models.threat.bugs import SWITCH_ON_OWN_EVIDENCE
from meshcheck.models.threat.bugs import UnknownBug
from meshcheck.models.threat.bugs import check_bugs
from meshcheck.models.threat.formula import demanded_of
from meshcheck.models.threat.formula import step_of
from meshcheck.models.threat.obligations import lemmas
from meshcheck.models.threat.switch import DEPTH
from meshcheck.models.threat.switch import MODEL

__all__ = [
    "BUGS",
    "DEESCALATE_CRITICAL_TO_NONE",
    "DEPTH",
    "EQUIVOCATION_IS_LOW",
    "MODEL",
    "SWITCH_DROPS_LAST_RAFT_TERM",
    "SWITCH_ON_OWN_EVIDENCE",
    "TIMEOUT_MS",
    "UnknownBug",
    "demanded_of",
    "lemmas",
    "prove",
    "step_of",
]


# Every obligation of the real model takes under a second (the slowest, a bounded run, about two); ten
# seconds leave room for a loaded machine. A mutant of the switch rule makes a few consecution checks
# satisfiable, and Z3 often cannot build a model of the quantified invariants to show it: those rows
# end "unknown" at the timeout, so a longer one only slows a mutant's run (its bounded run fails with a
# trace).
TIMEOUT_MS = 10_000


def prove(
    bugs: Iterable[str] = (), *, depth: int = DEPTH, timeout_ms: int = TIMEOUT_MS
) -> list[ProofResult]:
    """Every threat obligation: the level function's lemmas, then the switch model's obligations."""
    found = check_bugs(bugs)
    results = [prove_lemma(lemma, timeout_ms=timeout_ms) for lemma in lemmas(found)]
    return [*results, *switch_proof.check(found, depth=depth, timeout_ms=timeout_ms)]

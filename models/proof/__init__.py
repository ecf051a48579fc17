"""A small proof framework on Z3: lemmas, and inductive invariants of abstract protocol models.

Why Z3 next to TLC: TLC checks a spec for three servers and a few terms; the facts here hold for every
cluster size and every number of terms, because sorts are unbounded and integers are symbolic.

A protocol model (after mypyvy, and Taube et al., "Modularity for Decidability of Deductive Verification
with Applications to Distributed Systems", PLDI 2018) has uninterpreted sorts; relations, functions and
constants over them, each immutable or mutable; axioms over the immutable symbols; an init condition;
named transitions that each name what they modify (the frame, "everything else stays unchanged", is added
here, never written by hand); and named invariants. The obligations:

- non-vacuity: the axioms and init are satisfiable, and every transition is enabled in some state
  satisfying the invariants. Without this, contradictory axioms or a guard that is always false would
  make every proof below hold vacuously.
- initiation: axioms and init imply each invariant.
- consecution: axioms, all invariants in the pre-state and one transition imply one invariant in the
  post-state: one solver frame per (transition, invariant), so a failure names both.
- bounded: no run of at most `depth` steps from init violates a safety (non-auxiliary) invariant. A failed
  consecution may come from an invariant too weak to be inductive (its counterexample state need not be
  reachable); a bounded failure is a real bug, with the shortest trace.

Keep models in EPR: quantifier alternations (and functions) must not form a cycle between sorts, e.g.
`forall quorum. exists node` is fine while `forall node. exists quorum` would close a cycle with it. Z3
then decides every obligation, in milliseconds. Each solver call has a timeout; reaching it gives
"unknown", never "proved".

Modules: `decl` (what a model is made of), `vocab` (its symbols in Z3, `State`, `inserted`,
`assigned`), `encode` (axioms, init, invariants and steps as formulas, with the frame), `solver` (one
frame per claim, with a timeout), `counterexample` (reading, shrinking and rendering a failure),
`results` (`ProofResult`), `lemma` (integer lemmas), `checks` (the four obligations). Import from
`models.proof`; the modules are its internals.
"""

from __future__ import annotations

from meshcheck.models.proof.checks import DEFAULT_DEPTH
from meshcheck.models.proof.checks import check_bounded
from meshcheck.models.proof.checks import check_inductive
from meshcheck.models.proof.checks import check_model
from meshcheck.models.proof.checks import check_nonvacuous
from meshcheck.models.proof.checks import lemmas_then_model
from meshcheck.models.proof.counterexample import ASSUMED
from meshcheck.models.proof.counterexample import Counterexample
from meshcheck.models.proof.decl import Axiom
from meshcheck.models.proof.decl import Formula
from meshcheck.models.proof.decl import Invariant
from meshcheck.models.proof.decl import ModelError
from meshcheck.models.proof.decl import ProtocolModel
from meshcheck.models.proof.decl import Sort
from meshcheck.models.proof.decl import Symbol
from meshcheck.models.proof.decl import Transition
from meshcheck.models.proof.decl import constant
from meshcheck.models.proof.decl import function
from meshcheck.models.proof.decl import relation
from meshcheck.models.proof.lemma import Lemma
from meshcheck.models.proof.lemma import prove_lemma
from meshcheck.models.proof.results import Kind
from meshcheck.models.proof.results import ProofResult
from meshcheck.models.proof.results import Status
from meshcheck.models.proof.solver import DEFAULT_TIMEOUT_MS
from meshcheck.models.proof.vocab import State
from meshcheck.models.proof.vocab import Vocabulary
from meshcheck.models.proof.vocab import assigned
from meshcheck.models.proof.vocab import inserted

__all__ = [
    "ASSUMED",
    "DEFAULT_DEPTH",
    "DEFAULT_TIMEOUT_MS",
    "Axiom",
    "Counterexample",
    "Formula",
    "Invariant",
    "Kind",
    "Lemma",
    "ModelError",
    "ProofResult",
    "ProtocolModel",
    "Sort",
    "State",
    "Status",
    "Symbol",
    "Transition",
    "Vocabulary",
    "assigned",
    "check_bounded",
    "check_inductive",
    "check_model",
    "check_nonvacuous",
    "constant",
    "function",
    "inserted",
    "lemmas_then_model",
    "prove_lemma",
    "relation",
]

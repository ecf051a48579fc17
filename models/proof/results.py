"""The outcome of one proof obligation, as `meshcheck prove` reports it."""

from __future__ import annotations

from typing import Literal

import attrs

from meshcheck.models.proof.counterexample import Counterexample

Status = Literal["proved", "failed", "unknown"]
Kind = Literal["lemma", "non-vacuity", "initiation", "consecution", "bounded"]


@attrs.frozen
class ProofResult:
    """The outcome of one obligation.

    name: the model (or lemma) and the kind of obligation, e.g. "raft.election consecution".
    invariant: the invariant's name; a lemma's statement; None for non-vacuity. transition: the
    transition's name, "init", or for a bounded check the bound. seconds: solver time, including
    shrinking the counterexample.
    """

    name: str
    kind: Kind
    invariant: str | None
    transition: str | None
    status: Status
    seconds: float
    counterexample: Counterexample | None = None
    detail: str = ""  # why unknown, or what a failed non-vacuity check means

    @property
    def proved(self) -> bool:
        return self.status == "proved"

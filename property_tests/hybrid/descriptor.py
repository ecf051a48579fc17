"""The hybrid layer as meshcheck knows it: a threat-level dispatcher that runs Raft while the
cluster looks honest and PBFT once it sees Byzantine behaviour. specs/Hybrid.tla (the epochs and the
switch) and specs/ThreatLevel.tla (the replicated threat state), impl/hybrid, its mutants, checks,
the Z3 proofs of the threat-level rule (models/threat/) and its corpus.

Declared in pyproject.toml as the entry point `hybrid` of the group `meshcheck.protocols`; the
commands find it through meshcheck/registry.py. The action table is Hybrid.tla's `Next`, then
ThreatLevel.tla's.
"""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.descriptor import models
from meshcheck.protocol import Action

HYBRID = in_tree(
    "hybrid",
    "Raft while honest, PBFT on Byzantine evidence, by threat level",
    # DeescalationOneLevel, without the VIEW its main models reduce by (temporal properties are
    # unsound under a VIEW: specs/Hybrid.md)
    models("Hybrid", every=("Hybrid_deescalation",)),
    extra_models=(models("ThreatLevel"),),
    actions=(
        # Hybrid.tla
        Action("Submit", ("o",), "client", "the client submits op o"),
        Action("OrderOp", ("e", "o"), "protocol", "epoch e's protocol orders op o"),
        Action(
            "OrderEvidence",
            ("e", "k"),
            "byzantine",
            "evidence of kind k of a faulty node is ordered",
        ),
        Action("OrderQuiet", ("e",), "protocol", "a quiet period is ordered in epoch e"),
        Action("Apply", ("i",), "protocol", "i applies its next ordered entry"),
        Action("Switch", ("i",), "protocol", "i ends its epoch and switches protocol"),
        Action("Reply", ("o",), "protocol", "op o is answered as committed"),
        Action("Reject", ("o",), "protocol", "op o is answered as rejected at a switch"),
        # ThreatLevel.tla
        Action("ReportEvidence", ("i", "k"), "byzantine", "i reports evidence of kind k"),
        Action("Tick", (), "environment", "the replicated time moves one tick"),
    ),
    spec_mutants=False,
    proofs="meshcheck.models.threat:prove",
    hints="meshcheck.traces.hints:HYBRID",
)

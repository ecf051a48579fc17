"""The toy protocol as meshcheck knows it: two-phase commit (tests/toy/TwoPhase.tla), its sans-IO
cores (core.py), their two mutants, the checks and the corpus; registered from the test suite
(tests/test_toy_protocol.py) through meshcheck/registry.py, as a plug-in would be."""

from __future__ import annotations

from meshcheck.protocol import Action
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol

_R = ("r",)

PROTOCOL = Protocol(
    name="twophase",
    title="two-phase commit (the test suite's toy protocol)",
    models=Models(spec="TwoPhase", package="tests.toy", quick="TwoPhase_quick", default="TwoPhase"),
    actions=(
        Action("TMRcvPrepared", _R, "protocol", "the coordinator records r's yes vote"),
        Action("TMCommit", (), "protocol", "the coordinator commits: every vote is in"),
        Action("TMAbort", (), "protocol", "the coordinator gives up and aborts"),
        Action("RMPrepare", _R, "protocol", "r votes yes and waits for the decision"),
        Action("RMChooseToAbort", _R, "protocol", "r, still working, aborts on its own"),
        Action("RMRcvCommitMsg", _R, "protocol", "r learns the commit"),
        Action("RMRcvAbortMsg", _R, "protocol", "r learns the abort"),
    ),
    bugs="tests.toy.core:BUGS",
    checks="tests.toy.harness:CHECKS",
    harness="tests.toy.harness:HARNESS",
    corpus="twophase",
    property_tests=("tests/toy/test_checks.py",),
)

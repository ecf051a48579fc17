"""specs/PBFTPlenum.tla: PBFT.tla with the rule by which Indy Plenum orders, ExecuteOnCommits (a
replica that accepted a batch orders it on 2F+1 Commits matching it, without a prepared certificate
of its own; docs/plenum.md). It is one labelled action per honest replica; the quick model (two
requests, 1,606 states, seconds) and the default one (65,437, the slow tier) hold every invariant
they name; and TLC catches the variant plenum's digest-less Commit amounts to, Commits of any batch
at (v, n) counted: Agreement breaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import check
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks

SPECS = spec_checks.SPECS
PLENUM = SPECS / "PBFTPlenum.tla"
QUICK = SPECS / "PBFTPlenum_quick.cfg"  # two requests, one view: 1,606 states
DEFAULT = SPECS / "PBFTPlenum.cfg"  # PBFT_quick.cfg's constants: 65,437 states
MATCHING = r"Cardinality({j \in Replicas : Sent(CommitMsg(v, n, r, j))}) >= Quorum"
ANY = r"Cardinality({j \in Replicas : \E q \in ReqOrNoop : Sent(CommitMsg(v, n, q, j))}) >= Quorum"


def test_execute_on_commits_is_a_labelled_action() -> None:
    with Stepper(PLENUM, QUICK) as st:
        found = [a for a in st.actions if a.name == "ExecuteOnCommits"]
        assert sorted(a.params["i"] for a in found) == ["r2", "r3", "r4"]  # r1 is Byzantine
        assert any(a.name == "Execute" for a in st.actions)


@pytest.mark.slow
def test_the_default_model_holds() -> None:
    result = check(PLENUM, DEFAULT, workers=2, deadlock=False)
    assert result.outcome is Outcome.HOLDS and result.distinct == 65437


def test_the_quick_model_holds() -> None:
    result = check(PLENUM, QUICK, deadlock=False)
    assert result.outcome is Outcome.HOLDS and result.distinct == 1606


def test_commits_of_any_batch_break_agreement(tmp_path: Path) -> None:
    text = PLENUM.read_text()
    assert text.count(MATCHING) == 1
    shutil.copy(SPECS / "PBFT.tla", tmp_path / "PBFT.tla")
    (tmp_path / "PBFTPlenum.tla").write_text(text.replace(MATCHING, ANY))
    shutil.copy(QUICK, tmp_path / "PBFTPlenum_quick.cfg")
    result = check(tmp_path / "PBFTPlenum.tla", tmp_path / "PBFTPlenum_quick.cfg", deadlock=False)
    assert result.outcome is Outcome.VIOLATED
    assert result.violation is not None and "Agreement" in str(result.violation)

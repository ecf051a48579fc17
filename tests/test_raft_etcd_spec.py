"""specs/RaftEtcd.tla: Raft.tla with the choices etcd's Raft library makes (the pipelined send, the
heartbeat, a stale request ignored, a request below the commit index answered at it, the back-off
on a rejection, a vote refused while a leader is known, a lost election, a restart with the commit
index written; with pre-vote, its answers and the term rule on its refusals; with check-quorum, a
vote request ignored in the lease and the leader's step-down). Each is one labelled action per
channel or per server, the quick models (without, and with pre-vote and check-quorum) hold every
invariant of Raft's quick model, and two mutants of the new actions are caught by TLC: a restart
that comes back with a commit index beyond what it wrote, and a vote granted by the rule that may
only refuse. (Pre-votes elect nobody: no change to their answers can break safety, so no mutant of
them is a test of the checks.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks

SPECS = spec_checks.SPECS
ETCD = SPECS / "RaftEtcd.tla"
QUICK = SPECS / "RaftEtcd_quick.cfg"

PREVOTE_QUICK = SPECS / "RaftEtcd_prevote_quick.cfg"

# (distinct states, depth) of the quick models (RaftPipelined_quick's: 72,839 and 31)
QUICK_COUNT = (97587, 30)
PREVOTE_QUICK_COUNT = (153703, 39)

# Two terms, one restart or drop, entries up to index 2: where two candidates meet and a restarted
# node comes back.
SMALL = spec_checks.raft_small_cfg(
    "EtcdSpec", 1, ("CheckQuorum = FALSE",), " MatchIndexBounded NextIndexAboveMatch"
)


def _copy(folder: Path, text: str) -> Path:
    for name in ("Raft.tla", "RaftPipelined.tla"):
        shutil.copy(SPECS / name, folder / name)
    (folder / "RaftEtcd.tla").write_text(text)
    (folder / "Small.cfg").write_text(SMALL)
    return folder / "RaftEtcd.tla"


def _mutant(folder: Path, old: str, new: str) -> Path:
    text = ETCD.read_text()
    assert text.count(old) == 1, old
    return _copy(folder, text.replace(old, new))


def test_the_librarys_choices_are_labelled_actions() -> None:
    per_channel = (
        "PipelineAppendEntries",
        "Heartbeat",
        "IgnoreStaleRequest",
        "HandleAppendEntriesRequestBelowCommit",
        "HandleAppendEntriesResponseBackOff",
        "HandleRequestVoteRequestLeaderKnown",
        "HandleRequestVoteResponseLost",
        "HandlePreVoteRequestEtcd",
        "HandlePreVoteResponseNewerTerm",
        "HandlePreVoteResponseLost",
        "IgnoreVoteRequestInLease",
    )
    with Stepper(ETCD, QUICK) as st:
        for name in per_channel:
            found = [a for a in st.actions if a.name == name]
            assert len(found) == 6 and all(a.params.keys() == {"i", "j"} for a in found), name
        # LeaderStepDown: enabled only with CheckQuorum (the quick model's count is the same as
        # before it was added)
        for name in ("RestartKeepingCommit", "LeaderStepDown"):
            found = [a for a in st.actions if a.name == name]
            assert len(found) == 3 and all(a.params.keys() == {"i"} for a in found), name
        # RaftPipelined's step back is a case of the back-off, its step-down LeaderStepDown's
        for name in ("HandleAppendEntriesResponseStepBack", "CheckQuorumStepDown"):
            assert not any(a.name == name for a in st.actions), name


@pytest.mark.slow  # about 40 s
def test_quick_model_holds_with_its_recorded_state_count() -> None:
    spec_checks.assert_holds(ETCD, QUICK, QUICK_COUNT)


@pytest.mark.slow  # about 65 s
def test_prevote_quick_model_holds_with_its_recorded_state_count() -> None:
    spec_checks.assert_holds(ETCD, PREVOTE_QUICK, PREVOTE_QUICK_COUNT)


@pytest.mark.slow  # 65,946 states, about 35 s
def test_the_small_model_holds(tmp_path: Path) -> None:
    """The control of the mutants below: the spec as it is holds where they fail."""
    spec_checks.assert_holds(_copy(tmp_path, ETCD.read_text()), tmp_path / "Small.cfg", None)


def test_a_restart_beyond_its_written_commit_index_is_caught(tmp_path: Path) -> None:
    spec = _mutant(
        tmp_path,
        "\\E c \\in snapshotIndex[i]..commitIndex[i] :",
        "\\E c \\in snapshotIndex[i]..LastIndex(i) :",
    )
    r = spec_checks.run(spec, tmp_path / "Small.cfg")
    assert r.outcome is Outcome.VIOLATED
    assert r.violation is not None and r.violation.name == "StateMachineSafety"


def test_a_vote_granted_by_the_refusal_rule_is_caught(tmp_path: Path) -> None:
    # a grant that records no vote: a server votes twice in one term
    refusal = "mterm |-> currentTerm[i], mvoteGranted |-> FALSE,"
    spec = _mutant(tmp_path, refusal, refusal.replace("FALSE", "TRUE"))
    r = spec_checks.run(spec, tmp_path / "Small.cfg")
    assert r.outcome is Outcome.VIOLATED
    assert r.violation is not None and r.violation.name == "ElectionSafety"

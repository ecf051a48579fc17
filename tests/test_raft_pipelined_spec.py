"""specs/RaftPipelined.tla: Raft.tla with pipelined AppendEntries (Ongaro's thesis, section 10.2.1),
a rejection that steps nextIndex back less far than the hint
(HandleAppendEntriesResponseStepBack, the paper's Figure 2) and a leader's step-down without a
majority (CheckQuorumStepDown, section 6.2). Its quick model holds every invariant of Raft's
quick model with its recorded state count, the pipelined send and the step back are one labelled
action per channel and the step-down one per server, a mutant of the send that advances
matchIndex instead of nextIndex (the leader counts entries the follower never got) is caught by
TLC, and so is a step-down that keeps the leader's nextIndex and matchIndex."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.stepper import Stepper
from tests import spec_checks

SPECS = spec_checks.SPECS
PIPELINED = SPECS / "RaftPipelined.tla"
QUICK = SPECS / "RaftPipelined_quick.cfg"

# (distinct states, depth) of the quick model (Raft_quick's: 41,150 and 31; 72,467 without the
# step back)
QUICK_COUNT = (72839, 31)

# Two terms, one drop, entries up to index 2, nothing else: the smallest model where an optimistic
# matchIndex commits an entry only the leader holds and a later leader lacks it.
SMALL = spec_checks.raft_small_cfg("PipelinedSpec", 0)
ADVANCE = "/\\ nextIndex' = [nextIndex EXCEPT ![i][j] = last + 1]"
UNCHANGED = "votesGranted, matchIndex, reads,"


def _copy(folder: Path, text: str) -> Path:
    shutil.copy(SPECS / "Raft.tla", folder / "Raft.tla")
    (folder / "RaftPipelined.tla").write_text(text)
    (folder / "Small.cfg").write_text(SMALL)
    return folder / "RaftPipelined.tla"


def test_pipelined_send_is_one_labelled_action_per_channel() -> None:
    with Stepper(PIPELINED, QUICK) as st:
        pipelined = [a for a in st.actions if a.name == "PipelineAppendEntries"]
        assert len(pipelined) == 6 and all(a.params.keys() == {"i", "j"} for a in pipelined)
        assert sum(a.name == "AppendEntries" for a in st.actions) == 6
        back = [a for a in st.actions if a.name == "HandleAppendEntriesResponseStepBack"]
        assert len(back) == 6 and all(a.params.keys() == {"i", "j"} for a in back)
        down = [a for a in st.actions if a.name == "CheckQuorumStepDown"]
        assert len(down) == 3 and all(a.params.keys() == {"i"} for a in down)


@pytest.mark.slow  # about 20 s; make verify checks the same model's count (pysyncobj's TLC row)
def test_quick_model_holds_with_its_recorded_state_count() -> None:
    spec_checks.assert_holds(PIPELINED, QUICK, QUICK_COUNT)


@pytest.mark.slow  # 48,868 states, 10 s alone and 25 s beside the other tests
def test_the_small_model_holds(tmp_path: Path) -> None:
    """The control of the test below: the spec as it is holds on the model where its mutant fails."""
    spec_checks.assert_holds(_copy(tmp_path, PIPELINED.read_text()), tmp_path / "Small.cfg", None)


def test_optimistic_match_index_is_caught(tmp_path: Path) -> None:
    text = PIPELINED.read_text()
    assert text.count(ADVANCE) == 1 and text.count(UNCHANGED) == 1
    mutant = text.replace(ADVANCE, "/\\ matchIndex' = [matchIndex EXCEPT ![i][j] = last]")
    mutant = mutant.replace(UNCHANGED, "votesGranted, nextIndex, reads,")
    r = spec_checks.run(_copy(tmp_path, mutant), tmp_path / "Small.cfg")
    assert r.outcome is Outcome.VIOLATED
    assert r.violation is not None and r.violation.name == "LeaderCompleteness"


def test_step_down_that_keeps_leader_state_is_caught(tmp_path: Path) -> None:
    # the step-down is reachable and checked: without LeaveRole the former leader keeps its
    # nextIndex and matchIndex, which VolatileNormalForm forbids a follower
    text = PIPELINED.read_text()
    leave = "    /\\ role' = [role EXCEPT ![i] = Follower]\n    /\\ LeaveRole(i, TRUE)\n"
    assert text.count(leave) == 1
    mutant = text.replace(
        leave,
        "    /\\ role' = [role EXCEPT ![i] = Follower]\n"
        "    /\\ UNCHANGED <<votesGranted, nextIndex, matchIndex, reads, readFloor>>\n",
    )
    _copy(tmp_path, mutant)
    r = spec_checks.run(tmp_path / "RaftPipelined.tla", tmp_path / "Small.cfg")
    assert r.outcome is Outcome.VIOLATED
    assert r.violation is not None and r.violation.name == "VolatileNormalForm"

"""PySyncObj's logs against specs/RaftPipelined.tla (property_tests/pysyncobj/validation.py): calm
free runs and runs with drops, crashes and partitions on FIFO links validate, a leader's step-down
after leaderFallbackTimeout is CheckQuorumStepDown (and the log without it is rejected), and an
injected double vote is rejected at the step that casts it; a restarted leader's persisted commit
index is mapped to the spec's (and the log without that mapping is rejected)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from meshcheck.impl.adapters.pysyncobj import PySyncObjDriver
from meshcheck.property_tests.free_runs import Schedule, share
from meshcheck.property_tests.pysyncobj.validation import (
    SPEC,
    calm,
    calm_runs_validate,
    faulty,
    faulty_runs_validate,
    validate_run,
)
from meshcheck.traces.logs.format import read
from meshcheck.traces.logs.validate import validate


def test_calm_pysyncobj_runs_validate() -> None:
    calm_runs_validate(share(settings(), 0.2))


def test_injected_double_vote_is_the_step_named() -> None:
    # vote_twice (property_tests/pysyncobj/bugs.py): s2 votes for s1, then for s3 in the same term
    verdict, held = validate_run(calm(4, 600), frozenset({"vote_twice"}))
    assert not held
    assert verdict.verdict == "invalid" and verdict.diagnosis is not None
    assert verdict.diagnosis.source.endswith("seed-4.ndjson:6")
    assert verdict.diagnosis.record == "HandleRequestVoteRequest(i=s2, j=s3)"
    assert "votedFor[s2]: logged s3, spec s1" in verdict.diagnosis.reason
    # the same run without the bug validates
    verdict, held = validate_run(calm(4, 600))
    assert held and verdict.ok, verdict.render()


def test_runs_with_faults_validate_against_raft_pipelined() -> None:
    # Hypothesis: drops, crashes, one-way and two-way partitions on FIFO links; PySyncObj's
    # pipelined sends are PipelineAppendEntries, its leaders' fallbacks CheckQuorumStepDown
    faulty_runs_validate(share(settings(), 0.2))


def test_leader_fallback_is_check_quorum_step_down() -> None:
    # seed 2: s2, leader, hears from no majority for leaderFallbackTimeout and steps down in its
    # tick, in its term; the record is RaftPipelined.tla's CheckQuorumStepDown and the log validates
    with tempfile.TemporaryDirectory() as tmp:
        verdict, held = validate_run(faulty(2), folder=Path(tmp))
        assert held and verdict.ok, verdict.render()
        records = read(Path(tmp) / "seed-2.ndjson")
    down = [r for r in records if r.action == "CheckQuorumStepDown"]
    assert [r.label() for r in down] == ["CheckQuorumStepDown(i=s2)"]
    assert down[0].state["role"] == "Follower"
    # without that record the log is what Raft.tla's leader cannot do: its next Timeout is the
    # record no action explains (the spec's s2 is still Leader)
    cut = validate([r for r in records if r is not down[0]], SPEC)
    assert cut.verdict == "invalid" and cut.diagnosis is not None
    assert cut.diagnosis.record == "Timeout(i=s2)"


def short(seed: int) -> Schedule:
    """The schedule `make verify`'s dev profile drew seed 2412 of: FIFO links, a write every 5
    ticks, drops, crashes and partitions."""
    return Schedule(
        seed=seed, ticks=405, drop=0.02, crash=0.3, partition=0.1, every=5, reads=0.0, fifo=True
    )


RESTARTED_LEADER = short(2412)


def test_a_restarted_leaders_persisted_commit_index_is_mapped(tmp_path: Path) -> None:
    """s1 restarts with the commitIndex PySyncObj keeps in its journal (80), while Raft.tla's
    Restart sets the spec's to 0 (commitIndex is volatile, Figure 2); s1 then wins term 2 before it
    learns the commit index again. The adapter keeps the spec's commit index as a ghost: s1's
    records show 0 from its Restart on, and its first AppendEntries as leader carries leaderCommit
    0, as the spec's leader's (impl/adapters/pysyncobj.py, "Commit index")."""
    verdict, held = validate_run(RESTARTED_LEADER, folder=tmp_path)
    assert held and verdict.ok, verdict.render()
    records = read(tmp_path / "seed-2412.ndjson")
    restart = next(
        k for k, r in enumerate(records) if r.action == "Restart" and r.params["i"] == "s1"
    )
    before = [r for r in records[:restart] if r.node == "s1"][-1]
    assert before.state["commitIndex"] == 80  # what s1's journal keeps across the restart
    assert records[restart].state["commitIndex"] == 0  # the spec's, reset by Restart
    sent = records[157]  # the record the log was rejected at before the mapping
    assert sent.label() == "PipelineAppendEntries(i=s1, j=s2)"
    assert sent.params["m"]["mcommitIndex"] == 0


def test_without_the_mapped_leader_commit_the_log_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the same run with the states mapped but each AppendEntries carrying PySyncObj's own
    # leaderCommit: s1's first AppendEntries as leader (80) is no message the spec's leader (0) sends
    monkeypatch.setattr(PySyncObjDriver, "map_leader_commit", False)
    verdict, held = validate_run(RESTARTED_LEADER)
    assert held  # the run's own checks (invariants, client histories) hold
    assert verdict.verdict == "invalid" and verdict.diagnosis is not None
    assert verdict.diagnosis.source.endswith("seed-2412.ndjson:158")
    assert verdict.diagnosis.record == "PipelineAppendEntries(i=s1, j=s2)"


def test_a_leader_behind_the_specs_commit_index_sends_the_specs(tmp_path: Path) -> None:
    """The other direction, why a message carries exactly the ghost and not min(PySyncObj's, the
    ghost): seed 273 of the same schedule. s1, leader of term 1, gets the answer that commits
    entries 65..74 in the spec (HandleAppendEntriesResponse), but steps down on a vote request
    before the tick in which PySyncObj would commit them, then wins term 3 with its own commit
    index still 64 (PySyncObj's leader commits only entries of its term). The spec's leader sends
    74, and so does the log; the min would send 64, which the spec's leader cannot."""
    verdict, held = validate_run(short(273), folder=tmp_path)
    assert held and verdict.ok, verdict.render()
    records = read(tmp_path / "seed-273.ndjson")
    sent = next(
        r for r in records if r.action == "PipelineAppendEntries" and r.params["m"]["mterm"] == 3
    )
    assert sent.params["i"] == "s1" and sent.params["m"]["mcommitIndex"] == 74

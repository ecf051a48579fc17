"""PySyncObj's logs against specs/RaftPipelined.tla (property_tests/pysyncobj/validation.py): calm
free runs and runs with drops, crashes and partitions validate, an injected double vote is rejected
at the step that casts it, and the remaining difference of modelling (a leader stepping down after
leaderFallbackTimeout) stays where it was found."""

from __future__ import annotations

from hypothesis import settings

from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.pysyncobj.validation import (
    calm,
    calm_runs_validate,
    faulty,
    validate_run,
)


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
    # drops, crashes and partitions on FIFO links: PySyncObj's pipelined sends are
    # RaftPipelined.tla's PipelineAppendEntries (seeds whose leader never steps down by itself)
    for seed in (1, 3, 4):
        verdict, held = validate_run(faulty(seed))
        assert held
        assert verdict.ok, verdict.render()


def test_leader_fallback_is_the_known_difference() -> None:
    # a leader that heard from no majority for leaderFallbackTimeout steps down in its tick, an
    # action neither Raft.tla nor RaftPipelined.tla has: its next election timeout is the record
    # no action explains (the spec's node is still Leader)
    verdict, held = validate_run(faulty(2))
    assert held
    assert verdict.verdict == "invalid" and verdict.diagnosis is not None
    assert verdict.diagnosis.source.endswith("seed-2.ndjson:179")
    assert verdict.diagnosis.record == "Timeout(i=s2)"

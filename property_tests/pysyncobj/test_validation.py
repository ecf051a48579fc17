"""PySyncObj's logs against specs/Raft.tla (property_tests/pysyncobj/validation.py): calm free
runs validate, an injected double vote is rejected at the step that casts it, and the modelling
difference of pipelined AppendEntries stays where it was found."""

from __future__ import annotations

from hypothesis import settings

from meshcheck.property_tests.free_runs import Schedule, share
from meshcheck.property_tests.pysyncobj.validation import calm, calm_runs_validate, validate_run


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


def test_pipelined_append_entries_is_the_known_difference() -> None:
    # drops, crashes and partitions: a leader sends past what an unanswering follower acknowledged
    schedule = Schedule(
        seed=1, ticks=1500, drop=0.05, crash=0.3, partition=0.3, every=20, fifo=True
    )
    verdict, held = validate_run(schedule)
    assert held
    assert verdict.verdict == "invalid" and verdict.diagnosis is not None
    assert verdict.diagnosis.record.startswith("AppendEntries(i=s1, j=s2)")

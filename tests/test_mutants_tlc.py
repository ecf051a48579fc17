"""`meshcheck mutants`: the kill matrix's TLC column, TLC on the spec mutant of the same bug
(specs/mutants/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from meshcheck import mutants_cmd
from meshcheck.cli import main
from meshcheck.mutants_cmd import TLC_CHECK
from meshcheck.mutants_cmd import render
from meshcheck.mutants_cmd import run_mutants
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.specs import mutants as spec_mutants
from meshcheck.specs.mutants import raft as raft_mutants


def test_each_implementation_mutant_finds_its_spec_mutant() -> None:
    from meshcheck.impl.pbft.mutants import BUGS as PBFT
    from meshcheck.impl.raft.mutants import BUGS as RAFT

    raft = {b: spec_mutants.for_bug("raft", b) for b in RAFT}
    # a leader that keeps leading is no spec action's mistake; the client-visible mutants concern
    # answers and the state machine, which the spec does not hold; the backup mutants change
    # only how fast a follower is repaired; the deposed leader's kept suffix needs the exact
    # AppendEntries a spec mutant would have to single out
    assert {b for b, m in raft.items() if m is None} == {
        "leader_ignores_higher_term",
        "abandon_as_rejected",
        "install_stale_snapshot",
        "repropose_uncommitted",
        "backup_one_at_a_time",
        "backup_past_conflict",
        "deposed_leader_keeps_suffix",
        "pending_writes_persisted",  # a client answer: the spec holds none
        # a table that outlives its server object is no spec action's mistake: the spec's state
        # is its variables, and a restart keeps only the persistent ones
        "pending_writes_outlive_restart",
        # the spec's commit rule takes the highest index a quorum stores at once; a rule that
        # stops at an earlier term's entry shows only as a liveness lasso of the liveness model
        # (half a minute of TLC), where the free runs' bounded LeaderCommitsStoredEntries kills it
        "commit_stops_at_older_term",
        # the safety models have three servers, where (n + 1) // 2 is a majority too; the
        # drawn-size free runs kill it at 4 and 6
        "quorum_half_at_even_n",
        # a follower's answer to a client's read: the spec holds no answers
        "read_redirect_without_leader",
        # how many entries an AppendEntries carries is the spec's free choice (any prefix): a
        # leader that sends one at a time is slow, not wrong (RecoveryWithinBound kills it)
        "probe_stays_one_entry",
    }
    forget = raft["forget_voted_for"]
    assert forget is not None and forget.catches == "ElectionSafety"
    pbft = {b: spec_mutants.for_bug("pbft", b) for b in PBFT}
    # the spec has no unsigned fields and no relaying: the receiver mutants of a message changed
    # on its way (impl/pbft/byzantine/fuzz.py) have no spec mutant
    assert {b for b, m in pbft.items() if m is None} == {
        "checkpoint_stable_on_f_plus_1",
        "checkpoint_state_blames_signer",
        "relayed_batch_not_checked",
        "view_change_blames_signer",
        "execute_again",  # the spec has no state machine: executing twice changes no spec state
        "client_timestamp_reset",  # the spec names a request by its operation, not a timestamp
        # the spec's client is correct and holds no view, signatures or timestamps: a client that
        # trusts one replica (property_tests/pbft/client_replies.py kills each)
        "client_view_from_one_reply",
        "client_accepts_on_f_replies",
        "client_reply_signature_not_checked",
        "client_reply_request_not_matched",
        # the spec's quorum is ceil((N+F+1)/2), the mutant's 2F+1 is the same at its N = 4
        "quorum_2f_plus_1_at_any_n",
        # the same for the prepared certificate: a quorum less the primary is 2F at N = 4
        "prepares_2f_at_any_n",
        # only a faulty primary signs a prepare: the spec's certificates hold honest votes
        "prepared_counts_primary",
        # the spec has no clock: a view change may start at any step, and how long a replica
        # waits before it does is no state of the spec (liveness under slow links kills it)
        "view_change_timeout_reset_on_new_view",
        # the spec's StableCheckpoint takes the state with the proof, and AcceptNewView may come
        # at any step: a replica that waits for it is slow, not wrong (CatchUpByStateTransfer)
        "lagging_replica_waits_for_view_change",
    }
    assert spec_mutants.equivalent("pbft", "checkpoint_stable_on_f_plus_1")
    # the replica's view and stable checkpoint: each action property's spec mutant
    for bug, catches in (
        ("stale_new_view_accepted", "ViewMonotonic"),
        ("stable_checkpoint_moves_back", "StableCheckpointMonotonic"),
    ):
        found = pbft[bug]
        assert found is not None and (found.catches, found.kind) == (catches, "property")
    assert spec_mutants.for_bug("hybrid", "anything") is None  # no spec mutants: no TLC column
    # nor could there be one of the receipt-time timing detector: Hybrid.tla has no messages,
    # and with no Byzantine node its Reportable is empty (NoFalseAccusation checks the code)
    assert spec_mutants.for_bug("hybrid", "timing_from_receipt") is None
    # nor of a leader's memory of what it appended: Hybrid.tla orders ops without leaders or terms
    # (OrderOp), so a leader that drops the retries of an op it led before has no spec step
    assert spec_mutants.for_bug("hybrid", "reappend_checks_index_only") is None


def test_tlc_kills_the_spec_mutant_and_the_table_shows_it() -> None:
    outcomes = run_mutants(
        "raft",
        profile="quick",
        only=["forget_voted_for"],
        tlc=True,
        shrink=False,
    )
    (forget,) = outcomes
    assert forget.tlc is not None and forget.tlc.killed and forget.tlc.spec
    assert forget.tlc.steps == 7  # 8 states, as specs/Raft.md records
    # the implementation's own checks still decide whether a mutant survives
    assert forget.killer is not None and forget.killer.check == "lockstep"
    table = render(outcomes)
    assert table.splitlines()[0].split("|")[2].strip() == TLC_CHECK
    assert "killed, " in table and "7 steps" in table


def _moved_to(spec_file: str, bug: str) -> pytest.MarkDecorator:
    """The mark of a case whose TLC run a spec test makes too: `run_tlc` is `check` of the mutated
    spec on the mutant's model on one worker, which `spec_file`'s test of the mutant `bug` runs and
    asserts on (the property broken, the trace's length); the stale_new_view_accepted case keeps
    this path, an action property reported as a kill, in make test."""
    return pytest.mark.moved(
        stand_in=f"{spec_file}::test_mutant_is_caught_by_its_property[{bug}]",
        why="the same TLC run of the same spec mutant, asserting the same property and length",
    )


@pytest.mark.parametrize(
    ("protocol", "bug"),
    [
        ("pbft", "stale_new_view_accepted"),
        pytest.param(
            "pbft",
            "stable_checkpoint_moves_back",
            marks=_moved_to("tests/test_pbft_spec.py", "stable_checkpoint_moves_back"),
            id="pbft-stable_checkpoint_moves_back",
        ),
        pytest.param(
            "hotstuff",
            "lock_moves_down",
            marks=_moved_to("tests/test_hotstuff_spec.py", "lock_moves_down"),
            id="hotstuff-lock_moves_down",
        ),
    ],
)
def test_tlc_kills_the_spec_mutant_of_an_action_property(protocol: str, bug: str) -> None:
    """An action property's spec mutant is checked as a PROPERTY (no VIEW or SYMMETRY in its
    model) and reported as one: the kill matrix's TLC column counts it killed."""
    mutant = spec_mutants.for_bug(protocol, bug)
    assert mutant is not None and mutant.kind == "property"
    kill = spec_mutants.run_tlc(protocol, mutant)
    assert kill.killed, kill.detail
    assert kill.steps == mutant.found[1] - 1


def _caught(bugs: frozenset[str], settings: Any) -> None:
    raise CheckFailed("caught it", steps=2)


def test_a_spec_mutant_tlc_does_not_kill_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The spec unchanged, on a small model: ElectionSafety holds, so TLC "survives". A bug
    the spec does not have gets "-" and does not count."""

    def catalogue(protocol: str) -> tuple[Mapping[str, str], list[Check]]:
        bugs = {"forget_voted_for": "x", "leader_ignores_higher_term": "y"}
        return bugs, [Check("first", _caught, "")]

    real = spec_mutants.for_bug
    mutant = real("raft", "forget_voted_for")
    assert mutant is not None
    small = {**raft_mutants.NO_EXTRAS, "MaxLogLen": 1}
    unchanged = attrs.evolve(mutant, changes=(), model=small)
    monkeypatch.setattr(mutants_cmd, "catalogue", catalogue)
    monkeypatch.setattr(
        spec_mutants,
        "for_bug",
        lambda protocol, bug: unchanged if bug == "forget_voted_for" else real(protocol, bug),
    )
    assert main(["mutants", "raft", "--all", "-q"]) == 1
    out = capsys.readouterr().out
    assert "SURVIVED (holds" in out
    rows = {r.split("|")[1].strip(): r.split("|")[2].strip() for r in out.splitlines()[2:4]}
    assert rows["leader_ignores_higher_term"] == "-"
    assert "TLC did not kill the spec mutant of forget_voted_for" in out
    assert [c.strip() for c in out.splitlines()[0].split("|")[1:4]] == [
        "mutant",
        TLC_CHECK,
        "first",
    ]


def test_without_all_no_tlc_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def catalogue(protocol: str) -> tuple[Mapping[str, str], list[Check]]:
        return {"forget_voted_for": "x"}, [Check("first", _caught, "")]

    def no_tlc(protocol: str, mutant: Any) -> Any:
        raise AssertionError("TLC ran")

    monkeypatch.setattr(mutants_cmd, "catalogue", catalogue)
    monkeypatch.setattr(spec_mutants, "run_tlc", no_tlc)
    (outcome,) = run_mutants("raft")
    assert outcome.tlc is None and outcome.killer is not None
    assert TLC_CHECK not in render([outcome])
    assert raft_mutants.MUTANTS  # the table the spec tests share

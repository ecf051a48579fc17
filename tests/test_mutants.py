"""`meshcheck mutants`: every known bug is killed, and the command reports what killed it."""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from meshcheck import mutants_cmd
from meshcheck.cli import main
from meshcheck.mutants_cmd import Attempt
from meshcheck.mutants_cmd import Outcome
from meshcheck.mutants_cmd import render
from meshcheck.mutants_cmd import run_mutants
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.raft.checks import CHECKS
from meshcheck.property_tests.raft.checks import Check
from tests.own_protocols import OWN_PROTOCOLS


def every_mutant_killed(
    protocol: str, bugs: Collection[str], at_least: int, **options: Any
) -> list[Outcome]:
    """Each of `protocol`'s mutants run alone in the default profile, without shrinking (`options`:
    run_mutants's others, which mutants and which checks first): every one is killed, and they are
    the catalogue's `bugs`, in its order, at least `at_least` of them."""
    outcomes = run_mutants(protocol, profile="default", shrink=False, **options)
    survivors = [o.mutant for o in outcomes if o.killer is None]
    assert not survivors, render(outcomes)
    assert [o.mutant for o in outcomes] == list(bugs) and len(bugs) >= at_least
    return outcomes


def first_killers(outcomes: Sequence[Outcome]) -> dict[str, str]:
    """Each killed mutant's first killer."""
    return {o.mutant: o.killer.check for o in outcomes if o.killer is not None}


def test_every_raft_mutant_is_killed_in_the_default_profile() -> None:
    """The measure of the toolkit is the bugs it catches: each bug in impl/raft/mutants.py,
    switched on alone, fails some property check under `make verify`'s budget. No shrinking here:
    whether a check kills does not depend on it (`make mutants` shrinks and reports the lengths).
    The stored traces go first: five mutants survive lockstep's whole budget (13 to 17 s each)
    and die in the corpus replay, and whether a mutant dies does not depend on the order."""
    from meshcheck.impl.raft.mutants import BUGS

    every_mutant_killed("raft", BUGS, 6, first=("stored traces",))


@pytest.mark.parametrize(
    ("protocol", "first"),
    [("pbft", ("thresholds at every n", "stored traces")), ("hybrid", ("stored traces",))],
)
def test_every_pbft_and_hybrid_mutant_is_killed_stored_traces_first(
    protocol: str, first: tuple[str, ...]
) -> None:
    """Every bug of the PBFT and hybrid catalogues is killed, the quick checks first (a mutant
    that dies does not depend on the order; only which check is named does, and the two tests
    below, in the slow tier, pin each mutant's first killer in the default order: 45 s and 42 s,
    against about a quarter of that here). PBFT's thresholds at every n go before its stored
    traces: they kill three of its bugs in milliseconds (quorum_2f_plus_1_at_any_n survives 4 s of
    the stored traces first) and cost nothing against the others."""
    import importlib

    bugs = importlib.import_module(f"meshcheck.impl.{protocol}.mutants").BUGS
    every_mutant_killed(protocol, bugs, 5, first=first)


@pytest.mark.slow
def test_every_pbft_mutant_is_killed_in_the_default_profile() -> None:
    """The same measure for PBFT (impl/pbft/mutants.py): every bug is killed. The signed-fields
    property runs first (under a second): it kills the three receivers that trust a part of a
    relayed message no signature covers (lockstep cannot: the spec has no unsigned fields), a
    replica that checks no signature, and a new primary whose O the backups' recomputation
    refutes; lockstep against specs/PBFT.tla kills the others."""
    from meshcheck.impl.pbft.mutants import BUGS

    outcomes = every_mutant_killed("pbft", BUGS, 6)
    killers = first_killers(outcomes)
    relayed = {
        "checkpoint_state_blames_signer",
        "relayed_batch_not_checked",
        "view_change_blames_signer",
        "signatures_not_checked",
        "new_view_ignores_prepared",
    }
    assert {killers.pop(m) for m in relayed} == {"signed fields"}, render(outcomes)
    # a threshold wrong at some cluster size: the brute force of property_tests/thresholds.py
    sizes = {"prepare_quorum_2f", "checkpoint_stable_on_f_plus_1", "quorum_2f_plus_1_at_any_n"}
    assert {killers.pop(m) for m in sizes} == {"thresholds at every n"}, render(outcomes)
    # a prepared count right at 4, 7 and 10 replicas and one short at 5, 6, 8 and 9, written where
    # the thresholds check does not read it: no check of 4 or 7 replicas can kill it, the free
    # runs of a drawn size (4 to 10) do, and before them its stored run of 5 replicas
    # (traces/counterexamples/pbft/prepares_2f_at_any_n.itf.json)
    assert killers.pop("prepares_2f_at_any_n") == "stored traces", render(outcomes)
    # a client that counts its timestamps from 0 after a restart: the spec names requests by
    # their operations, and no lockstep path restarts a client and sends a new request
    assert killers.pop("client_timestamp_reset") == "stored traces", render(outcomes)
    # a client that trusts one replica's reply: only replies that lie show it, and the spec's
    # client is correct (property_tests/pbft/client_replies.py)
    trusting = {
        "client_view_from_one_reply",
        "client_accepts_on_f_replies",
        "client_reply_signature_not_checked",
        "client_reply_request_not_matched",
    }
    assert {killers.pop(m) for m in trusting} == {"client replies"}, render(outcomes)
    # only a Byzantine primary's view change shows it: its stored fuzzed run
    # (traces/counterexamples/pbft/prepared_counts_primary.itf.json) kills it before the
    # certificate property does (docs/certificates.md)
    assert killers.pop("prepared_counts_primary") == "stored traces", render(outcomes)
    # a view-change timeout set back in each new view: only messages slower than the base
    # timeout show it, and the spec has no clock; its stored run of the slow regime
    # (traces/counterexamples/pbft/) kills it before liveness under slow links does
    assert killers.pop("view_change_timeout_reset_on_new_view") == "stored traces", render(outcomes)
    # a lagging replica that waits for a view change instead of fetching the state: only a run in
    # which a replica falls behind shows it, and its stored run does first (CatchUpByStateTransfer,
    # property_tests/pbft/recovery.py, is the property that named it)
    assert killers.pop("lagging_replica_waits_for_view_change") == "stored traces", render(outcomes)
    # a replica's view or stable checkpoint going back: lockstep names the action property
    # (ViewMonotonic after a NEW-VIEW the driver delivers late, StableCheckpointMonotonic)
    moved_back = {"stale_new_view_accepted", "stable_checkpoint_moves_back"}
    assert {killers[m] for m in moved_back} == {"lockstep"}, render(outcomes)
    assert set(killers.values()) == {"lockstep"}, render(outcomes)


def test_every_gossip_mutant_is_killed_in_the_default_profile() -> None:
    """The gossip layer's bugs (impl/gossip/mutants.py), each killed first by its own stored run
    (traces/gossip/, a free run re-run from its seed: gossip has no lockstep yet); the free runs
    kill each on its own too (property_tests/gossip/test_free_runs.py)."""
    from meshcheck.impl.gossip.mutants import BUGS

    outcomes = every_mutant_killed("gossip", BUGS, 6)
    assert set(first_killers(outcomes).values()) == {"stored runs"}


def test_every_hotstuff_mutant_is_killed_in_the_default_profile() -> None:
    """HotStuff's catalogue (impl/hotstuff/mutants.py), each killed first by its own stored run
    (traces/hotstuff/, a free run re-run from its seed: no lockstep yet), but a QC of too few votes,
    which the brute force of the thresholds at every size kills first; the free runs kill each on
    its own too (property_tests/hotstuff/test_free_runs.py). The clients that trust one replica
    have no stored run (their counterexample is a sequence of replies): the client-replies check
    kills them, tried first for them here, since the stored runs would re-run the whole corpus
    (8 s) for each first."""
    from meshcheck.impl.hotstuff.mutants import BUGS
    from meshcheck.property_tests.hotstuff.client_replies import MUTANTS as TRUSTING

    replicas = [m for m in BUGS if m not in TRUSTING]
    outcomes = every_mutant_killed("hotstuff", replicas, 6, only=replicas)
    trusting = every_mutant_killed(
        "hotstuff", TRUSTING, 1, only=TRUSTING, first=("client replies",)
    )
    assert list(TRUSTING) == list(BUGS)[len(replicas) :]
    # HotStuff.tla has no client, and only a replica that lies in its replies shows them
    # (property_tests/hotstuff/client_replies.py)
    assert set(first_killers(trusting).values()) == {"client replies"}, render(trusting)
    killers = first_killers(outcomes)
    assert killers.pop("qc_of_2f_votes") == "thresholds at every n", render(outcomes)
    # a lock that moves down: its stored run, where the free runs' LockMonotonic fails
    assert killers["lock_moves_down"] == "stored runs", render(outcomes)
    # a back-off set back at each vote: the stored run of the slow regime that found the bug
    # (traces/counterexamples/hotstuff/), where the probe is never answered
    assert killers["backoff_reset_on_vote"] == "stored runs", render(outcomes)
    assert set(killers.values()) == {"stored runs"}, render(outcomes)


@pytest.mark.slow
def test_every_hybrid_mutant_is_killed_in_the_default_profile() -> None:
    """The hybrid layer's bugs (impl/hybrid/mutants.py), each killed: the spec-level four by
    lockstep against ThreatLevel.tla or Hybrid.tla; `follow_caught_append` (a Raft follower takes
    a Byzantine leader's caught lie) by the stored free run that found it (re-run from its seed;
    trace validation and the free runs kill it too), never by lockstep: both specs take each
    epoch's agreed order as given and lockstep drives honest nodes along it;
    `timing_from_receipt` (a follower accuses an honest leader whose heartbeats arrive late) by
    NoFalseAccusation, the all-honest free runs, before the stored run that found it;
    `reappend_checks_index_only` (a leader elected again in an epoch drops the retries of an op
    whose copy the leader in between overwrote) by its stored run of the scripted re-election,
    which comes first (the scenario's own check, "leader re-elected (Raft epoch)", kills it too;
    every other check misses it)."""
    from meshcheck.impl.hybrid.mutants import BUGS
    from meshcheck.impl.hybrid.mutants import FOLLOW_CAUGHT_APPEND
    from meshcheck.impl.hybrid.mutants import REAPPEND_CHECKS_INDEX_ONLY
    from meshcheck.impl.hybrid.mutants import TIMING_FROM_RECEIPT

    outcomes = every_mutant_killed("hybrid", BUGS, 5)
    killers = first_killers(outcomes)
    assert killers.pop(FOLLOW_CAUGHT_APPEND) == "stored traces", render(outcomes)
    assert killers.pop(TIMING_FROM_RECEIPT) == "no false accusation", render(outcomes)
    assert killers.pop(REAPPEND_CHECKS_INDEX_ONLY) == "stored traces", render(outcomes)
    assert set(killers.values()) <= {
        "lockstep (ThreatLevel.tla)",
        "lockstep (Hybrid.tla)",
    }, render(outcomes)


def _fake(monkeypatch: pytest.MonkeyPatch, checks: list[Check]) -> None:
    bugs = {"harmless": "does nothing", "caught": "fails the first check"}

    def catalogue(protocol: str) -> tuple[Mapping[str, str], list[Check]]:
        assert protocol == "raft"
        return bugs, checks

    monkeypatch.setattr(mutants_cmd, "catalogue", catalogue)


def _first(bugs: frozenset[str], settings: Any) -> None:
    if "caught" in bugs:
        raise CheckFailed("caught it", steps=3)


def test_a_survivor_exits_1_and_the_table_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake(monkeypatch, [Check("first", _first, ""), Check("second", lambda b, s: None, "")])
    assert main(["mutants", "raft", "-q"]) == 1
    out = capsys.readouterr().out
    assert "| harmless | SURVIVED" in out.replace("  ", " ").replace("  ", " ")
    assert "caught" in out and "3 steps" in out
    assert "1 of 2 mutants survived: harmless" in out


def test_a_survivor_whose_runs_were_all_vacuous_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check whose every free run held having exercised nothing (meshcheck/exercise.py) did not
    miss the mutant so much as never try it: its survival says so."""
    from meshcheck import exercise
    from meshcheck.exercise import Exercise

    def idle(bugs: frozenset[str], settings: Any) -> None:
        exercise.note(Exercise(82, 2))
        exercise.note(Exercise(80, 0))

    def busy(bugs: frozenset[str], settings: Any) -> None:
        exercise.note(Exercise(82, 2))
        exercise.note(Exercise(80, 60))

    _fake(monkeypatch, [Check("idle", idle, ""), Check("busy", busy, "")])
    (outcome, _) = run_mutants("raft", tlc=False)
    idled, tried = outcome.attempts
    assert idled.vacuous == (
        "every one of 2 runs vacuous: 2 of 82 writes committed (fewer than 5, or under 10%)"
    )
    assert tried.vacuous == ""
    assert "idle (0 s, every one of 2 runs vacuous: 2 of 82" in render([outcome])
    assert "survived, 0 s, vacuous" in render([outcome], every_check=True)


def test_all_runs_every_check_and_prints_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, [Check("first", _first, ""), Check("second", _first, "")])
    outcomes = run_mutants("raft", every_check=True)
    # TLC on the spec first: neither fake mutant is in the spec ("-")
    assert [len(o.attempts) for o in outcomes] == [3, 3]
    matrix = render(outcomes, every_check=True)
    assert [c.strip() for c in matrix.splitlines()[0].split("|")[1:5]] == [
        "mutant",
        "TLC on the spec",
        "first",
        "second",
    ]
    assert [c.strip() for c in matrix.splitlines()[2].split("|")[1:3]] == ["harmless", "-"]
    assert "killed" in matrix and "survived" in matrix


def test_a_check_that_breaks_is_reported_not_counted_as_a_kill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(bugs: frozenset[str], settings: Any) -> None:
        raise RuntimeError("the check itself is wrong\nsecond line")

    _fake(monkeypatch, [Check("broken", broken, "")])
    outcomes = run_mutants("raft")
    assert all(o.killer is None for o in outcomes)
    assert outcomes[0].attempts[0].error == "RuntimeError: the check itself is wrong"


def test_unknown_protocol_and_mutant_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "paxos"]) == 2
    assert (
        "no protocol 'paxos' (protocols: gossip, hotstuff, hybrid, pbft, pysyncobj, raft, routing)"
        in capsys.readouterr().err
    )
    assert main(["mutants", "threat"]) == 2  # the hybrid layer has one name, everywhere
    assert (
        "no protocol 'threat' (protocols: gossip, hotstuff, hybrid, pbft, pysyncobj, raft, routing)"
        in capsys.readouterr().err
    )
    assert mutants_cmd.with_catalogue() == OWN_PROTOCOLS
    assert main(["mutants", "raft", "--mutant", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no raft mutant nope" in err and "forget_voted_for" in err


def test_save_writes_the_lockstep_counterexample(tmp_path: Path) -> None:
    outcomes = run_mutants("raft", profile="quick", only=["forget_voted_for"], save=tmp_path)
    (killer,) = [a for a in outcomes[0].attempts if a.killed]
    assert killer.check == CHECKS[0].name == "lockstep"
    assert killer.steps == 2  # Timeout(s1), Restart(s1): minimal
    saved = tmp_path / "raft" / "forget_voted_for.itf.json"
    assert saved.is_file() and killer.saved == str(saved)
    # the Hypothesis run it was made of, by which verify finds the rows that run it too
    assert killer.runs == (
        "hypothesis.stateful.get_state_machine_test.<locals>.run_state_machine"
        "(_min_steps=0, state_machine_factory=RaftLockstep)",
    )


def test_save_writes_a_pbft_counterexample_that_replays_on_the_spec(tmp_path: Path) -> None:
    outcomes = run_mutants(
        "pbft", profile="quick", only=["commit_without_commit_phase"], save=tmp_path
    )
    (killer,) = [a for a in outcomes[0].attempts if a.killed]
    assert killer.check == "lockstep" and killer.steps == 4
    saved = tmp_path / "pbft" / "commit_without_commit_phase.itf.json"
    assert killer.saved == str(saved)
    from meshcheck.property_tests.replay import replay_stored

    assert replay_stored(saved, root=Path(__file__).resolve().parent.parent).ok


def test_render_of_a_kill() -> None:
    table = render([Outcome("m", (Attempt("lockstep", True, 1.25, 4),))])
    assert "| m      | lockstep  |     1.2 | 4 steps" in table

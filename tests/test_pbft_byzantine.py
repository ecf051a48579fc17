"""Byzantine replicas in the PBFT simulation (impl/pbft/byzantine): each behaviour does what it says,
honest replicas reject and record what they must, at most f Byzantine replicas never break
Agreement or Validity and a request commits within a measured bound once faults stop, and f + 1 of
them can break Agreement (kept as deterministic regressions, so the checks are known to work).

Castro and Liskov, OSDI 1999: section 2 (the fault model: a faulty replica cannot forge a correct
one's signature), 4.2 (the three phases), 4.4 (the view change), 4.5.2 (liveness).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import find
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis import target

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.pbft import CHANGING
from meshcheck.impl.pbft import VIEW_CHANGE
from meshcheck.impl.pbft import KeyRing
from meshcheck.impl.pbft import PbftConfig
from meshcheck.impl.pbft import Prepare
from meshcheck.impl.pbft import PrePrepare
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import Request
from meshcheck.impl.pbft import Signed
from meshcheck.impl.pbft import batch_digest
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft import proves
from meshcheck.impl.pbft.byzantine import BEHAVIOURS
from meshcheck.impl.pbft.byzantine import AnyBehaviour
from meshcheck.impl.pbft.byzantine import ByzantineReplica
from meshcheck.impl.pbft.byzantine import Equivocate
from meshcheck.impl.pbft.byzantine import ForgeSignature
from meshcheck.impl.pbft.byzantine import FuzzReplies
from meshcheck.impl.pbft.byzantine import HidePrepared
from meshcheck.impl.pbft.byzantine import LieToClient
from meshcheck.impl.pbft.byzantine import LyingReplies
from meshcheck.impl.pbft.byzantine import MissingSignature
from meshcheck.impl.pbft.byzantine import Replay
from meshcheck.impl.pbft.byzantine import SafetyMonitor
from meshcheck.impl.pbft.byzantine import Silent
from meshcheck.impl.pbft.byzantine import TamperDigest
from meshcheck.impl.pbft.byzantine import Twins
from meshcheck.impl.pbft.byzantine import behaviour_strategy
from meshcheck.impl.pbft.byzantine import byzantine_strategy
from meshcheck.impl.pbft.byzantine import byzantine_wrappers
from meshcheck.impl.pbft.byzantine import corrupt
from meshcheck.impl.pbft.byzantine import replica_ids
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.sim import ClientRequest
from meshcheck.impl.sim import Deliver
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Persist
from meshcheck.impl.sim import Restart
from meshcheck.impl.sim import Send
from meshcheck.impl.sim import SetTimer
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.impl.sim.storage import Durable
from tests.hash_seeds import printed_under_hash_seeds

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = ("r1", "r2", "r3", "r4")
KEYS = KeyRing(0, (*REPLICAS, "c1"))

# Short timeouts so that a run with view changes fits in a few thousand ticks. Latency is 1..10.
OPTS: dict[str, Any] = {
    "view_change_timeout": 100,
    "view_change_timeout_cap": 800,
    "client_timeout": 200,
    "retransmit_every": 50,
    "checkpoint_every": 4,
    "window": 8,
}


def ops(n: int) -> str:
    return f"op{n}"


def cluster(
    assignment: Mapping[str, Sequence[AnyBehaviour]],
    seed: int,
    *,
    n: int = 4,
    faults: Faults | None = None,
    until: int = 800,
    record: bool = False,
    **options: Any,
) -> Simulator[Any]:
    return pbft_cluster(
        n,
        seed=seed,
        faults=faults,
        byzantine=byzantine_wrappers(assignment),
        workload=Workload(every=40, until=until, make=ops),
        record=record,
        **{**OPTS, **options},
    )


def honest_ids(sim: Simulator[Any]) -> list[str]:
    return [r for r in sim.node_ids if isinstance(sim.nodes[r], Replica)]


def run_checked(sim: Simulator[Any], until: int) -> SafetyMonitor:
    monitor = SafetyMonitor(sim, honest_ids(sim))
    sim.run(until=until, stop=monitor)
    return monitor


def all_accepted(sim: Simulator[Any]) -> bool:
    client = sim.nodes["c1"]
    return len(client.requested) > 0 and {r for _, r in client.accepted} >= set(client.requested)


def signed(holder: str, body: Any) -> Signed[Any]:
    return Signed(body, holder, KEYS.signer(holder).sign(signing_bytes(body)))


def request(op: str, timestamp: int) -> Signed[Request]:
    return signed("c1", Request("c1", timestamp, op))


def node(replica: str, *behaviours: AnyBehaviour) -> ByzantineReplica:
    """A started Byzantine replica outside any simulator."""
    wrapped = corrupt(*behaviours)(Replica(PbftConfig(replica, REPLICAS), KEYS))
    wrapped.step(Restart({}))
    return wrapped


def sends(effects: Sequence[Any]) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


# -- the values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Silent(share=1.5),
        lambda: ForgeSignature(how="stolen_key"),  # type: ignore[arg-type]
        lambda: Replay(burst=0),
        lambda: Twins({"r2"}, shared={"r2"}),
        lambda: node("r1", Twins({"r2"}), Twins({"r3"})),
        lambda: node("r1", Twins({"r9"})),
    ],
    ids=["share", "forgery", "burst", "twins-overlap", "two-twins", "twins-stranger"],
)
def test_bad_behaviours_are_one_line_errors(build: Any) -> None:
    with pytest.raises(ImplError):
        build()


@settings(max_examples=100, deadline=None)
@given(byzantine_strategy(7, max_faulty=3))
def test_drawn_assignments_are_bounded_and_print_as_python(assignment: Any) -> None:
    """What Hypothesis prints for a failing run can be pasted back as a regression test."""
    env: dict[str, Any] = {c.__name__: c for c in BEHAVIOURS}
    env["frozenset"] = frozenset
    assert eval(repr(assignment), env) == assignment
    assert len(assignment) <= 3
    for r, behaviours in assignment.items():
        twins = [b for b in behaviours if isinstance(b, Twins)]
        assert 1 <= len(behaviours) <= 2 and len(twins) <= 1
        for t in twins:
            assert r not in t.a | t.shared and t.a and t.a | t.shared < set(replica_ids(7)) - {r}


@pytest.mark.parametrize("lie", [LieToClient, LyingReplies, FuzzReplies], ids=lambda c: c.__name__)
def test_the_free_runs_draw_every_lie_to_clients(lie: type) -> None:
    """The free runs' Byzantine replicas (byzantine_strategy) may lie in their replies as well as
    to their peers: each lie of impl/pbft/byzantine/replies.py is a behaviour they draw."""
    drawn = find(
        behaviour_strategy("r4", replica_ids(4)),
        lambda b: isinstance(b, lie),
        settings=settings(database=None, derandomize=True),
    )
    assert isinstance(drawn, lie)


# -- silent ---------------------------------------------------------------------------------------


def test_a_silent_replica_sends_nothing_and_a_silent_primary_is_replaced() -> None:
    r1 = node("r1", Silent())
    effects = r1.step(Deliver("c1", request("a", 1)))
    assert not sends(effects) and r1.core.log.pre_prepares  # the core ran; nothing left
    half = node("r1", Silent(share=0.5))
    kept = sum(len(sends(half.step(Deliver("c1", request(f"x{k}", k))))) for k in range(1, 21))
    assert 10 < kept < 50  # of 60 pre-prepares

    sim = cluster({"r1": (Silent(),)}, seed=1)
    monitor = run_checked(sim, 3000)
    assert monitor.violation is None and all_accepted(sim)
    assert all(sim.nodes[r].view >= 1 for r in ("r2", "r3", "r4"))
    assert not any(m["src"] == "r1" for m in sim.abstract_state()["msgs"])


# -- equivocation ---------------------------------------------------------------------------------


def test_an_equivocating_primary_tells_each_group_its_own_story() -> None:
    r1 = node("r1", Equivocate(group={"r4"}))
    first = sends(r1.step(Deliver("c1", request("a", 1))))
    assert {e.message.body.digest for e in first} == {batch_digest((request("a", 1),))}
    second = sends(r1.step(Deliver("c1", request("b", 2))))  # now it knows another request
    told = {e.dest: e.message for e in second if isinstance(e.message.body, PrePrepare)}
    assert told["r2"] == told["r3"] != told["r4"]
    assert told["r4"].body.batch == (request("a", 1),) and told["r2"].body.seq == 2
    for m in told.values():
        assert KEYS.verify("r1", m.signature, signing_bytes(m.body))


def test_an_equivocating_backup_votes_for_every_version() -> None:
    r2 = node("r2", Equivocate())
    a, b = request("a", 1), request("b", 2)
    pp_a = signed("r1", PrePrepare(0, 1, batch_digest((a,)), "r1", (a,)))
    pp_b = signed("r1", PrePrepare(0, 1, batch_digest((b,)), "r1", (b,)))
    votes = sends(r2.step(Deliver("r1", pp_a))) + sends(r2.step(Deliver("r3", pp_b)))
    for digest in (pp_a.body.digest, pp_b.body.digest):
        for kind in (Prepare, Commit):
            dests = {
                e.dest
                for e in votes
                if isinstance(e.message.body, kind) and e.message.body.digest == digest
            }
            assert dests == {"r1", "r3", "r4"}, (kind.__name__, digest.hex())
    assert [e.kind for e in r2.core.audit.records] == ["equivocation"]  # its core saw it too


def test_an_equivocating_primary_is_detected_quarantined_and_replaced() -> None:
    sim = cluster({"r1": (Equivocate(group={"r4"}),)}, seed=2)
    monitor = run_checked(sim, 3000)
    assert monitor.violation is None and all_accepted(sim)
    for r in ("r2", "r3", "r4"):
        replica = sim.nodes[r]
        records = [e for e in replica.audit.records if e.kind == "equivocation"]
        assert records and all(e.accused == "r1" for e in records), r
        assert all(proves(e, replica.config, replica.verify) for e in records)
        assert replica.audit.is_quarantined("r1") and replica.view >= 1


# -- tampered digests -----------------------------------------------------------------------------


def test_tampered_digests_are_signed_lies_that_join_no_quorum() -> None:
    r1 = node("r1", TamperDigest())
    (pp, *_) = sends(r1.step(Deliver("c1", request("a", 1))))
    body = pp.message.body
    assert isinstance(body, PrePrepare) and body.digest != batch_digest(body.batch)
    assert KEYS.verify("r1", pp.message.signature, signing_bytes(body))

    sim = cluster({"r1": (TamperDigest(),)}, seed=3, record=True)
    monitor = run_checked(sim, 3000)
    assert monitor.violation is None and all_accepted(sim)
    msgs = sim.abstract_state()["msgs"]  # everything honest replicas ever sent
    assert not [m for m in msgs if m["type"] == "Prepare" and m["view"] == 0]
    assert all(sim.nodes[r].view >= 1 for r in ("r2", "r3", "r4"))


# -- forged and missing signatures ----------------------------------------------------------------

FORGERS = [
    ForgeSignature("garbage"),
    ForgeSignature("wrong_key"),
    ForgeSignature("impersonate"),
    MissingSignature(),
    MissingSignature(bare=True),
]


def forged_run(behaviour: AnyBehaviour, bugs: frozenset[str] = frozenset()) -> Simulator[Any]:
    sim = cluster({"r3": (behaviour,)}, seed=4, bugs=bugs)
    assert run_checked(sim, 2000).violation is None
    return sim


@pytest.mark.parametrize("behaviour", FORGERS, ids=repr)
def test_forged_or_missing_signatures_are_rejected_and_the_forger_is_named(
    behaviour: AnyBehaviour,
) -> None:
    sim = forged_run(behaviour)
    assert all_accepted(sim)
    for r in ("r1", "r2", "r4"):
        replica = sim.nodes[r]
        bad = [e for e in replica.audit.records if e.kind == "bad_signature"]
        assert len(bad) >= 3 and {e.accused for e in bad} == {"r3"}, r  # never the victim
        assert replica.audit.is_quarantined("r3")
        held = [m for votes in replica.log.prepares.values() for m in votes.values()]
        held += [m for votes in replica.log.commits.values() for m in votes.values()]
        assert all(replica.verify(m) for m in held)


@pytest.mark.parametrize("behaviour", [FORGERS[0], FORGERS[2]], ids=repr)
def test_without_signature_checks_the_forgeries_go_unnoticed(behaviour: AnyBehaviour) -> None:
    """The mutant `signatures_not_checked`: the check above would fail."""
    sim = forged_run(behaviour, frozenset({mutants.SIGNATURES_NOT_CHECKED}))
    for r in ("r1", "r2", "r4"):
        assert not any(e.kind == "bad_signature" for e in sim.nodes[r].audit.records)
        assert not sim.nodes[r].audit.is_quarantined("r3")


# -- replay ---------------------------------------------------------------------------------------


def test_replayed_old_messages_change_nothing() -> None:
    """r4 replays old messages throughout a run (which stays safe and live); then, with the group
    idle, every message r4 ever heard is delivered again to every honest replica: no spec action,
    no change of the spec's state, no evidence."""
    sim = cluster({"r4": (Replay(share=1.0, burst=3),)}, seed=5, until=600, record=True)
    monitor = run_checked(sim, 2500)
    assert monitor.violation is None and all_accepted(sim)
    old = list(sim.nodes["r4"].contexts[""].heard)
    kinds = {type(m.body).__name__ for m in old}
    assert {"PrePrepare", "Prepare", "Commit", "Checkpoint", "Reply", "Status"} <= kinds
    before = sim.abstract_state()
    evidence = {r: len(sim.nodes[r].audit.records) for r in ("r1", "r2", "r3")}
    for m in old:
        for r in ("r1", "r2", "r3"):
            effects = sim.nodes[r].step(Deliver("r4", m))
            assert not any(isinstance(e, Action) for e in effects), (r, m)
    assert sim.abstract_state() == before
    assert {r: len(sim.nodes[r].audit.records) for r in evidence} == evidence


# -- hidden prepared certificates -----------------------------------------------------------------


def hidden_certificate_run(bugs: frozenset[str] = frozenset()) -> tuple[Simulator[Any], Any]:
    """r4 hides its prepared certificates. "a" commits at r1 and r3 in view 0 while every view-0
    message to r2 is lost; then r1 crashes and a second request forces a view change to r2, whose
    view-change quorum is r2 (which knows nothing of "a"), r3 (which prepared it) and r4 (which
    prepared it and says nothing). Only r3's certificate can carry "a" into view 1."""
    sim = pbft_cluster(
        4, seed=6, byzantine=byzantine_wrappers({"r4": (HidePrepared(),)}), bugs=bugs, **OPTS
    )

    def starve_r2(s: Simulator[Any]) -> bool:
        for e in s.in_flight():
            body = getattr(e.message, "body", None)
            if (
                e.dest == "r2"
                and isinstance(body, PrePrepare | Prepare | Commit)
                and body.view == 0
            ):
                s.drop(e.id)
        return False

    sim.inject("c1", ClientRequest("a"))
    sim.run(until=300, stop=lambda s: starve_r2(s) or bool(s.nodes["c1"].accepted))
    assert sim.nodes["c1"].accepted == [(1, "a")] and not sim.nodes["r2"].executed
    assert 1 in sim.nodes["r4"].core.log.certificates  # r4 has something to hide
    sim.crash("r1")
    sim.inject("c1", ClientRequest("b"))
    monitor = SafetyMonitor(sim, ("r1", "r2", "r3"))
    sim.run(until=4000, stop=lambda s: starve_r2(s) or monitor(s))
    return sim, monitor


def test_a_view_change_that_hides_certificates_does_not_lose_a_committed_request() -> None:
    sim, monitor = hidden_certificate_run()
    assert monitor.violation is None
    new_view = sim.nodes["r2"].new_views[1].body
    claims = {vc.signer: vc.body.prepared for vc in new_view.view_changes}
    assert set(claims) == {"r2", "r3", "r4"} and claims["r4"] == () and claims["r2"] == ()
    assert [p.seq for p in claims["r3"]] == [1]
    o = [(pp.body.seq, [r.body.operation for r in pp.body.batch]) for pp in new_view.pre_prepares]
    assert o == [(1, ["a"])]  # O: "a" at 1, from r3's certificate alone
    for r in ("r2", "r3"):
        assert [b[0].body.operation for b in sim.nodes[r].executed] == ["a", "b"]
    assert sorted(sim.nodes["c1"].accepted) == [(1, "a"), (2, "b")]


def test_with_a_new_view_that_ignores_certificates_the_request_is_lost() -> None:
    """The mutant `new_view_ignores_prepared`: the same schedule breaks Agreement at 1."""
    _, monitor = hidden_certificate_run(frozenset({mutants.NEW_VIEW_IGNORES_PREPARED}))
    assert monitor.violation is not None
    assert (monitor.violation.invariant, monitor.violation.seq) == ("Agreement", 1)


# -- twins ----------------------------------------------------------------------------------------


def test_twins_route_by_side_and_keep_their_own_timers_and_stores() -> None:
    """Twins of r1: twin A talks to r3, twin B to r4, both to r2 (shared) and to the client."""
    r1 = node("r1", Twins({"r3"}, shared={"r2"}))
    a, b = r1.cores["A"], r1.cores["B"]
    assert a is not b and a.id == b.id == "r1"
    effects = r1.step(Deliver("c1", request("x", 1)))  # a client reaches both twins
    assert isinstance(effects[0], Persist) and sum(isinstance(e, Persist) for e in effects) == 1
    assert {w.key.split("/")[0] for w in effects[0].writes} == {"A", "B"}
    dests = sorted(e.dest for e in sends(effects) if isinstance(e.message.body, PrePrepare))
    assert dests == ["r2", "r2", "r3", "r4"]  # each twin's pre-prepare; r2 hears both
    assert {e.timer.split("/")[0] for e in effects if isinstance(e, SetTimer)} <= {"A", "B"}
    # a prepare from r3 reaches twin A only, one from r4 twin B only
    pp = a.log.pre_prepares[(0, 1)]
    r1.step(Deliver("r3", signed("r3", Prepare(0, 1, pp.body.digest, "r3"))))
    r1.step(Deliver("r4", signed("r4", Prepare(0, 1, pp.body.digest, "r4"))))
    assert set(a.log.prepares[(0, 1, pp.body.digest)]) == {"r3"}
    assert set(b.log.prepares[(0, 1, pp.body.digest)]) == {"r4"}
    # a restart gives each twin its own store back
    store = Durable()
    store.apply(effects[0].writes)
    again = corrupt(Twins({"r3"}, shared={"r2"}))(Replica(PbftConfig("r1", REPLICAS), KEYS))
    again.step(Restart(store.view()))
    assert (0, 1) in again.cores["A"].log.pre_prepares and (0, 1) in again.cores[
        "B"
    ].log.pre_prepares
    assert again.cores["A"].next_seq == again.cores["B"].next_seq == 2


def test_twins_of_the_primary_each_lead_their_side_and_the_group_agrees() -> None:
    """Side A is r1's twin A, r2 and r3; side B twin B, r2 and r4: each side is a quorum, each twin
    hears only its side, and as both twins are fed the same requests they order them alike."""
    sim = cluster({"r1": (Twins({"r3"}, shared={"r2"}),)}, seed=7)
    monitor = run_checked(sim, 2000)
    assert monitor.violation is None and all_accepted(sim)
    a, b = sim.nodes["r1"].cores["A"], sim.nodes["r1"].cores["B"]
    assert len(a.executed) >= 15 and a.executed == b.executed
    for lane, side in (("A", "r3"), ("B", "r4")):
        heard = sim.nodes["r1"].contexts[lane].heard  # what reached the twin, and what it sent
        signers = {m.signer for m in heard if isinstance(m.body, Commit)}
        assert signers == {"r1", "r2", side}, (lane, signers)


# -- at most f Byzantine replicas: safety after every step, and progress once faults stop ------------

FAULTS_END = 1200  # the workload stops at 1000, faults at 1200, then one more request
EXAMPLES = {"ci": 30, "dev": 100, "deep": 1000}.get(
    os.environ.get("MESHCHECK_HYPOTHESIS", "ci"), 30
)


def liveness_bound(f: int) -> int:
    """Ticks within which a request sent once faults stop must be accepted by the client (f + 1
    matching replies: committed at 2f + 1 replicas), with OPTS's timers and latency <= 10.

    The worst chain (section 4.5.2): the client tries the primary it believes in and, with no
    reply, sends to every replica after client_timeout (200); each view change then costs at most
    a request timer and a wait for the new view, each at most the timeout cap (2 * 800), and it
    takes at most f + 2 of them to reach a view with an honest primary that every honest replica
    follows (f faulty primaries in a row, one view to bring together replicas that the faults
    left one view apart, one spare); a few status rounds (4 * 50) make good messages lost during
    the faults, and about ten message delays (10 * 10) carry the three phases and the replies.
    Measured on 300 runs with n = 4 (property drawn as below): median 34, p90 176, p99 381,
    max 620 ticks; n = 7 (40 runs): max 867. The bound is loose on purpose: it is the argument's,
    not the sample's, and what it catches is a group that stops making progress."""
    cap, client, status, latency = 800, 200, 50, 10
    assert (cap, client, status) == (
        OPTS["view_change_timeout_cap"],
        OPTS["client_timeout"],
        OPTS["retransmit_every"],
    )
    return client + (f + 2) * 2 * cap + 4 * status + 10 * latency


def stalled_view_change(sim: Simulator[Any]) -> bool:
    """Every honest replica waits in a view change, and none has a view-change timer that could
    end the wait: the deadlock test_a_lost_view_change_message_is_sent_again guards against."""
    return all(
        sim.nodes[r].status == CHANGING and not sim.timer_pending(r, VIEW_CHANGE)
        for r in honest_ids(sim)
    )


@attrs.frozen
class Scenario:
    n: int
    assignment: dict[str, tuple[AnyBehaviour, ...]]
    seed: int
    faults: Faults


faults_strategy = st.builds(
    Faults,
    drop=st.sampled_from([0.0, 0.05, 0.2]),
    duplicate=st.sampled_from([0.0, 0.1]),
    delay=st.sampled_from([0.0, 0.05]),
    delay_ticks=st.just((50, 300)),
    crash=st.sampled_from([0.0, 0.5]),
    down_ticks=st.just((100, 600)),
    partition=st.sampled_from([0.0, 0.5]),
    partition_ticks=st.just((100, 600)),
    until=st.just(FAULTS_END),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.sampled_from([4, 4, 4, 7]))  # n = 7 costs three times as much
    return Scenario(
        n, draw(byzantine_strategy(n)), draw(st.integers(0, 2**32 - 1)), draw(faults_strategy)
    )


def probe_accepted(sim: Simulator[Any]) -> bool:
    return any(r == "probe" for _, r in sim.nodes["c1"].accepted)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("MESHCHECK_HYPOTHESIS", "ci") == "ci",
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenarios())
def test_at_most_f_byzantine_replicas_never_break_safety_and_cannot_stop_progress(
    scenario: Scenario,
) -> None:
    """Any behaviours for up to f replicas, with loss, duplication, delay, crashes and partitions
    until FAULTS_END: Agreement and Validity after every event; then a new request is accepted
    within `liveness_bound(f)` ticks."""
    n, f = scenario.n, (scenario.n - 1) // 3
    sim = cluster(scenario.assignment, scenario.seed, n=n, faults=scenario.faults, until=1000)
    monitor = run_checked(sim, FAULTS_END)
    assert monitor.violation is None, str(monitor.violation)
    start = sim.now
    sim.inject("c1", ClientRequest("probe"))
    sim.run(until=start + liveness_bound(f), stop=lambda s: monitor(s) or probe_accepted(s))
    assert monitor.violation is None, str(monitor.violation)
    assert probe_accepted(sim), f"no commit within {liveness_bound(f)} ticks after faults stopped"
    latency = sim.now - start
    target(float(latency), label="ticks from the probe to its acceptance")
    event(f"latency {'<= 100' if latency <= 100 else '<= 500' if latency <= 500 else '> 500'}")


def test_a_lost_view_change_message_is_sent_again() -> None:
    """r1 is silent; a partition loses r3's view-change message for view 1, r3's view-change timer
    takes it on to view 2, and r2 and r4 wait in view 1 for a third view-change message. One
    replica ahead is fewer than the f + 1 that make them follow (section 4.5.2), so before the fix
    the group stalled for good: the status exchange re-sent a replica's view-change message for its
    current view only. Now a replica answers a status from a peer changing to an earlier view
    with its own message for that view (replica.py `_on_status`), and the probe commits."""
    faults = Faults(partition=0.5, down_ticks=(100, 600), partition_ticks=(100, 600), until=1200)
    sim = cluster({"r1": (Silent(),)}, seed=7, faults=faults, until=1000)
    sim.run(until=FAULTS_END)
    sim.inject("c1", ClientRequest("probe"))
    sim.run(until=FAULTS_END + liveness_bound(1), stop=probe_accepted)
    assert probe_accepted(sim) and not stalled_view_change(sim)


# -- f + 1 Byzantine replicas can break Agreement (so the checks are known to work) -----------------


def break_run(
    assignment: Mapping[str, Sequence[AnyBehaviour]], seed: int, drop: float = 0.0
) -> Any:
    sim = cluster(assignment, seed, faults=Faults(drop=drop))
    monitor = run_checked(sim, 3000)
    return monitor.violation, sim.now, sim.events


COLLUDING_EQUIVOCATORS: dict[str, tuple[AnyBehaviour, ...]] = {
    "r1": (Equivocate(group={"r4"}),),
    "r2": (Equivocate(),),
}


def test_two_colluding_equivocators_break_agreement() -> None:
    """r1 (primary) pre-prepares op2 at 2 for r2 and r3 and op1 (sent before) for r4, and votes
    each story to its audience; r2 votes for every version it hears. r3 commits op2 with r1 and
    r2, r4 commits op1 with r1 and r2: two quorums of 2f + 1 that share only Byzantine replicas."""
    violation, now, events = break_run(COLLUDING_EQUIVOCATORS, seed=0)
    assert violation is not None and (violation.invariant, violation.seq) == ("Agreement", 2)
    assert sorted(violation.replicas) == ["r3", "r4"] and (now, events) == (117, 150)
    assert "'op2'" in violation.detail and "'op1'" in violation.detail
    assert break_run(COLLUDING_EQUIVOCATORS, seed=0) == (violation, now, events)  # deterministic
    alone = {"r1": COLLUDING_EQUIVOCATORS["r1"]}  # either one alone, f of them, cannot
    assert break_run(alone, seed=0)[0] is None
    assert break_run({"r2": COLLUDING_EQUIVOCATORS["r2"]}, seed=0)[0] is None


def test_an_equivocating_primary_and_twins_break_agreement() -> None:
    """r2's twin A sides with r1 and r3, twin B with r4: each story of r1 finds its quorum."""
    assignment: dict[str, tuple[AnyBehaviour, ...]] = {
        "r1": (Equivocate(group={"r4"}),),
        "r2": (Twins({"r1", "r3"}),),
    }
    violation, now, _ = break_run(assignment, seed=0)
    assert violation is not None and (violation.invariant, violation.seq, now) == (
        "Agreement",
        2,
        114,
    )


def test_twins_of_two_backups_break_agreement_under_message_loss() -> None:
    """Twins of r2 and r3 (the twins hear each other): side A is r1 (the primary) and the A twins,
    side B r4 and the B twins. Lost messages send side B through a view change of its own; its new
    primary (r2's twin B) orders what side B knows, while side A goes on in view 0."""
    assignment: dict[str, tuple[AnyBehaviour, ...]] = {
        "r2": (Twins({"r1"}, shared={"r3"}),),
        "r3": (Twins({"r1"}, shared={"r2"}),),
    }
    violation, now, _ = break_run(assignment, seed=26, drop=0.1)
    assert violation is not None and (violation.invariant, violation.seq, now) == (
        "Agreement",
        6,
        376,
    )
    one = {"r2": assignment["r2"]}
    assert break_run(one, seed=26, drop=0.1)[0] is None


def test_byzantine_runs_do_not_depend_on_the_hash_seed() -> None:
    """The same seed and behaviours give the same run in processes with different str hashes (no
    behaviour may iterate a set of names): the break of the twins above, and a run of every
    behaviour at once, compared by their fault-free outcome."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import tests.test_pbft_byzantine as t; "
        "a = {'r2': (t.Twins({'r1'}, shared={'r3'}),), 'r3': (t.Twins({'r1'}, shared={'r2'}),)}; "
        "b = {'r1': (t.Equivocate(), t.Replay(share=0.5)), "
        "'r7': (t.HidePrepared(keep=0.5), t.ForgeSignature('wrong_key', share=0.5))}; "
        "sim = t.cluster(b, 3, n=7, faults=t.Faults(drop=0.1, partition=0.5, until=1000)); "
        "sim.run(until=2000); "
        "print(t.break_run(a, seed=26, drop=0.1), sim.events, sim.sent, "
        "[sim.nodes[r].executed == sim.nodes['r2'].executed for r in ('r3', 'r4', 'r5', 'r6')])"
    )
    assert len(printed_under_hash_seeds(code)) == 1


# -- StableExecuted: a stable checkpoint never past the state ---------------------------------------


def state_transfer_run(monkeypatch: pytest.MonkeyPatch, *, broken: bool) -> tuple[Any, Any]:
    """r4 gets nothing of the three phases while the others commit eight requests (checkpoints at
    4 and 8), then the checkpoints reach it: it must take the state with the checkpoint. `broken`:
    a replica whose state transfer installs nothing (Replica._install a no-op)."""
    if broken:
        monkeypatch.setattr(Replica, "_install", lambda self, history, digest: None)
    sim = pbft_cluster(4, seed=3, **OPTS)

    def starve_r4(s: Simulator[Any]) -> bool:
        for e in s.in_flight():
            body = getattr(e.message, "body", None)
            if e.dest == "r4" and isinstance(body, PrePrepare | Prepare | Commit):
                s.drop(e.id)
        return False

    monitor = SafetyMonitor(sim, REPLICAS)
    for k in range(1, 9):
        sim.inject("c1", ClientRequest(f"op{k}"))
        sim.run(until=sim.now + 60, stop=lambda s: starve_r4(s) or monitor(s))
    sim.run(until=sim.now + 400, stop=lambda s: starve_r4(s) or monitor(s))
    return sim, monitor


def test_a_replica_behind_a_stable_checkpoint_takes_its_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PBFT.tla's StableExecuted, on the implementation: r4 executed nothing of the three phases and
    reaches checkpoint 8 by state transfer; with a state transfer that installs nothing, the
    monitor catches r4's low watermark past its state."""
    sim, monitor = state_transfer_run(monkeypatch, broken=False)
    assert monitor.violation is None
    r4 = sim.nodes["r4"]
    assert r4.stable == 8 and len(r4.executed) >= 8
    assert [len(sim.nodes[r].executed) for r in ("r1", "r2", "r3")] == [8, 8, 8]
    _, broken = state_transfer_run(monkeypatch, broken=True)
    assert broken.violation is not None
    assert (broken.violation.invariant, broken.violation.replicas) == ("StableExecuted", ("r4",))

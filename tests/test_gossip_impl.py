"""The gossip node (impl/gossip/node.py) step by step, its plug-in and refinement map: each rule
of the module's docstring, and each mutant switch changing exactly its rule."""

from __future__ import annotations

import random
from typing import Any

import pytest

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.messages import Beat
from meshcheck.impl.gossip.messages import JoinVia
from meshcheck.impl.gossip.messages import LeaveCluster
from meshcheck.impl.gossip.messages import Pull
from meshcheck.impl.gossip.messages import Push
from meshcheck.impl.gossip.node import GONE
from meshcheck.impl.gossip.node import GOSSIP
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.phi import Arrivals
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.gossip.refinement import LARGE
from meshcheck.impl.gossip.refinement import NIL
from meshcheck.impl.gossip.refinement import VARIABLES
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.sim import Faults
from tests import spec_checks

PEERS = ("a", "b", "c", "d", "e")


def node(name: str = "a", *bugs: str, **options: Any) -> GossipNode:
    n = GossipNode(GossipConfig(name, PEERS, bugs=frozenset(bugs), **options), random.Random(1))
    n.step(Restart({}))
    return n


def actions(effects: list[Any]) -> list[str]:
    return [
        f"{e.name}({', '.join(str(v) for v in e.params.values())})"
        for e in effects
        if isinstance(e, Action)
    ]


def sends(effects: list[Any]) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


def push(source: str, *entries: tuple[str, Entry], beat: int = 1) -> Deliver:
    return Deliver(source, Push(source, "a", tuple(entries), 1, beat))


def test_a_write_is_one_version_up_persisted_before_its_answer() -> None:
    a = node()
    a.step(push("b", ("k", Entry(4, "b", "x"))))
    out = a.step(ClientRequest(("k", "y"), request_id=7))
    assert actions(out) == ["Update(a, k, y)"]
    assert a.entries["k"] == Entry(5, "a", "y")
    kinds = [type(e) for e in out if not isinstance(e, Action)]
    assert kinds == [Persist, Reply]
    assert a.step(ClientRead("k", request_id=8)) == [Reply(8, "y")]
    assert a.step(ClientRead("nothing", request_id=9)) == [Reply(9, None)]


def test_merge_takes_the_higher_rank_and_a_duplicate_changes_nothing() -> None:
    a = node()
    newer, older = Entry(3, "b", "x"), Entry(2, "c", "z")
    assert actions(a.step(push("b", ("k", newer)))) == ["HandlePush(a, b)"]
    before = dict(a.entries)
    a.step(push("b", ("k", newer), beat=2))  # the same push again
    a.step(push("c", ("k", older)))  # an older version, late
    assert a.entries == before


@pytest.mark.parametrize(
    ("bug", "after"),
    [
        (mutants.MERGE_NOT_IDEMPOTENT, Entry(4, "b", "x")),
        (mutants.OLDER_OVERWRITES_NEWER, Entry(2, "c", "z")),
    ],
)
def test_each_merge_mutant_breaks_its_rule(bug: str, after: Entry) -> None:
    a = node("a", bug)
    a.step(push("b", ("k", Entry(3, "b", "x"))))
    a.step(push("b", ("k", Entry(3, "b", "x")), beat=2))
    if bug == mutants.OLDER_OVERWRITES_NEWER:
        a.step(push("c", ("k", Entry(2, "c", "z"))))
    assert a.entries["k"] == after


@pytest.mark.parametrize(
    "message",
    [
        2002935528028,  # no message at all
        Push("c", "a", (("k", Entry("4", "c", "x")),), 1, 2),  # a string for a version
        Push("c", "a", (("k", ("4", "c", "x")),), 1, 2),  # a rank where an entry belongs
        Pull("c", "a", ((1, 2, 3),), 1, 2),  # a digest that is no list of pairs
        Beat("c", "a", 1, None),  # compared with the last heartbeat counted from c
    ],
    ids=["int", "version", "rank", "digest", "beat"],
)
def test_a_message_of_other_types_is_lost_not_a_crash(message: Any) -> None:
    """Gossip signs nothing (crash-recovery faults, specs/Gossip.tla), and a faulty peer's message
    of other types than the messages declare (property_tests/gossip/byzantine_input.py found the
    first, shrunk) stopped the step of every node it reached, in the merge or in the heartbeat
    check. It is lost, as a dropped message is: no merge, no heartbeat, nothing learned."""
    a = node()
    a.step(Deliver("c", Beat("c", "a", 1, 1)))  # a watched peer's heartbeat: the next may be one
    entries, watches = dict(a.entries), {j: (w.boot, w.beat) for j, w in a.detector.watches.items()}
    assert "c" in watches
    assert a.step(Deliver("c", message)) == []
    assert a.entries == entries
    assert {j: (w.boot, w.beat) for j, w in a.detector.watches.items()} == watches


def test_a_round_pushes_the_delta_to_fanout_peers_and_pulls_one() -> None:
    a = node()
    a.step(ClientRequest(("k", "v")))
    out = a.step(Tick(GOSSIP))
    names = actions(out)
    assert names[0] == "Heartbeat(a)" and a.beat == 1
    pushed = [s for s in sends(out) if isinstance(s.message, Push)]
    assert len(pushed) == 3 and len({s.dest for s in pushed}) == 3
    assert all(s.message.entries == (("k", Entry(1, "a", "v")),) for s in pushed)
    pulls = [s for s in sends(out) if isinstance(s.message, Pull)]
    assert len(pulls) == 1 and pulls[0].dest == pushed[0].dest
    assert SetTimer(GOSSIP, 1000) in out
    # the delta was sent: the next round has nothing to push, only heartbeats
    again = a.step(Tick(GOSSIP))
    assert not [s for s in sends(again) if isinstance(s.message, Push)]
    beats = {s.dest for s in sends(again) if isinstance(s.message, Beat)}
    targets = {s.dest for s in sends(again) if isinstance(s.message, Pull)}
    assert targets <= beats and {"b", "c", "d"} <= beats  # and those watching it, every round


def test_a_pull_is_answered_with_what_the_puller_lacks() -> None:
    a = node()
    a.step(push("b", ("k1", Entry(1, "b", "x")), ("k2", Entry(2, "b", "y"))))
    digest = (("k2", (1, "b", "old")),)
    out = a.step(Deliver("c", Pull("c", "a", digest, 1, 1)))
    assert actions(out)[0] == "HandlePull(a, c)"
    (answer,) = [s.message for s in sends(out) if isinstance(s.message, Push)]
    assert dict(answer.entries) == {"k1": Entry(1, "b", "x"), "k2": Entry(2, "b", "y")}
    skip = node("a", mutants.DELTA_SKIPS_MISSING)
    skip.step(push("b", ("k1", Entry(1, "b", "x")), ("k2", Entry(2, "b", "y"))))
    out = skip.step(Deliver("c", Pull("c", "a", digest, 1, 1)))
    (answer,) = [s.message for s in sends(out) if isinstance(s.message, Push)]
    assert dict(answer.entries) == {"k2": Entry(2, "b", "y")}


def test_a_restart_reloads_own_writes_and_pulls_to_catch_up() -> None:
    sim = gossip_cluster(5, seed=3)
    sim.run(until=1500)
    sim.inject("n1", ClientRequest(("k1", "mine")))
    sim.inject("n2", ClientRequest(("k2", "theirs")))
    sim.run(until=6000)
    assert sim.nodes["n1"].entries["k2"].value == "theirs"
    sim.crash("n1")
    fresh = sim.nodes["n1"]
    assert fresh.entries == {"k1": Entry(1, "n1", "mine")}  # own writes only
    sim.recover("n1")
    pulled = [e for e in sim.in_flight() if e.source == "n1" and isinstance(e.message, Pull)]
    assert len(pulled) == 3
    sim.run(until=7000)
    assert sim.nodes["n1"].entries["k2"].value == "theirs"
    sim.inject("n1", ClientRequest(("k1", "again")))
    assert sim.nodes["n1"].entries["k1"] == Entry(2, "n1", "again")  # never reuses a version


def test_a_silent_node_after_restart_sets_no_timer() -> None:
    for bugs, timers in ((frozenset(), 1), (frozenset({mutants.SILENT_AFTER_RESTART}), 0)):
        a = GossipNode(GossipConfig("a", PEERS, bugs=bugs), random.Random(1))
        out = a.step(Restart({"boot": 1}))
        assert "Restart(a)" in actions(out)
        assert len([e for e in out if isinstance(e, SetTimer)]) == timers


def test_the_detector_suspects_a_silent_peer_and_trusts_it_when_heard() -> None:
    # a watches the three before it in the ring (e, d, c): not b, whose messages are no heartbeats
    a = node()
    a.step(Deliver("b", Beat("b", "a", 1, 1), now=0))
    assert a.ring() == (frozenset({"e", "d", "c"}), ("b", "c", "d")) and not a.detector.watches
    a = node(phi=PhiConfig(min_std=50))
    for t in range(0, 5001, 1000):
        a.step(Deliver("e", Beat("e", "a", 1, t // 1000 + 1), now=t))
    assert a.step(Tick(GOSSIP, now=5800)).count(Action("Suspect", {"i": "a", "j": "e"})) == 0
    out = a.step(Tick(GOSSIP, now=7000))
    assert "Suspect(a, e)" in actions(out)
    assert not a.step(Deliver("e", Beat("e", "a", 1, 6), now=7100))  # an old heartbeat: nothing
    assert actions(a.step(Deliver("e", Beat("e", "a", 1, 8), now=7200))) == ["Trust(a, e)"]
    assert not a.detector.suspected("e")
    stuck = node("a", mutants.SUSPICION_NEVER_CLEARED, phi=PhiConfig(min_std=50))
    for t in range(0, 5001, 1000):
        stuck.step(Deliver("e", Beat("e", "a", 1, t // 1000 + 1), now=t))
    stuck.step(Tick(GOSSIP, now=7000))
    assert not actions(stuck.step(Deliver("e", Beat("e", "a", 1, 8), now=7200)))
    assert stuck.detector.suspected("e")


def test_the_window_slides_and_the_wrong_window_does_not() -> None:
    config = PhiConfig(window=3)
    for bugs, expected in (
        ((), (3000, 4000, 5000)),
        ((mutants.PHI_WRONG_WINDOW,), (1000, 2000, 3000)),
    ):
        a = node("a", *bugs, phi=config)
        t = 0
        for k, gap in enumerate((0, 1000, 2000, 3000, 4000, 5000)):
            t += gap
            a.step(Deliver("e", Beat("e", "a", 1, k + 1), now=t))
        assert a.detector.watches["e"].arrivals == Arrivals(t, expected)


def test_a_joiner_knows_the_seeds_and_is_learned_by_who_it_talks_to() -> None:
    """Gossip.tla's membership: Join(i) knows the seeds; HandlePush/HandlePull make the receiver
    learn of the sender; Leave(i) tells nobody; a restart knows the seeds again (volatile view)."""
    sim = gossip_cluster(5, spares=1, seed=4)
    sim.run(until=2000)
    sim.inject("s1", JoinVia("n3"))
    assert sim.nodes["s1"].status == IN
    assert sim.nodes["s1"].members() == frozenset(sim.node_ids[:5])
    sim.run(until=12000)
    assert "s1" in sim.nodes["n3"].members()  # it pulled from n3 at once
    assert sum("s1" in sim.nodes[i].members() for i in sim.node_ids[:5]) >= 3
    sim.inject("s1", LeaveCluster())
    assert sim.nodes["s1"].members() == frozenset()
    assert sim.nodes["s1"].entries == sim.nodes["s1"].own
    assert "s1" in sim.nodes["n3"].members()  # nobody is told
    sim.crash("n3")
    sim.recover("n3")
    assert sim.nodes["n3"].members() == frozenset(sim.node_ids[:5])  # the view was lost
    sim.crash("s1")  # a node that left restarts out of the cluster
    sim.recover("s1")
    assert sim.nodes["s1"].status == GONE and sim.abstract_state()["alive"] == set(sim.node_ids[:5])


def test_suspected_peers_leave_the_fanout_choice_and_come_back() -> None:
    sim = gossip_cluster(5, seed=5, faults=Faults())
    sim.run(until=10000)
    sim.crash("n5")
    sim.run(until=30000)
    watchers = ("n1", "n2", "n3")  # the three after n5 in the ring watch it; n4 does not
    assert all(sim.nodes[i].detector.suspected("n5") for i in watchers)
    assert "n5" not in sim.nodes["n4"].detector.watches
    assert all("n5" not in sim.nodes[i].eligible() for i in watchers)
    assert "n5" in sim.nodes["n4"].eligible()
    assert all("n5" in sim.nodes[i].members() for i in sim.node_ids if i != "n5")
    sim.recover("n5")
    sim.run(until=45000)
    assert not any(sim.nodes[i].detector.suspected("n5") for i in watchers)
    assert all("n5" in sim.nodes[i].eligible() for i in watchers)


def test_the_refinement_map_has_the_specs_variables() -> None:
    sim = gossip_cluster(3, seed=6, keys=("k1", "k2"))
    sim.inject("n1", ClientRequest(("k1", "v")))
    sim.run(until=1500)
    state = sim.abstract_state()
    assert (
        tuple(state)
        == VARIABLES
        == spec_checks.declared_variables(spec_checks.SPECS / "Gossip.tla")
    )
    assert state["entries"]["n1"] == {
        "k1": {"version": 1, "origin": "n1", "value": "v"},
        "k2": NIL,
    }
    assert state["alive"] == {"n1", "n2", "n3"}
    assert state["members"]["n2"] == {"n1", "n3"}
    assert state["own"]["n1"] == state["entries"]["n1"] and state["own"]["n2"]["k1"] == NIL
    assert state["cut"] == frozenset() and state["crashed"] == frozenset()
    assert [dict(w) for w in state["written"]] == [
        {"key": "k1", "value": "v", "version": 1, "origin": "n1"}
    ]
    assert all(m["type"] in ("push", "pull") for m in state["msgs"])
    sim.crash("n3")
    after = sim.abstract_state()
    assert after["alive"] == {"n1", "n2"} and after["crashed"] == {"n3"}
    assert after["members"]["n3"] == frozenset() and after["budget"]["crash"] == LARGE - 1
    sim.partition([["n1", "n2"], ["n3"]])
    assert sim.abstract_state()["cut"] == {"n3"}


def test_a_run_is_its_seed() -> None:
    def run() -> list[str]:
        sim = gossip_cluster(6, seed=9, faults=Faults(drop=0.1, crash=0.3), record=False)
        sim.run(until=8000)
        return [repr(sorted(sim.nodes[i].entries.items())) for i in sim.node_ids] + [
            str(sim.events)
        ]

    assert run() == run()

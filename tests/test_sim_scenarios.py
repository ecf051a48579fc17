"""The simulator as a scenario test uses it, through its public interface only: fault phases (calm,
storm, calm), faults for the messages a filter picks (a direction, a kind, a predicate), a clock that
runs on with every node down, and each node's applied entries in the order it applied them.

The toy protocol (`Counter`, tests/test_sim.py) keeps what is checked the simulator's; Raft and PBFT
clusters show the same through the cluster factories.
"""

from __future__ import annotations

import itertools
from collections import Counter as Tally
from typing import Any

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.sim import CALM
from meshcheck.impl.sim import Apply
from meshcheck.impl.sim import Effect
from meshcheck.impl.sim import Envelope
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import MessageFaults
from meshcheck.impl.sim import Phase
from meshcheck.impl.sim import Phases
from meshcheck.impl.sim import Restart
from meshcheck.impl.sim import SetTimer
from meshcheck.impl.sim import SimConfig
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Tick
from meshcheck.impl.sim import Workload
from tests.test_sim import Counter
from tests.test_sim import CounterPlugin
from tests.test_sim import counters
from tests.test_sim import run_fingerprint


def drops(sim: Simulator[Any]) -> list[tuple[int, str, str]]:
    """(time, sender, why) of every message lost, from the trace."""
    return [
        (s.meta["time"], s.params["subject"]["from"], s.meta["fault"])
        for s in sim.trace().steps
        if s.action == "Drop"
    ]


# -- phases ------------------------------------------------------------------------------------------

STORM = Faults(drop=0.3, crash=1.0, partition=0.5, chaos_every=40, down_ticks=(5, 30))


def test_calm_storm_calm() -> None:
    sim = counters(faults=Phases([(200, CALM), (600, STORM), (None, CALM)]), latency=(1, 5))
    sim.run(until=1500)
    lost = drops(sim)
    assert lost and all(
        200 <= t < 805 for t, _, _ in lost
    )  # a message sent by 800 may be due later
    assert {why for _, _, why in lost} >= {"drop", "dest down"}
    crashes = [line for line in sim.fault_log if " crash" in line]
    assert len(crashes) > 5
    assert all(200 <= int(line.split()[0][2:]) < 800 for line in crashes)
    assert "t=200 phase 1" in sim.fault_log and "t=800 phase 2" in sim.fault_log
    assert "t=800 calm" in sim.fault_log  # the calm phase ended the storm's crashes and partitions
    assert all(sim.up.values()) and not sim.network.cut_links
    # calm again: every node bumps every 10 ticks and hears every other
    before = {i: n.value for i, n in sim.nodes.items()}
    sim.run(until=1600)
    assert all(sim.nodes[i].value == before[i] + 10 for i in sim.node_ids)
    assert not [t for t, _, _ in drops(sim) if t >= 805]


def test_the_run_is_calm_after_the_last_phase_with_a_duration() -> None:
    sim = counters(faults=Phases([(100, CALM), (300, Faults(drop=0.5))]))
    sim.run(until=1000)
    times = [t for t, _, _ in drops(sim)]
    assert times and min(times) >= 100 and max(times) < 410
    assert "t=400 phase 2" in sim.fault_log


def test_a_storm_again_after_a_short_calm_runs_one_chain_of_chaos_rounds() -> None:
    # The calm (30 ticks) is shorter than chaos_every (40): the first storm's next round is still
    # queued when the second storm starts, and must not run beside the second storm's rounds.
    storm = Faults(partition=1.0, partition_ticks=(1, 1), chaos_every=40)
    sim = counters(faults=Phases([(100, storm), (30, CALM), (200, storm), (None, CALM)]))
    sim.run(until=600)
    partitions = [
        int(line.split()[0][2:]) for line in sim.fault_log if "partition" in line or " cut " in line
    ]
    # one round every 40 ticks of a storm: t=40, 80 in the first; 170, 210, 250, 290 in the second
    assert partitions == [40, 80, 170, 210, 250, 290]


def test_one_phase_is_the_same_run_as_its_faults_and_until_still_ends_them() -> None:
    faults = Faults(drop=0.2, crash=0.5, partition=0.5, chaos_every=40, until=500)
    plain, phased = counters(faults=faults), counters(faults=Phases([(None, faults)]))
    plain.run(until=1000)
    phased.run(until=1000)
    assert run_fingerprint(plain) == run_fingerprint(phased)
    assert any(line.endswith("faults end") for line in phased.fault_log)
    assert not [t for t, _, why in drops(phased) if t >= 520 and why != "dest down"]


def test_phases_go_through_a_cluster_factory_with_its_cluster_settings() -> None:
    # pbft_cluster sets max_down (f) and spares the client on what it is given: on Phases too
    storm = Faults(crash=1.0, chaos_every=30, down_ticks=(100, 200))
    sim = pbft_cluster(
        4,
        seed=2,
        faults=Phases([(100, CALM), (500, storm), (None, CALM)]),
        workload=Workload(every=50, until=900),
    )
    most_down = 0

    def watch(s: Simulator[Any]) -> bool:
        nonlocal most_down
        most_down = max(most_down, sum(not up for up in s.up.values()))
        return False

    sim.run(until=1200, stop=watch)
    crashes = [line for line in sim.fault_log if " crash" in line]
    assert crashes and not [line for line in crashes if "c1" in line]  # the client is spared
    assert most_down == 1  # f = 1 of 4 replicas
    assert not sim.divergences


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Phases([]), "at least one phase"),
        (lambda: Phases([(None, CALM), (10, CALM)]), "only the last phase"),
        (lambda: Phase(0), "at least 1 tick"),
        (lambda: MessageFaults(delay=2.0), r"delay must be a probability"),
    ],
)
def test_bad_phase_settings_are_one_line_errors(build: Any, message: str) -> None:
    with pytest.raises(ImplError, match=message):
        build()


# -- faults for the messages a filter picks ----------------------------------------------------------


def test_delay_only_the_replies() -> None:
    """MIT 6.824's unreliable network can delay replies only; here Raft's AppendEntriesResponse."""
    rule = MessageFaults(kind="AppendEntriesResponse", delay=1.0, delay_ticks=(40, 40))
    sim = raft_cluster(3, seed=4, faults=Faults(messages=(rule,)), workload=Workload(every=30))
    seen: dict[int, Envelope] = {}

    def watch(s: Simulator[Any]) -> bool:
        seen.update((e.id, e) for e in s.in_flight())
        return False

    sim.run(until=2000, stop=watch)
    kinds = Tally(type(e.message).__name__ for e in seen.values())
    assert kinds["AppendEntriesResponse"] > 20 and kinds["AppendEntriesRequest"] > 20
    for e in seen.values():
        reply = type(e.message).__name__ == "AppendEntriesResponse"
        assert e.delayed == (40 if reply else 0)
    assert sim.client is not None and sim.client.writes_ok > 5  # slow replies, still progress


def test_drop_one_direction_of_one_link() -> None:
    sim = counters(faults=Faults(messages=(MessageFaults(source="n1", dest="n2", drop=1.0),)))
    sim.run(until=200)
    assert "n1" not in sim.nodes["n2"].heard
    assert sim.nodes["n3"].heard["n1"] >= 19 and sim.nodes["n1"].heard["n2"] >= 19
    assert {(sender, why) for _, sender, why in drops(sim)} == {("n1", "drop")}


def test_rules_add_independent_chances_to_the_global_rate() -> None:
    rule = MessageFaults(source="n1", drop=0.5)
    sim = counters(faults=Faults(drop=0.5, messages=(rule,)))
    sim.run(until=3000)
    lost = Tally(sender for _, sender, _ in drops(sim))
    sent = 2 * 300  # each node sends to two peers every 10 ticks
    assert 0.68 < lost["n1"] / sent < 0.82  # 1 - (1 - 0.5)(1 - 0.5) = 0.75
    assert 0.43 < lost["n2"] / sent < 0.57 and 0.43 < lost["n3"] / sent < 0.57


def test_a_predicate_picks_the_messages() -> None:
    even = MessageFaults(where=lambda source, dest, m: m[2] % 2 == 0, duplicate=0.5)
    sim = counters(faults=Faults(messages=(even,)))
    sim.run(until=200)
    copied = Tally(
        (s.params["subject"]["from"], s.params["subject"]["value"])
        for s in sim.trace().steps
        if s.action == "Duplicate"
    )
    assert copied and all(value % 2 == 0 for _, value in copied)
    # (a copy is a message too: it may be copied again, so some are copied more than twice)
    assert {value for _, value in copied} == set(range(2, 20, 2))


# -- the clock runs on when nothing is due -----------------------------------------------------------


def test_with_every_node_down_the_clock_runs_to_the_end_and_to_each_restart() -> None:
    sim = counters()
    sim.run(until=50)
    for node in sim.node_ids:
        sim.crash(node)
    sim.run(until=400)
    assert sim.now == 400  # nothing was due: the clock still reached t=400
    sim.recover_at("n1", 600)
    sim.recover_at("n2", 700)
    sim.recover_at("n3", 700)
    while sim.now < 600:  # step by step: the stale timers of the crashed nodes, then the restart
        assert sim.run(max_events=1) == 1
    assert sim.now == 600 and sim.up["n1"] and not sim.up["n2"]
    sim.run(until=1000)
    assert all(sim.up.values())
    assert sim.nodes["n1"].value == 50 // 10 // 2 * 2 + 40  # from its persisted 4, a bump every 10
    assert sim.nodes["n2"].heard["n1"] >= sim.nodes["n1"].value - 1  # the last may be in flight


def test_a_raft_cluster_all_down_recovers_when_its_nodes_restart() -> None:
    sim = raft_cluster(3, seed=6, workload=Workload(every=50))
    sim.run(until=1000)
    assert sim.client is not None
    acknowledged = sim.client.writes_ok
    assert acknowledged > 5
    for node in sim.node_ids:
        sim.crash(node)
        sim.recover_at(node, 3000)
    sim.run(until=2900)
    assert sim.now == 2900 and sim.client.writes_ok == acknowledged  # time passed, nothing moved
    sim.run(until=6000)
    assert sim.client.writes_ok > acknowledged + 10 and not sim.divergences
    assert any(n.role == "Leader" for n in sim.nodes.values())


def test_recover_at_checks_its_arguments() -> None:
    sim = counters()
    sim.run(until=100)
    with pytest.raises(ImplError, match="no node 'n9'"):
        sim.recover_at("n9", 200)
    with pytest.raises(ImplError, match="t=50: the time is t=100"):
        sim.recover_at("n1", 50)


# -- what each node applied, in order -----------------------------------------------------------------


def test_applied_in_order_across_a_restart_from_a_snapshot() -> None:
    sim = raft_cluster(3, seed=9, workload=Workload(every=20), snapshot_interval=10)
    sim.run(until=700)
    follower = next(i for i, n in sim.nodes.items() if n.role != "Leader")
    sim.crash(follower)
    snapshot = sim.nodes[follower].log.snapshot_index
    sim.recover_at(follower, 750)
    sim.run(until=1500)
    entries = sim.applied[follower]
    first = [(e.index, e.value) for e in entries if e.incarnation == 0]
    again = [(e.index, e.value) for e in entries if e.incarnation == 1]
    assert [e.incarnation for e in entries] == sorted(e.incarnation for e in entries)
    assert [i for i, _ in first] == list(range(1, len(first) + 1))  # in index order, from 1
    assert snapshot > 0 and again[0][0] == snapshot + 1  # after the restart: from the snapshot on
    # in index order (an installed snapshot may skip some)
    assert all(x[0] < y[0] for x, y in itertools.pairwise(again))
    reapplied = [(i, v) for i, v in again if i <= len(first)]
    assert reapplied and set(reapplied) <= set(first)  # applied twice, the same values
    assert all(e.time >= 750 for e in entries if e.incarnation == 1)
    assert sim.applied_by_index[follower] == dict(first + again)


class Splitter(Counter):
    """Applies its own id at index 1: nodes disagree on what entry 1 is."""

    def step(self, event: Any) -> list[Effect]:
        if isinstance(event, Restart):
            return [SetTimer("apply", 5)]
        if isinstance(event, Tick):
            return [Apply(1, self.id, None)]
        return []


class SplitterPlugin(CounterPlugin):
    def new_node(self, node_id: str, rng: Any) -> Counter:
        return Splitter(node_id, self.nodes, persist_every=2, send_first=False)


def test_the_safety_checker_finds_two_values_at_one_index() -> None:
    ids = ["n1", "n2"]
    sim = Simulator(SplitterPlugin(ids), ids, SimConfig(seed=1))
    sim.run(until=10)
    assert sim.divergences == [("n2", 1, "n1", "n2")]
    assert [(e.index, e.value) for e in sim.applied["n2"]] == [(1, "n2")]
    # the same entry everywhere is no divergence
    agree = Simulator(CounterPlugin(ids), ids, SimConfig(seed=1))
    agree.checker.on_apply("n1", 1, "v", incarnation=0, time=0)
    agree.checker.on_apply("n2", 1, "v", incarnation=0, time=0)
    assert not agree.divergences

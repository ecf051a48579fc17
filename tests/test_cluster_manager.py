"""The manager over its three layers as real clusters (meshcheck/cluster/routed.py): operations
routed by type with the manager's own code into PBFT, the hybrid dispatcher and gossip processes;
each layer checked as its own cluster test checks it, the answers checked against Routing.tla's
invariants; the manager's routing mutants caught in the processes; each routing check shown to fail
on the answer it forbids."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from meshcheck import cluster_cmd
from meshcheck.cli import main
from meshcheck.cluster import checks
from meshcheck.cluster import routed
from meshcheck.cluster.routed import Routed
from meshcheck.cluster.routed import routing_verdicts
from meshcheck.cluster.run import Options
from meshcheck.cluster.workload import STATUS
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.manager import mutants
from meshcheck.impl.runtime.client import Answer
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.config import ClusterConfig
from meshcheck.impl.runtime.protocols import protocol
from tests.test_cluster_cmd import nodes_of

INVARIANTS = (
    "CriticalOnlyByBFT",
    "CoordinationByEpoch",
    "StatusNeverAgreed",
    "UnknownRefused",
    "AgreedMeansDecided",
)


def _by_name(
    verdicts: tuple[checks.Verdict, ...] | list[checks.Verdict],
) -> dict[str, checks.Verdict]:
    return {v.check.removesuffix(" (Routing.tla)"): v for v in verdicts}


@pytest.mark.slow  # the three layers under a nemesis; `up` and `down` below start them in make test
def test_the_manager_routes_each_type_to_its_layer_under_kills_and_partitions(
    tmp_path: Path,
) -> None:
    outcome = routed.run(
        Options(protocol="manager", nodes=3, time=5, nemesis=("kill", "partition"), seed=3,
                validate=False),
        tmp_path,
    )  # fmt: skip
    assert outcome.holds, [v for v in outcome.verdicts if not v.holds] + [
        (name, o.failed) for name, o in outcome.layers.items() if o.failed
    ]
    assert set(_by_name(outcome.verdicts)) == set(INVARIANTS)
    assert set(outcome.layers) == {"pbft", "hybrid", "gossip"}
    told = {(r.type, r.layer, r.answer) for r in outcome.routed}
    # every type reached its layer and was answered as its layer answers
    assert {("critical", "pbft", "agreed"), ("coordination", "hybrid", "agreed"),
            ("status", "gossip", "gossiped"), ("unknown", "", "refused")} <= told  # fmt: skip
    assert all(r.how == "bft" for r in outcome.routed if r.layer == "pbft" and r.answer == "agreed")
    # each layer's history holds exactly the operations routed to it
    for name, layer in outcome.layers.items():
        assert len(layer.history.ops) == sum(1 for r in outcome.routed if r.layer == name)
        assert (tmp_path / name / "history.jsonl").is_file()
        assert layer.plan  # each layer had its own nemesis
    lines = (tmp_path / "routing.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r.id for r in outcome.routed]
    # the router's own log is a behaviour of Routing.tla (the run's row when it validates)
    logs = checks.logs_valid("Routing", [tmp_path / "routing.ndjson"], {}, tmp_path, 300.0)
    assert logs.holds is True, logs.detail
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # routing mutants in processes; each routing check's own test below stays
def test_the_managers_routing_mutants_are_caught_in_the_processes(tmp_path: Path) -> None:
    # three mutants at once, each breaking a different invariant: one run, three violations
    bugs = frozenset(
        {
            mutants.CRITICAL_TO_RAFT_AT_NONE,
            mutants.UNKNOWN_TO_GOSSIP,
            mutants.STATUS_COUNTED_COMMITTED,
        }
    )
    outcome = routed.run(
        Options(protocol="manager", nodes=3, time=2, nemesis=(), seed=1, bugs=bugs, validate=False),
        tmp_path,
    )
    verdicts = _by_name(outcome.verdicts)
    assert not outcome.holds
    # a critical operation decided by the hybrid dispatcher's Raft epoch
    assert verdicts["CriticalOnlyByBFT"].holds is False
    assert (
        "went to hybrid, answered agreed, decided by raft" in verdicts["CriticalOnlyByBFT"].detail
    )
    # a misspelt type written to gossip
    assert verdicts["UnknownRefused"].holds is False
    assert "went to gossip" in verdicts["UnknownRefused"].detail
    # a status write told "agreed"
    assert verdicts["StatusNeverAgreed"].holds is False
    assert "answered agreed" in verdicts["StatusNeverAgreed"].detail
    # and the router's own log is no behaviour of Routing.tla
    logs = checks.logs_valid("Routing", [tmp_path / "routing.ndjson"], {}, tmp_path, 300.0)
    assert logs.holds is False, logs.detail
    assert nodes_of(tmp_path) == []


def _op(id: int, given: str, layer: str, answer: str, how: str, **more: object) -> Routed:
    typed = given if given in routed.KNOWN else "unknown"
    return Routed(id, given, typed, layer, answer, how, "None", 0.0, 0.1, **more)  # type: ignore[arg-type]


GOOD = [
    _op(1, "critical", "pbft", "agreed", "bft"),
    _op(2, "coordination", "hybrid", "agreed", "raft", epoch=1, committed=True),
    _op(3, "coordination", "hybrid", "agreed", "bft", epoch=2, committed=True),
    _op(4, "status", "gossip", "gossiped", "gossip"),
    _op(5, "critcal", "", "refused", ""),
    _op(6, "critical", "pbft", "info", ""),
]


@pytest.mark.parametrize(
    ("broken", "violates"),
    [
        (
            _op(7, "critical", "hybrid", "agreed", "raft", epoch=1, committed=True),
            "CriticalOnlyByBFT",
        ),
        (
            _op(7, "critical", "hybrid", "agreed", "bft", epoch=2, committed=True),
            "CriticalOnlyByBFT",
        ),
        (_op(7, "coordination", "pbft", "agreed", "bft"), "CoordinationByEpoch"),
        (
            _op(7, "coordination", "hybrid", "agreed", "", epoch=9, committed=True),
            "CoordinationByEpoch",
        ),
        (_op(7, "status", "gossip", "agreed", "gossip"), "StatusNeverAgreed"),
        (_op(7, "status", "hybrid", "info", ""), "StatusNeverAgreed"),
        (_op(7, "Status", "gossip", "gossiped", "gossip"), "UnknownRefused"),
        (_op(7, "audit", "", "info", ""), "UnknownRefused"),
        (_op(7, "coordination", "hybrid", "agreed", "raft", epoch=1), "AgreedMeansDecided"),
        (_op(7, "status", "gossip", "agreed", "gossip"), "AgreedMeansDecided"),
    ],
)
def test_each_routing_check_fails_on_the_answer_it_forbids(broken: Routed, violates: str) -> None:
    assert all(v.holds for v in routing_verdicts(GOOD))
    verdicts = _by_name(routing_verdicts([*GOOD, broken]))
    assert verdicts[violates].holds is False
    assert f"op 7, type {broken.given!r}" in verdicts[violates].detail


def test_a_routing_check_with_nothing_to_judge_says_so() -> None:
    verdicts = _by_name(routing_verdicts([_op(1, "status", "gossip", "gossiped", "gossip")]))
    assert verdicts["StatusNeverAgreed"].holds is True
    assert verdicts["UnknownRefused"].holds is None  # no operation of an unknown type was sent
    assert "no operations of unknown types" in verdicts["UnknownRefused"].detail


def test_a_hybrid_decision_takes_the_protocol_of_the_epoch_that_committed_it() -> None:
    ops = [_op(1, "coordination", "hybrid", "agreed", "", epoch=2, committed=True)]
    assert [r.how for r in routed.resolve(ops, {1: "raft", 2: "bft"})] == ["bft"]
    assert [r.how for r in routed.resolve(ops, {1: "raft"})] == [""]  # never seen: not judged raft


def test_escalation_is_read_off_the_disk_where_a_bft_epoch_was_too_short_to_sample() -> None:
    honest = ["n2", "n3", "n4"]
    on_disk = {n: {"e1/log": (), "e2/executed": ()} for n in honest}
    verdict = checks.escalated([], honest, on_disk)
    assert verdict.holds is True and "by their disks (epochs 2)" in verdict.detail
    raft_only = {n: {"e1/log": ()} for n in honest}
    assert checks.escalated([], honest, raft_only).holds is False


def test_up_starts_the_three_layers_and_down_stops_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "up"
    assert main(["cluster", "up", "--protocol", "manager", "--out", str(out)]) == 0
    try:
        printed = capsys.readouterr().out.splitlines()
        # the routing table, each type with its layer's nodes (impl/manager/routing.py ROUTES)
        assert [line.split(":")[0] for line in printed if "operations ->" in line] == [
            "critical operations -> pbft",
            "coordination operations -> hybrid",
            "status operations -> gossip",
        ]
        sizes = {layer: len(nodes_of(out / layer)) for layer in ("pbft", "hybrid", "gossip")}
        assert sizes == {"pbft": 4, "hybrid": 4, "gossip": 4}
        assert len(json.loads((out / "pids.json").read_text())) == 12
        # the gossip layer takes a status write from a plain client
        config = ClusterConfig.read(out / "gossip" / "cluster.json")

        async def write() -> Answer:
            client = Client(config.nodes, protocol("gossip").codec())
            try:
                return await client.ask("n1", "write", STATUS.write("cpu", 1), 5.0)
            finally:
                await client.close()

        answer = asyncio.run(write())
        assert answer.ok, answer
        assert main(["cluster", "up", "--protocol", "manager", "--out", str(out)]) == 2
    finally:
        assert main(["cluster", "down", "--out", str(out)]) == 0
    assert nodes_of(out) == []


def test_a_manager_that_fails_to_start_a_layer_leaves_no_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = cluster_cmd._up_one

    def up_one(name: str, n: int, out: Path) -> object:
        if name == "gossip":  # the third layer: the first two are up by then
            raise ImplError("gossip: n1 did not listen")
        return started(name, n, out)

    monkeypatch.setattr(cluster_cmd, "_up_one", up_one)
    out = tmp_path / "up"
    assert main(["cluster", "up", "--protocol", "manager", "--out", str(out)]) == 2
    assert nodes_of(out) == []
    assert not (out / "pids.json").exists()

"""Gossip as a real cluster (meshcheck/cluster/convergence.py and health.py): three processes under
a kill, the convergence, durability and failure-detector checks holding on the reference core and
failing on catalogue mutants run in the processes; and each check on made-up evidence, failing on
exactly what it guards."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster import convergence
from meshcheck.cluster import health
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.layer import Layer
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.nemesis import Window
from meshcheck.cluster.nemesis import windows
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.node import OWN
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import Status
from tests.test_cluster_cmd import nodes_of

# n1 down for 3 s in the middle of a 5 s run: long enough that its watchers' deadlines for it
# pass (health.py: about 0.8 s after its last heartbeat) and a sample shows it suspected (2.5 s
# was once too short for one, in a clean-clone make test), and back with a calm after it in which
# they must trust it again
KILL_N1 = (Fault(1.5, "kill", ("n1",), 3.0),)
CHECKS = (
    "progress after healing",
    "converged after healing",
    "no suspicion after healing",
    "reads return written values",
    "no acknowledged write undone",
    "agreed entries were written",
    "own writes durable (state files)",
    "spread to every node",
    "entries never go backwards",
    "a node down is suspected",
    "a node back is trusted",
    "logs valid (Gossip.tla)",
)


# make test-all only: in two of three clean-clone make test runs on 2026-11-27 no sample showed
# n1 suspected while it was down (the check held: nothing to judge), though alone it passed 4 of
# 4; since the sampler keeps one control connection a node (inspection.py), to be looked into
@pytest.mark.slow
def test_a_killed_node_is_suspected_then_trusted_and_catches_up(tmp_path: Path) -> None:
    outcome = run(
        Options(protocol="gossip", time=5, workload="status", seed=5, plan=KILL_N1),
        tmp_path / "ok",
    )
    verdicts = {v.check: v for v in outcome.verdicts}
    assert tuple(verdicts) == CHECKS
    assert outcome.holds, [v for v in outcome.verdicts if not v.holds]
    # both failure-detector checks judged the kill, not passed for want of one
    assert verdicts["a node down is suspected"].detail.startswith("1 down")
    assert verdicts["a node back is trusted"].detail.startswith("1 back")
    assert verdicts["spread to every node"].holds
    # every node's log, the killed node's Restart among it, a behaviour of Gossip.tla
    assert verdicts["logs valid (Gossip.tla)"].detail.startswith("valid:")
    logs = [(tmp_path / "ok" / "data" / n / "node.ndjson").read_text() for n in ("n1", "n2")]
    assert '"action":"Restart"' in logs[0] and '"action":"HandlePush"' in logs[1]
    # the history in the key-value shape, for `meshcheck history` to draw
    history = (tmp_path / "ok" / "history.jsonl").read_text()
    assert '"key": "k' in history and '"type": "ok"' in history
    assert nodes_of(tmp_path / "ok") == []


def test_gossip_runs_its_own_workload_only(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cluster", "test", "--protocol", "gossip", "--workload", "registers"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "meshcheck: --workload registers: gossip runs status"
    )


@pytest.mark.parametrize(
    ("bug", "check"),
    [
        # the restarted n1 is never sent the once-written keys it missed while down
        (mutants.DELTA_SKIPS_MISSING, "converged after healing"),
        # n1's watchers suspected it while it was down, and never take it back
        (mutants.SUSPICION_NEVER_CLEARED, "a node back is trusted"),
        # a merge that takes an older entry over a newer one: the node's log leaves Gossip.tla
        (mutants.OLDER_OVERWRITES_NEWER, "logs valid (Gossip.tla)"),
    ],
)
@pytest.mark.slow  # gossip mutants in processes; the simulator's tests kill both in make test
def test_a_gossip_mutant_in_the_processes_is_caught(bug: str, check: str, tmp_path: Path) -> None:
    outcome = run(
        Options(protocol="gossip", time=5, workload="status", seed=5, plan=KILL_N1,
                bugs=frozenset({bug}), settle=3.0),
        tmp_path / bug,
    )  # fmt: skip
    failed = {v.check: v.detail for v in outcome.failed}
    assert check in failed, outcome.verdicts
    assert nodes_of(tmp_path / bug) == []


# -- the checks on made-up evidence -------------------------------------------------------------


def _write(index: int, key: str, value: str, call: float, ret: float, ok: bool = True) -> Op:
    status: Status = "ok" if ok else "info"
    return Op(f"c{index}", "write", (key, value), value if ok else None, call,
              ret if ok else math.inf, status, None, index)  # fmt: skip


def _read(index: int, key: str, got: str | None, call: float, ret: float) -> Op:
    return Op(f"c{index}", "read", key, got, call, ret, "ok", None, index)


def _settled(
    entries: dict[str, tuple[int, str, str]], **suspects: tuple[str, ...]
) -> convergence.Settled:
    seen = {n: {"entries": entries, "suspects": suspects.get(n, ())} for n in ("n1", "n2")}
    return convergence.Settled(seen, 0.1, None if suspects else 0.1, dict(suspects))


def test_reads_must_return_a_value_written_before_them() -> None:
    ops = [_write(0, "k", "v1", 0.0, 0.1), _read(1, "k", "v1", 0.2, 0.3), _read(2, "k", None, 0, 1)]
    assert convergence.reads_written(ops).holds
    assert not convergence.reads_written([*ops, _read(3, "k", "v9", 0.4, 0.5)]).holds
    # a value written only after the read returned is no answer the read could have had
    late = [_read(0, "k", "v2", 0.0, 0.1), _write(1, "k", "v2", 0.5, 0.6)]
    assert not convergence.reads_written(late).holds


def test_an_agreed_value_must_not_be_one_its_node_wrote_over() -> None:
    ops = [_write(0, "k", "v1", 0.0, 0.1), _write(1, "k", "v2", 0.2, 0.3)]
    both_at_n1 = ["n1", "n1"]
    assert convergence.none_undone(ops, both_at_n1, _settled({"k": (2, "n1", "v2")})).holds
    assert not convergence.none_undone(ops, both_at_n1, _settled({"k": (1, "n1", "v1")})).holds
    assert not convergence.none_undone(ops, both_at_n1, _settled({})).holds  # lost altogether
    # on two nodes the two writes are not ordered: either may win
    assert convergence.none_undone(ops, ["n1", "n2"], _settled({"k": (1, "n1", "v1")})).holds


def test_an_agreed_entry_must_be_its_writers_own_on_disk() -> None:
    disk = {"n1": {OWN + "k": Entry(3, "n1", "v3")}}
    assert convergence.entries_written(_settled({"k": (3, "n1", "v3")}), disk).holds
    restamped = convergence.entries_written(_settled({"k": (4, "n1", "v3")}), disk)
    assert not restamped.holds and "version 4" in restamped.detail
    assert not convergence.entries_written(_settled({"k": (1, "n2", "v1")}), disk).holds


def test_an_acknowledged_write_must_be_on_its_nodes_disk() -> None:
    ops = [_write(0, "k", "v1", 0.0, 0.1), _write(1, "k", "v2", 0.05, 0.2)]
    nodes = ["n1", "n1"]
    assert convergence.own_durable(ops, nodes, {"n1": {OWN + "k": Entry(2, "n1", "v2")}}).holds
    # v2 was taken while v1 was in flight: either may be the last on disk
    assert convergence.own_durable(ops, nodes, {"n1": {OWN + "k": Entry(1, "n1", "v1")}}).holds
    assert not convergence.own_durable(ops, nodes, {"n1": {}}).holds
    older = [_write(0, "k", "v1", 0.0, 0.1), _write(1, "k", "v2", 0.2, 0.3)]
    assert not convergence.own_durable(
        older, nodes, {"n1": {OWN + "k": Entry(1, "n1", "v1")}}
    ).holds


def test_the_nodes_must_agree_and_trust_each_other_at_the_end() -> None:
    assert convergence.converged(_settled({"k": (1, "n1", "v")})).holds
    apart = convergence.Settled(
        {"n1": {"entries": {"k": (1, "n1", "v")}, "suspects": ()},
         "n2": {"entries": {}, "suspects": ()}}, None, 0.1, {},
    )  # fmt: skip
    verdict = convergence.converged(apart)
    assert not verdict.holds and "n2 k=None" in verdict.detail
    assert convergence.trusted(_settled({})).holds
    assert not convergence.trusted(_settled({}, n1=("n2",))).holds


def _sample(at: float, node: str, entries: dict[str, tuple[int, str, str]], boot: int = 1,
            suspects: tuple[str, ...] = (), overdue: dict[str, int] | None = None) -> Sample:  # fmt: skip
    seen = {"boot": boot, "entries": entries, "suspects": suspects, "overdue": overdue or {}}
    return Sample(at, node, seen)


def test_an_entry_may_fall_back_only_across_a_restart() -> None:
    up = [_sample(0.1, "n1", {"k": (2, "n1", "b")}), _sample(0.2, "n1", {"k": (3, "n2", "a")})]
    assert health.never_backwards(up).holds
    back = [*up, _sample(0.3, "n1", {"k": (1, "n2", "z")})]
    assert not health.never_backwards(back).holds
    assert not health.never_backwards([*up, _sample(0.3, "n1", {})]).holds
    assert health.never_backwards([*up, _sample(0.3, "n1", {}, boot=2)]).holds


STRUCK = [(1.0, "kill n1"), (3.5, "kill n1 undone")]


def test_a_node_down_must_be_suspected_and_back_trusted() -> None:
    assert windows(STRUCK) == [Window("kill", ("n1",), 1.0, 3.5)]
    seen = [_sample(2.5, "n2", {}, suspects=("n1",)), _sample(6.0, "n2", {})]
    assert health.suspected_when_down(seen, STRUCK).holds
    # a watcher past its own deadline for the down node (by more than a round) that does not
    # suspect it; one not yet due is not judged; nor is one whose deadline came before the kill
    late = _sample(2.5, "n2", {}, overdue={"n1": 900})
    verdict = health.suspected_when_down([late], STRUCK)
    assert not verdict.holds and "900 ms past its own deadline" in verdict.detail
    early = _sample(2.5, "n2", {}, overdue={"n1": -300})
    assert health.suspected_when_down([early], STRUCK).detail.startswith("nothing to judge")
    stale = _sample(2.0, "n2", {}, overdue={"n1": 5000})
    assert health.suspected_when_down([stale], STRUCK).holds
    # down for the hard bound (health.DETECT) and never suspected: whatever the models said
    long = [(1.0, "kill n1"), (7.0, "kill n1 undone")]
    assert not health.suspected_when_down([_sample(6.0, "n2", {})], long).holds
    # a long window suspected is one judged, not two (a restart that took long under load)
    seen_long = [_sample(6.0, "n2", {}, suspects=("n1",))]
    assert health.suspected_when_down(seen_long, long).detail.startswith("1 down")
    # no watcher: the manager's gossip layer on a loaded machine once had n1 down from 3.55 s to
    # 9.14 s while n3 (down from 0.60 s) and n2 (from 2.28 s) restarted late; nobody who had
    # heard n1 was up to suspect it, so nothing is owed (strike.py now keeps a majority up)
    alone = [(0.60, "kill n3"), (2.28, "kill n2"), (3.55, "kill n1"), (6.83, "kill n3 undone"),
             (9.14, "kill n1 undone"), (9.33, "kill n2 undone")]  # fmt: skip
    late_watcher = [_sample(8.0, "n3", {})]
    assert health.suspected_when_down(late_watcher, alone).holds
    # one watcher up throughout is enough to owe it
    watched = [(0.60, "kill n3"), (3.55, "kill n1"), (3.70, "kill n3 undone"),
               (9.14, "kill n1 undone")]  # fmt: skip
    assert not health.suspected_when_down([_sample(8.0, "n2", {})], watched).holds
    assert health.trusted_when_back(seen, STRUCK).holds
    doubt = [*seen[:1], _sample(6.0, "n2", {}, suspects=("n1",))]
    assert not health.trusted_when_back(doubt, STRUCK).holds
    # a partition during the calm after the restart: suspicion then is right, nothing judged
    cut = [*STRUCK, (4.0, "partition n1"), (5.0, "partition n1 undone")]
    assert health.trusted_when_back(doubt, cut).detail.startswith("nothing to judge")


def test_a_power_failure_of_several_nodes_is_judged_node_by_node() -> None:
    # the power failure of every node (meshcheck/cluster/nemesis.py) is one window of three nodes;
    # their restarts end one after another, and n3, back last at 17.21 s, is struck again at once:
    # no node up has heard it since, so its second window owes nothing
    struck = [(6.1, "power n1,n2,n3"), (17.21, "power n1,n2,n3 undone"), (17.212, "power n3"),
              (23.67, "power n3 undone")]  # fmt: skip
    assert health.suspected_when_down([_sample(20.0, "n1", {})], struck).detail.startswith(
        "nothing to judge"
    )
    # the same n3 up for a while before its power failed is owed a suspicion
    later = [*struck[:2], (19.0, "power n3"), (25.0, "power n3 undone")]
    verdict = health.suspected_when_down([_sample(21.0, "n1", {})], later)
    assert not verdict.holds and "n3 was down (power)" in verdict.detail
    suspected = [_sample(21.0, "n1", {}, suspects=("n3",))]
    assert health.suspected_when_down(suspected, later).holds


@pytest.mark.parametrize(
    ("healed", "now", "until"),
    [(5.1, 5.3, 7.3), (5.1, 6.5, 8.5), (5.1, 9.0, 11.0), (3.5, 5.0, 7.0), (2.5, 5.0, 0.0)],
)
def test_the_calm_gives_the_clients_the_whole_recovery_window(
    healed: float, now: float, until: float, tmp_path: Path
) -> None:
    # the restart was undone late (t=5.1 for a plan that said 4.0) and the harness got back to
    # its clients later still: they run the protocol's whole `recovery` (gossip: 2 s) from then,
    # not only what is left of it counted from the healing (CI once judged a 0.6 s window); a
    # fault undone with `recovery` of the run still to come needs no more (0: none)
    layer = Layer(Options(protocol="gossip", time=5, workload="status", plan=KILL_N1), tmp_path)
    layer.struck[:] = [(1.5, "kill n1"), (healed, "kill n1 undone")]
    assert asyncio.run(layer.calm(lambda: now)) == pytest.approx(until)
    assert layer.healed == healed
    assert layer.until == pytest.approx(until)

"""A PBFT client core killed and restarted in a real cluster (the nemesis's `crash-client`,
meshcheck/cluster/nemesis.py): it starts again from its state file (impl/runtime/member.py), as a
client process restarted would, and must go on with timestamps above those it used (Castro and
Liskov, OSDI 1999, section 4.1). The catalogue's `client_timestamp_reset` counts them from 0 again:
the replicas take its new requests for ones they executed, and it is never answered again while
the other clients are (`restarted clients answered`), and its state file shows it signing a
timestamp it had used (`client clocks (state files)`). The simulator's
scenario is property_tests/pbft/client_restart.py."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster import checks
from meshcheck.cluster import nemesis
from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Write
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.client import CLOCK
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.traces.history.history import Op
from tests.test_cluster_cmd import nodes_of

ANSWERED = "restarted clients answered"
CLOCKS = "client clocks (state files)"
SAFETY = (
    "linearizable (rsm)",
    "agreement (state files)",
    "accepted writes durable",
    "honest disks (signatures, evidence, certificates)",
)
# c2 killed at t=4 s and started again 1 s later: by then three clients have made tens of
# operations each, more than the restarted one can make in the run's remaining 8 s at one a 3 s
# timeout, so a clock counted from 0 never climbs past what the replicas executed of it
CRASH = (Fault(2.0, "crash-client", ("c2",), 1.0),)


def _op(process: str, call: float, status: str) -> Op:
    ret = math.inf if status == "info" else call + 0.1
    return Op(process, "write", call, None, call, ret, status)  # type: ignore[arg-type]


def test_a_restarted_client_never_answered_while_the_others_are_is_caught() -> None:
    struck = [(2.0, "crash-client c3"), (3.0, "crash-client c3 undone")]
    before = [_op("c3.0", 1.0, "ok")]
    silent = [_op(f"c3.{k}", 3.5 + 3 * k, "info") for k in range(1, 4)]
    others = [_op(f"c{1 + k % 2}.0", 3.1 + k * 0.2, "ok") for k in range(25)]
    verdict = checks.restarted_answered(before + silent + others, struck)
    assert verdict.holds is False
    assert verdict.detail == (
        "c3, restarted at t=3.0s: none of its 3 operations since was answered, while the other "
        "clients had 25 answered"
    )
    answered = checks.restarted_answered([*before, _op("c3.1", 3.5, "ok"), *others], struck)
    assert answered.holds is True and "c3 (t=3.0s) 1 of 1" in answered.detail
    # the group served no one: the restarted client's silence says nothing of it
    stalled = checks.restarted_answered(before + silent + others[:5], struck)
    assert stalled.holds is None and "the others 5" in stalled.detail
    assert checks.restarted_answered(others, []).holds is True


def _request(client: str, timestamp: int) -> Signed[Request]:
    return Signed(Request(client, timestamp, ("op", timestamp)), client, b"")


def _clock(*timestamps: int) -> list[list[Write]]:
    """A client's state file's records: its clock put at each of `timestamps` in turn."""
    return [[Put(CLOCK, (t, t))] for t in timestamps]


def test_a_client_clock_that_goes_back_or_behind_what_was_executed_is_caught() -> None:
    executed = {
        "r1": ((_request("c1", 1), _request("c2", 1)), (_request("c2", 9),)),
        "r2": ((_request("c1", 1), _request("c2", 1)),),
    }
    ahead = {"c1": _clock(1), "c2": _clock(*range(1, 10)), "c3": []}
    assert checks.client_clocks(ahead, executed).holds is True
    back = checks.client_clocks({"c1": _clock(1), "c2": _clock(8, 9, 1, 2, 10)}, executed)
    assert back.holds is False
    assert back.detail == "c2 signed timestamp 1 after 9 (record 3 of its state file)"
    # a timestamp signed twice (a client that crashed after its first request): caught too
    again = checks.client_clocks({"c2": _clock(1, 1, 2)}, {})
    assert again.holds is False and again.detail.startswith("c2 signed timestamp 1 after 1 ")
    behind = checks.client_clocks({"c1": _clock(1), "c2": _clock(3, 4)}, executed)
    assert behind.holds is False
    assert behind.detail == (
        "c2's clock is at 4 on its state file, and r1 executed its request of timestamp 9"
    )


def test_the_plan_crashes_one_client_at_a_time_and_only_where_clients_are_cores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = nemesis.plan(5, 20, ("crash-client",), ["r1", "r2", "r3", "r4"], clients=["c1", "c2"])
    assert plan and all(f.kind == "crash-client" and f.nodes[0] in ("c1", "c2") for f in plan)
    assert all(a.at + a.lasts <= b.at for a, b in itertools.pairwise(plan))
    assert "restarted from its state file" in plan[0].describe()
    # no clients to crash: no client fault, the plan's other faults unchanged
    assert nemesis.plan(5, 20, ("crash-client",), ["r1", "r2", "r3", "r4"]) == []
    code = main(["cluster", "test", "--nemesis", "crash-client", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "which raft's clients are not" in err and err.count("\n") == 1, err


def test_a_client_that_counts_its_timestamps_from_0_after_a_restart_is_caught(
    tmp_path: Path,
) -> None:
    outcome = run(
        Options(protocol="pbft", nodes=4, time=4, nemesis=(), plan=CRASH, clients=3, seed=1,
                bugs=frozenset({mutants.CLIENT_TIMESTAMP_RESET}), validate=False),
        tmp_path,
    )  # fmt: skip
    verdicts = {v.check: v for v in outcome.verdicts}
    assert verdicts[ANSWERED].holds is False, verdicts[ANSWERED]
    assert verdicts[ANSWERED].detail.startswith("c2, restarted at t=")
    assert verdicts[CLOCKS].holds is False, verdicts[CLOCKS]
    assert verdicts[CLOCKS].detail.startswith("c2 signed timestamp 1 after ")
    assert all(verdicts[check].holds for check in SAFETY), outcome.failed  # only the client
    assert (tmp_path / "data" / "c2" / "state.wal").stat().st_size > 0
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # a second cluster of processes in this file
def test_a_restarted_client_goes_on_answered_on_the_correct_core(tmp_path: Path) -> None:
    outcome = run(
        Options(protocol="pbft", nodes=4, time=6, nemesis=(), plan=CRASH, clients=3, seed=1),
        tmp_path,
    )  # fmt: skip
    verdicts = {v.check: v for v in outcome.verdicts}
    assert {ANSWERED, CLOCKS, "logs valid (PBFT.tla)"} <= set(verdicts)
    assert outcome.holds, outcome.failed
    assert nodes_of(tmp_path) == []

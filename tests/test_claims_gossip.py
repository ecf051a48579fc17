"""meshcheck/claims/gossip.py and `meshcheck claims gossip`: the propagation and detector
measurements at small sizes, the wire sizes, the growth verdicts on synthetic samples (seconds);
its bad input is tests/test_claims_input.py's."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from meshcheck.claims import gossip as g
from meshcheck.claims.verdict import CONSTANT
from meshcheck.claims.verdict import FAILS
from meshcheck.claims.verdict import HOLDS
from meshcheck.claims.verdict import fit_log
from meshcheck.claims.verdict import log_verdict
from meshcheck.claims.verdict import percentile
from meshcheck.cli import main
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.messages import Beat
from meshcheck.impl.gossip.messages import Pull
from meshcheck.impl.gossip.messages import Push

SVG = "{http://www.w3.org/2000/svg}"


def _same(a: g.Run, b: g.Run) -> bool:
    return attrs.evolve(a, cpu=0.0) == attrs.evolve(b, cpu=0.0)


# -- propagation --------------------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [10, 100])
def test_without_loss_an_update_reaches_every_node(nodes: int) -> None:
    r = g.measure_seed(nodes, 0)
    assert r.t99 is not None and r.t100 is not None
    assert 0 < r.t99 <= r.t100 < g.SETTING.cap
    assert r.curve[0] < 0.5 and r.curve[-1] == 1.0
    assert all(a <= b for a, b in zip(r.curve, r.curve[1:], strict=False))  # no loss of holders
    assert r.live == nodes and r.crashes == 0
    assert r.span >= g.SETTING.horizon  # ran on to the claim's horizon
    # every round a node pushes to 3, beats its 3 ring successors (those not pushed to), pulls
    # one and answers the pulls it gets: 6 to 9 messages
    assert 6 <= r.messages_per_node_round <= 9
    assert r.by_kind["Push"] >= nodes - 1  # everyone but the writer received it by a push or pull
    assert r.bytes > 45 * r.messages  # a beat alone is 45 bytes
    assert _same(g.measure_seed(nodes, 0), r)  # one seed, one run


def test_rounds_grow_with_the_size() -> None:
    small = [g.measure_seed(10, seed).rounds100 for seed in range(5)]
    large = [g.measure_seed(100, seed).rounds100 for seed in range(5)]
    assert None not in small and None not in large
    assert percentile([x for x in small if x], 50) < percentile([x for x in large if x], 50)


def test_loss_and_churn_are_applied() -> None:
    lossy = g.measure_seed(100, 1, g.Condition(loss=0.3))
    calm = g.measure_seed(100, 1)
    assert lossy.t100 is not None and calm.t100 is not None and lossy.t100 > calm.t100
    churn = g.measure_seed(100, 1, g.Condition(churn=0.05))
    assert churn.crashes > 0 and churn.live < 100
    assert churn.t100 is not None  # the restarted nodes catch up too
    assert churn.condition == "5% churn" and g.Condition(churn=0.05).option == "churn5"


def test_a_run_past_its_cap_is_censored_and_fails_the_claim() -> None:
    s = attrs.evolve(g.SETTING, cap=300, horizon=0)
    r = g.measure_seed(100, 7, g.Condition(), s)
    assert r.t99 is None and r.t100 is None and r.rounds100 is None
    spread = g.rows({100: {"0% loss": [r]}})[0]
    assert spread.verdict.kind == FAILS and spread.verdict.witness == 7
    (rounds, _label, v), _messages = g.growth({100: {"0% loss": [r]}})
    assert rounds == g.ROUNDS and v.kind == FAILS and "never finished (seed 7" in v.text()


def test_the_churn_plan_is_one_percent_per_interval() -> None:
    import random

    names = [f"n{k}" for k in range(1000)]
    plan = g.churn_plan(random.Random(3), names, 0.01, 20_000, g.SETTING)
    assert 150 < len(plan) < 250  # 1% of 1,000 nodes for 20 intervals: 200 expected
    assert plan == sorted(plan) and all(0 <= t < 20_000 for t, _ in plan)
    assert g.churn_plan(random.Random(3), names, 0.0, 20_000, g.SETTING) == []


# -- the wire ---------------------------------------------------------------------------------------


def test_wire_sizes_count_the_fields() -> None:
    header = 28 + 1 + 4 + 4 + 4 + 4  # IPv4 + UDP, type, source, dest, boot, beat
    assert g.wire_size(Beat("n1", "n2", 1, 5)) == header == 45
    entry = Entry(3, "n1", "ok")
    # key "k" (1 + 1), version 8, origin 4, value "ok" (2 + 2)
    assert g.entry_size("k", entry) == 2 + 8 + 4 + 4
    assert g.wire_size(Push("n1", "n2", (("k", entry),), 1, 5)) == header + 2 + 18
    assert g.wire_size(Pull("n1", "n2", (("k", entry.rank()),), 1, 5)) == header + 3 + 18
    # one status entry per node: a 10,000-key digest is about 0.92 MB
    assert g.digest_bytes(10_000, 10_000) == header + 3 + 10_000 * (1 + 13 + 8 + 4 + 2 + 64)


# -- verdicts on synthetic samples ---------------------------------------------------------------------


def test_a_logarithmic_growth_holds_with_its_constant() -> None:
    samples = [
        (n, 1.0 + 0.5 * math.log2(n) + d, seed)
        for seed, d in enumerate((0, 0.1))
        for n in (10, 100, 1000, 10_000)
    ]
    v = log_verdict(samples)
    assert v.kind == HOLDS and v.fit is not None and v.fit.logarithmic
    assert v.fit.b == pytest.approx(0.5) and v.fit.r2_log > 0.99 > v.fit.r2_linear
    # the constant: the largest y / log2 N (at N = 10, seed 1)
    assert v.constant == pytest.approx((1.1 + 0.5 * math.log2(10)) / math.log2(10))
    assert (v.witness, v.at) == (1, 10)
    assert "holds" in v.text() and "seed 1" in v.text()


def test_a_linear_growth_does_not_hold() -> None:
    samples = [(n, 2.0 + 0.01 * n, 0) for n in (10, 100, 1000, 10_000)] + [(10_000, 103.0, 4)]
    v = log_verdict(samples)
    assert v.kind == FAILS and v.fit is not None and not v.fit.logarithmic
    assert (v.witness, v.at) == (4, 10_000)
    assert v.text().startswith("does not hold: linear fits better")


def test_growth_needs_three_sizes_and_finished_runs() -> None:
    assert log_verdict([(10, 1.0, 0), (100, 2.0, 0)]).kind == FAILS
    assert "fewer than three sizes" in log_verdict([(10, 1.0, 0), (100, 2.0, 0)]).text()
    v = log_verdict([(10, 1.0, 0), (100, None, 5), (1000, 3.0, 0)])
    assert v.kind == FAILS and v.witness == 5 and v.censored == 1
    with pytest.raises(ValueError):
        fit_log([(10, 1.0)])


def test_bounded_claims_use_the_shared_verdict() -> None:
    def run(seed: int, t99: int | None) -> g.Run:
        return g.Run(10, "0% loss", seed, t99, t99, (1.0,), 80, 4_500, {}, 10.0, 10_000, 0, 0, 0.0)

    ok = g.rows({10: {"0% loss": [run(0, 4_000), run(1, 9_000)]}})
    assert [r.verdict.kind for r in ok] == [HOLDS, HOLDS]
    assert ok[0].verdict.witness == 1 and ok[1].summary.max == 45  # 4,500 B: 10 nodes, 10 rounds
    slow = g.rows({10: {"0% loss": [run(0, 4_000), run(3, 12_300)]}})[0]
    assert slow.verdict.kind == CONSTANT and slow.verdict.constant == 13_000
    assert slow.verdict.witness == 3


# -- the detector --------------------------------------------------------------------------------------

SMALL = g.DetectorSetting(nodes=20, warmup=5_000, span=20_000, victims=2, cap=10_000)


def test_a_crashed_node_is_suspected_by_each_watcher_and_a_calm_lan_never_errs() -> None:
    r = g.detector_seed(0, g.PROFILES[0], SMALL)
    assert r.false == 0 and r.checks == 20 * 3 * 20  # 3 watches per node, a check per round
    assert len(r.detect) == 2 * 3 and None not in r.detect
    # phi reaches 8 about 1.56 s after the last heartbeat (mean 1 s + 5.6 x the 100 ms floor);
    # the watcher sees it at its next round: between 0.5 s and 2.6 s after the crash
    assert all(v is not None and 500 < v < 2_600 for v in r.detect)


def test_lost_heartbeats_are_false_suspicions_at_threshold_8() -> None:
    lossy = g.Profile("10% loss", (1, 10), loss=0.1)
    r = g.detector_seed(0, lossy, SMALL)
    assert r.false > 0 and r.rate > 1e-4  # far above 10^-8 per check
    (row,) = g.detector_rows({lossy.name: [r]})
    assert row.verdict.kind == CONSTANT and row.verdict.witness == 0


# -- the command --------------------------------------------------------------------------------------


def test_the_command_prints_plots_and_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "runs.json"
    argv = ["claims", "gossip", "--sizes", "10,20,40", "--agents", "0", "--seeds", "2", "-q"]
    argv += ["--conditions", "loss0,churn1", "--detector-seeds", "0", "--out", str(tmp_path)]
    rc = main([*argv, "--json", str(js)])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    assert "N = 40, 1% churn" in out and "O(log n) messages" in out
    data = json.loads(js.read_text())
    assert set(data["propagation"]) == {"10", "20", "40"} and data["detector"] == {}
    assert len(data["propagation"]["40"]["1% churn"]) == 2
    root = ET.parse(tmp_path / "gossip.svg").getroot()
    panels = root.findall(f".//{SVG}g[@class='panel']")
    assert len(panels) == 2
    labels = [s.get("data-label") for s in root.iter(f"{SVG}g") if s.get("class") == "series"]
    assert "N = 40, 0% loss" in labels and any(str(x).startswith("fit, 0% loss") for x in labels)
    # `claims plot` draws the same picture again from the JSON, measuring nothing
    assert main(["claims", "plot", str(js), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "gossip.svg").read_text() == (tmp_path / "gossip.svg").read_text()

    # a detector claim that fails names its seed, and the replay line gives the same numbers
    tail = ["claims", "gossip", "--sizes", "none", "--agents", "0", "--detector-seeds", "2"]
    assert main([*tail, "--profiles", "loss", "--first", "1", "-q", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    (k,) = [k for k, line in enumerate(lines) if line.startswith("replay ")]
    command = lines[k + 1].removeprefix("  meshcheck ").split()
    # the verdict, too long for its table's line, is printed whole (wrapped) under the table
    joined = " ".join(line.strip() for line in lines)
    row = joined[joined.index("1-10 ms, 1% loss: holds with a different constant") :].split(")")[0]
    seed = int(command[command.index("--first") + 1])
    assert main([*command, "-q", "--out", str(tmp_path)]) == 1
    again = capsys.readouterr().out
    single = g.detector_seed(seed, g.PROFILES[3])
    assert f"{single.false:,} in {single.checks:,}" in again
    assert f"max at seed {seed}" in row


def test_a_spread_claim_not_holding_names_the_run_that_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(g, "SPREAD_BOUND", 500)  # below any run: every row a different constant
    argv = ["claims", "gossip", "--sizes", "10", "--agents", "0", "--seeds", "3", "--first", "4"]
    argv += ["--conditions", "loss10", "--detector-seeds", "0", "-q", "--out", str(tmp_path)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    table = lines[lines.index("99% of live nodes (under 10 s)") :]
    row = next(line for line in table if line.startswith("| N = 10, 10% loss"))
    whole = next(
        line for line in lines if line.startswith("99% of live nodes (under 10 s), N = 10")
    )
    (k,) = [k for k, line in enumerate(lines) if line.startswith("replay 99%")]
    command = lines[k + 1].removeprefix("  meshcheck ").split()
    seed = int(command[command.index("--first") + 1])
    assert f"max at seed {seed})" in " ".join(lines[lines.index(whole) :][:2])
    assert command[command.index("--sizes") + 1] == "10"
    assert command[command.index("--conditions") + 1] == "loss10"
    r = g.measure_seed(10, seed, g.Condition(loss=0.1))
    assert r.t99 is not None and f"| {r.t99:,} | holds with a different constant" in row

"""meshcheck/claims: the Raft deployment's measurement, the verdicts, the SVG plots, and the
`meshcheck claims raft-deployment` command (a few seeds: seconds)."""

from __future__ import annotations

import gzip
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from meshcheck.claims import raft
from meshcheck.claims.verdict import CONSTANT
from meshcheck.claims.verdict import FAILS
from meshcheck.claims.verdict import HOLDS
from meshcheck.claims.verdict import percentile
from meshcheck.claims.verdict import round_up
from meshcheck.claims.verdict import summarize
from meshcheck.claims.verdict import verdict
from meshcheck.cli import main
from meshcheck.traces.plot import Mark
from meshcheck.traces.plot import Panel
from meshcheck.traces.plot import Series
from meshcheck.traces.plot import cdf
from meshcheck.traces.plot import percentile_points
from meshcheck.traces.plot import render

SVG = "{http://www.w3.org/2000/svg}"


# -- the measurement ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_run_elects_commits_and_reelects_within_the_run(seed: int) -> None:
    d = raft.DEPLOYMENT
    r = raft.measure_seed(seed, 0.0)
    lo = d.election_timeout[0]
    # nobody times out before the shortest election timeout; the leader is known one message later
    assert r.start_elected is not None and r.start_known is not None
    assert lo < r.start_elected <= r.start_known < d.cap
    assert r.start_known - r.start_elected <= d.latency[1]
    # a new leader, of a later term, after the crash: the survivors' timers were reset at most one
    # heartbeat and one latency before it
    assert r.crash_elected is not None and r.crash_known is not None
    assert lo - d.heartbeat - d.latency[1] <= r.crash_elected <= r.crash_known < d.cap
    # no loss: every write acknowledged, each after at least a round trip and at most two (one
    # batch in flight per follower) of the slowest latency, plus a little
    assert len(r.latencies) == d.writes and r.failed == r.unanswered == r.no_leader == 0
    assert all(2 * d.latency[0] <= v <= 4 * d.latency[1] for v in r.latencies)
    assert sum(r.latencies) < r.end
    assert raft.measure_seed(seed, 0.0) == r  # one seed, one run


def test_loss_slows_commits_and_the_samples_carry_their_seeds() -> None:
    results = raft.measure(range(3), [0.0, 0.1])
    calm = raft.samples(results[0.0])[raft.COMMIT]
    lossy = raft.samples(results[0.1])[raft.COMMIT]
    assert {seed for _, seed in calm} == {0, 1, 2}
    assert max(v for v, _ in lossy if v is not None) > max(v for v, _ in calm if v is not None)


def test_the_crash_waits_for_a_leader_known_to_a_majority() -> None:
    # 10% loss, seed 37: the write phase ends between leaders; crashing "the leader" then found
    # none, and the election after the crash went unmeasured (censored) in 12 of 1,000 seeds
    r = raft.measure_seed(37, 0.1)
    assert r.crash_known is not None and r.crash_known < raft.ELECTION_BOUND


def test_an_election_past_the_cap_is_censored_and_fails_the_claim() -> None:
    # a cap below the shortest election timeout: no leader can be known in time
    d = attrs.evolve(raft.DEPLOYMENT, cap=100, writes=3)
    r = raft.measure_seed(4, 0.0, d)
    assert r.start_known is None and r.latencies == () and r.crash_known is None
    assert r.no_leader == 3
    start, _crash, commit = raft.rows({0.0: [r]})
    assert start.verdict.kind == FAILS and start.verdict.witness == 4
    assert "never finished (seed 4)" in start.verdict.text()
    assert commit.verdict.kind == FAILS and commit.verdict.text() == "does not hold: no samples"


# -- verdicts and percentiles -------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [50, 90, 99, 100]
    assert percentile([7, 1, 3], 50) == 3
    with pytest.raises(ValueError):
        percentile([], 50)
    s = summarize([(3.0, 1), (None, 2), (1.0, 3)])
    assert (s.count, s.censored, s.p50, s.max) == (3, 1, 1.0, 3.0)


def test_round_up_keeps_two_significant_digits() -> None:
    assert round_up(2340) == 2400
    assert round_up(512) == 520
    assert round_up(2400) == 2400
    assert math.isclose(round_up(0.0123), 0.013)


def test_verdicts_on_synthetic_samples() -> None:
    under = [(100.0, 1), (1999.0, 2), (500.0, 3)]
    v = verdict(under, 2000)
    assert (v.kind, v.witness) == (HOLDS, 2)

    over = [(100.0, 1), (2340.0, 7), (2000.0, 8)]  # "under" is strict: 2,000 is over 2 s
    v = verdict(over, 2000)
    assert (v.kind, v.witness, v.constant, v.over) == (CONSTANT, 7, 2400, 2)
    assert "under 2,400 ms" in v.text()
    assert verdict([(2400.0, 1)], 2000).constant == 2500  # the constant is above the max

    censored = [(100.0, 1), (None, 9), (None, 11)]
    v = verdict(censored, 2000)
    assert (v.kind, v.witness, v.censored) == (FAILS, 9, 2)
    assert verdict([], 2000).kind == FAILS


# -- the SVG writer -----------------------------------------------------------------------------------


def _figure() -> ET.Element:
    panels = [
        Panel(
            "cdf",
            "ms",
            "share",
            [Series("a", cdf([1, 2, 2, 3])), Series("b", cdf([10, 20]), dashed=True)],
            xlog=True,
            xrange=(1, 100),
            marks=[Mark(5, "claim"), Mark(5000, "off the axis")],
        ),
        Panel(
            "rounds",
            "nodes",
            "rounds",
            [Series("p50", [(10, 3), (100, 5), (1000, 7)], markers=True)],
            xlog=True,
        ),
    ]
    return ET.fromstring(render(panels, title="t <&>", note="n"))


def test_the_svg_holds_every_series_and_mark() -> None:
    root = _figure()
    assert root.tag == f"{SVG}svg"
    panels = root.findall(f"{SVG}g[@class='panel']")
    assert [p.get("data-title") for p in panels] == ["cdf", "rounds"]
    series = {g.get("data-label"): g for g in root.iter(f"{SVG}g") if g.get("class") == "series"}
    assert set(series) == {"a", "b", "p50"}
    path = series["a"].find(f"{SVG}path")
    assert path is not None
    # a step per distinct value: 3 values, 6 points
    assert len(re.findall(r"[ML]", path.get("d", ""))) == 6
    assert "stroke-dasharray" in ET.tostring(series["b"]).decode()
    assert len(series["p50"].findall(f"{SVG}circle")) == 3
    marks = [g.get("data-value") for g in root.iter(f"{SVG}g") if g.get("class") == "mark"]
    assert marks == ["5"]  # the mark off the axis is left out
    title = root.find(f"{SVG}text")
    assert title is not None and title.text == "t <&>"


def test_cdf_and_percentile_points() -> None:
    assert cdf([2, 1, 2]) == ((1, 0.0), (1, 1 / 3), (2, 1 / 3), (2, 1.0))
    assert cdf([]) == ()
    many = cdf(list(range(10_000)), max_points=50)
    assert len(many) == 50 and many[-1] == (9999, 1.0)
    assert percentile_points([1, 2, 3, 4], (50, 100)) == ((50, 2), (100, 4))


def test_plots_refuse_what_they_cannot_draw() -> None:
    with pytest.raises(ValueError):
        render([], title="x")
    with pytest.raises(ValueError):
        render(
            [Panel("p", "x", "y", [Series("s", [(1, 1)])], xlog=True, xrange=(0, 10))], title="x"
        )
    with pytest.raises(ValueError):
        Mark(1, "m", axis="z")


# -- the command --------------------------------------------------------------------------------------


def test_the_command_prints_the_table_and_writes_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["claims", "raft-deployment", "--seeds", "2", "--loss", "0,10", "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "\nelection from start (under 2 s)\n| condition " in out
    assert "\ncommit latency (under 500 ms)\n| condition " in out
    assert out.count("holds (max at seed") == 6
    root = ET.parse(tmp_path / "raft-deployment.svg").getroot()
    labels = [g.get("data-label") for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert labels == [
        "0% loss, from start",
        "0% loss, after leader crash",
        "10% loss, from start",
        "10% loss, after leader crash",
        "0% loss",
        "10% loss",
    ]


def test_a_claim_over_its_bound_exits_1_with_a_command_that_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raft, "REPLICATION_BOUND", 12)  # a bound the commits do not meet
    code = main(
        ["claims", "raft-deployment", "--seeds", "2", "--loss", "1", "--out", str(tmp_path), "-q"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "holds with a different constant" in out
    replay = re.search(r"replay commit latency .*?:\n  meshcheck (claims .*)", out)
    assert replay is not None
    argv = replay.group(1).split()
    seed = int(argv[argv.index("--first") + 1])
    assert seed in (0, 1)
    # the replayed seed alone has the same maximum
    top = max(raft.measure_seed(seed, 0.01).latencies)
    assert main([*argv, "--out", str(tmp_path), "-q"]) == 1
    shown = capsys.readouterr().out.split("commit latency (under 500 ms)\n")[1]
    assert f" {top} | holds with a different" in shown.splitlines()[2]  # the max column
    assert (
        "commit latency (under 500 ms), 1% loss: holds with a different constant: under " in shown
    )


def test_the_plot_is_drawn_again_from_the_json_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What --json wrote (gzip when its name ends .gz) gives back the runs and the deployment
    measured, and `claims plot` the same picture; a file of anything else is one line, exit 2."""
    js = tmp_path / "runs.json.gz"
    argv = ["claims", "raft-deployment", "--seeds", "2", "--loss", "0,10", "--latency", "2,20"]
    main([*argv, "--out", str(tmp_path), "--json", str(js), "-q"])
    results, d = raft.from_json(json.loads(gzip.decompress(js.read_bytes())))
    assert d.latency == (2, 20) and sorted(results) == [0.0, 0.1]
    assert [r.seed for r in results[0.1]] == [0, 1]
    assert results[0.1][0] == raft.measure_seed(0, 0.1, d)
    capsys.readouterr()
    assert main(["claims", "plot", str(js), "--out", str(tmp_path / "again")]) == 0
    again = (tmp_path / "again" / "raft-deployment.svg").read_text()
    assert again == (tmp_path / "raft-deployment.svg").read_text()
    other = tmp_path / "other.json"
    other.write_text('{"claims": "raft-deployment", "runs": {}}')
    assert main(["claims", "plot", str(other)]) == 2
    assert "whose runs do not read back: KeyError('deployment')" in capsys.readouterr().err
    other.write_text("[1, 2]")
    assert main(["claims", "plot", str(other)]) == 2
    assert "not what claims raft-deployment, gossip or bft-compare --json writes" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--seeds", "many"], "--seeds must be a whole number"),
        (["--first", "-1"], "--first must be at least 0"),
        (["--loss", "100"], "a loss rate is a percentage in [0, 100)"),
        (["--loss", "1;2"], "--loss takes percentages"),
        (["--loss", "1,1"], "loss rate 1% given twice"),
        (["--latency", "10"], "--latency takes LO,HI"),
        (["--latency", "5,1"], "LO must not exceed HI"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["claims", "raft-deployment", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("meshcheck: ") and message in err


def test_an_out_that_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "f"
    file.write_text("")
    assert main(["claims", "raft-deployment", "--seeds", "1", "--out", str(file)]) == 2
    err = capsys.readouterr().err
    assert err == f"meshcheck: --out {file}: not a folder\n"


@pytest.mark.parametrize("claim", ["raft-deployment", "gossip", "bft-compare"])
def test_the_docs_plots_are_drawn_from_the_runs_kept(claim: str, tmp_path: Path) -> None:
    """docs/CLAIM.svg is what `meshcheck claims plot` draws from docs/claims/CLAIM.json.gz, the
    runs of the measurement docs/claims.md reports (make docs draws them again)."""
    root = Path(__file__).resolve().parents[1] / "docs"
    assert (
        main(["claims", "plot", str(root / "claims" / f"{claim}.json.gz"), "--out", str(tmp_path)])
        == 0
    )
    drawn = (tmp_path / f"{claim}.svg").read_text()
    assert drawn == (root / f"{claim}.svg").read_text(), f"docs/{claim}.svg is stale: make docs"

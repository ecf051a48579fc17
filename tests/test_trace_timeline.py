"""`meshcheck trace timeline` (traces/timeline/): the chart read back from the SVG with xml.etree and
checked against the trace it was drawn from: lanes, message arrows, drops, faults, Byzantine acts."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.trace import Trace
from meshcheck.traces import itf
from meshcheck.traces import timeline

ROOT = Path(__file__).resolve().parent.parent
RAFT = ROOT / "traces" / "raft"
PBFT = ROOT / "traces" / "pbft" / "new_view_ignores_prepared.itf.json"
SVG = "{http://www.w3.org/2000/svg}"


def chart(trace: Trace, tmp_path: Path, source: Path | None = None) -> ET.Element:
    out = timeline.write(trace, tmp_path / "t.svg", source=source)
    return ET.parse(out).getroot()


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    """The <g> elements whose class list is exactly `cls`."""
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == cls]


def marks(root: ET.Element, kind: str) -> set[tuple[str | None, int]]:
    return {
        (g.get("data-node"), int(g.get("data-step", "-1"))) for g in groups(root, f"mark {kind}")
    }


def arrows(root: ET.Element, cls: str = "arrow") -> Counter[tuple[str, str, int]]:
    return Counter(
        (g.get("data-from", ""), g.get("data-to", ""), int(g.get("data-step", "-1")))
        for g in groups(root, cls)
    )


@functools.cache
def free_run() -> Trace:
    """A free run of three Raft nodes with drops, a partition and a crash (seeded)."""
    from meshcheck.property_tests.free_runs import Schedule
    from meshcheck.property_tests.raft.free_runs import cluster
    from meshcheck.property_tests.raft.free_runs import run

    schedule = Schedule(seed=7, ticks=1000, drop=0.05, duplicate=0.05, crash=0.3, partition=0.3)
    sim = cluster(schedule, 3, frozenset())
    run(sim, schedule, 1000)
    return sim.trace()


@pytest.mark.parametrize("path", sorted(RAFT.glob("*.itf.json")), ids=lambda p: p.stem)
def test_raft_lanes_arrows_drops_and_roles_match_the_trace(path: Path, tmp_path: Path) -> None:
    trace = itf.read(path)
    root = chart(trace, tmp_path, path)
    assert [g.get("data-node") for g in groups(root, "lane")] == ["s1", "s2", "s3"]
    # every Handle...(i, j) takes one message from j: one arrow from j to i ending at that step
    handled = Counter(
        (str(s.params["j"]), str(s.params["i"]), k)
        for k, s in enumerate(trace.steps)
        if s.action.startswith("Handle")
    )
    assert arrows(root) + arrows(root, "arrow duplicate") == handled
    dropped = {k for k, s in enumerate(trace.steps) if s.action == "DropMessage"}
    assert {int(g.get("data-step", "-1")) for g in groups(root, "drop")} == dropped
    last = trace.steps[-1].state["messages"]
    in_flight = sum(last.values()) if hasattr(last, "values") else 0
    assert len(groups(root, "inflight")) == in_flight
    changed = set()
    for k in range(1, len(trace)):
        for n in ("s1", "s2", "s3"):
            before, after = trace.steps[k - 1].state, trace.steps[k].state
            if any(before[v][n] != after[v][n] for v in ("role", "currentTerm")):
                changed.add((n, k))
    assert marks(root, "role") == changed
    restarts = {(str(s.params["i"]), k) for k, s in enumerate(trace.steps) if s.action == "Restart"}
    assert marks(root, "restart") == restarts
    # a lockstep counterexample: the implementation left the spec at its last step
    assert marks(root, "divergence") == {(None, len(trace) - 1)}


def test_the_leader_lane_is_drawn_as_leader_while_it_leads(tmp_path: Path) -> None:
    trace = itf.read(RAFT / "commit_previous_term.itf.json")
    root = chart(trace, tmp_path)
    lane = next(g for g in groups(root, "lane") if g.get("data-node") == "s1")
    drawn = {
        int(line.get("data-step", "-1")): line.get("data-role")
        for line in lane.iter(f"{SVG}line")
        if line.get("class") == "lifeline"
    }
    assert drawn == {k: s.state["role"]["s1"] for k, s in enumerate(trace.steps)}


def test_pbft_deliveries_and_byzantine_acts(tmp_path: Path) -> None:
    """r1 is Byzantine in the lockstep model: its ViewChanges are not in msgs, so the NewView
    steps that needed a third ViewChange (2f+1 = 3, section 4.4) took r1's."""
    trace = itf.read(PBFT)
    root = chart(trace, tmp_path, PBFT)
    lanes = groups(root, "lane")
    assert [g.get("data-node") for g in lanes] == ["r1", "r2", "r3", "r4", "client"]
    assert [g.get("data-node") for g in lanes if g.get("data-byzantine")] == ["r1"]
    assert marks(root, "byzantine") == {("r1", 4), ("r1", 10)}
    assert arrows(root, "arrow byzantine") == Counter({("r1", "r2", 4): 1, ("r1", "r3", 10): 1})
    delivered = {
        (g.get("data-from"), g.get("data-to"), g.get("data-sent"), g.get("data-step"))
        for g in groups(root, "arrow")
    }
    assert ("r4", "r2", "3", "4") in delivered  # r4's ViewChange for view 1, to the new primary
    assert ("r2", "r3", "4", "7") in delivered  # the NewView for view 1, accepted by r3
    assert ("r2", "r3", "5", "8") in delivered  # the PrePrepare r3 prepares
    sends = Counter(g.get("data-from") for g in groups(root, "send"))
    sent = Counter(
        m["src"]
        for k in range(1, len(trace))
        for m in trace.steps[k].state["msgs"] - trace.steps[k - 1].state["msgs"]
    )
    assert sends == sent  # every multicast has its dot on its sender's lane
    assert marks(root, "request") == {("client", 1)}
    assert marks(root, "role") >= {("r2", 2), ("r4", 3), ("r3", 7), ("r3", 9), ("r3", 10)}


def test_pbft_quorums_the_honest_replicas_do_not_make_up_are_byzantine(tmp_path: Path) -> None:
    """checkpoint_stable_on_f_plus_1: r1, the Byzantine primary of view 0, pre-prepares (its
    PrePrepares are never in msgs), and its Commits and Checkpoint make up the 2f+1 = 3 that r2
    and r3 alone cannot (sections 4.2 and 4.3)."""
    path = ROOT / "traces" / "pbft" / "checkpoint_stable_on_f_plus_1.itf.json"
    trace = itf.read(path)
    expected = set()
    for k, step in enumerate(trace.steps):
        msgs = trace.steps[k - 1].state["msgs"] if k else frozenset()
        if step.action == "Prepare":
            assert step.params["v"] == 0  # r1's view: every PrePrepare is r1's
            expected.add(("r1", k))
        if step.action in ("Execute", "StableCheckpoint"):
            kind = "Commit" if step.action == "Execute" else "Checkpoint"
            seq = (
                len(step.state["executed"][step.params["i"]])
                if kind == "Commit"
                else step.params["n"]
            )
            honest = {m["src"] for m in msgs if m["type"] == kind and m["seq"] == seq}
            if len(honest) < 3:
                expected.add(("r1", k))
    assert len(expected) > 5
    assert marks(chart(trace, tmp_path, path), "byzantine") == expected


def test_crashes_recoveries_and_partitions_of_a_free_run(tmp_path: Path) -> None:
    trace = free_run()
    root = chart(trace, tmp_path)
    notes = [(k, str(n)) for k, s in enumerate(trace.steps) for n in s.meta.get("faults", ())]
    assert notes, "the seed no longer gives a run with faults: pick another"
    crashes = {(n.split()[2], k) for k, n in notes if n.startswith("crash")}
    recoveries = {(n.split()[1], k) for k, n in notes if n.startswith("recover")}
    partitions = {(None, k) for k, n in notes if n.startswith(("partition", "cut"))}
    assert crashes and recoveries and partitions
    assert marks(root, "crash") == crashes
    assert marks(root, "recover") == recoveries
    assert marks(root, "partition") == partitions
    # a crashed node's lifeline is drawn down until it recovers
    (node, crashed), (_, back) = (
        min(crashes, key=lambda c: c[1]),
        min(recoveries, key=lambda c: c[1]),
    )
    lane = next(g for g in groups(root, "lane") if g.get("data-node") == node)
    down = {
        int(line.get("data-step", "-1"))
        for line in lane.iter(f"{SVG}line")
        if line.get("data-role") == "down"
    }
    assert set(range(crashed, back)) <= down and back not in down
    dropped = {k for k, s in enumerate(trace.steps) if s.action == "DropMessage"}
    assert {int(g.get("data-step", "-1")) for g in groups(root, "drop")} == dropped


def test_html_is_self_contained(tmp_path: Path) -> None:
    out = timeline.write(itf.read(PBFT), tmp_path / "t.html")
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    assert not re.search(r"<script|<link|@import|@font-face|src=|href=", text, re.I)
    assert re.findall(r"https?://[^\s\"']+", text) == ["http://www.w3.org/2000/svg"]
    ET.fromstring(text[text.index("<svg") : text.index("</svg>") + len("</svg>")])


def test_cli_writes_the_file_or_says_why_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raft.svg"
    assert main(["trace", "timeline", str(PBFT), "--out", str(out)]) == 0
    assert out.is_file() and "written to" in capsys.readouterr().out
    assert main(["trace", "timeline", str(PBFT), "--out", str(tmp_path / "raft.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "written as .svg or .html, not .png" in err


def test_the_front_page_picture_is_what_the_command_draws(tmp_path: Path) -> None:
    """docs/timeline-raft.svg (shown in the README and docs/tutorial-counterexample.md) is regenerated,
    not drawn by hand: `make docs` runs the command that makes it."""
    out = tmp_path / "timeline-raft.svg"
    assert (
        main(["trace", "timeline", "traces/raft/commit_previous_term.itf.json", "--out", str(out)])
        == 0
    )
    assert out.read_text(encoding="utf-8") == (ROOT / "docs" / "timeline-raft.svg").read_text(
        encoding="utf-8"
    ), "docs/timeline-raft.svg is stale: make docs"


# ---------------------------------------------------------------------------------------------------
# Specs no descriptor names (traces/hints.py): lanes of their processes, no guessed client

PETERSON = ROOT / "tests" / "data" / "peterson.itf.json"
QUINT = ROOT / "tests" / "data" / "quint"


def test_peterson_has_a_lane_per_process_and_no_client_lane(tmp_path: Path) -> None:
    """Its first action is named `Request`, as PBFT's client request is: that alone draws no
    client lane; each step is marked on the lane of the process it moved."""
    trace = itf.read(PETERSON)
    root = chart(trace, tmp_path, PETERSON)
    assert [g.get("data-node") for g in groups(root, "lane")] == ["p1", "p2"]
    assert marks(root, "request") == set()
    moved = {(str(s.params["p"]), k) for k, s in enumerate(trace.steps) if k}
    assert marks(root, "act") == moved
    texts = {
        (g.get("data-node"), g.get("data-step")): "".join(g.itertext())
        for g in groups(root, "mark act")
    }
    assert "pc=cs" in texts[("p2", "6")]  # the step that breaks mutual exclusion
    assert not groups(root, "arrow") and not groups(root, "send")
    steps = {
        int(t.get("data-step", "-1")): "".join(t.itertext())
        for t in root.iter(f"{SVG}text")
        if t.get("class") == "step"
    }
    assert steps[0].endswith("0  Init") and steps[1].endswith("1  Request(p=p1)")


def test_quint_traces_draw_with_their_labels_and_lanes(tmp_path: Path) -> None:
    handshake = itf.read(QUINT / "handshake.itf.json")
    t = timeline.timeline_of(handshake)
    assert t.lanes == ("a", "b")
    assert t.labels[:3] == ("init", "Hello(p=a, q=b)", "Hello(p=b, q=a)")
    root = chart(handshake, tmp_path)
    assert [g.get("data-node") for g in groups(root, "lane")] == ["a", "b"]
    # Answer changes no per-process variable: marked on the lane its parameter names
    assert ("a", 3) in marks(root, "act") and ("b", 5) in marks(root, "act")
    counter = timeline.timeline_of(itf.read(QUINT / "counter.itf.json"))
    assert counter.lanes == () and counter.labels[1] == "Add(k=1)"
    assert timeline.render_file(itf.read(QUINT / "counter.itf.json"), tmp_path / "c.svg")

"""`meshcheck trace show` on cluster traces: the compact per-node view, one node's view, lassos, and
traces of hundreds of steps (traces/show.py, traces/cluster.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.traces import cluster, itf
from meshcheck.traces.model import Step, Trace
from meshcheck.traces.show import render


def fd(**kw: Value) -> FrozenDict:
    return FrozenDict(kw)


ROOT = Path(__file__).resolve().parent.parent
RAFT = ROOT / "traces" / "raft" / "commit_previous_term.itf.json"
PBFT = ROOT / "traces" / "pbft" / "new_view_ignores_prepared.itf.json"


def steps_of(text: str) -> dict[int, list[str]]:
    """Each step's lines (its head line first) in a rendered trace."""
    out: dict[int, list[str]] = {}
    current: int | None = None
    for line in text.splitlines():
        head = re.match(r"Step (\d+)  ", line)
        if head:
            current = int(head.group(1))
            out[current] = [line]
        elif current is not None and line.startswith(" "):
            out[current].append(line)
    return out


def node_lines(lines: list[str]) -> dict[str, str]:
    """The compact node lines of one step: node -> the line."""
    found = {}
    for line in lines:
        m = re.match(r"  [* ] (s\d|r\d)  (.*)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def test_the_nodes_are_the_domain_the_per_node_functions_share() -> None:
    assert cluster.nodes(itf.read(RAFT)) == ("s1", "s2", "s3")
    assert cluster.nodes(itf.read(PBFT)) == ("r1", "r2", "r3", "r4")
    lone = Trace(vars=("x", "budget"), steps=(Step(fd(x=1, budget=fd(a=1))),))
    assert cluster.nodes(lone) == ()  # one record is not a cluster


def test_compact_raft_shows_one_line_per_node_that_changed() -> None:
    trace = itf.read(RAFT)
    steps = steps_of(render(trace, compact=True))
    assert sorted(steps) == list(range(len(trace)))
    init = node_lines(steps[0])
    assert set(init) == {"s1", "s2", "s3"}
    assert init["s1"].split() == ["Follower", "term", "0", "vote", "-", "log", "[]", "commit", "0"]
    # Step 5: s1 wins the election (role Candidate -> Leader, the no-op appended to its log)
    five = node_lines(steps[5])
    assert set(five) == {"s1"}
    assert five["s1"].split()[:3] == ["Leader", "term", "1"] and "[1:NoOp]" in five["s1"]
    assert steps[5][1].startswith("  * s1")  # marked as changed
    # Step 6 sends an AppendEntries and changes no node: no node line, one message line
    assert node_lines(steps[6]) == {}
    assert [line.split()[:3] for line in steps[6][1:]] == [
        ["messages:", "+", "AppendEntriesRequest"]
    ]
    # Step 3 drops a vote: the message leaves the bag, the budget is charged
    assert "- RequestVoteResponse s2->s1 (term=1, voteGranted=TRUE)" in "\n".join(steps[3])
    assert "  * budget[drop]: 2 -> 1" in steps[3]


def test_compact_pbft_shows_status_view_executed_and_stable() -> None:
    steps = steps_of(render(itf.read(PBFT), compact=True))
    assert node_lines(steps[0])["r1"].split() == [
        "normal",
        "view",
        "0",
        "exec",
        "[]",
        "stable",
        "0",
    ]
    two = node_lines(steps[2])
    assert set(two) == {"r2"} and two["r2"].split()[:3] == ["changing", "view", "1"]
    assert any("+ ViewChange r2->* (view=1" in line for line in steps[2])


def test_compact_lines_are_aligned_across_the_trace() -> None:
    text = render(itf.read(RAFT), compact=True)
    columns = {line.index("term") for line in text.splitlines() if re.match(r"  [* ] s\d  ", line)}
    assert len(columns) == 1


def test_full_compact_shows_every_node_every_step() -> None:
    trace = itf.read(RAFT)
    steps = steps_of(render(trace, compact=True, full=True))
    assert all(set(node_lines(lines)) == {"s1", "s2", "s3"} for lines in steps.values())


def test_node_view_keeps_only_that_nodes_keys_and_messages() -> None:
    trace = itf.read(RAFT)
    text = render(trace, node="s3")
    body = text.split("\n\n", 1)[1]
    assert "[s1]" not in body and "[s2]" not in body
    assert "currentTerm[s3]: 0 -> 1" in body
    for record in re.findall(r"\[mdest \|-> (s\d), [^\]]*msource \|-> (s\d)", body):
        assert "s3" in record
    # steps that change nothing s3 holds are folded, and every step is still accounted for
    folds = re.findall(r"Steps? (\d+)(?:-(\d+))?  \(nothing shown changed", body)
    shown = {int(n) for n in re.findall(r"^Step (\d+)  (?!\(nothing)", body, re.M)}
    folded = {k for a, b in folds for k in range(int(a), int(b or a) + 1)}
    assert folds and not shown & folded
    assert shown | folded == set(range(len(trace)))


def test_node_view_compact_has_only_that_node() -> None:
    steps = steps_of(render(itf.read(RAFT), node="s2", compact=True))
    assert all(set(node_lines(lines)) <= {"s2"} for lines in steps.values())
    assert set(node_lines(steps[0])) == {"s2"}


def test_an_unknown_node_names_the_trace_nodes() -> None:
    with pytest.raises(MeshcheckError, match="unknown node s9: the trace's nodes are s1, s2, s3"):
        render(itf.read(RAFT), node="s9")


def _lasso() -> Trace:
    def st(term: int, role: str) -> FrozenDict:
        return fd(currentTerm=fd(s1=term, s2=0), role=fd(s1=role, s2="Follower"))

    return Trace(
        vars=("currentTerm", "role"),
        steps=(
            Step(st(0, "Follower")),
            Step(st(1, "Candidate"), "Timeout", fd(i="s1")),
            Step(st(1, "Follower"), "Restart", fd(i="s1")),
            Step(st(1, "Follower"), "Stutter"),
        ),
        loop=2,
    )


def test_compact_marks_where_a_lasso_loops() -> None:
    text = render(_lasso(), compact=True)
    assert "Step 2  Restart(i=s1)  <- loop starts here" in text
    assert text.rstrip().endswith("back to step 2")
    assert "(a lasso: step 3 goes back to step 2, forever)" in text


def test_hundreds_of_steps_stay_short() -> None:
    """A free run of hundreds of steps: a head line per step, its notes (the implementation's
    event, node and time), and beneath them only what changed: about four lines a step, where
    the whole state is seventeen."""
    from meshcheck.property_tests.free_runs import Schedule
    from meshcheck.property_tests.raft.free_runs import cluster, run

    schedule = Schedule(seed=11, ticks=3000, drop=0.05, crash=0.3, partition=0.3, every=20)
    sim = cluster(schedule, 3, frozenset())
    run(sim, schedule, 3000)
    trace = sim.trace()
    assert len(trace) > 250
    text = render(trace, compact=True)
    steps = steps_of(text)
    assert sorted(steps) == list(range(len(trace)))
    per_step = sum(len(lines) for lines in steps.values()) / len(trace)
    whole = render(trace, full=True).count("\n") / len(trace)
    assert per_step < 5 and whole > 3 * per_step


def test_cli_shows_cluster_traces_compact_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "show", str(RAFT), "--color", "never"]) == 0
    compact = capsys.readouterr().out
    assert "  * s1  Leader" in compact
    assert main(["trace", "show", str(RAFT), "--no-compact", "--color", "never"]) == 0
    plain = capsys.readouterr().out
    assert "  * role[s1]: Candidate -> Leader" in plain and "  * s1  Leader" not in plain
    assert main(["trace", "show", str(RAFT), "--node", "s2", "--color", "always"]) == 0
    coloured = capsys.readouterr().out
    assert "\x1b[33m" in coloured and "node:" in coloured


def test_cli_unknown_node_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "show", str(RAFT), "--node", "s9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown node s9" in err

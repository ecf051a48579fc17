"""`meshcheck trace show` on cluster traces: the compact per-node view, one node's view, lassos, and
traces of hundreds of steps (traces/show.py, traces/cluster.py)."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from meshcheck import registry
from meshcheck.cli import main
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from meshcheck.traces import cluster
from meshcheck.traces import hints
from meshcheck.traces import itf
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
    from meshcheck.property_tests.raft.free_runs import cluster
    from meshcheck.property_tests.raft.free_runs import run

    schedule = Schedule(seed=14, ticks=3000, drop=0.05, crash=0.3, partition=0.3, every=20)
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


# ---------------------------------------------------------------------------------------------------
# Specs no descriptor names: Peterson's counterexample and Quint's traces (traces/hints.py)

DATA = ROOT / "tests" / "data"
PETERSON = DATA / "peterson.itf.json"
QUINT = DATA / "quint"


def test_the_default_view_of_a_spec_of_ones_own_shows_every_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Peterson's `pc` and `flag` are functions over `Procs`: the default (compact) view shows
    each change of them key by key, beside `turn`, at the step that made it."""
    assert main(["trace", "show", str(PETERSON), "--color", "never"]) == 0
    steps = steps_of(capsys.readouterr().out)
    assert steps[1] == [
        "Step 1  Request(p=p1)",
        "  * pc[p1]: idle -> want",
        "  * flag[p1]: FALSE -> TRUE",
    ]
    assert steps[2][1:] == ["  * pc[p1]: want -> wait", "  * turn: p1 -> p2"]
    assert steps[6][1:] == ["  * pc[p2]: wait -> cs"]  # the step that breaks mutual exclusion
    assert "    pc: [p1 |-> idle, p2 |-> idle]" in steps[0]
    assert "    flag: [p1 |-> FALSE, p2 |-> FALSE]" in steps[0]
    # every change of every variable is in the compact view, as in the plain one
    compact = render(itf.read(PETERSON), compact=True)
    plain = render(itf.read(PETERSON))
    changes = {line for line in plain.splitlines() if line.startswith("  * ") and " -> " in line}
    assert changes and changes <= set(compact.splitlines())


def test_hints_come_from_the_protocol_the_spec_or_the_trace() -> None:
    raft, pbft, peterson = itf.read(RAFT), itf.read(PBFT), itf.read(PETERSON)
    assert hints.hints_for(raft) is hints.registered()["raft"]
    assert hints.hints_for(pbft).protocol == "pbft"
    # a TLC counterexample names its spec file, not a protocol
    tlc = attrs.evolve(raft, meta=fd(source="tlc", spec="/somewhere/specs/Raft.tla"))
    assert hints.hints_for(tlc).protocol == "raft"
    assert hints.hints_for(attrs.evolve(raft, meta=fd(spec="MyRaft.tla"))).protocol is None
    # Peterson: per-process variables, nothing guessed about roles, terms or messages
    derived = hints.hints_for(peterson)
    assert derived == hints.DisplayHints(per_node=("pc", "flag"))
    assert cluster.nodes(peterson) == ("p1", "p2")
    # a Raft trace read without its hints has no roles or messages either
    bare = attrs.evolve(raft, meta=FrozenDict())
    assert hints.hints_for(bare).role is None and hints.hints_for(bare).messages == ()
    assert cluster.message_vars(bare) == () and cluster.message_vars(raft) == ("messages",)


# A protocol registered from the test suite names these as its descriptor's display hints.
PETERSON_HINTS = hints.DisplayHints(per_node=("pc", "flag"), role="pc", specs=("Peterson.tla",))
NOT_HINTS = "a string, not DisplayHints"


def test_a_registered_protocol_is_shown_with_its_descriptors_hints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No call but the registry's: `trace show` finds the hints through the descriptor, by the
    trace's #meta.protocol and by its spec's file name."""
    peterson = Protocol(
        name="peterson",
        title="Peterson's mutual exclusion",
        models=Models(spec="Peterson", package="tests.specs"),
        hints="tests.test_trace_show:PETERSON_HINTS",
    )
    trace = itf.read(PETERSON)
    named = itf.write(
        attrs.evolve(trace, meta=FrozenDict({**trace.meta, "protocol": "peterson"})),
        tmp_path / "named.itf.json",
    )
    assert hints.hints_for(trace).protocol is None  # unknown before it is registered
    with registry.registered(peterson):
        assert hints.hints_for(trace) == attrs.evolve(PETERSON_HINTS, protocol="peterson")
        assert main(["trace", "show", str(named), "--color", "never"]) == 0
        assert node_lines_of(capsys.readouterr().out, 3) == {"p1": "cs"}  # the role column
        assert main(["trace", "show", str(PETERSON), "--color", "never"]) == 0  # by spec name
        assert node_lines_of(capsys.readouterr().out, 3) == {"p1": "cs"}
    assert hints.hints_for(itf.read(named)).protocol is None  # and gone with it
    assert main(["trace", "show", str(named), "--color", "never"]) == 0
    assert "  * pc[p1]: wait -> cs" in capsys.readouterr().out  # derived: every variable as is
    # a descriptor whose hints are not DisplayHints: one line, exit 2
    broken = attrs.evolve(peterson, hints="tests.test_trace_show:NOT_HINTS")
    with registry.registered(broken):
        assert main(["trace", "show", str(named)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "meshcheck: protocol peterson: its hints tests.test_trace_show:NOT_HINTS are a str, "
        "not a DisplayHints"
    ]


def node_lines_of(text: str, step: int) -> dict[str, str]:
    found = {}
    for line in steps_of(text)[step]:
        m = re.match(r"  [* ] (p\d)  (.*)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def test_processes_may_be_numbers_and_a_lone_function_over_a_constant_set_is_per_process() -> None:
    """Procs = {0, 1} (as in many textbook Peterson specs): one per-process variable, over a set
    the trace's constants name."""

    def st(pc0: str, pc1: str, turn: int) -> FrozenDict:
        return fd(pc=FrozenDict({0: pc0, 1: pc1}), turn=turn)

    trace = Trace(
        vars=("pc", "turn"),
        steps=(Step(st("a", "a", 0)), Step(st("b", "a", 1), "Go", fd(p=0))),
        meta=fd(constants=fd(Procs=frozenset({0, 1}))),
    )
    assert cluster.nodes(trace) == (0, 1)
    text = render(trace, compact=True)
    assert "  * pc[0]: a -> b" in text and "  * turn: 0 -> 1" in text
    assert "p=0" in render(trace, node="0")
    alone = attrs.evolve(trace, meta=FrozenDict())
    assert cluster.nodes(alone) == ()  # one function, no constant: not taken for processes


def test_quint_traces_show_with_the_actions_quint_took(capsys: pytest.CaptureFixture[str]) -> None:
    """`quint run --mbt` records the action taken and its nondeterministic picks as state
    variables: they label the steps, and are not shown again as variables."""
    assert main(["trace", "show", str(QUINT / "handshake.itf.json"), "--color", "never"]) == 0
    text = capsys.readouterr().out
    heads = re.findall(r"^Step \d+  (.*)$", text, re.M)
    assert heads == [
        "init",
        "Hello(p=a, q=b)",
        "Hello(p=b, q=a)",
        "Answer(p=a, q=b)",
        "Finish(p=b, q=a)",
        "Answer(p=b, q=a)",
        "Finish(p=a, q=b)",
    ]
    assert "mbt::" not in text
    assert "  * phase[a]: idle -> waiting" in steps_of(text)[1]
    assert main(["trace", "show", str(QUINT / "counter.itf.json"), "--color", "never"]) == 0
    text = capsys.readouterr().out
    assert re.findall(r"^Step \d+  (.*)$", text, re.M)[:4] == [
        "init",
        "Add(k=1)",
        "Add(k=1)",
        "Incr",
    ]
    assert "  * n: 0 -> 1" in text and "mbt::" not in text
    # asked for by name, the labelling variables are shown
    assert (
        main(["trace", "show", str(QUINT / "counter.itf.json"), "--vars", "mbt::actionTaken"]) == 0
    )
    assert "mbt::actionTaken: Add -> Incr" in capsys.readouterr().out


def test_the_committed_peterson_counterexample_is_what_tlc_finds() -> None:
    """tests/data/peterson.itf.json is TLC's counterexample for tests/specs/Peterson.tla (its
    `#meta` paths made relative to the repository): the spec's broken guard lets both in."""
    from meshcheck.specs.tlc.check import check

    result = check(ROOT / "tests" / "specs" / "Peterson.tla")
    assert result.trace is not None and result.violation is not None
    assert result.violation.name == "MutualExclusion"
    stored = itf.read(PETERSON)
    assert result.trace.steps == stored.steps
    last = stored.steps[-1].state["pc"]
    assert last == fd(p1="cs", p2="cs")

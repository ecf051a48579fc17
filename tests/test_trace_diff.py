"""`meshcheck trace diff MODEL IMPL` (traces/diff.py): the first step at which the implementation's
abstract state leaves the model's, on real pairs (a stored lockstep counterexample and the
implementation's own trace of replaying it against its mutant) and on made-up ones."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests import replay
from meshcheck.traces import diff
from meshcheck.traces import itf

ROOT = Path(__file__).resolve().parent.parent
RAFT = ROOT / "traces" / "raft" / "commit_previous_term.itf.json"
PBFT = ROOT / "traces" / "pbft" / "new_view_ignores_prepared.itf.json"


@functools.cache
def impl_trace(path: Path, *, mutant: bool) -> Trace:
    """The implementation's own trace of following the stored trace (with its mutant or not)."""
    trace = itf.read(path)
    bugs = replay.recorded_bugs(trace) if mutant else frozenset()
    found = replay.replay_on_implementation(trace, where=str(path), bugs=bugs).impl_trace
    assert found is not None
    return found


def with_state(trace: Trace, k: int, **changes: object) -> Trace:
    steps = list(trace.steps)
    steps[k] = attrs.evolve(steps[k], state=FrozenDict({**steps[k].state, **changes}))
    return attrs.evolve(trace, steps=tuple(steps))


def test_the_correct_implementation_agrees_with_the_stored_trace() -> None:
    model = itf.read(RAFT)
    text, agree = diff.render(model, impl_trace(RAFT, mutant=False))
    assert agree
    assert f"The traces agree on all {len(model)} states." in text


def test_the_mutant_leaves_the_model_where_lockstep_caught_it() -> None:
    """commit_previous_term: the leader of term 3 counts a replica of the term-1 entry and
    commits it (Raft paper, section 5.4.2 and Figure 8); the model's commitIndex stays 0."""
    model = itf.read(RAFT)
    found = diff.compare(model, impl_trace(RAFT, mutant=True))
    assert found.index == len(model) - 1
    assert ("commitIndex[s1]", "0", "1") in found.rows
    assert [r[0] for r in found.rows] == ["commitIndex[s1]", "committed"]
    text, agree = diff.render(model, impl_trace(RAFT, mutant=True))
    assert not agree
    lines = text.splitlines()
    assert f"Steps 0-{len(model) - 2} agree:" in lines
    start = lines.index(f"Steps 0-{len(model) - 2} agree:") + 1
    summary = lines[start : lines.index("", start)]
    assert len(summary) == len(model) - 1  # one line per step before the divergence
    assert summary[5].split() == ["5", "HandleRequestVoteResponse(i=s1,", "j=s3)"]
    assert f"Step {len(model) - 1} differs" in lines
    assert any(line.split() == ["commitIndex[s1]", "0", "1"] for line in lines)


def test_pbft_messages_only_one_side_sent_are_named() -> None:
    """new_view_ignores_prepared: the new primary's NEW-VIEW leaves out the request prepared in
    view 1 (Castro and Liskov, section 4.4), so the two sides' NewView messages differ."""
    model = itf.read(PBFT)
    found = diff.compare(model, impl_trace(PBFT, mutant=True))
    assert found.index == len(model) - 1
    only_model = [r[1] for r in found.rows if r[0] == "msgs (only in model)"]
    only_impl = [r[2] for r in found.rows if r[0] == "msgs (only in impl)"]
    assert any(m.startswith("NewView r3->* (view=2") and "seq |-> 1" in m for m in only_model)
    assert only_impl == ["NewView r3->* (view=2, ckpt=0, pre={})"]


def test_the_first_difference_is_reported_not_a_later_one() -> None:
    model = itf.read(RAFT)
    term = model.steps[4].state["currentTerm"]
    impl = with_state(model, 4, currentTerm=FrozenDict({**term, "s2": 9}))
    impl = with_state(
        impl, 9, votedFor=FrozenDict({**model.steps[9].state["votedFor"], "s3": "s2"})
    )
    found = diff.compare(model, impl)
    assert found.index == 4
    assert found.rows == (("currentTerm[s2]", "1", "9"),)


def test_colour_highlights_the_differing_values() -> None:
    model = itf.read(RAFT)
    impl = with_state(model, 2, role=FrozenDict({**model.steps[2].state["role"], "s2": "Leader"}))
    text, _ = diff.render(model, impl, color=True)
    assert "\x1b[33mFollower" in text and "\x1b[33mLeader" in text
    plain, _ = diff.render(model, impl)
    assert "\x1b[" not in plain


def test_a_shorter_implementation_trace_is_a_difference() -> None:
    model = itf.read(RAFT)
    impl = attrs.evolve(model, steps=model.steps[:10])
    text, agree = diff.render(model, impl)
    assert not agree
    assert "the impl's ends at step 9, the model's goes on to step 23" in text


def test_traces_of_different_variables_are_refused() -> None:
    with pytest.raises(MeshcheckError, match=r"different variables.*only a\.itf has messages"):
        diff.render(itf.read(RAFT), itf.read(PBFT), model_name="a.itf", impl_name="b.itf")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutant = itf.write(impl_trace(RAFT, mutant=True), tmp_path / "impl.itf.json")
    assert main(["trace", "diff", str(RAFT), str(RAFT)]) == 0
    assert "agree on all 24 states" in capsys.readouterr().out
    assert main(["trace", "diff", str(RAFT), str(mutant), "--color", "never"]) == 1
    assert "Step 23 differs" in capsys.readouterr().out
    assert main(["trace", "diff", str(RAFT), str(PBFT)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "traces of different variables" in err


# ---------------------------------------------------------------------------------------------------
# Traces of other tools (Quint's, tests/data/quint/) and one label for a step in every view

QUINT = ROOT / "tests" / "data" / "quint"


@pytest.mark.parametrize("name", ["counter", "handshake"])
def test_a_quint_trace_agrees_with_itself(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(QUINT / f"{name}.itf.json")
    assert main(["trace", "diff", path, path]) == 0
    out = capsys.readouterr().out
    assert "The traces agree on all 7 states." in out
    assert "  0  init" in out.splitlines()


def test_a_hand_edited_quint_trace_differs_at_the_edited_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """states[4] edited as a person would: b's phase and acked left as they were before Finish."""
    path = QUINT / "handshake.itf.json"
    doc = json.loads(path.read_text())
    for state in doc["states"][4:]:
        state["phase"]["#map"][1][1] = "waiting" if state is doc["states"][4] else "stuck"
    edited = tmp_path / "edited.itf.json"
    edited.write_text(json.dumps(doc))
    assert main(["trace", "diff", str(path), str(edited)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "Steps 0-3 agree:" in lines and "Step 4 differs" in lines
    assert "  3  Answer(p=a, q=b)" in lines
    assert "  model took Finish(p=b, q=a)" in lines
    assert re.search(r"^  phase\[b\]\s+done\s+waiting$", out, re.M)


def test_an_unlabelled_step_has_one_label_in_show_diff_and_timeline() -> None:
    """Steps without `#meta.action` (Apalache's traces): "Init" for the first, "step N" after."""
    from meshcheck.traces import labels
    from meshcheck.traces import show
    from meshcheck.traces import timeline

    trace = itf.read(ROOT / "tests" / "data" / "apalache_style.itf.json")
    assert [s.action for s in trace.steps] == ["Init"] * 3  # no labels in the file
    expected = ["Init", "step 1", "step 2"]
    assert [labels.label(trace, k) for k in range(len(trace))] == expected
    heads = re.findall(r"^Step (\d+)  (.*?)(?:  <- loop starts here)?$", show.render(trace), re.M)
    assert [h for _, h in heads] == expected
    text, agree = diff.render(trace, trace)
    assert agree
    assert re.findall(r"^  +\d  (.*)$", text, re.M) == expected
    assert list(timeline.timeline_of(trace).labels) == expected
    # and with a state changed at step 2, diff names the step as show does
    changed = with_state(trace, 2, clock=0)
    text, _ = diff.render(trace, changed)
    assert "  model took step 2" in text.splitlines()

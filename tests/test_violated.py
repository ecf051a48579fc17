"""meshcheck/violated.py and the failure's "what failed": the violated property first, never cut."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from meshcheck import verify_summary as summary
from meshcheck import violated
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.directed import script
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.failure import named_in
from meshcheck.property_tests.hybrid import leader_reelected
from meshcheck.property_tests.hybrid import leader_restart
from meshcheck.verify import Row
from meshcheck.violated import INVARIANT
from meshcheck.violated import LIVENESS_BOUND
from meshcheck.violated import WAIT_BOUNDS
from meshcheck.violated import Violated
from meshcheck.violated import lead

SCHEDULE = "run Schedule(" + "drop=0.1, " * 40 + ")"


def test_lead_puts_the_property_first_and_cuts_only_after_it() -> None:
    what = Violated(INVARIANT, "ElectionSafety")
    text = lead(what, f"at step 9; {SCHEDULE}", 70)
    assert text.startswith("invariant ElectionSafety violated: at step 9; run Schedule(")
    assert len(text) == 70 and text.endswith("...")
    # narrower than the property: the property stays whole
    long = Violated(LIVENESS_BOUND, "a sole leader once the faults end")
    assert lead(long, SCHEDULE, 10).startswith(f"{long} violated")
    # a message that already says it is not said twice
    assert lead(what, "ElectionSafety violated at n2") == "invariant ElectionSafety violated at n2"
    assert lead(what, "violates ElectionSafety, at step 3") == (
        "invariant ElectionSafety violated: violates ElectionSafety, at step 3"
    )
    assert Violated.leading(lead(what, SCHEDULE)) == what
    assert Violated.parse(str(long)) == long


def test_a_check_failure_names_what_it_violated_first() -> None:
    said = CheckFailed(f"violates MatchIndexMonotonic; {SCHEDULE}", steps=1)
    assert said.violated == Violated("property", "MatchIndexMonotonic")
    assert said.message.startswith("property MatchIndexMonotonic violated: ")
    given = CheckFailed("x", steps=1, violated=Violated(INVARIANT, "Agreement"))
    assert str(given) == "invariant Agreement violated: x"
    assert CheckFailed("a node crashed", steps=1).violated is None


def test_a_message_names_its_property_in_the_words_checks_use() -> None:
    """A lockstep step that "breaks X", a problem that starts "X: ", and the bounds of meshcheck's
    own checks wherever a problem's words start; an exception's name is no property."""
    broke = "lockstep diverged:\n  after Step the implementation breaks MatchIndexMonotonic:"
    assert named_in(broke) == Violated("property", "MatchIndexMonotonic")
    assert named_in("CriticalOnlyByBFT: a write at level High") == Violated(
        "property", "CriticalOnlyByBFT"
    )
    assert named_in("KeyError: 'n2'") is None
    assert named_in("Storm: 57 messages in flight") == Violated("property", "Storm")
    late = "t=4212: RestartCatchUp: s2 did not catch up (index 24) after its restart"
    assert named_in(late) == Violated(LIVENESS_BOUND, "RestartCatchUp")
    assert named_in("t=5: the cluster applied nothing new within 3000 ticks") is None
    for bound in WAIT_BOUNDS:
        said = f"t=5: {bound}: the cluster applied nothing new within 3000 ticks"
        assert named_in(said) == Violated(LIVENESS_BOUND, bound)
        assert CheckFailed(said, steps=1).violated == Violated(LIVENESS_BOUND, bound)


# the scripted waits of the property tests: a wait for a condition within a bound, whose
# running out is the run's failure (property_tests/scenarios.py `Script.wait`, its hybrid
# counterparts, the directed scripts' `eventually`)
WAITS = ("wait", "_wait", "eventually")
PROPERTY_TESTS = Path(violated.__file__).parent.parent / "property_tests"


def _what(call: ast.Call) -> bool:
    """Whether a call passes a condition and what it waits for (a scripted wait, not a run for
    a number of ticks or a process's wait)."""
    return len(call.args) >= 2


def _waits() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted(PROPERTY_TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _what(node):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in WAITS:
                    found.append((str(path.relative_to(PROPERTY_TESTS)), node.lineno, node))
    return found


def test_every_scripted_wait_names_the_bound_it_breaks() -> None:
    """Each scripted wait of the property tests names the bound its running out breaks, one of
    violated.py's WAIT_BOUNDS (a new wait that names none fails here), and each kind of wait
    puts that name where a problem's words start, so the run's CheckFailed and its trace's
    `#meta.property` name it."""
    waits = _waits()
    assert len(waits) >= 30, waits  # the scenarios' waits were found, not none
    unnamed = []
    for where, line, call in waits:
        bound = [k.value for k in call.keywords if k.arg == "bound"]
        named = bound and isinstance(bound[0], ast.Name) and getattr(violated, bound[0].id, None)
        if named not in WAIT_BOUNDS:
            unnamed.append(f"{where}:{line}")
    assert not unnamed, f"scripted waits that name no bound: {unnamed}"
    for wait in (
        scenarios.Script.wait,
        script.Script.eventually,
        leader_reelected.Script.wait,
        leader_restart._wait,
    ):
        assert "bound" in inspect.signature(wait).parameters, wait
        assert "{bound}: " in inspect.getsource(wait), wait


def test_the_summary_and_the_progress_line_say_the_property_first() -> None:
    detail = lead(Violated(INVARIANT, "LogMatching"), SCHEDULE, 160)
    row = Row(
        "tests", "raft/test_y::t", "FAIL", 5, "", 4.0, detail, violated="invariant LogMatching"
    )
    lines = summary.failures([row], "fast", None, summary.Areas())
    assert lines[0] == "FAIL invariant LogMatching violated, in tests raft/test_y::t"
    assert lines[1].strip().startswith("run Schedule(")  # said once, in the head
    head = "   FAIL  invariant LogMatching violated: "
    clipped = summary.clip(head + "x" * 300, width=20, keep=len(head))
    assert clipped.startswith(head) and clipped.endswith("...")

"""meshcheck/violated.py and the failure's "what failed": the violated property first, never cut."""

from __future__ import annotations

from meshcheck import verify_summary as summary
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.verify import Row
from meshcheck.violated import INVARIANT
from meshcheck.violated import LIVENESS_BOUND
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

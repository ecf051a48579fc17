"""meshcheck/violated.py and the failure's "what failed": the violated property first, never cut."""

from __future__ import annotations

from meshcheck import verify_summary as summary
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.failure import named_in
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

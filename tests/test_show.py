"""The trace printer (traces/show.py): values as TLA+ writes them, and steps as what they changed."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Unserializable
from meshcheck.impl.base.values import Value
from meshcheck.traces import itf
from meshcheck.traces.show import render

S = ("s1", "s2")


def fd(**kw: Any) -> FrozenDict:
    return FrozenDict(kw)


def state(
    term: tuple[int, int],
    role: tuple[str, str],
    nxt: tuple[tuple[int, int], tuple[int, int]],
    log: tuple[Value, ...],
    msgs: list[Value],
    note: str,
) -> dict[str, Value]:
    return {
        "currentTerm": FrozenDict(zip(S, term, strict=True)),
        "role": FrozenDict(zip(S, role, strict=True)),
        "nextIndex": FrozenDict(
            (i, FrozenDict(zip(S, row, strict=True))) for i, row in zip(S, nxt, strict=True)
        ),
        "log": log,
        "msgs": frozenset(msgs),
        "note": note,
    }


M1 = fd(mtype="RequestVote", mterm=1, msource="s1", mdest="s2")
M2 = fd(mtype="RequestVoteResponse", mterm=1, msource="s2", mdest="s1", mvoteGranted=True)
LOG = tuple(fd(term=1, value=f"v{k}") for k in range(3))
LOG4 = (*LOG, fd(term=1, value="v3"))
LONG = "x" * 50
VARS = ("currentTerm", "role", "nextIndex", "log", "msgs", "note")
LEADER = ("Leader", "Follower")


def trace() -> Trace:
    return Trace(
        vars=VARS,
        steps=(
            Step(state((0, 0), ("Follower", "Follower"), ((1, 1), (1, 1)), (), [], "")),
            Step(
                state((1, 0), ("Candidate", "Follower"), ((1, 1), (1, 1)), (), [M1], ""),
                action="Timeout",
                params=fd(i="s1"),
                meta=fd(node="s1", faults=("dup",)),
            ),
            Step(
                state((1, 1), ("Candidate", "Follower"), ((1, 1), (1, 1)), (), [M1, M2], ""),
                action="HandleRequestVoteRequest",
                params=fd(i="s2", j="s1"),
            ),
            Step(
                state((1, 1), LEADER, ((1, 2), (1, 1)), LOG, [M2], "a note with spaces"),
                action="BecomeLeader",
                params=fd(i="s1"),
            ),
            Step(state((1, 1), LEADER, ((1, 2), (1, 1)), LOG4, [M2], LONG)),  # unlabelled
            Step(state((1, 1), LEADER, ((1, 2), (1, 1)), LOG4, [M2], LONG), action="Stutter"),
            Step(state((1, 1), LEADER, ((1, 2), (1, 1)), LOG4, [M2], "short"), action="Write"),
        ),
        loop=3,
        meta=FrozenDict(
            {"source": "impl", "violation": fd(kind="invariant", name="OneLeader"), "seed": 7}
        ),
    )


RV1 = "[mdest |-> s2, msource |-> s1, mterm |-> 1, mtype |-> RequestVote]"
RV2 = "[mdest |-> s1, msource |-> s2, mterm |-> 1, mtype |-> RequestVoteResponse, mvoteGranted |-> TRUE]"
ENTRIES = "[term |-> 1, value |-> v0], [term |-> 1, value |-> v1], [term |-> 1, value |-> v2]"

EXPECTED = f"""\
source:    impl
violation: invariant OneLeader
seed:      7
states:    7 (a lasso: step 6 goes back to step 3, forever)

Step 0  Init
  * currentTerm: [s1 |-> 0, s2 |-> 0]
  * role: [s1 |-> Follower, s2 |-> Follower]
  * nextIndex: [s1 |-> [s1 |-> 1, s2 |-> 1], s2 |-> [s1 |-> 1, s2 |-> 1]]
  * log: <<>>
  * msgs: {{}}
  * note: ""
Step 1  Timeout(i=s1)
  (faults=<<dup>>, node=s1)
  * currentTerm[s1]: 0 -> 1
  * role[s1]: Follower -> Candidate
  * msgs: {{}} -> {{{RV1}}}
Step 2  HandleRequestVoteRequest(i=s2, j=s1)
  * currentTerm[s2]: 0 -> 1
  * msgs: added {{{RV2}}}
Step 3  BecomeLeader(i=s1)  <- loop starts here
  * role[s1]: Candidate -> Leader
  * nextIndex[s1][s2]: 1 -> 2
  * log: <<>> -> <<{ENTRIES}>>
  * msgs: removed {{{RV1}}}
  * note: "" -> "a note with spaces"
Step 4  step 4
  * log: appended <<[term |-> 1, value |-> v3]>>
  * note: "a note with spaces" -> {LONG}
Step 5  Stutter
  (no change)
Step 6  Write
  * note: short  (was {"x" * 37}...)
back to step 3
"""


def test_render_shows_each_step_and_only_what_it_changed() -> None:
    assert render(trace()) == EXPECTED


def test_render_is_the_same_after_an_itf_round_trip() -> None:
    assert render(itf.loads(itf.dumps(trace()))) == EXPECTED


def test_vars_filters_and_full_shows_unchanged_ones() -> None:
    out = render(trace(), vars=["role"], full=True).splitlines()
    steps = out[out.index("Step 0  Init") :]
    assert steps == [
        "Step 0  Init",
        "  * role: [s1 |-> Follower, s2 |-> Follower]",
        "Step 1  Timeout(i=s1)",
        "  (faults=<<dup>>, node=s1)",
        "  * role[s1]: Follower -> Candidate",
        "Step 2  HandleRequestVoteRequest(i=s2, j=s1)",
        "    role: [s1 |-> Candidate, s2 |-> Follower]",
        "Step 3  BecomeLeader(i=s1)  <- loop starts here",
        "  * role[s1]: Candidate -> Leader",
        "Step 4  step 4",
        "    role: [s1 |-> Leader, s2 |-> Follower]",
        "Step 5  Stutter",
        "  (no change)",
        "    role: [s1 |-> Leader, s2 |-> Follower]",
        "Step 6  Write",
        "    role: [s1 |-> Leader, s2 |-> Follower]",
        "back to step 3",
    ]


def test_vars_filter_without_full_omits_unchanged() -> None:
    out = render(trace(), vars=["nextIndex"])
    assert "  * nextIndex[s1][s2]: 1 -> 2" in out.splitlines()
    assert "role" not in out and "currentTerm" not in out


def test_a_single_name_is_one_variable_not_its_letters() -> None:
    assert render(trace(), vars="role") == render(trace(), vars=["role"])


def test_an_unknown_variable_names_the_trace_variables() -> None:
    with pytest.raises(MeshcheckError) as info:
        render(trace(), vars=["role", "term", "logs"])
    assert str(info.value) == (
        "unknown variables term, logs: the trace has currentTerm, role, nextIndex, log, msgs, note"
    )


def test_color_only_when_asked() -> None:
    assert "\x1b[" not in render(trace())
    colored = render(trace(), color=True)
    assert "\x1b[1mStep 1  Timeout(i=s1)\x1b[0m" in colored
    assert "\x1b[35m<- loop starts here\x1b[0m" in colored
    assert colored.rstrip().endswith("\x1b[35mback to step 3\x1b[0m")
    assert "  \x1b[33m*\x1b[0m currentTerm[s1]: 0 -> 1" in colored.splitlines()


def test_a_finite_trace_has_no_lasso_marks() -> None:
    finite = Trace(vars=("x",), steps=(Step({"x": 1}), Step({"x": 2}, action="Incr")))
    assert render(finite) == "states: 2\n\nStep 0  Init\n  * x: 1\nStep 1  Incr\n  * x: 1 -> 2\n"


def test_a_function_whose_domain_changes_is_shown_whole() -> None:
    t = Trace(
        vars=("f",),
        steps=(
            Step({"f": FrozenDict({1: "a"})}),
            Step({"f": FrozenDict({1: "a", 2: "b"})}, action="Grow"),
        ),
    )
    assert render(t).splitlines()[-1] == "  * f: (1 :> a) -> (1 :> a @@ 2 :> b)"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "TRUE"),
        (False, "FALSE"),
        (-3, "-3"),
        (2**70, str(2**70)),
        ("s1", "s1"),
        ("Follower", "Follower"),
        ("two words", '"two words"'),
        ("1st", '"1st"'),
        ("TRUE", '"TRUE"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ((), "<<>>"),
        ((1, "a", (2,)), "<<1, a, <<2>>>>"),
        (frozenset(), "{}"),
        (frozenset({10, 2, 1}), "{1, 2, 10}"),
        (frozenset({"b", "a", 2, True}), "{TRUE, 2, a, b}"),
        (FrozenDict(), "<<>>"),
        (fd(g=2, f=1), "[f |-> 1, g |-> 2]"),
        (FrozenDict({2: "b", 1: "a"}), "(1 :> a @@ 2 :> b)"),
        (FrozenDict({("s1", 1): 0}), "(<<s1, 1>> :> 0)"),
        (FrozenDict({"a b": 1}), '("a b" :> 1)'),
        (frozenset({fd(x=1), fd(x=0)}), "{[x |-> 0], [x |-> 1]}"),
        (Unserializable("Nat"), "(unserializable: Nat)"),
    ],
    # the expected text names each case; repr would not do: a set's repr follows the process's
    # hash seed, and pytest-xdist's workers must collect the same test ids
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_format_value(value: Value, text: str) -> None:
    assert format_value(value) == text


def test_format_value_is_independent_of_construction_order() -> None:
    a = frozenset(f"n{i}" for i in range(30))
    b = frozenset(reversed([f"n{i}" for i in range(30)]))
    assert format_value(FrozenDict({"k": a, "j": 1})) == format_value(FrozenDict({"j": 1, "k": b}))


def test_format_value_width_cuts_long_values() -> None:
    v = tuple(range(20))
    assert format_value(v, width=12) == "<<0, 1, 2..."
    assert len(format_value(v, width=12)) == 12
    assert format_value((1, 2), width=12) == "<<1, 2>>"
    with pytest.raises(ValueError, match="width"):
        format_value(v, width=3)


def test_step_label_uses_format_value() -> None:
    step = Step({"x": 1}, action="Send", params=fd(m=fd(mterm=2), to=frozenset({"s2", "s1"})))
    assert step.label() == "Send(m=[mterm |-> 2], to={s1, s2})"

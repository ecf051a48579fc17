"""A counterexample explains itself: the variables a property reads come from its definition in
the spec (traces/reads.py), and `trace show` names the check and the property and always shows
those variables (traces/show.py), the last step included when it left them unchanged."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests.raft import safety
from meshcheck.traces import itf
from meshcheck.traces.reads import definitions
from meshcheck.traces.reads import reads
from meshcheck.traces.show import property_vars
from meshcheck.traces.show import render
from meshcheck.violated import ACTION_PROPERTY
from meshcheck.violated import Violated
from meshcheck.violated import explained
from meshcheck.violated import property_of

ROOT = Path(__file__).resolve().parent.parent
RAFT_TLA = ROOT / "specs" / "Raft.tla"
# a lockstep path ending in the step whose reordered success the mutant takes at its word
STALE = ROOT / "traces" / "raft" / "stale_match_index.itf.json"
RAFT_VARS = (
    "messages",
    "currentTerm",
    "votedFor",
    "log",
    "snapshotIndex",
    "snapshotTerm",
    "role",
    "commitIndex",
    "votesGranted",
    "nextIndex",
    "matchIndex",
    "reads",
    "committed",
    "readFloor",
    "budget",
)


def test_the_derived_reads_cover_the_python_checks_tables() -> None:
    """Raft.tla's properties, derived from their definitions: each reads what the Python checks
    of the same name decide it on (property_tests/raft/safety.py), but StateMachineSafety, whose
    check takes the servers from `role`'s keys where the spec has the constant Server; the
    Restart excused in CommitIndexMonotonic is not followed."""
    for name, table in {**safety.READS, **safety.TRANSITION_READS}.items():
        derived = reads(RAFT_TLA, name, RAFT_VARS)
        extra = {"role"} if name == "StateMachineSafety" else set()
        assert derived == frozenset(table) - extra, name
    matched = frozenset({"role", "currentTerm", "matchIndex"})
    assert reads(RAFT_TLA, "MatchIndexMonotonic", RAFT_VARS) == matched
    assert reads(RAFT_TLA, "CommitIndexMonotonic", RAFT_VARS) == frozenset({"commitIndex"})
    assert reads(RAFT_TLA, "RestartCatchUp", RAFT_VARS) is None  # a check's bound, no spec's


def test_subscripts_fields_comments_and_actions_are_not_reads(tmp_path: Path) -> None:
    text = """---- MODULE M ----
VARIABLES x, y, z, w
Helper(i) == y[i] + 1      \\* z here is a comment
Step == x' = x /\\ z' = z
P == [][\\A i \\in {1} : x'[i] >= Helper(i) \\/ Step]_<<x, y, z, w>>
Q == [w |-> 1].w = 1 /\\ "z" = "z"
(* w and z in a block comment *)
====
"""
    spec = tmp_path / "M.tla"
    spec.write_text(text)
    assert set(definitions(text)) == {"Helper", "Step", "P", "Q"}
    assert reads(spec, "P", "xyzw") == frozenset({"x", "y"})
    assert reads(spec, "Q", "xyzw") == frozenset()


def _named(trace: Trace, check: str, name: str | None) -> Trace:
    meta = {k: v for k, v in trace.meta.items() if k != "divergence"}
    violated = Violated(ACTION_PROPERTY, name) if name else None
    return attrs.evolve(trace, meta=explained(meta, check, violated))


def _last_step(text: str) -> list[str]:
    lines = text.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("Step "))
    return lines[start:]


def test_trace_show_names_the_property_and_shows_what_it_reads_at_the_last_step() -> None:
    """The compact view hides matchIndex (a leader's bookkeeping): a MatchIndexMonotonic
    counterexample shows it all the same, at its last step even where that step left it as it
    was; the same trace naming no property does not."""
    stale = itf.read(STALE)
    named = _named(stale, "raft lockstep", "MatchIndexMonotonic")
    assert property_vars(named) == ["currentTerm", "role", "matchIndex"]
    shown = render(named, compact=True)
    assert "check:    raft lockstep" in shown and "property: MatchIndexMonotonic" in shown
    last = _last_step(shown)
    assert any(line.startswith("    matchIndex: ") for line in last), last
    # every node's line (role and term are its columns), though the step moved only one
    assert sum(line.lstrip(" *").startswith(("s1 ", "s2 ", "s3 ")) for line in last) == 3

    plain = _named(stale, "raft lockstep", None)
    assert property_of(plain.meta) is None and property_vars(plain) == []
    unnamed = _last_step(render(plain, compact=True))
    assert not any(line.lstrip(" *").startswith("matchIndex") for line in unnamed), unnamed
    # --vars keeps what was asked for and what the property reads
    kept = render(named, vars=["log"], compact=False)
    assert any(line.startswith("    matchIndex: ") for line in _last_step(kept))


def test_a_model_checkers_counterexample_names_its_property_by_its_violation() -> None:
    """A TLC counterexample written before `#meta.property` was still says what it violates."""
    meta = FrozenDict({"violation": FrozenDict({"kind": "property", "name": "Small"})})
    assert property_of(meta) == "Small"
    assert property_of(FrozenDict({"property": "(unnamed)"})) is None


def test_the_command_prints_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = itf.write(
        _named(itf.read(STALE), "raft lockstep", "MatchIndexMonotonic"), tmp_path / "t.itf.json"
    )
    monkeypatch.chdir(ROOT)
    assert main(["trace", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "property: MatchIndexMonotonic" in out
    assert any(line.startswith("    matchIndex: ") for line in _last_step(out))

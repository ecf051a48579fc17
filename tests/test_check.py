"""specs/tlc/check.py: TLC run in this process, on small specs written for each test."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import SpecError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.specs.tlc import check as check_module
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.check import CheckResult
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import Progress
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.check import check
from meshcheck.specs.tlc.check import normalize
from meshcheck.specs.tlc.messages import parse
from tests.tlc_alone import run_tlc_alone


def write(folder: Path, name: str, tla: str, cfg: str) -> Path:
    (folder / f"{name}.cfg").write_text(cfg)
    spec = folder / f"{name}.tla"
    spec.write_text(f"---- MODULE {name} ----\n{tla}\n====\n")
    return spec


COUNTER = """EXTENDS Naturals
VARIABLES x, tag
Init == x = 0 /\\ tag = "start"
Inc == x' = x + 1 /\\ tag' = tag
Touch(k) == k \\in {"a", "b"} /\\ x < 2 /\\ x' = x /\\ tag' = k
Next == Inc \\/ \\E k \\in {"a", "b"} : Touch(k)
Small == x < 4
"""


def test_invariant_counterexample_has_five_states_with_values_and_actions(tmp_path: Path) -> None:
    spec = write(tmp_path, "Counter", COUNTER, "INIT Init\nNEXT Next\nINVARIANT Small\n")
    r = check(spec)
    assert r.outcome is Outcome.VIOLATED
    assert r.violation == Violation("invariant", "Small")
    assert r.message == "Invariant Small is violated."
    assert r.trace is not None and r.trace.loop is None
    assert r.trace.vars == ("x", "tag")
    assert [s.state for s in r.trace.steps] == [{"x": i, "tag": "start"} for i in range(5)]
    assert [s.action for s in r.trace.steps] == ["Init", "Inc", "Inc", "Inc", "Inc"]
    meta = r.trace.meta
    assert meta["source"] == "tlc"
    assert meta["violation"] == {"kind": "invariant", "name": "Small"}
    assert (meta["check"], meta["property"]) == ("model check Counter.cfg", "Small")
    assert meta["spec"] == str(spec.resolve())


JUMPS = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Jump(n) == x' = x + n
Next == \\E n \\in {2, 3} : Jump(n)
Not5 == x /= 5
"""


def test_counterexample_steps_carry_the_parameters_that_explain_them(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Jumps", JUMPS, "INIT Init\nNEXT Next\nINVARIANT Not5\n"))
    assert r.trace is not None and len(r.trace) == 3
    xs = [s.state["x"] for s in r.trace.steps]
    assert xs[0] == 0 and xs[-1] == 5
    for before, step in zip(xs, r.trace.steps[1:], strict=False):
        assert step.action == "Jump"
        assert step.state["x"] - before == step.params["n"]  # the binding TLC does not print


TWINS = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Inc == x' = x + 1
Bump == x' = x + 1
Next == Inc \\/ Bump
Small == x < 2
"""


def test_when_two_actions_reach_a_state_the_trace_names_the_one_tlc_took(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Twins", TWINS, "INIT Init\nNEXT Next\nINVARIANT Small\n"))
    assert r.trace is not None
    assert "<Inc line" in r.output and "<Bump line" not in r.output  # TLC took Inc, Next's first
    assert [s.action for s in r.trace.steps] == ["Init", "Inc", "Inc"]


LIVE = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Step == x' = (x + 1) % 3
Spec == Init /\\ [][Step]_x
FairSpec == Spec /\\ WF_x(Step)
Reach2 == <>(x = 2)
"""


def test_liveness_fails_by_stuttering_without_fairness_and_holds_with_it(tmp_path: Path) -> None:
    spec = write(tmp_path, "Live", LIVE, "SPECIFICATION Spec\nPROPERTY Reach2\n")
    r = check(spec)
    assert r.outcome is Outcome.VIOLATED and r.violation == Violation("property", "Reach2")
    assert r.trace is not None
    assert [s.state["x"] for s in r.trace.steps] == [0, 1]
    assert r.trace.loop == 1  # stutters in x = 1 forever, never reaching 2
    (tmp_path / "Fair.cfg").write_text("SPECIFICATION FairSpec\nPROPERTY Reach2\n")
    fair = check(spec, tmp_path / "Fair.cfg")
    assert fair.outcome is Outcome.HOLDS and fair.trace is None and fair.violation is None


CYCLE = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Up == x < 2 /\\ x' = x + 1
Down == x = 2 /\\ x' = 1
Next == Up \\/ Down
Spec == Init /\\ [][Next]_x /\\ WF_x(Next)
Reach3 == <>(x = 3)
Reach0 == []<>(x = 0)
"""


def test_lasso_loops_back_with_the_action_of_the_step_back(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Cycle", CYCLE, "SPECIFICATION Spec\nPROPERTY Reach3\n"))
    assert r.outcome is Outcome.VIOLATED
    assert r.trace is not None
    assert [s.state["x"] for s in r.trace.steps] == [0, 1, 2]
    assert [s.action for s in r.trace.steps] == ["Init", "Up", "Up"]
    assert r.trace.loop == 1 and r.trace.meta["loop_action"] == "Down"


def test_temporal_violation_among_several_properties_is_not_guessed(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Cycle", CYCLE, "SPECIFICATION Spec\nPROPERTIES Reach3 Reach0\n"))
    assert r.violation == Violation("property", None)
    assert "one of Reach3, Reach0" in r.message


RING = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == \\/ x < 9 /\\ x' = x + 1
        \\/ x = 9 /\\ x' = 0
TypeOK == x \\in 0..9
"""


def test_holds_with_exact_counts(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Ring", RING, "INIT Init\nNEXT Next\nINVARIANT TypeOK\n"))
    assert r.outcome is Outcome.HOLDS and r.ok
    # 10 distinct states; generated = 1 initial + one successor of each of the 10 states
    assert (r.distinct, r.generated, r.depth) == (10, 11, 10)
    assert r.trace is None and r.message == "" and r.workers == 1
    assert "Model checking completed. No error has been found." in r.output


def test_config_in_another_folder_and_spec_named_without_suffix(tmp_path: Path) -> None:
    spec = write(tmp_path, "Ring", RING, "")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "Small.cfg").write_text("INIT Init\nNEXT Next\nINVARIANT TypeOK\n")
    r = check(tmp_path / "Ring", tmp_path / "models" / "Small.cfg")
    assert (r.outcome, r.distinct) == (Outcome.HOLDS, 10)
    assert r.spec == spec.resolve() and r.config == (tmp_path / "models" / "Small.cfg").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Ring.cfg",
        "Ring.tla",
        "models",
    ]  # no litter


def test_two_workers_same_counts(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Ring", RING, "INIT Init\nNEXT Next\n"), workers=2)
    assert (r.outcome, r.distinct, r.generated, r.workers) == (Outcome.HOLDS, 10, 11, 2)


DEAD = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == x < 2 /\\ x' = x + 1
"""


def test_deadlock_flag(tmp_path: Path) -> None:
    spec = write(tmp_path, "Dead", DEAD, "INIT Init\nNEXT Next\n")
    on = check(spec)
    assert on.outcome is Outcome.VIOLATED and on.violation == Violation("deadlock", None)
    assert on.trace is not None and [s.state["x"] for s in on.trace.steps] == [0, 1, 2]
    off = check(spec, deadlock=False)
    assert off.outcome is Outcome.HOLDS and off.distinct == 3


def test_invariant_violated_by_an_initial_state(tmp_path: Path) -> None:
    tla = 'EXTENDS Naturals\nVARIABLE x, r\nInit == x \\in {0, 5} /\\ r = [a |-> {1}, b |-> <<"s">>]\n'
    tla += "Next == UNCHANGED <<x, r>>\nSmall == x < 5\n"
    r = check(write(tmp_path, "I", tla, "INIT Init\nNEXT Next\nINVARIANT Small\n"))
    assert r.violation == Violation("invariant", "Small")
    assert r.trace is not None and len(r.trace) == 1
    assert r.trace.steps[0].state == {"x": 5, "r": FrozenDict({"a": frozenset({1}), "b": ("s",)})}


def test_false_assumption(tmp_path: Path) -> None:
    tla = "EXTENDS Naturals\nCONSTANT N\nASSUME N > 5\nVARIABLE x\nInit == x = 0\nNext == x' = x\n"
    r = check(write(tmp_path, "A", tla, "CONSTANT N = 3\nINIT Init\nNEXT Next\n"))
    assert r.outcome is Outcome.VIOLATED and r.violation == Violation("assumption", None)
    assert r.message.endswith("A.tla:4:8 is false")  # line 1 is the module header


EVAL = """EXTENDS Naturals
VARIABLE x
Init == x = 0
Next == x < 5 /\\ x' = x + 1 /\\ <<10, 20>>[x + 1] > 0
"""


def test_evaluation_error_is_an_error_outcome_with_the_trace_so_far(tmp_path: Path) -> None:
    r = check(write(tmp_path, "Eval", EVAL, "INIT Init\nNEXT Next\n"))
    assert r.outcome is Outcome.ERROR and r.violation is None
    assert "<<10, 20>>" in r.message and "out of domain" in r.message
    assert re.search(r"Eval\.tla:5:\d+\)$", r.message)
    assert r.trace is not None and r.trace.meta["violation"] == {"kind": "error"}
    assert [s.state["x"] for s in r.trace.steps] == [0, 1, 2]


# ------------------------------------------------------------------------------------------- bad input


def test_missing_spec_and_cfg(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"spec .*Nope\.tla not found"):
        check(tmp_path / "Nope.tla")
    spec = write(tmp_path, "Ring", RING, "INIT Init\nNEXT Next\n")
    with pytest.raises(ConfigError, match=r"model configuration .*Other\.cfg not found"):
        check(spec, tmp_path / "Other.cfg")
    (tmp_path / "Bin.cfg").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"cannot read .*Bin\.cfg"):
        check(spec, tmp_path / "Bin.cfg")


def test_syntax_error_is_located(tmp_path: Path) -> None:
    spec = write(
        tmp_path, "Syn", "EXTENDS Naturals\nVARIABLE x\nInit == x = 0\nNext == x' = x + + 1", ""
    )
    with pytest.raises(SpecError) as info:
        check(spec)
    e = info.value
    assert (e.file, e.line, e.column) == (str(spec.resolve()), 5, 20)
    assert e.message.startswith('parse error: Encountered "1" at line 5, column 20')


def test_undefined_operator_is_located(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "Undef",
        "VARIABLE x\nInit == x = 0\nNext == x' = Foo(x)",
        "INIT Init\nNEXT Next\n",
    )
    with pytest.raises(SpecError) as info:
        check(spec)
    e = info.value
    assert (e.file, e.line, e.column) == (str(spec.resolve()), 4, 14)
    assert e.message == "Unknown operator: `Foo'."


def test_cfg_naming_an_undefined_invariant(tmp_path: Path) -> None:
    spec = write(tmp_path, "Ring", RING, "INIT Init\nNEXT Next\nINVARIANT TypeOk\n")
    with pytest.raises(ConfigError) as info:
        check(spec)
    assert str(info.value) == (
        f"{(tmp_path / 'Ring.cfg').resolve()}:3: the invariant TypeOk is not defined in Ring.tla "
        "(its operators without arguments: Init, Next, TypeOK); did you mean TypeOK?"
    )


def test_unassigned_constant(tmp_path: Path) -> None:
    tla = "CONSTANT Limit\nVARIABLE x\nInit == x = 0\nNext == x' = x"
    with pytest.raises(ConfigError, match=r"constant Limit of C\.tla is not assigned a value"):
        check(write(tmp_path, "C", tla, "INIT Init\nNEXT Next\n"))


def test_cfg_syntax_error_raises_before_tlc_runs(tmp_path: Path) -> None:
    spec = write(tmp_path, "Ring", RING, "INIT Init\nNEXT Next\nINVARIANT A, B\n")
    with pytest.raises(
        ConfigError, match=r"Ring\.cfg:3:12: names after INVARIANT are separated by spaces"
    ):
        check(spec)


# ------------------------------------------------------------------------------------------- isolation


ELECTION = """EXTENDS Naturals, FiniteSets
CONSTANT Nodes
VARIABLES term, votes
Init == term = [n \\in Nodes |-> 0] /\\ votes = {}
Timeout(n) == term[n] < 2 /\\ term' = [term EXCEPT ![n] = @ + 1] /\\ votes' = votes
Vote(n, c) == term[c] > term[n] /\\ term' = [term EXCEPT ![n] = term[c]] /\\ votes' = votes \\cup {<<n, c>>}
Next == (\\E n \\in Nodes : Timeout(n)) \\/ (\\E n, c \\in Nodes : Vote(n, c))
Few == Cardinality(votes) < 3
"""


def _alone(spec: Path) -> tuple[int, int, str]:
    """(distinct, generated, first error line) from TLC run by its own command line in a new JVM."""
    done = run_tlc_alone(spec.parent, spec.stem, timeout=300)
    out = done.stdout + done.stderr
    m = re.search(r"(\d+) states generated, (\d+) distinct states found", out)
    assert m is not None, out
    error = re.search(r"^Error: (.*)$", out, re.MULTILINE)
    return int(m.group(2)), int(m.group(1)), error.group(1) if error else ""


def _summary(r: CheckResult) -> tuple[object, ...]:
    states = tuple(s.state for s in r.trace.steps) if r.trace is not None else None
    return (r.outcome, r.violation, r.distinct, r.generated, states)


def test_checks_of_different_specs_in_turn_agree_with_each_alone(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write(tmp_path / "a", "Counter", COUNTER, "INIT Init\nNEXT Next\nINVARIANT Small\n")
    b = write(
        tmp_path / "b",
        "Election",
        ELECTION,
        "CONSTANT Nodes = {n1, n2, n3}\nINIT Init\nNEXT Next\nINVARIANT Few\n",
    )
    runs = [check(a), check(b), check(a), check(b)]
    assert _summary(runs[0]) == _summary(runs[2])
    assert _summary(runs[1]) == _summary(runs[3])
    for spec, r in ((a, runs[0]), (b, runs[1])):
        assert (r.distinct, r.generated, r.message) == _alone(spec)
    assert runs[0].message == "Invariant Small is violated."
    assert runs[1].message == "Deadlock reached."
    assert runs[1].trace is not None and runs[1].trace.vars == ("term", "votes")


# ------------------------------------------------------------------------------------------- progress


def _slow_spec(folder: Path) -> Path:
    """A spec of some 100k states: seconds to explore, so progress reports and interrupts happen."""
    tla = "EXTENDS Naturals\nVARIABLES a, b, c, d, e\nInit == a = 0 /\\ b = 0 /\\ c = 0 /\\ d = 0 /\\ e = 0\n"
    tla += "Next == \\E v \\in {0, 1, 2, 3, 4, 5, 6, 7, 8, 9} :\n"
    tla += "  \\/ a' = v /\\ UNCHANGED <<b, c, d, e>>\n  \\/ b' = v /\\ UNCHANGED <<a, c, d, e>>\n"
    tla += "  \\/ c' = v /\\ UNCHANGED <<a, b, d, e>>\n  \\/ d' = v /\\ UNCHANGED <<a, b, c, e>>\n"
    tla += "  \\/ e' = v /\\ UNCHANGED <<a, b, c, d>>\n"
    return write(folder, "Slow", tla, "INIT Init\nNEXT Next\n")


def test_progress_then_interrupt_stops_tlc_and_the_next_check_is_sound(tmp_path: Path) -> None:
    seen: list[Progress] = []

    def report(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the calling thread

    with pytest.raises(KeyboardInterrupt):
        check(_slow_spec(tmp_path), progress=report, progress_interval=0.05)
    assert len(seen) == 3
    assert all(p.distinct > 0 and p.generated > 0 for p in seen)
    assert [p.generated for p in seen] == sorted(p.generated for p in seen)
    assert [p.seconds for p in seen] == sorted(p.seconds for p in seen)
    # TLC was stopped (not left running in the background), and the next check is unaffected
    assert not any(t.name.startswith("tlc-") for t in threading.enumerate())
    r = check(write(tmp_path, "Ring", RING, "INIT Init\nNEXT Next\n"))
    assert (r.outcome, r.distinct, r.generated) == (Outcome.HOLDS, 10, 11)


def test_a_stopped_tlc_is_never_reported_as_holding(tmp_path: Path) -> None:
    """Stopped TLC says "No error has been found"; the states left on its queue must make it an error."""
    spec = _slow_spec(tmp_path)
    output = (
        "@!@!@STARTMSG 2193:0 @!@!@\nModel checking completed. No error has been found.\n"
        "@!@!@ENDMSG 2193 @!@!@\n@!@!@STARTMSG 2199:0 @!@!@\n32353 states generated, 11548 distinct "
        "states found, 7088 states left on queue.\n@!@!@ENDMSG 2199 @!@!@\n"
    )
    run = check_module._Run(code=0, output=output, seconds=1.0)
    r = check_module._result(
        spec,
        spec.with_suffix(".cfg"),
        read_cfg(spec.with_suffix(".cfg")),
        run,
        parse(output),
        1,
        None,
    )
    assert r.outcome is Outcome.ERROR
    assert "7088 states left" in r.message


def test_normalize_ignores_layout_but_not_strings() -> None:
    printed = '/\\ x = [a |-> 1,\n       b |-> "p q"]\n/\\ y = {1, 2}'
    assert normalize(printed) == normalize('/\\ x = [a |-> 1, b |-> "p q"]\n/\\ y = {1, 2}')
    assert normalize(printed) != normalize('/\\ x = [a |-> 1, b |-> "pq"]\n/\\ y = {1, 2}')


def test_sigterm_ends_a_check_without_a_jvm_crash(tmp_path: Path) -> None:
    """A CI timeout or `kill` sends SIGTERM. Without -Xrs the JVM caught it and called into Python
    from its signal thread: a segfault and an hs_err_pid*.log in the working directory."""
    import signal
    import sys

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshcheck", "check", str(root / "specs" / "Raft.cfg")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    proc.stderr.readline()  # the first progress line: TLC is running in the JVM
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert list(tmp_path.glob("hs_err_pid*.log")) == []

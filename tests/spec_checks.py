"""The checks every TLA+ spec's tests make alike: a model holds with its recorded (distinct states,
depth), Next has one labelled action per vocabulary step, and a mutant breaks the one property it
must break. Each spec's test file keeps its own constants, models and mutants."""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Protocol
from typing import TypeVar

import attrs
import pytest
from _pytest.mark import ParameterSet

from meshcheck.impl.base.trace import Trace
from meshcheck.specs.tlc.check import CheckResult
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import Violation
from meshcheck.specs.tlc.check import check
from meshcheck.specs.tlc.stepper import Stepper

SPECS = Path(__file__).resolve().parents[1] / "specs"


class Named(Protocol):
    @property
    def name(self) -> str: ...


M = TypeVar("M", bound=Named)


def shared_stepper(spec: Path, cfg: Path) -> Any:
    """A module-scoped fixture: one Stepper of `spec` under `cfg` for every test of a file that only
    asks it questions (initial states, successors, invariants: none changes what it answers),
    opened once instead of once a test (each opening loads TLC's classes and parses the spec)."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[Stepper]:
        with Stepper(spec, cfg) as st:
            yield st

    return fixture


def declared_variables(spec: Path) -> tuple[str, ...]:
    """The variables `spec`'s `vars == <<...>>` line names, in its order (read from the file, with
    no TLC: for the tests of an implementation's refinement mapping)."""
    for line in spec.read_text(encoding="utf-8").splitlines():
        if line.startswith("vars == <<"):
            names = line.removeprefix("vars == <<").split(">>", 1)[0]
            return tuple(name.strip() for name in names.split(","))
    raise AssertionError(f"{spec.name}: no `vars == <<...>>` line")


def run(spec: Path, cfg: Path, workers: int = 2) -> CheckResult:
    """TLC on one model, without deadlock checking (every spec's models have final states)."""
    return check(spec, cfg, workers=workers, deadlock=False)


def assert_holds(
    spec: Path, cfg: Path, counts: tuple[int, int] | None, workers: int = 2
) -> CheckResult:
    """The model holds, with `counts` = (distinct states, depth) when they are recorded."""
    r = run(spec, cfg, workers)
    assert r.outcome is Outcome.HOLDS, r.message
    if counts is not None:
        assert (r.distinct, r.depth) == counts
    return r


def assert_vocabulary(
    st: Stepper,
    variables: Sequence[str],
    actions: Mapping[str, tuple[str, ...]],
    ordered: bool = True,
) -> None:
    """The spec's variables are `variables`, in order, and Next has one labelled action per name of
    `actions` with exactly its parameters (in the order of `actions` when `ordered`)."""
    assert st.vars == tuple(variables)
    found: dict[str, set[tuple[str, ...]]] = {}
    for a in st.actions:
        found.setdefault(a.name, set()).add(tuple(a.params))
    assert found == {name: {params} for name, params in actions.items()}
    if ordered:
        assert st.action_names == tuple(actions)


def mutant_params(
    mutants: Iterable[M],
    slow: Callable[[M], bool],
    name: Callable[[M], str] = lambda m: m.name,
) -> list[ParameterSet]:
    """One parameter a mutant, marked slow where `slow` says so."""
    return [
        pytest.param(m, id=name(m), marks=[pytest.mark.slow] if slow(m) else []) for m in mutants
    ]


def model_params(
    fast: Mapping[str, tuple[int, int]] | None = None,
    slow: Mapping[str, tuple[int, int]] | None = None,
    deep: Mapping[str, tuple[int, int] | None] | None = None,
    deep_takes: str = "long",
) -> list[ParameterSet]:
    """One parameter (cfg, counts) a model of one spec: the `fast` ones unmarked, the `slow` ones
    marked slow, the `deep` ones slow and skipped unless MESHCHECK_DEEP is set (they take
    `deep_takes`)."""
    skip = pytest.mark.skipif(
        not os.environ.get("MESHCHECK_DEEP"), reason=f"{deep_takes}; set MESHCHECK_DEEP=1"
    )
    groups: list[tuple[Mapping[str, Any], list[pytest.MarkDecorator]]] = [
        (fast or {}, []),
        (slow or {}, [pytest.mark.slow]),
        (deep or {}, [pytest.mark.slow, skip]),
    ]
    return [
        pytest.param(cfg, counts, id=cfg.removesuffix(".cfg"), marks=marks)
        for models, marks in groups
        for cfg, counts in models.items()
    ]


def models_hold(
    spec: Path,
    fast: Mapping[str, tuple[int, int]] | None = None,
    slow: Mapping[str, tuple[int, int]] | None = None,
    deep: Mapping[str, tuple[int, int] | None] | None = None,
    deep_takes: str = "long",
) -> Callable[[str, tuple[int, int] | None], None]:
    """The test that each model of `spec` (in specs/) holds with its recorded (distinct states,
    depth): one parameter a model, fast, slow or deep as `model_params` marks them. A spec's test
    file binds it to a name of its own, `test_model_holds_with_its_recorded_state_count`."""

    @pytest.mark.parametrize(("cfg", "counts"), model_params(fast, slow, deep, deep_takes))
    def test(cfg: str, counts: tuple[int, int] | None) -> None:
        assert_holds(spec, SPECS / cfg, counts)

    return test


def fast_where_implemented(
    mutants: Iterable[M], bugs: Iterable[str], name: Callable[[M], str] = lambda m: m.name
) -> list[ParameterSet]:
    """One parameter a mutant: a mutant the implementation carries too (its name among `bugs`, the
    implementation's catalogue) in the fast suite, every other one marked slow."""
    fast = set(bugs)
    return mutant_params(mutants, lambda m: m.name not in fast, name)


def caught_trace(r: CheckResult, name: str, violation: Violation) -> Trace:
    """The trace of the violation `r` must report: `violation`, for the mutant `name`."""
    assert r.outcome is Outcome.VIOLATED, f"{name}: {r.outcome} {r.message}"
    assert r.violation == violation
    assert r.trace is not None
    return r.trace


def assert_caught(
    r: CheckResult,
    name: str,
    violation: Violation,
    found: tuple[int, int] | None,
    lasso: bool = True,
) -> None:
    """The mutant `name` breaks `violation`: after `found` = (distinct states, trace length) when
    they are recorded, else (when `lasso`) in a lasso, the behaviour repeating without progress."""
    trace = caught_trace(r, name, violation)
    if found is None:
        if lasso:
            assert trace.loop is not None
    else:
        assert (r.distinct, len(trace)) == found


def model_folders(tmp_path: Path, models: Iterable[Any]) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh folder under `tmp_path` for each model (sorted items of its constants)."""
    for n, model in enumerate(sorted(models)):
        folder = tmp_path / str(n)
        folder.mkdir()
        yield folder, dict(model)


def mutated_spec(spec: Path, folder: Path, name: str, changes: Iterable[tuple[str, str]]) -> None:
    """`spec` with each (old, new) change made once, written to `folder` under the same name."""
    text = spec.read_text()
    for old, new in changes:
        assert text.count(old) == 1, f"{name}: the spec no longer reads {old!r}"
        text = text.replace(old, new)
    (folder / spec.name).write_text(text)


def write_cfg(folder: Path, constants: Mapping[str, str], lines: Iterable[str]) -> Path:
    """`folder`/Mutant.cfg: the constants, then `lines` (the specification and what it checks)."""
    cfg = folder / "Mutant.cfg"
    body = ["CONSTANTS"] + [f"    {k} = {v}" for k, v in constants.items()] + list(lines)
    cfg.write_text("\n".join(body) + "\n")
    return cfg


@attrs.frozen
class Mutant:
    """A bug as a textual change of a spec written in its test file (Hybrid.tla, ThreatLevel.tla),
    the model that shows it, and what must catch it."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (text of the spec, its replacement), each found once
    model: Mapping[str, str]  # constants over the test file's BASE (LIVE for liveness)
    catches: str  # the invariant, action property or temporal property that must fail
    kind: str  # "invariant", "action" or "liveness" (ThreatLevel's "all" for the unmutated probe)
    # (distinct states when TLC stopped, length of the counterexample in states), as recorded in
    # the spec's .md; None for a liveness lasso
    found: tuple[int, int] | None


def checked_lines(mutant: Mutant, live: Sequence[str] = ()) -> list[str]:
    """The cfg lines that check the one property `mutant` must break: a temporal property under
    LiveSpec (after the lines `live`), an action property beside TypeOK, or TypeOK and an
    invariant."""
    if mutant.kind == "liveness":
        return [*live, "SPECIFICATION LiveSpec", f"PROPERTY {mutant.catches}"]
    if mutant.kind == "action":
        return ["SPECIFICATION Spec", "INVARIANT TypeOK", f"PROPERTY {mutant.catches}"]
    invariants = " ".join(dict.fromkeys(("TypeOK", mutant.catches)))
    return ["SPECIFICATION Spec", f"INVARIANTS {invariants}"]


def mutant_cfg(
    spec: Path, folder: Path, mutant: Mutant, base: Mapping[str, str], lines: Iterable[str]
) -> Path:
    """`spec` with the mutant's changes in `folder`, and its Mutant.cfg: the constants `base` with
    the mutant's own over them, then `lines`."""
    mutated_spec(spec, folder, mutant.name, mutant.changes)
    return write_cfg(folder, {**base, **mutant.model}, lines)


def raft_small_cfg(
    specification: str, restarts: int, constants: Sequence[str] = (), invariants: str = ""
) -> str:
    """A small model of a Raft variant: three servers, two terms, entries up to index 2, one fault
    and one drop, `restarts` restarts, then `constants`; the safety invariants of Raft.tla, then
    `invariants`."""
    more = "".join(f"    {c}\n" for c in constants)
    return f"""CONSTANTS
    Server = {{s1, s2, s3}}
    Value = {{v1}}
    MaxTerm = 2
    MaxLogLen = 2
    MaxInFlight = 1
    MaxFaults = 1
    MaxRestarts = {restarts}
    MaxDrops = 1
    MaxDuplicates = 0
    MaxSnapshots = 0
    MaxReads = 0
    LeaderNoOp = TRUE
    PreVote = FALSE
{more}SPECIFICATION {specification}
SYMMETRY Symmetry
CONSTRAINT TermBound
INVARIANTS TypeOK VolatileNormalForm ElectionSafety LogMatching LeaderCompleteness
    StateMachineSafety ReadLinearizable{invariants}
"""

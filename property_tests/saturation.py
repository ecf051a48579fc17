"""The saturation stop: a Hypothesis search ends once its coverage has stopped growing for a while.

A property test's budget is its profile's `max_examples`. Past the point where the examples stop
reaching anything new, more of them mostly re-run what ran already; `make verify` spent most of its
CPU there. So under a profile with a `Saturation` policy (property_tests/profiles.py: `dev`, the
profile of `make verify`), a Hypothesis run whose examples have reached
nothing new for `window` valid examples in a row stops generating, and the profile's
`max_examples` stays the upper bound. What "reached" counts is meshcheck/coverage.py's: the spec
actions fired and the named rare conditions hit (on the abstract state, or through a probe in a
core), each counted from the start of this run, so that a run stops at the same example whoever
runs it (a pytest test, which also recorded the runs before it, or `meshcheck mutants`, which
records nothing: the run is then recorded for the stop alone, `coverage.recording_anyway`).

Distinct abstract states are not counted, though coverage measures them: in every row measured
they grew to the end of the budget (free runs' states hold every client write, so each run's
states are new; Raft's lockstep walked 1,395 distinct states in its first 103 valid examples,
+300 per 25 at the end), so with them no run would ever stop. Nothing changes for a run whose
budget is under the policy's `least_budget` (a free-run check's small share), for a run that does not shrink (every
check that must kill a mutant runs so: a test's fixed examples, `meshcheck mutants`; a kill is what
such a run is for, and one found an example past the stop would be lost: the first full
`make verify` with the stop lost three that way, pysyncobj's `vote_ignores_log` and
`keep_conflicting_suffix` at 40 fixed examples, the hybrid `switch_drops_last_raft_term` at 60),
for a run that found a failure (Hypothesis's own rules then decide), or for a profile without a
policy (`ci`, which `make test` runs, and `deep`).

The mechanism: Hypothesis asks its engine's `should_generate_more()` before every new example
(hypothesis/internal/conjecture/engine.py, `ConjectureRunner`); it is where the engine itself
stops at `max_examples`. `install` wraps it, and `ConjectureRunner.run` around it: the run's
coverage counts are taken when it starts, and after each valid example the wrapper compares. No
public setting can say "stop early" (`max_examples` is fixed before the run; a test function
cannot end the search without failing it; `phases` only choose what runs), and raising from the
test would be a failure to shrink. The wrapper changes no example, only how many run: the same
code and profile give the same examples in the same order (derandomized, profiles.py), the same
coverage after each, so the same stop, and the same verdict.

Every run, stopped or not, is also noted (`Run`): which test function it ran (`identity`: its
qualified name and the simple values it closes over, as `nodes=3`, or a state machine's class),
how many examples, and where it stopped. pytest reports them per test (property_tests/conftest.py)
and `meshcheck mutants` per check, which is how `meshcheck verify` finds the checks a test row runs
and so the mutants they killed (meshcheck/kills.py).
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import attrs
from hypothesis import Phase
from hypothesis.internal.conjecture.engine import ConjectureRunner

from meshcheck import coverage

ENV = "MESHCHECK_SATURATION"  # "0": never stop early (to measure what the stop saves or loses)


@attrs.frozen
class Saturation:
    """A profile's policy: a run stops once `window` valid examples in a row reached nothing new,
    `window` being `share` of its `max_examples` (at least `least`); runs whose `max_examples` is
    under `least_budget` run them all."""

    share: float
    least: int
    least_budget: int

    def window(self, max_examples: int) -> int | None:
        """The window of a run with this budget; None: it runs its whole budget."""
        if max_examples < self.least_budget:
            return None
        return max(self.least, round(max_examples * self.share))

    def window_of(self, settings: Any) -> int | None:
        """The window of a run under Hypothesis `settings`; None: it runs whole. A run that would
        not shrink what it finds runs whole: the project runs every check that must kill a
        mutant without shrinking (a test's fixed examples, `meshcheck mutants`), and a kill found
        one example past a stop would be a kill lost."""
        if Phase.shrink not in settings.phases:
            return None
        return self.window(settings.max_examples)


@attrs.frozen
class Run:
    """One Hypothesis run, as it ended: `examples` valid examples of `budget`; `stopped`: the
    saturation stop ended it, `last_growth` examples in (the last example that reached anything
    new: 0 when none did)."""

    identity: str
    examples: int
    budget: int
    stopped: bool = False
    last_growth: int = 0


_policy: Saturation | None = None
_runs: list[Run] = []
KEEP = 10_000  # runs noted at most


def configure(policy: Saturation | None) -> None:
    """The policy of this process's runs from now on (None: none stops early); installs the
    wrapper once."""
    global _policy
    _policy = policy
    install()


def configured_policy() -> Saturation | None:
    """The policy `configure` set last (None: none)."""
    return _policy


@contextlib.contextmanager
def configured(policy: Saturation | None) -> Iterator[None]:
    """`configure(policy)` for the block, the policy before it restored after (a command that
    runs checks in a process that goes on to run other things, as `meshcheck mutants` in a test)."""
    before = _policy
    configure(policy)
    try:
        yield
    finally:
        configure(before)


def policy() -> Saturation | None:
    """The policy in force: the configured one, unless MESHCHECK_SATURATION=0."""
    if os.environ.get(ENV, "1").strip() == "0":
        return None
    return _policy


def take_runs() -> list[Run]:
    """The runs noted since the last call (and forget them)."""
    found = list(_runs)
    _runs.clear()
    return found


def identity(test: Callable[..., Any] | None) -> str:
    """A test function as its module, qualified name and the simple values it closes over
    (`...free_run_safety.<locals>.free_run_is_safe(nodes=3)`; a state machine's run by its
    machine's class): the same for the same check with the same arguments in any process,
    whatever bugs it runs with."""
    if test is None:
        return "?"
    name = f"{getattr(test, '__module__', '?')}.{getattr(test, '__qualname__', '?')}"
    code = getattr(test, "__code__", None)
    cells = getattr(test, "__closure__", None) or ()
    shown = []
    for var, cell in zip(code.co_freevars if code is not None else (), cells, strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, bool | int | float | str):
            shown.append(f"{var}={value!r}")
        elif isinstance(value, type):
            shown.append(f"{var}={value.__name__}")
    return f"{name}({', '.join(shown)})"


def _test_of(runner: ConjectureRunner) -> Callable[..., Any] | None:
    """The user's test function a runner runs (Hypothesis's StateForActualGivenExecution.test)."""
    execute = getattr(runner, "_test_function", None)
    state = getattr(execute, "__self__", None)
    test = getattr(state, "test", None)
    return test if callable(test) else None


@attrs.define
class _Tracker:
    window: int
    base: Any  # coverage.counts() when the run started
    reached: int = 0  # things reached since the run started
    grew_at: int = 0  # the valid example at which `reached` last grew
    checked_at: int = 0
    stopped: bool = False

    def saturated(self, valid: int) -> bool:
        if valid != self.checked_at:
            self.checked_at = valid
            now = coverage.counts()
            reached = sum(n > self.base[key] for key, n in now.items())
            if reached > self.reached:
                self.reached, self.grew_at = reached, valid
        if valid - self.grew_at >= self.window:
            self.stopped = True
        return self.stopped


_trackers: weakref.WeakKeyDictionary[ConjectureRunner, _Tracker] = weakref.WeakKeyDictionary()
_installed: list[tuple[Callable[..., Any], Callable[..., Any]]] = []


def install() -> None:
    """Wrap ConjectureRunner.run and .should_generate_more, once per process (see the module
    doc)."""
    if _installed:
        return
    run = ConjectureRunner.run
    should = ConjectureRunner.should_generate_more

    def wrapped_run(self: ConjectureRunner) -> None:
        found = policy()
        window = found.window_of(self.settings) if found is not None else None
        try:
            if window is None:
                run(self)
            else:
                with coverage.recording_anyway():
                    _trackers[self] = _Tracker(window, coverage.counts())
                    run(self)
        finally:
            tracker = _trackers.pop(self, None)
            if len(_runs) >= KEEP:  # a process nobody asks (a campaign's): the newest only
                del _runs[: KEEP // 2]
            _runs.append(
                Run(
                    identity(_test_of(self)),
                    self.valid_test_cases,
                    self.settings.max_examples,
                    tracker is not None and tracker.stopped,
                    tracker.grew_at if tracker is not None else 0,
                )
            )

    def wrapped_should(self: ConjectureRunner) -> bool:
        if not should(self):
            return False
        tracker = _trackers.get(self)
        if tracker is None or self.interesting_test_cases:
            return True
        return not tracker.saturated(self.valid_test_cases)

    _installed.append((run, should))
    ConjectureRunner.run = wrapped_run  # type: ignore[method-assign]
    ConjectureRunner.should_generate_more = wrapped_should  # type: ignore[method-assign]


def uninstall() -> None:
    """Put Hypothesis's own methods back (for tests)."""
    if _installed:
        run, should = _installed.pop()
        ConjectureRunner.run = run  # type: ignore[method-assign]
        ConjectureRunner.should_generate_more = should  # type: ignore[method-assign]

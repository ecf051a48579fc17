"""The protocol-independent half of lockstep: TLC says what may happen next, Hypothesis picks it.

Every protocol's lockstep test (property_tests/raft/lockstep.py, property_tests/pbft/lockstep.py) is
a `RuleBasedStateMachine` with one rule per action of its spec, named as the action is (one
vocabulary: the shrunk program reads `state.Timeout(...)`, `state.Prepare(...)`). A rule is enabled
when TLC's Stepper finds a successor of the current spec state by that action; the rule draws one
of them and hands it to the protocol's follower, which makes the implementation take the same step
and compares the refinement mapping with TLC's state. Choosing the action first and the instance
second gives rare actions (a snapshot, a view change) the same chance as a common one whenever they
are enabled.

Steering toward rare states (meshcheck/coverage.py measures what is reached): a spec may give
`prefixes`, short spec paths that set up a rare condition (two leaders with conflicting suffixes),
one of which an example may start with (an `initialize` rule, `Prefix`, draws none or one) before
its random program continues; and a `rarity` score of a state, whose highest value over an example
is handed to Hypothesis's `target()`, which then mutates the examples that scored highest (the
profile's second half). A spec with neither has the plain machine, its examples as before.

What lives here: the successor cache, the machine's skeleton (`LockstepBase`: the protocol's
subclass says how to start and how to follow a step), the builder that adds one rule per action,
the runner, and `differences`, which says variable by variable where two states differ.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

from hypothesis import HealthCheck
from hypothesis import note
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import precondition
from hypothesis.stateful import rule
from hypothesis.stateful import run_state_machine_as_test

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import Transition


class SuccessorCache:
    """Successors by state fingerprint, for one Stepper. Every example starts from the one initial
    state and shrinking replays prefix after prefix of a failing program, so the same states come
    back again and again; keeping their successors (and, inside each State, the Python values
    already converted) makes a replayed step cost what the implementation costs, not what TLC and
    the conversion cost."""

    def __init__(self, stepper: Callable[[], Stepper], limit: int = 20_000) -> None:
        self._stepper = stepper
        self._limit = limit
        self._found: dict[int, list[Transition]] = {}
        self._grouped: dict[int, dict[str, list[Transition]]] = {}
        self._by: dict[tuple[int, ActionInstance], list[State]] = {}

    def clear(self) -> None:
        self._found.clear()
        self._grouped.clear()
        self._by.clear()

    def __call__(self, state: State) -> list[Transition]:
        found = self._found.get(state.fingerprint)
        if found is None:
            if len(self._found) >= self._limit:
                self.clear()
            found = self._found[state.fingerprint] = self._stepper().successors(state)
        return found

    def grouped(self, state: State) -> dict[str, list[Transition]]:
        """The successors of `state` by action name (`group`), computed once per state: a rule's
        precondition is a lookup in it."""
        found = self._grouped.get(state.fingerprint)
        if found is None:
            found = group(self(state))
            self._grouped[state.fingerprint] = found
        return found

    def by(self, state: State, action: ActionInstance) -> list[State]:
        """The successors of `state` by one action instance, unconstrained (the spec's own
        steps, as `Stepper.successors_of`): from the cached successors of `state` when it has
        them and the model has no CONSTRAINT (then they are all of them); a protocol whose
        implementation takes several spec steps in one event checks each of them here."""
        stepper = self._stepper()
        fp = state.fingerprint
        found = None if stepper.constrained else self._found.get(fp)
        if found is not None:
            return [t.state for t in found if t.action == action]
        # a state the machine never stands in (one the implementation passed through within an
        # event): TLC evaluates that one action, not all of Next, and the answer is kept, as the
        # same event comes back whenever Hypothesis replays a program's prefix
        key = (fp, action)
        by = self._by.get(key)
        if by is None:
            if len(self._by) >= self._limit:
                self._by.clear()
            by = self._by[key] = stepper.successors_of(state, action)
        return by


def group(transitions: list[Transition]) -> dict[str, list[Transition]]:
    """Transitions by action name, in TLC's order."""
    groups: dict[str, list[Transition]] = {}
    for t in transitions:
        groups.setdefault(t.action.name, []).append(t)
    return groups


class LockstepBase(RuleBasedStateMachine):
    """The machine; `build_machine` adds one rule per spec action. A protocol's subclass says what
    the initial spec state is (`initial`), how to start the implementation in it (`start`, run by
    the example's first rule) and how to follow a step
    (`follow`: make the implementation take it; the spec state the step ends in, which is `t.state`
    unless the implementation took further spec steps in the same event)."""

    bugs: ClassVar[frozenset[str]] = frozenset()
    fired: ClassVar[Counter[str]] = Counter()
    # steering (see the module doc): a state's rarity, and named prefixes (spec paths as labels)
    rarity: ClassVar[Callable[[Mapping[str, Any]], float] | None] = None
    prefixes: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.state = self.initial()
        self.enabled = self.grouped(self.state)
        self.rarest = 0.0
        self.started = False

    def initial(self) -> State:
        """The spec's initial state."""
        raise NotImplementedError

    def start(self) -> None:
        """Set up the implementation in `self.state`, the initial state. Called by the example's
        first rule, not when the machine is made: Hypothesis makes many machines that run no rule
        (its swarm testing turns rules off, and an example whose first enabled actions are all
        off is abandoned before its first step), and building a cluster costs more than a step."""

    def begin(self) -> None:
        if not self.started:
            self.started = True
            self.start()

    def grouped(self, state: State) -> Mapping[str, list[Transition]]:
        """The enabled action instances of `state` by action name (what the rules' preconditions
        look up)."""
        return group(self.successors(state))

    def follow(self, t: Transition) -> State:
        raise NotImplementedError

    def successors(self, state: State) -> list[Transition]:
        raise NotImplementedError

    def describe(self, t: Transition) -> object:
        """The step as one line: its `str` (a follower's is computed only when read)."""
        return t.action.label()

    def take(self, name: str, data: Any) -> None:
        self.begin()
        choices = self.enabled[name]
        t = choices[data.draw(st.integers(0, len(choices) - 1)) if len(choices) > 1 else 0]
        note(self.describe(t))
        self.advance(t)

    def advance(self, t: Transition) -> None:
        self.begin()  # a caller may drive the machine directly, without a rule
        self.state = self.follow(t)
        type(self).fired[t.action.name] += 1
        self.enabled = self.grouped(self.state)
        score = type(self).rarity
        if score is not None:
            self.rarest = max(self.rarest, score(self.state.values))

    def run_prefix(self, name: str) -> None:
        """Take the prefix's steps: each the first successor with its label (a prefix that does
        not apply any more, after a change of the spec, is a bug of the prefix: it says so)."""
        self.begin()
        for label in self.prefixes[name]:
            found = [t for group_ in self.enabled.values() for t in group_]
            t = next((t for t in found if t.action.label() == label), None)
            if t is None:
                raise AssertionError(f"prefix {name}: {label} is not enabled here")
            note(f"prefix {name}: {self.describe(t)}")
            self.advance(t)

    def teardown(self) -> None:
        if type(self).rarity is not None:
            target(self.rarest, label="rarity")

    @precondition(lambda self: not self.enabled)
    @rule()
    def Stutter(self) -> None:  # the spec's vocabulary: stuttering
        """The spec is stuck (its bounds are spent): nothing to do but stutter."""
        self.begin()


def _action_rule(name: str) -> Callable[..., None]:
    def step(self: LockstepBase, data: Any) -> None:
        self.take(name, data)

    step.__name__ = step.__qualname__ = name
    step.__doc__ = f"The spec's {name}: one of its enabled instances, drawn."
    return precondition(lambda self: name in self.enabled)(rule(data=st.data())(step))


def _prefix_rule(names: tuple[str, ...]) -> Callable[..., None]:
    def Prefix(self: LockstepBase, prefix: str | None) -> None:
        if prefix is not None:
            self.run_prefix(prefix)

    Prefix.__doc__ = (
        "Start with none of the spec's prefixes, or one (steering: see the module doc)."
    )
    return initialize(prefix=st.sampled_from((None, *names)))(Prefix)


def build_machine(
    name: str,
    base: type[LockstepBase],
    actions: tuple[str, ...],
    bugs: frozenset[str],
    fired: Counter[str] | None,
    *,
    rarity: Callable[[Mapping[str, Any]], float] | None = None,
    prefixes: Mapping[str, tuple[str, ...]] | None = None,
) -> type[LockstepBase]:
    """`base` with one rule per action in `actions`, for an implementation with `bugs` switched on;
    `fired` counts the spec actions it took, across every example; `rarity` and `prefixes` steer
    (see the module doc)."""
    attributes: dict[str, Any] = {
        "bugs": frozenset(bugs),
        "fired": fired if fired is not None else Counter(),
        "rarity": staticmethod(rarity) if rarity is not None else None,
        "prefixes": dict(prefixes or {}),
    }
    for action in actions:
        attributes[action] = _action_rule(action)
    if prefixes:
        attributes["Prefix"] = _prefix_rule(tuple(prefixes))
    return type(name, (base,), attributes)


_COLLECTING: list[tuple[int, int, int]] = []  # the thresholds `few_collections` restores


@contextlib.contextmanager
def few_collections(young: int = 20_000) -> Iterator[None]:
    """Python's cycle collector, tuned for a lockstep run. A run allocates many short-lived
    containers (Hypothesis's choice records, converted states, the simulator's events), so with
    the default thresholds it collects the youngest generation hundreds of times and the oldest,
    which holds the whole process (the JVM bridge's proxies, every module), several times: a fifth
    to a third of a run's CPU time, measured on Gossip and PBFT (bench/bench_lockstep.py). Here
    the objects alive before the run are set aside (`gc.freeze`: never scanned, never freed
    meanwhile) and the youngest generation is collected every `young` allocations instead of 700.
    Only when garbage is collected changes, not what is."""
    if _COLLECTING:  # nested: the outermost one decides
        yield
        return
    _COLLECTING.append(gc.get_threshold())
    # objects someone else froze stay frozen, and are theirs to unfreeze
    ours = gc.get_freeze_count() == 0
    if ours:
        gc.freeze()
    _, middle, old = _COLLECTING[0]
    gc.set_threshold(young, middle, old)
    try:
        yield
    finally:
        gc.set_threshold(*_COLLECTING.pop())
        if ours:
            gc.unfreeze()


def run_machine(machine: type[LockstepBase], settings: Settings) -> None:
    """Run a lockstep machine under `settings` (CheckFailed on a divergence)."""
    # Most rules are disabled in most states (their precondition is TLC's enabledness), which
    # Hypothesis counts as filtering: expected here, not a sign of a weak strategy.
    quiet = (*settings.suppress_health_check, HealthCheck.filter_too_much, HealthCheck.too_slow)
    with few_collections():
        run_state_machine_as_test(machine, settings=Settings(settings, suppress_health_check=quiet))


def _bag(value: Value) -> Counter[Value]:
    return Counter(dict(value)) if isinstance(value, Mapping) else Counter()


def differences(
    spec: Mapping[str, Value], impl: Mapping[str, Value], *, bags: tuple[str, ...] = ()
) -> list[str]:
    """Where the implementation's abstract state differs from the spec's, one line per variable:
    for functions (over servers, replicas), only the arguments that differ; for sets, and for the
    variables named in `bags` (record -> count), what only one side has."""
    lines = []
    for var, want in spec.items():
        got = impl.get(var)
        if got == want:
            continue
        if var in bags:
            extra, missing = _bag(got) - _bag(want), _bag(want) - _bag(got)
            parts = [f"only in impl {format_value(m)}" for m in extra.elements()]
            parts += [f"only in spec {format_value(m)}" for m in missing.elements()]
            lines.append(f"{var}: " + "; ".join(parts))
        elif isinstance(want, Mapping) and isinstance(got, Mapping):
            keys = sorted({*want, *got}, key=str)
            parts = [
                f"[{format_value(k)}] spec {format_value(want.get(k))}, impl {format_value(got.get(k))}"
                for k in keys
                if want.get(k) != got.get(k)
            ]
            lines.append(f"{var}: " + "; ".join(parts))
        elif isinstance(want, frozenset) and isinstance(got, frozenset):
            parts = [f"only in impl {format_value(m)}" for m in sorted(got - want, key=repr)]
            parts += [f"only in spec {format_value(m)}" for m in sorted(want - got, key=repr)]
            lines.append(f"{var}: " + "; ".join(parts))
        else:
            lines.append(f"{var}: spec {format_value(want)}, impl {format_value(got)}")
    return lines

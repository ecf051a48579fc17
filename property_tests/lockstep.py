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

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from hypothesis import HealthCheck, note, target
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc.stepper import State, Stepper, Transition


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

    def clear(self) -> None:
        self._found.clear()

    def __call__(self, state: State) -> list[Transition]:
        found = self._found.get(state.fingerprint)
        if found is None:
            if len(self._found) >= self._limit:
                self._found.clear()
            found = self._found[state.fingerprint] = self._stepper().successors(state)
        return found


def group(transitions: list[Transition]) -> dict[str, list[Transition]]:
    """Transitions by action name, in TLC's order."""
    groups: dict[str, list[Transition]] = {}
    for t in transitions:
        groups.setdefault(t.action.name, []).append(t)
    return groups


class LockstepBase(RuleBasedStateMachine):
    """The machine; `build_machine` adds one rule per spec action. A protocol's subclass says how
    to start (`start`: the initial spec state, with its follower set up) and how to follow a step
    (`follow`: make the implementation take it; the spec state the step ends in, which is `t.state`
    unless the implementation took further spec steps in the same event)."""

    bugs: ClassVar[frozenset[str]] = frozenset()
    fired: ClassVar[Counter[str]] = Counter()
    # steering (see the module doc): a state's rarity, and named prefixes (spec paths as labels)
    rarity: ClassVar[Callable[[Mapping[str, Any]], float] | None] = None
    prefixes: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.state = self.start()
        self.enabled = group(self.successors(self.state))
        self.rarest = 0.0

    def start(self) -> State:
        raise NotImplementedError

    def follow(self, t: Transition) -> State:
        raise NotImplementedError

    def successors(self, state: State) -> list[Transition]:
        raise NotImplementedError

    def describe(self, t: Transition) -> str:
        return t.action.label()

    def take(self, name: str, data: Any) -> None:
        choices = self.enabled[name]
        t = choices[data.draw(st.integers(0, len(choices) - 1)) if len(choices) > 1 else 0]
        note(self.describe(t))
        self.advance(t)

    def advance(self, t: Transition) -> None:
        self.state = self.follow(t)
        type(self).fired[t.action.name] += 1
        self.enabled = group(self.successors(self.state))
        score = type(self).rarity
        if score is not None:
            self.rarest = max(self.rarest, score(self.state.values))

    def run_prefix(self, name: str) -> None:
        """Take the prefix's steps: each the first successor with its label (a prefix that does
        not apply any more, after a change of the spec, is a bug of the prefix: it says so)."""
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


def run_machine(machine: type[LockstepBase], settings: Settings) -> None:
    """Run a lockstep machine under `settings` (CheckFailed on a divergence)."""
    # Most rules are disabled in most states (their precondition is TLC's enabledness), which
    # Hypothesis counts as filtering: expected here, not a sign of a weak strategy.
    quiet = (*settings.suppress_health_check, HealthCheck.filter_too_much, HealthCheck.too_slow)
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

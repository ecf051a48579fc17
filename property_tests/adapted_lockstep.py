"""Lockstep for an implementation meshcheck did not write: TLC says what may happen next,
Hypothesis picks it, the adapter makes the implementation take it, and what the adapter exposes
must be what one of TLC's successors holds.

The adapter must be a `StepDriver` (impl/adapters/contract.py): a `Driver` that can take one
given spec action. Nothing here knows the protocol beyond what its descriptor gives (the spec, its
action table) and a model to walk (a `.cfg` of the spec, with small bounds):

1. every node's driver boots empty; the spec starts from TLC's initial state;
2. at each step, TLC's enabled action instances of the actions offered are the choices:
   the table's `protocol` and `client` actions (or the ones the caller names: those its driver
   takes), and the network's own faults that take no parameter (`DropMessage`,
   `DuplicateMessage`: they change only the spec's messages, so no driver is asked). Hypothesis
   draws an action, then one of its instances, then, when the instances' successors differ in
   the one message the step takes or sends, that message;
3. the acting node's driver (the instance's parameter `i`) is told `take(action, params, now)`,
   with the message as the spec's record under `m` (the one record the step takes out of the
   spec's `messages`, else the one it adds). The network is the spec's: a HandleX delivers the
   spec's message, so what the implementation sends is not compared with the spec's records
   unless `message_record` is given (then every message the spec step sends must be among the
   implementation's sends of that step, mapped to records; extra sends are allowed, as the
   spec sends those in steps of their own);
4. every node's `state()` is compared with the successors of that instance (with that message):
   each variable it exposes, `var[node]` against the spec's; those that agree are kept (a
   variable no driver exposes is free, so several may be kept: the walk goes on from all of
   them, as `meshcheck validate` does). None agrees: `CheckFailed` naming the step, the variable
   and node, what the implementation has and what the closest successor has.

A driver that answers False (it cannot take that action in its state) changes nothing and the
step is skipped: an implementation may do less than the spec allows (refinement), so the step is
noted and counted (`Walk.refused`), not failed; a test should check that steps were taken.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given
from hypothesis import note
from hypothesis import settings as Settings
from hypothesis import strategies as st

from meshcheck.impl.adapters.contract import StepDriver
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.harness import cached_stepper
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.lockstep import SuccessorCache
from meshcheck.protocol import Protocol
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import Transition

NETWORK = ("DropMessage", "DuplicateMessage")  # faults on the spec's messages alone
FRONTIER = 32  # spec states kept at most when the exposed variables leave several possible


@attrs.define
class Walk:
    """What the walks did, across every example: the spec actions taken, the steps a driver
    refused (False), and the most spec states kept at once."""

    taken: Counter[str] = attrs.field(factory=Counter)
    refused: Counter[str] = attrs.field(factory=Counter)
    widest: int = 1


@attrs.frozen
class Lockstep:
    """One adapted implementation under one model: `make(node, servers)` is a fresh driver of
    `node`; `actions` the actions offered (None: the protocol and client actions and the
    parameterless faults of its spec's table, meshcheck/registry.py `actions_of`)."""

    protocol: Protocol
    model: Path
    make: Callable[[str, tuple[str, ...]], StepDriver]
    actions: Collection[str] | None = None
    message_record: Callable[[Any], Value] | None = None

    @property
    def spec_path(self) -> Path:
        return resource(self.protocol.models.package, f"{self.protocol.models.spec}.tla")

    def stepper(self) -> Stepper:
        return cached_stepper(self.spec_path, self.model)

    def offered(self) -> frozenset[str]:
        if self.actions is not None:
            return frozenset(self.actions)
        from meshcheck import registry

        return frozenset(
            a.name
            for a in registry.actions_of(self.protocol)
            if a.kind in ("protocol", "client") or (a.kind == "fault" and not a.params)
        )


def servers_of(init: Mapping[str, Value]) -> tuple[str, ...]:
    """The nodes: the domain most of the spec's function-valued variables share (Raft.tla's
    currentTerm, log, role, ... are functions over Server)."""
    domains = Counter(
        tuple(sorted(str(k) for k in v)) for v in init.values() if isinstance(v, Mapping) and v
    )
    if not domains:
        raise ValueError("the spec has no variable that is a function over its nodes")
    return domains.most_common(1)[0][0]


def _bag(value: Value | None) -> Counter[Value]:
    if isinstance(value, Mapping):
        return Counter(dict(value))
    if isinstance(value, frozenset):
        return Counter(value)
    return Counter()


def message_change(before: Mapping[str, Value], after: Mapping[str, Value]) -> tuple[
    list[Value], list[Value]
]:  # fmt: skip
    """(records that left the spec's `messages`, records added), one per copy; none without it."""
    old, new = _bag(before.get("messages")), _bag(after.get("messages"))
    return list((old - new).elements()), list((new - old).elements())


def the_message(before: Mapping[str, Value], after: Mapping[str, Value]) -> Value | None:
    """The one message a step takes (else the one it sends), as the spec's record; None if the
    step takes or sends none, or several."""
    gone, added = message_change(before, after)
    if len(gone) == 1:
        return gone[0]
    if not gone and len(added) == 1:
        return added[0]
    return None


def mismatches(
    spec: Mapping[str, Value], exposed: Mapping[str, Mapping[str, Value]]
) -> list[tuple[str, str, Value, Value | None]]:
    """(variable, node, implementation's value, spec's value) for each exposed variable of each
    node that differs from the spec state's."""
    out = []
    for node, variables in exposed.items():
        for var, got in variables.items():
            whole = spec.get(var)
            want = whole.get(node) if isinstance(whole, Mapping) else None
            if got != want:
                out.append((var, node, got, want))
    return out


class _Run:
    """One example: the drivers, the spec states the implementation may be in, the steps."""

    def __init__(self, lockstep: Lockstep, walk: Walk, successors: SuccessorCache) -> None:
        self.lockstep = lockstep
        self.walk = walk
        self.successors = successors
        init = lockstep.stepper().init_states()
        self.frontier: list[State] = init
        self.servers = servers_of(init[0].values)
        self.drivers = {i: lockstep.make(i, self.servers) for i in self.servers}
        for k, d in enumerate(self.drivers.values()):
            d.boot({}, 0, random.Random(k))
            d.collect(None)
        self.path: list[str] = ["Init"]
        self.now = 0
        self.offered = lockstep.offered()
        self.check("Init", [(s, s) for s in init], None)

    def exposed(self) -> dict[str, Mapping[str, Value]]:
        return {i: d.state() for i, d in self.drivers.items()}

    def enabled(self) -> list[tuple[State, Transition]]:
        return [
            (s, t)
            for s in self.frontier
            for t in self.successors(s)
            if t.action.name in self.offered
        ]

    def step(self, data: st.DataObject) -> bool:
        """One step drawn by Hypothesis; False when the spec is stuck (nothing offered)."""
        enabled = self.enabled()
        if not enabled:
            return False
        names = sorted({t.action.name for _, t in enabled})
        name = data.draw(st.sampled_from(names), label="action")
        instances: list[ActionInstance] = []
        for _, t in enabled:
            if t.action.name == name and t.action not in instances:
                instances.append(t.action)
        action = data.draw(st.sampled_from(instances), label="instance")
        ways = [(s, t) for s, t in enabled if t.action == action]
        messages: list[Value | None] = []
        for s, t in ways:
            m = the_message(s.values, t.state.values)
            if m not in messages:
                messages.append(m)
        m = messages[0] if len(messages) == 1 else data.draw(st.sampled_from(messages))
        ways = [(s, t) for s, t in ways if the_message(s.values, t.state.values) == m]
        label = action.label()
        shown = f"{label} m={format_value(m)}" if m is not None else label
        self.now += 10
        sent: list[Value] | None = None
        if name not in NETWORK:
            node = str(action.params.get("i", ""))
            driver = self.drivers.get(node)
            if driver is None:
                raise ValueError(f"{label}: the acting node i={node!r} is no node of the model")
            params = FrozenDict({**action.params, "m": m}) if m is not None else action.params
            if not driver.take(name, params, self.now):
                note(f"step {len(self.path)}: {shown}: refused by the driver (skipped)")
                self.walk.refused[name] += 1
                return True
            done = driver.collect(None)
            record = self.lockstep.message_record
            if record is not None:
                sent = [record(message) for _, message in done.sends]
        note(f"step {len(self.path)}: {shown}")
        self.path.append(label)
        self.walk.taken[name] += 1
        self.check(shown, [(s, t.state) for s, t in ways], sent)
        return True

    def check(
        self, label: str, ways: Sequence[tuple[State, State]], sent: list[Value] | None
    ) -> None:
        exposed = self.exposed()
        kept: dict[int, State] = {}
        closest: tuple[int, str] | None = None
        for before, after in ways:
            problems = [
                f"{var}[{node}]: implementation {format_value(got)}, spec {format_value(want)}"
                for var, node, got, want in mismatches(after.values, exposed)
            ]
            if sent is not None:
                missing = Counter(message_change(before.values, after.values)[1]) - Counter(sent)
                problems += [
                    f"messages: the spec sends {format_value(m)}, the implementation does not"
                    for m in missing.elements()
                ]
            if not problems:
                kept.setdefault(after.fingerprint, after)
            elif closest is None or len(problems) < closest[0]:
                closest = (len(problems), "; ".join(problems))
        if not kept:
            assert closest is not None
            steps = len(self.path) - 1
            path = " -> ".join(self.path)
            raise CheckFailed(
                f"adapted lockstep ({self.lockstep.protocol.name}): step {steps} {label}: no "
                f"successor of the spec agrees with the implementation: {closest[1]} "
                f"(path: {path})",
                steps=steps,
            )
        self.frontier = list(kept.values())[:FRONTIER]
        self.walk.widest = max(self.walk.widest, len(self.frontier))


def lockstep(
    check: Lockstep, settings: Settings, *, steps: int = 30, walk: Walk | None = None
) -> Walk:
    """Hypothesis walks of at most `steps` spec steps each, under `settings`; CheckFailed on the
    first step no successor of the spec agrees with. Returns what the walks did."""
    walk = walk if walk is not None else Walk()
    successors = SuccessorCache(check.stepper)

    @settings
    @given(st.data())
    def adapted_lockstep(data: st.DataObject) -> None:
        run = _Run(check, walk, successors)
        for _ in range(steps):
            if not run.step(data):
                break

    adapted_lockstep()
    return walk

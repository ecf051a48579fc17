"""Restart equivalence and core purity: what a node keeps across a crash that it should not.

The simulator makes "a crash loses what was not persisted" hold by building a new node object and
stepping it with `Restart(P)`, P what the node had persisted (impl/sim/cluster.py `_crash`). That
holds only if nothing else carries state from one incarnation to the next: a plug-in that hands the
new node something of the old one, an object the plug-in shares between incarnations, a class
attribute or module global a core keeps a cache or a table in, a mutable default argument. Two
properties close that gap, for every protocol:

- **Restart equivalence** (`RestartEquivalence`): a node restarted from what it persisted is
  indistinguishable from a fresh node booted from the same persisted state. Whenever the watched
  cluster rebuilds a node, a reference node is built by a pristine copy of the cluster (the
  protocol's own builder, from the same schedule, that has run nothing but its boot):
  `plugin.new_node(i, Random(seed of the incarnation))`, stepped with the same `Restart(P)`. It
  then *shadows* the real incarnation: every event the real node processes, the reference
  processes too, and both must return the same effects. Their internal states (`snapshot`, a deep
  walk of the object graph) must be equal right after the restart and at the end of the
  incarnation (its next crash, or the run's end). A mutable object reachable from another node of
  the same cluster (shared keys, a shared evidence checker) is environment: shown as a marker,
  not compared; frozen values (messages, log entries) are always compared by value. Byzantine
  nodes are not held to it (their wrappers keep the test's state by design): the protocol says
  which nodes are honest.
- **Core purity** (`global_state`, `purity`): a core keeps no state outside its node objects. The
  mutable module globals, mutable class attributes and mutable function defaults of the core
  packages (`meshcheck.impl` but the simulator) are snapshotted before and after a run; a change
  fails, naming the attribute. What is global by design (a memo of a pure function, a counter of
  process-unique version stamps) is declared so where it is defined, in the module's
  `PURE_GLOBALS` (names of globals, or "Class.attribute"), each with why; a node's field that is
  such a stamp is declared in its class's `PROCESS_STAMPS` and shown as a marker, not compared;
  so is a field that only remembers what the node last computed from its state, to reuse equal
  objects (declared in the class's `MEMO_FIELDS`, each with why): what it holds depends on when
  the node was last asked, not on what happened to it.

docs/restarts.md says what this catches and what it cannot.
"""

from __future__ import annotations

import collections
import copy
import functools
import itertools
import random
import sys
import types
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.checks import Check
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import failure
from meshcheck.property_tests.free_runs import share

# -- the snapshot of an object graph ---------------------------------------------------------------

_ATOMS = (int, float, complex, str, bytes, bool, type(None), range)
_FROZEN = (tuple, frozenset, FrozenDict, *_ATOMS)
_NAMED = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.ModuleType,
    type,
    functools.partial,
)
_DESCRIPTORS = (types.MemberDescriptorType, types.GetSetDescriptorType, types.WrapperDescriptorType)


@attrs.frozen
class Node:
    """A walked object: its class's qualified name and its parts, by field name, key or index."""

    kind: str
    parts: tuple[tuple[Any, Any], ...]
    keyed: bool = False  # a mapping's: its parts are keys, shown as [key]


@attrs.frozen
class Mark:
    """What is shown and not compared: shared environment, an alias, an opaque object, a stamp."""

    text: str


def _qualname(x: Any) -> str:
    cls = x if isinstance(x, type) else type(x)
    return f"{cls.__module__}.{cls.__qualname__}"


def _name_of(x: Any) -> str:
    """A function, method, class or module by its qualified name."""
    if isinstance(x, types.ModuleType):
        return f"module {x.__name__}"
    if isinstance(x, functools.partial):
        return f"partial({_name_of(x.func)})"
    target = getattr(x, "__func__", x)
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


def _frozen(x: Any) -> bool:
    """Whether `x` can never change: an atom, or a tuple, frozenset or frozen attrs value (its
    parts may still be mutable: those are walked and judged on their own)."""
    cls = type(x)
    if isinstance(x, _FROZEN):
        return True
    return attrs.has(cls) and getattr(cls.__setattr__, "__name__", "") == "_frozen_setattrs"


def _fields(x: Any) -> Iterator[tuple[str, Any]]:
    """An object's attributes: its `__dict__` and every `__slots__` entry that is set."""
    seen: set[str] = set()
    for klass in type(x).__mro__:
        for slot in klass.__dict__.get("__slots__", ()):
            if slot in seen or slot in ("__dict__", "__weakref__"):
                continue
            seen.add(slot)
            try:
                yield slot, object.__getattribute__(x, slot)
            except AttributeError:
                continue
    for name, value in getattr(x, "__dict__", {}).items():
        if name not in seen:
            yield name, value


def _children(x: Any) -> Iterator[tuple[Any, Any]] | None:
    """The parts of a composite value (None: `x` is a leaf)."""
    if isinstance(x, Mapping):
        return iter(x.items())
    if isinstance(x, list | tuple | collections.deque):
        return iter(enumerate(x))
    if isinstance(x, set | frozenset):
        return ((None, item) for item in x)
    if attrs.has(type(x)):
        return ((a.name, getattr(x, a.name)) for a in attrs.fields(type(x)) if hasattr(x, a.name))
    if hasattr(x, "__dict__") or hasattr(type(x), "__slots__"):
        return _fields(x)
    return None


_NOT_A_LEAF: Any = object()


def _leaf(x: Any) -> Any:
    """What stands for a leaf: an atom itself, a function by name, a generator or a counter by
    its state, a memo by its size; _NOT_A_LEAF when `x` is not a leaf."""
    if isinstance(x, _ATOMS):
        return x
    if isinstance(x, bytearray):
        return bytes(x)
    if isinstance(x, functools._lru_cache_wrapper):  # a memo: what it holds
        return ("cache", _name_of(x.__wrapped__), x.cache_info().currsize)
    if isinstance(x, random.Random):
        return ("Random", x.getstate())
    if isinstance(x, itertools.count):
        return ("count", repr(x))
    if isinstance(x, _NAMED) or (
        callable(x) and hasattr(x, "__qualname__") and not attrs.has(type(x))
    ):
        return ("named", _name_of(x))
    if isinstance(x, _DESCRIPTORS):
        return ("descriptor", repr(x))
    return _NOT_A_LEAF


class Walker:
    """One snapshot: `walk(x)` of a graph, where mutable objects whose ids are in `environment`
    are shown as `Mark`s, and a mutable object met twice is the same object: its second place is a
    `Mark` naming the first (an alias is part of the state)."""

    def __init__(self, environment: frozenset[int] = frozenset()) -> None:
        self.environment = environment
        self._seen: dict[int, Any] = {}  # id -> the snapshot (a frozen value) or its first path
        self._alive: list[Any] = []  # holds what was walked, so that ids stay unique

    def walk(self, x: Any, path: str = "") -> Any:
        leaf = _leaf(x)
        if leaf is not _NOT_A_LEAF:
            return leaf
        key = id(x)
        frozen = _frozen(x)
        if key in self._seen:
            known = self._seen[key]
            return known if frozen else Mark(f"<same object as {known or 'the root'}>")
        if not frozen and key in self.environment:
            return Mark(f"<shared {type(x).__qualname__}>")
        self._alive.append(x)
        if isinstance(x, set | frozenset) and all(_frozen(item) for item in x):
            # a set of values (votes, QCs, keys) is compared as a value: walking each member
            # would cost a deep walk per snapshot of what `==` decides at once
            found = ("set", _qualname(x), frozenset(x))
            self._seen[key] = found if frozen else path
            return found
        parts = _children(x)
        if parts is None:
            self._seen[key] = Mark(f"<opaque {type(x).__qualname__}>")
            return self._seen[key]
        if not frozen:
            self._seen[key] = path
        if isinstance(x, Mapping):  # in key order, so that an alias inside is named alike
            parts = iter(sorted(parts, key=lambda kv: repr(kv[0])))
        stamps = set(getattr(type(x), "PROCESS_STAMPS", ()))
        memos = set(getattr(type(x), "MEMO_FIELDS", ()))
        walked: list[tuple[Any, Any]] = []
        for step, value in parts:
            if step in stamps:
                walked.append((step, Mark("<process stamp>")))
            elif step in memos:
                walked.append((step, Mark("<memo>")))
            elif step is None:  # a set's item
                walked.append((None, self.walk(value, f"{path}{{…}}")))
            else:
                walked.append((_key(step), self.walk(value, _path(path, step, x))))
        if isinstance(x, set | frozenset):
            walked.sort(key=lambda kv: repr(kv[1]))
        result = Node(_qualname(x), tuple(walked), isinstance(x, Mapping))
        if frozen:
            self._seen[key] = result
        return result


def _key(step: Any) -> Any:
    """A dict's key as a part's name: itself if it is a hashable frozen value, else its repr."""
    return step if isinstance(step, _ATOMS) or _frozen(step) else repr(step)


def _path(path: str, step: Any, owner: Any) -> str:
    if isinstance(owner, Mapping):
        return f"{path}[{step!r}]"
    if isinstance(step, int) and isinstance(owner, list | tuple | collections.deque):
        return f"{path}[{step}]"
    return f"{path}.{step}"


def reachable(roots: Iterator[Any] | list[Any]) -> frozenset[int]:
    """The ids of the mutable objects reachable from `roots` (the environment of a node: what the
    other nodes of its cluster reach)."""
    found: set[int] = set()
    walked: set[int] = set()
    stack = list(roots)
    keep: list[Any] = []
    while stack:
        x = stack.pop()
        if _leaf(x) is not _NOT_A_LEAF or id(x) in walked:
            continue
        walked.add(id(x))
        keep.append(x)
        if not _frozen(x):
            found.add(id(x))
        parts = _children(x)
        if parts is not None:
            for step, value in parts:
                stack.append(value)
                if step is not None and not isinstance(step, _ATOMS):
                    stack.append(step)
    return frozenset(found)


def snapshot(x: Any, environment: frozenset[int] = frozenset()) -> Any:
    """The state of the object graph under `x`, as nested frozen values (`Node`, `Mark`, atoms)."""
    return Walker(environment).walk(x)


def differences(a: Any, b: Any, path: str = "node", limit: int = 5) -> list[str]:
    """Where two snapshots differ, as "path: a != b" (at most `limit`)."""
    found: list[str] = []
    _differ(a, b, path, found, limit)
    return found


def _show(x: Any) -> str:
    if isinstance(x, Node):
        text = f"{x.kind.rsplit('.', 1)[-1]}(…{len(x.parts)} parts)"
    elif isinstance(x, Mark):
        text = x.text
    else:
        text = repr(x)
    return text if len(text) <= 100 else text[:97] + "..."


def _differ(a: Any, b: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit or a == b:
        return
    if isinstance(a, Node) and isinstance(b, Node) and a.kind == b.kind:
        left, right = dict(a.parts), dict(b.parts)
        if len(left) != len(a.parts) or len(right) != len(b.parts):  # a set's items
            found.append(f"{path}: {_show(a)} != {_show(b)}")
            return
        for step in dict.fromkeys([*left, *right]):
            where = f"{path}[{step!r}]" if a.keyed or isinstance(step, int) else f"{path}.{step}"
            if step not in right:
                found.append(f"{where}: {_show(left[step])} != (absent)")
            elif step not in left:
                found.append(f"{where}: (absent) != {_show(right[step])}")
            else:
                _differ(left[step], right[step], where, found, limit)
            if len(found) >= limit:
                return
        return
    if _is_set(a) and _is_set(b):
        only_a, only_b = a[2] - b[2], b[2] - a[2]
        shown = sorted(map(repr, only_a))[:3], sorted(map(repr, only_b))[:3]
        found.append(
            f"{path}: {len(only_a)} members only on the left {_show(shown[0])}, "
            f"{len(only_b)} only on the right {_show(shown[1])}"
        )
        return
    found.append(f"{path}: {_show(a)} != {_show(b)}")


def _is_set(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 3 and x[0] == "set"


# -- restart equivalence ---------------------------------------------------------------------------


@attrs.define
class Shadow:
    """One incarnation of a node and the fresh node that shadows it."""

    node_id: str
    incarnation: int
    real: Any
    reference: Any
    reference_sim: Simulator[Any]
    since: int  # when it was rebuilt
    events: int = 0


class RestartEquivalence:
    """Watches a simulator (`Cluster.watchers`): every node it rebuilds after a crash is shadowed
    by a fresh node from `reference()` (see the module's docstring). `honest(i)`: whether node i
    is held to it now. The first difference is kept in `failure` (the run is stopped by `stop`);
    `finish()` compares the incarnations still running and raises it."""

    def __init__(
        self,
        sim: Simulator[Any],
        reference: Callable[[], Simulator[Any]],
        honest: Callable[[str], bool] = lambda i: True,
    ) -> None:
        self.sim = sim
        self.reference = reference
        self.honest = honest
        self.failure: CheckFailed | None = None
        self.shadows: dict[str, Shadow] = {}
        self.shadowed = 0  # incarnations shadowed
        self.compared = 0  # events both processed
        # what the plug-in keeps of each node across its crashes by design (KEPT_ACROSS_CRASHES:
        # dicts keyed by node id), as it was after the node's last step
        self._kept_names: tuple[str, ...] = getattr(sim.plugin, "KEPT_ACROSS_CRASHES", ())
        self._kept: dict[str, dict[str, Any]] = {}
        sim.watchers.append(self.watch)

    def stop(self, sim: Simulator[Any]) -> bool:
        return self.failure is not None

    def watch(self, node_id: str, node: Any, event: Any, effects: list[Effect]) -> None:
        if self.failure is not None:
            return
        self._watch(node_id, node, event, effects)
        if self._kept_names:  # after every step: what a Restart's reference will start from
            self._kept[node_id] = {
                name: copy.deepcopy(getattr(self.sim.plugin, name)[node_id])
                for name in self._kept_names
                if node_id in getattr(self.sim.plugin, name)
            }

    def _watch(self, node_id: str, node: Any, event: Any, effects: list[Effect]) -> None:
        shadow = self.shadows.get(node_id)
        if shadow is not None and shadow.real is not node:  # the incarnation ended: a crash
            del self.shadows[node_id]
            self._compare_states(shadow, "at the end of its incarnation")
            if self.failure is not None:
                return
        if isinstance(event, Restart) and (shadow is None or shadow.real is not node):
            if self.honest(node_id) and self.sim.incarnation[node_id] > 0:
                self._begin(node_id, node, event, effects)
            return
        if shadow is None or shadow.real is not node:
            return
        if not self.honest(node_id):  # turned Byzantine: no longer held to it
            del self.shadows[node_id]
            return
        # the same event object: events and messages are frozen values (the Restart's persisted
        # mapping, which is not, is copied for the fresh node in `_begin`)
        expected = shadow.reference.step(event)
        shadow.events += 1
        self.compared += 1
        if expected != effects:
            self._fail(
                shadow,
                f"the {_ordinal(shadow.events)} event after the restart, {_event(event)}, "
                f"returned other effects than on a fresh node\n  restarted: "
                f"{_effects(effects)}\n  fresh:     {_effects(expected)}",
            )

    def _begin(self, node_id: str, node: Any, event: Any, effects: list[Effect]) -> None:
        ref_sim = self.reference()
        for name, value in self._kept.get(node_id, {}).items():
            # what the plug-in keeps of a node across its crashes by design (it says why), as
            # it was before this Restart
            getattr(ref_sim.plugin, name)[node_id] = copy.deepcopy(value)
        fresh = ref_sim.plugin.new_node(node_id, random.Random(self.sim.node_seed(node_id)))
        shadow = Shadow(node_id, self.sim.incarnation[node_id], node, fresh, ref_sim, self.sim.now)
        expected = fresh.step(copy.deepcopy(event))
        self.shadowed += 1
        if expected != effects:
            self._fail(
                shadow,
                f"its Restart returned other effects than a fresh node's\n  restarted: "
                f"{_effects(effects)}\n  fresh:     {_effects(expected)}",
            )
            return
        self.shadows[node_id] = shadow
        self._compare_states(shadow, "right after the restart")

    def _compare_states(self, shadow: Shadow, when: str) -> None:
        real = self._state(shadow.real, shadow.node_id, self.sim.nodes)
        fresh = self._state(shadow.reference, shadow.node_id, shadow.reference_sim.nodes)
        found = differences(real, fresh)
        if found:
            self._fail(
                shadow,
                f"its state {when} differs from a fresh node's "
                f"(restarted != fresh):\n  " + "\n  ".join(found),
            )

    @staticmethod
    def _state(node: Any, node_id: str, nodes: Mapping[str, Any]) -> Any:
        others = [n for i, n in nodes.items() if i != node_id]
        return snapshot(node, reachable(others))

    def _fail(self, shadow: Shadow, what: str) -> None:
        self.failure = CheckFailed(
            f"restart equivalence: {shadow.node_id}, incarnation {shadow.incarnation} "
            f"(restarted at t={shadow.since}), at t={self.sim.now}: {what}",
            steps=0,
        )

    def finish(self) -> None:
        """Compare the incarnations still running; raise the first difference found."""
        for shadow in list(self.shadows.values()):
            if self.failure is None and self.honest(shadow.node_id):
                self._compare_states(shadow, "at the end of the run")
        self.shadows.clear()
        if self.failure is not None:
            raise self.failure


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 < 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _event(event: Any) -> str:
    text = repr(event)
    return text if len(text) <= 300 else text[:297] + "..."


def _effects(effects: list[Effect]) -> str:
    text = repr(list(effects))
    return text if len(text) <= 1500 else text[:1497] + "..."


# -- core purity -----------------------------------------------------------------------------------

# the packages a core's state may hide in: every module of meshcheck.impl but the simulator's
CORE = "meshcheck.impl."
NOT_CORE = ("meshcheck.impl.sim",)


def _core_modules() -> list[types.ModuleType]:
    return [
        module
        for name, module in sorted(sys.modules.items())
        if name.startswith(CORE)
        and not name.startswith(NOT_CORE)
        and isinstance(module, types.ModuleType)
    ]


def _places(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    """Where a module may keep state: its globals, its classes' attributes, its functions' (and
    methods') default arguments, each with its name ("Class.attribute", "function()")."""
    declared = set(getattr(module, "PURE_GLOBALS", ()))
    here = module.__name__
    for name, value in list(vars(module).items()):
        if name.startswith("__") or name == "PURE_GLOBALS" or name in declared:
            continue
        if isinstance(value, types.ModuleType):
            continue
        if isinstance(value, type):
            if value.__module__ != here:
                continue
            for attr, member in list(vars(value).items()):
                label = f"{name}.{attr}"
                if attr.startswith("__") or label in declared:
                    continue
                yield from _defaults(label, member)
                if not isinstance(member, (*_NAMED, staticmethod, classmethod, property)):
                    yield label, member
        elif isinstance(value, types.FunctionType | functools._lru_cache_wrapper):
            if getattr(value, "__module__", None) == here:
                yield from _defaults(name, value)
                if isinstance(value, functools._lru_cache_wrapper):
                    yield name, value
        else:
            yield name, value


def _defaults(label: str, member: Any) -> Iterator[tuple[str, Any]]:
    function = getattr(member, "__func__", member)
    if isinstance(function, types.FunctionType):
        if function.__defaults__:
            yield f"{label}() defaults", function.__defaults__
        if function.__kwdefaults__:
            yield f"{label}() keyword defaults", function.__kwdefaults__


def _live_places() -> Iterator[tuple[str, Any]]:
    for module in _core_modules():
        for label, value in _places(module):
            if not isinstance(value, _ATOMS):
                yield f"{module.__name__}.{label}", value


def global_state() -> dict[str, Any]:
    """Every place of the core modules loaded now where state could outlive a node, snapshotted."""
    return {label: snapshot(value) for label, value in _live_places()}


def changed_globals(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, str]:
    """What changed between two `global_state`s, by place (places loaded only since are not
    compared)."""
    changed: dict[str, str] = {}
    for label, was in before.items():
        if label in after and after[label] != was:
            found = differences(was, after[label], label, limit=1)
            changed[label] = found[0] if found else label
    return changed


_CONTAINERS = (dict, list, set, collections.deque)


def saved_containers() -> dict[str, tuple[Any, Any]]:
    """The core's mutable containers at module and class level (dicts, lists, sets), each with a
    deep copy of what it holds now, for `restore`."""
    return {
        label: (value, _copy(value))
        for label, value in _live_places()
        if isinstance(value, _CONTAINERS) and not isinstance(value, FrozenDict)
    }


def _copy(value: Any) -> Any:
    """A copy of the containers in `value` (dicts, lists, deques, sets), sharing everything else."""
    if isinstance(value, FrozenDict) or not isinstance(value, _CONTAINERS):
        return value
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, set):
        return set(value)
    return [_copy(v) for v in value]


def restore(saved: Mapping[str, tuple[Any, Any]], labels: Iterator[str] | list[str]) -> None:
    """Put back what the containers named held (a run's writes undone): the next run starts from
    the same globals, so that a core writing the same values again is seen to write them."""
    for label in labels:
        if label not in saved:
            continue
        live, held = saved[label]
        held = _copy(held)
        if isinstance(live, dict):
            live.clear()
            live.update(held)
        elif isinstance(live, list | collections.deque):
            live.clear()
            live.extend(held)
        elif isinstance(live, set):
            live.clear()
            live.update(held)


# -- the check ---------------------------------------------------------------------------------------

# Crashes forced on: a crash (and a restart) in most chaos rounds, so that incarnations are many and
# short, and the shadows see restarts in every phase of the protocol.
CRASH_RATE = 0.6


def with_crashes(schedule: Schedule, rate: float = CRASH_RATE) -> Schedule:
    """`schedule` with crashes in a `rate` share of its chaos rounds."""
    fields = attrs.asdict(schedule, recurse=False, filter=lambda a, _: a.name != "knobs")
    return Schedule(**{**fields, "crash": rate}, **schedule.knobs)


@attrs.frozen
class Wiring:
    """How a protocol's free runs become restart-equivalence runs.

    `build(schedule, n, bugs, record)`: the protocol's own free run of n nodes (a simulator, or
    what drives one: `simulator` finds it), the same function for the watched cluster and for its
    pristine reference; `drive(run, schedule, stop)`: run it (under the protocol's storm bound)
    until `stop(sim)`, returning what cut it short or None; `honest(sim, i)`: whether node i is
    held to restart equivalence now; `knobs`: the protocol's knobs set on every schedule (a
    crashed node back soon, so that it crashes again)."""

    build: Callable[[Schedule, int, frozenset[str], bool], Any]
    drive: Callable[[Any, Schedule, Callable[[Simulator[Any]], bool]], str | None]
    simulator: Callable[[Any], Simulator[Any]] = lambda run: run
    honest: Callable[[Simulator[Any], str], bool] = lambda sim, i: True
    knobs: Mapping[str, Any] = attrs.field(factory=dict)

    def schedules(self, schedules: st.SearchStrategy[Schedule]) -> st.SearchStrategy[Schedule]:
        """The protocol's free-run `schedules` with its `knobs` and crashes forced on."""
        return schedules.map(lambda s: with_crashes(s.with_knobs(**self.knobs)))


def watched_run(
    wiring: Wiring, schedule: Schedule, n: int, bugs: frozenset[str], record: bool = False
) -> tuple[RestartEquivalence, str | None]:
    """One run of `schedule` under restart equivalence and core purity: the watcher and what
    broke (None: nothing)."""
    before = global_state()
    saved = saved_containers()
    try:
        problem, watch = _watched(wiring, schedule, n, bugs, record)
    finally:
        # a run's writes to the core's containers are undone: a later run that writes the same
        # values (the same seed, again: Hypothesis replays a failing example, the corpus re-runs
        # a stored one) is seen to write them too, and a mutant's leftovers reach no other test
        changed = changed_globals(before, global_state())
        restore(saved, list(changed))
    if problem is not None:
        return watch, problem
    sticky = _CHANGED[-1] if _CHANGED else {}
    sticky.update(changed)
    if sticky:  # an object of the core's own, which cannot be put back: the place stays dirty
        lines = [sticky[label] for label in sorted(sticky)]
        return watch, "core purity: the run changed state outside its nodes:\n  " + "\n  ".join(
            lines
        )
    return watch, None


def _watched(
    wiring: Wiring, schedule: Schedule, n: int, bugs: frozenset[str], record: bool
) -> tuple[str | None, RestartEquivalence]:
    run = wiring.build(schedule, n, bugs, record)
    sim = wiring.simulator(run)
    watch = RestartEquivalence(
        sim,
        lambda: wiring.simulator(wiring.build(schedule, n, bugs, False)),
        lambda i: wiring.honest(sim, i),
    )
    storm = wiring.drive(run, schedule, watch.stop)
    try:
        watch.finish()
    except CheckFailed as failed:
        return failed.message, watch
    return storm, watch


# The places of core state found changed by a run of the `restart_equivalence` test running now
# (a stack: one per test). A container is put back after each run (`restore`); any other object
# (a counter, an instance) cannot be, so a run that writes the very values an earlier run of the
# same test wrote leaves no change to see: the place, once dirty, fails every later run of the test.
_CHANGED: list[dict[str, str]] = []


def check_run(
    wiring: Wiring, schedule: Schedule, n: int, bugs: frozenset[str]
) -> RestartEquivalence:
    """One run, unrecorded; a failing one is run again, recorded, for its counterexample (the
    same seed gives the same run), raised as CheckFailed. Returns the watcher of a run that held."""
    watch, problem = watched_run(wiring, schedule, n, bugs)
    if problem is None:
        return watch
    recorded, _ = watched_run(wiring, schedule, n, bugs, record=True)
    # the unrecorded run's problem: a memo filled by the first run may hide a purity finding
    # from the second, which is here for its trace only
    raise failure(problem, schedule, recorded.sim.trace())


def restart_equivalence(
    bugs: frozenset[str],
    settings: hypothesis.settings,
    *,
    check: Callable[[Schedule, int, frozenset[str]], object],
    n: int,
    schedules: st.SearchStrategy[Schedule],
    fraction: float,
) -> None:
    """The check a protocol's checks.py registers: its `check` of one run (`check_run` with its
    wiring, under a name its harness's `reruns` lists, so that a failure is re-run from its
    seed) on its free runs' `schedules` (`Wiring.schedules`), a `fraction` of `settings`'
    examples."""

    @share(settings, fraction, least=2)
    @given(schedules)
    def restarts_are_fresh(schedule: Schedule) -> None:
        check(schedule, n, bugs)

    _CHANGED.append({})
    try:
        restarts_are_fresh()
    finally:
        _CHANGED.pop()


def restart_check(
    label: str,
    check: Callable[[Schedule, int, frozenset[str]], object],
    n: int,
    schedules: st.SearchStrategy[Schedule],
    fraction: float,
) -> Check:
    """The `Check` of a protocol's checks.py: `restart_equivalence` under the name
    "restart equivalence (<label>)"."""
    return Check(
        f"restart equivalence ({label})",
        functools.partial(
            restart_equivalence, check=check, n=n, schedules=schedules, fraction=fraction
        ),
        "free runs crashing often, each restarted honest node shadowed by a fresh one booted "
        "from what it persisted (same effects, same state); no core global changed",
    )

"""The adapter contract: how meshcheck drives an implementation it did not write.

An adapter makes one node of a third-party implementation answer six questions, and nothing else
(`Driver`): start it from what it persisted (`boot`: empty on first boot, else exactly the durable
content at the crash), hand it a message (`deliver`), fire its timer (`fire`), hand it a client
operation (`submit`), say what it did since it was last asked (`collect`: what it made durable,
sent, applied and answered, the timers it wants and the spec actions that was), and read its state
as the spec's variables (`state`: any subset; a variable it does not expose is simply absent,
unknown to every check). Time is the simulator's: every call carries the node's clock in ticks
(milliseconds), and the adapter makes the implementation read that clock and a seeded random
generator (`boot`'s `rng`) instead of its own, so a run is a pure function of its seed.

`AdaptedNode` turns a driver into a sans-IO core of impl/base/node.py (`step(event) ->
effects`), and `AdapterPlugin` into a simulator plug-in (impl/sim/protocol.py), so that
everything written for meshcheck's own cores works unchanged on the adapted implementation: the
deterministic simulator and its faults (drops, duplicates, delays, partitions, crashes between two
effects), the client-history recorder (impl/sim/history.py) and its checks, the safety checker of
applied entries, trace recording (ITF) and coverage. Persist-before-send holds by construction:
an adapter reports a step's durable writes as one batch, placed before the step's sends (the
implementation wrote them synchronously before it sent, or the adapter must say otherwise).

A run can also be written as a log for trace validation: one JSON object per line, per spec step
of a node (`NdjsonLog`; the format is the one `meshcheck validate` reads):
`{"run", "node", "clock" (a Lamport clock), "action", "params", "state"}`, the state being the
node's own slice of the spec's variables after the step, as far as the adapter exposes them.

Lockstep needs more than these six calls: the spec's checker chooses each step (TLC's enabled
action instances, one drawn by Hypothesis), and the implementation must take exactly that step, no
more. An adapter that can do so is a `StepDriver`, one more call, `take(action, params, now)`:
make the implementation take that spec action (the message it handles or sends given as the spec's
record `m`), or say False when it cannot in its state. property_tests/adapted_lockstep.py then
walks TLC's successors with it and compares what `state()` exposes after every step. The capability
is optional because not every implementation can be driven so: PySyncObj (impl/adapters/pysyncobj.py)
has no StepDriver, since its one entry point, `doTick()`, fires its timers, sends to every peer and
advances its commit index in one call, choosing internally which of them happen; no call makes it
take one spec action alone. It gets free runs and trace validation instead, which need only the
six calls.

A second implementation is one more adapter file beside pysyncobj.py: a `Driver` class, a
`message_record` and an `AdapterPlugin` built from them (docs/adding-an-implementation.md).

Every requirement an adapter must meet, each checked at the first step that breaks it with one
line (`AdapterError`: the adapter, the node, the field), or met by the harness itself:

- `state()` names only variables of the spec (`AdapterPlugin.spec_variables`);
- a `SpecStep` names an action of the spec, with its parameters only, and nodes of the cluster;
  a step whose `collect` names none is named by the harness after its event (`Tick(i)`,
  `Deliver(i)`, ...) as no step of the spec (`in_spec=False`: in the trace, not in the log), so
  an adapter that names no actions still runs every check but log validation;
- every send goes to a node of the cluster, and `message_record` maps every message it sends;
- the values the simulator records (what `state()` gives, the spec records of messages, the
  parameters of spec steps, applied entries and their results, client answers) are lists, dicts,
  sets or hashable values: the harness freezes lists into tuples, dicts into FrozenDicts and sets
  into frozensets (`frozen`), so an implementation's own containers cross the recorder unchanged,
  and a value that is none of these and is not hashable is an AdapterError naming the field;
- `applied_state()` is optional: an implementation with a state machine of its own need not
  apply its entries to meshcheck's (impl/rsm). Without it the checks that compare replicas'
  state digests are not run; the client-history checks judge the implementation's own answers
  (property_tests/plugin.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from typing import Any
from typing import ClassVar
from typing import Protocol
from typing import runtime_checkable

import attrs

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.logline import log_line
from meshcheck.impl.base.logline import log_record
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.base.values import to_json
from meshcheck.impl.sim.protocol import Segment


class AdapterError(MeshcheckError):
    """An adapter that says what the spec does not have: a variable, an action or its parameter, a
    node the cluster lacks, a message it cannot map. Raised at the first such step, one line naming
    the adapter, the node and the field (the command line: `meshcheck: ...`, exit 2)."""

    def __init__(self, adapter: str, node: str, field: str, problem: str) -> None:
        super().__init__(f"adapter {adapter}: node {node}: {field}: {problem}")


def frozen(value: Any) -> Any:
    """`value` with every list turned into a tuple, dict into a FrozenDict and set into a
    frozenset, at any depth and inside any of them (a dict in a tuple in a FrozenDict too): an
    implementation's own containers made hashable, as the simulator's recorder needs them. A
    value with nothing to freeze is returned as it is (the same object), and so is every part of
    one that has nothing to freeze. Raises TypeError naming the first value that is not hashable.

    A FrozenDict, tuple or frozenset is immutable but may hold what is not (a FrozenDict built
    over the library's own dicts): one that does not hash is rebuilt from its frozen parts, never
    kept because it compares equal to them (a dict equals the FrozenDict of its items)."""
    if isinstance(value, FrozenDict | tuple | frozenset):
        try:
            hash(value)  # immutable all the way down (a FrozenDict keeps its hash)
            return value
        except TypeError:
            pass
    if isinstance(value, Mapping):
        return FrozenDict({frozen(k): frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(frozen(v) for v in value)
    _hashable(value)
    return value


def _like(value: Any, before: Any) -> Any:
    """`value`, a sequence, with the items equal to `before`'s (the same variable's frozen value
    at the last look) taken from it: a log that grew at its end is frozen at its end only, and an
    unchanged one is `before` itself."""
    if not (isinstance(value, list | tuple) and type(before) is tuple) or value is before:
        return value
    items = [
        old if k < len(before) and item == (old := before[k]) else item
        for k, item in enumerate(value)
    ]
    if len(items) == len(before) and all(a is b for a, b in zip(items, before, strict=True)):
        return before
    return tuple(items) if all(not isinstance(i, _MUTABLE) for i in items) else items


_MUTABLE = (list, dict, set)


def _hashable(value: Any) -> None:
    try:
        hash(value)
    except TypeError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise TypeError(
            f"{shown} ({type(value).__name__}) is not hashable, and not a list, dict or set the "
            "harness can freeze"
        ) from None


@attrs.frozen
class SpecStep:
    """One spec action an implementation step amounts to (`Timeout(i)`: name "Timeout", params
    {"i": "s1"}), with the indexes into the step's sends that belong to it (a leader's tick is one
    `AppendEntries(i, j)` per peer: each owns its sends to j)."""

    name: str
    params: FrozenDict = attrs.field(converter=FrozenDict)
    sends: tuple[int, ...] = ()
    # What the NDJSON log shows of the node's state after this step: its state after the whole
    # event, without the variables in `hide` (changed by what is no spec action of this step), and
    # the log cut to its first `log_upto` entries (entries a later step of the event appends).
    hide: tuple[str, ...] = ()
    log_upto: int | None = None
    # False: an implementation step the spec has no action for (PySyncObj's tick that advances
    # the commit index); it is named in the trace and left out of the NDJSON log, where the next
    # step's state shows what it changed
    in_spec: bool = True
    # The spec's message the step sent or received, when the adapter can say it: written to the
    # NDJSON log as the parameter `m` (not to the trace), which spares the validator a guess
    message: Value | None = None


@attrs.frozen
class Collected:
    """What a node did since the last `collect`: its durable writes (one batch, made before any
    send), sends (dest, message), applied entries (index, value, result), client answers, the
    timers it wants, its applied state (count, digest) if it has a state machine, and the spec
    actions it took."""

    writes: tuple[Write, ...] = ()
    sends: tuple[tuple[str, Any], ...] = ()
    applied: tuple[tuple[int, Any, Any], ...] = ()
    replies: tuple[Reply, ...] = ()
    timers: tuple[SetTimer, ...] = ()
    steps: tuple[SpecStep, ...] = ()


class Driver(Protocol):
    """One node of the implementation under test, as the harness drives it."""

    def boot(self, persisted: Mapping[str, Any], now: int, rng: random.Random) -> None:
        """Create (or re-create after a crash) the node from `persisted`, the durable content its
        earlier writes left (empty on first boot); `rng` is its only source of randomness."""
        ...

    def deliver(self, source: str, message: Any, now: int) -> None: ...

    def fire(self, timer: str, now: int) -> None: ...

    def submit(self, request_id: int, value: Any, read: bool, now: int) -> None:
        """A client operation (a write of `value`, or a read of query `value`); its answer is a
        `Reply` with `request_id` in a later (or this) `collect`."""
        ...

    def collect(self, event: Any) -> Collected:
        """What the node did while handling `event`."""
        ...

    def state(self) -> Mapping[str, Value]:
        """The spec's variables of this node, as far as the implementation exposes them."""
        ...


class MachineDriver(Driver, Protocol):
    """A `Driver` whose implementation applies its entries to a state machine that can say what
    it holds: optional (without it the replicas' state digests are not compared)."""

    def applied_state(self) -> tuple[int, bytes]:
        """(entries its state machine applied, a digest of its state): impl/base/node.py's
        `AppliedState` hook."""
        ...


class StepDriver(Driver, Protocol):
    """A `Driver` that can also be made to take one given spec action: the optional capability
    lockstep needs (property_tests/adapted_lockstep.py)."""

    def take(self, action: str, params: Mapping[str, Value], now: int) -> bool:
        """Make the implementation take exactly the spec action `action(params)` and nothing else
        (no timer of its own, no other message), from its present state; `params` are the action
        instance's and, when the step takes or sends one message, that message as the spec's
        record under `m` (a HandleX delivers it, an AppendEntries sends that batch). False when it
        cannot take that action in its state (then it must have changed nothing). What it did is
        read as always, by `collect` and `state`."""
        ...


@attrs.frozen
class Stamped:
    """A message on the simulated network with its sender's Lamport clock (`body`: the
    implementation's own message; impl/sim/config.py's `message_kind` names it by the body)."""

    clock: int
    body: Any


class NdjsonLog:
    """A run's spec steps as NDJSON, one line per step of a node (the format of trace validation).
    `write` to a file, or keep the records in memory (`records`) when no file is given."""

    def __init__(self, run: str, out: IO[str] | None = None) -> None:
        self.run = run
        self.out = out
        self.records: list[dict[str, Any]] = []
        self._memo: dict[int, tuple[Any, Any]] = {}  # id -> (a log entry record, its JSON)

    def write(
        self,
        node: str,
        clock: int,
        action: str,
        params: Mapping[str, Any],
        state: Mapping[str, Any],
    ) -> None:
        state_json = {k: self._json(v) for k, v in state.items()}
        record = log_record(self.run, node, clock, action, to_json(params), state_json)
        if self.out is not None:
            self.out.write(log_line(record))
        else:
            self.records.append(record)

    def _json(self, value: Any) -> Any:
        """`to_json`, with the records inside a tuple (a log's entries, the same objects from one
        step to the next) converted once."""
        if not isinstance(value, tuple):
            return to_json(value)
        out = []
        memo = self._memo
        for item in value:
            found = memo.get(id(item))
            if found is None or found[0] is not item:
                if len(memo) > 200_000:
                    memo.clear()
                found = memo[id(item)] = (item, to_json(item))
            out.append(found[1])
        return out


class AdaptedNode:
    """A `Driver` as a sans-IO core: `step(event)` calls the driver, then turns what it collected
    into effects in the contract's order: the spec actions' markers, the durable writes (one
    `Persist`, before any send), applied entries, answers, timers, then each action's sends."""

    # `_last` keeps the values the last `state()` gave, so that an equal value keeps its object
    # (`_like`): it depends on when the harness last asked, not on the node's history, so restart
    # equivalence (property_tests/restarts.py) does not compare it
    MEMO_FIELDS = ("_last",)

    def __init__(self, node_id: str, driver: Driver, plugin: AdapterPlugin, rng: random.Random):
        self.id = node_id
        self.driver = driver
        self._plugin = plugin
        self._rng = rng
        self._last: dict[str, Any] = {}  # variable -> its frozen value, the last state() gave

    def state(self) -> Mapping[str, Value]:
        state = self.driver.state()
        self._plugin.check_state(self.id, state)
        last = self._last
        out = {}
        for k, v in state.items():
            out[k] = last[k] = self._frozen(f"state().{k}", _like(v, last.get(k)))
        return out

    def _frozen(self, field: str, value: Any) -> Any:
        try:
            return frozen(value)
        except TypeError as exc:
            raise AdapterError(self._plugin.name, self.id, field, str(exc)) from None

    def step(self, event: Any) -> list[Effect]:
        clocks = self._plugin.clocks
        if isinstance(event, Restart):
            self.driver.boot(event.persisted, event.now, self._rng)
            self.state()  # a variable the spec does not have: said at the node's boot
        elif isinstance(event, Deliver):
            message = event.message
            if isinstance(message, Stamped):
                clocks[self.id] = max(clocks.get(self.id, 0), message.clock)
                message = message.body
            self.driver.deliver(event.source, message, event.now)
        elif isinstance(event, Tick):
            self.driver.fire(event.timer, event.now)
        elif isinstance(event, ClientRequest):
            self.driver.submit(event.request_id, event.value, False, event.now)
        elif isinstance(event, ClientRead):
            self.driver.submit(event.request_id, event.query, True, event.now)
        done = self.driver.collect(event)
        if not done.steps:
            # a step the adapter names no spec action for: named after its event, as no step of
            # the spec (in the trace, out of the NDJSON log), owning its sends
            unnamed = SpecStep(
                type(event).__name__,
                {"i": self.id},
                tuple(range(len(done.sends))),
                in_spec=False,
            )
            done = attrs.evolve(done, steps=(unnamed,))
        return self._effects(done)

    def _effects(self, done: Collected) -> list[Effect]:
        clocks = self._plugin.clocks
        log = self._plugin.log
        done = self._frozen_collected(done)
        self._plugin.check_step(self.id, done)
        first: list[Effect] = []
        if done.writes:
            first.append(Persist(done.writes))
        first.extend(Apply(i, v, r) for i, v, r in done.applied)
        first.extend(done.replies)
        first.extend(done.timers)
        owned = {k for s in done.steps for k in s.sends}
        clock = clocks.get(self.id, 0)
        state = _log_state(self.driver) if log is not None and done.steps else None

        def sends(indexes: Sequence[int]) -> list[Effect]:
            return [Send(done.sends[k][0], Stamped(clock, done.sends[k][1])) for k in indexes]

        clock += max(len(done.steps), 1)  # every spec step, or the step itself, ticks the clock
        clocks[self.id] = clock
        free = [k for k in range(len(done.sends)) if k not in owned]
        if not done.steps:
            return first + sends(free)
        effects: list[Effect] = []
        for n, spec in enumerate(done.steps):
            effects.append(Action(spec.name, spec.params))
            if n == 0:
                effects.extend(first)
                effects.extend(sends(free))
            effects.extend(sends(spec.sends))
            if log is not None and state is not None and spec.in_spec:
                hidden = (*spec.hide, *_log_hidden(self.driver))
                shown = {k: v for k, v in state.items() if k not in hidden}
                if spec.log_upto is not None and "log" in shown:
                    shown["log"] = shown["log"][: spec.log_upto]
                params = spec.params
                if spec.message is not None:
                    params = FrozenDict({**params, "m": spec.message})
                record = (clock - len(done.steps) + n + 1, spec.name, params, shown)
                self._plugin.pending.setdefault(self.id, []).append(record)
        return effects

    def _frozen_collected(self, done: Collected) -> Collected:
        """`done` with the values the recorder keeps made hashable (`frozen`)."""
        applied = tuple(
            (i, self._frozen(f"applied[{i}].value", v), self._frozen(f"applied[{i}].result", r))
            for i, v, r in done.applied
        )
        replies = tuple(
            attrs.evolve(r, result=self._frozen(f"replies[{r.request_id}].result", r.result))
            for r in done.replies
        )
        steps = tuple(
            attrs.evolve(
                s,
                params=FrozenDict(
                    {k: self._frozen(f"{s.name}.params.{k}", v) for k, v in s.params.items()}
                ),
                message=self._frozen(f"{s.name}.message", s.message),
            )
            for s in done.steps
        )
        return attrs.evolve(done, applied=applied, replies=replies, steps=steps)


class AdaptedMachine(AdaptedNode):
    """An `AdaptedNode` whose driver has the optional `applied_state` (a `MachineDriver`)."""

    def applied_state(self) -> tuple[int, bytes]:
        driver = self.driver
        assert isinstance(driver, _HasAppliedState)
        return driver.applied_state()


@runtime_checkable
class _HasAppliedState(Protocol):
    def applied_state(self) -> tuple[int, bytes]: ...


def _log_state(driver: Driver) -> Mapping[str, Value]:
    """The variables a driver's NDJSON records show: its optional `log_state()` (a spec variable
    whose value the spec's refinement needs from a ghost the driver keeps, where the implementation
    holds a value of its own that the checks read through `state()`), else `state()`."""
    shown = getattr(driver, "log_state", None)
    return shown() if shown is not None else driver.state()


def _log_hidden(driver: Driver) -> tuple[str, ...]:
    """The variables a driver leaves out of its node's NDJSON records for now (its optional
    `log_hidden()`: a variable it holds but the spec's does not match at this point of the run)."""
    hidden = getattr(driver, "log_hidden", None)
    return tuple(hidden()) if hidden is not None else ()


@attrs.frozen
class Ghost:
    """A spec variable no node holds (Raft.tla's `committed`), kept by the plugin from the nodes'
    states after every step: `update(history, node_id, states)` returns the new value."""

    name: str
    init: Value
    update: Callable[[Value, str, Mapping[str, Mapping[str, Value]]], Value]


class AdapterPlugin:
    """The simulator plug-in of an adapted implementation: nodes are `AdaptedNode`s over the
    adapter's `Driver`s; the refinement mapping is the drivers' `state()` per variable (a variable
    no driver exposes is left out: unknown), plus the ghosts; fault steps are named as Raft.tla
    names them (DropMessage, DuplicateMessage, Restart)."""

    # What the plug-in keeps of a node across its crashes, by design (dicts keyed by node id): the
    # Lamport clock of the run's log is the harness's, not the implementation's (a node's log
    # lines must keep increasing across its crashes for trace validation to merge the logs by
    # clock), and it stamps the node's messages. Restart equivalence (property_tests/restarts.py)
    # hands the fresh node it compares a restarted one with the same values.
    KEPT_ACROSS_CRASHES: ClassVar[tuple[str, ...]] = ("clocks",)

    def __init__(
        self,
        name: str,
        make_driver: Callable[[str], Driver],
        message_record: Callable[[Any], Value],
        *,
        variables: tuple[str, ...],
        ghosts: tuple[Ghost, ...] = (),
        log: NdjsonLog | None = None,
        actions: Mapping[str, Sequence[str]] | None = None,
        spec: str = "the spec",
        node_params: tuple[str, ...] = ("i", "j"),
        log_view: Callable[[str, Value], Value] | None = None,
        restart_action: str = "Restart",
        defaults: Mapping[str, Value] | None = None,
    ) -> None:
        """`variables`: the spec's variables the refinement maps (a `state()` naming another is
        an AdapterError); `actions`: the spec's actions and their parameters (the descriptor's
        action table), against which every SpecStep is checked when given; `node_params`: the
        parameters whose value is a node; `spec` names the spec in messages; `restart_action`:
        the spec's action a crash and restart is in the NDJSON log (Raft.tla's Restart, or a
        variant's, as RaftEtcd.tla's RestartKeepingCommit); `defaults`: the value of a variable
        every node holds when no node's `state()` gives it (Raft.tla's snapshotIndex and
        snapshotTerm, 0 in an implementation without log compaction)."""
        self.defaults = dict(defaults or {})
        self.name = name
        # How a parameter or a variable is written to the NDJSON log, by its name: the identity, or
        # the adapter's map of the implementation's values into the validation model's (PySyncObj's
        # client commands into Raft.tla's finite Value set)
        self.log_view = log_view
        self.restart_action = restart_action
        self.spec_variables = variables
        # the variables a trace lists: every one the mapping may give, then, once a state was
        # mapped, those it gave (every node's state() has them, the defaults, the ghosts)
        self.variables = variables
        self.actions = actions
        self.spec = spec
        self.node_params = node_params
        self.nodes: set[str] = set()
        self._known = frozenset(variables)
        self._recording: str = "?"  # the node whose step is being recorded (message_record)
        self._make = make_driver
        self._record = message_record
        self.ghosts = ghosts
        self.ghost_values: dict[str, Value] = {g.name: g.init for g in ghosts}
        self.log = log
        self.clocks: dict[str, int] = {}  # node -> Lamport clock, kept across its crashes
        # node -> the log records of its step in progress, written once the simulator has
        # carried the step out (`after_step`); a crash before its durable writes drops them
        self.pending: dict[str, list[tuple[int, str, FrozenDict, dict[str, Any]]]] = {}

    def new_node(self, node_id: str, rng: random.Random) -> AdaptedNode:
        self.nodes.add(node_id)
        driver = self._make(node_id)
        kind = AdaptedMachine if isinstance(driver, _HasAppliedState) else AdaptedNode
        return kind(node_id, driver, self, rng)

    # the adapter's input checked against the spec's vocabulary (AdapterError at the first step)

    def check_state(self, node: str, state: Mapping[str, Value]) -> None:
        if state.keys() <= self._known:
            return
        bad = sorted(k for k in state if k not in self._known)[0]
        raise AdapterError(
            self.name,
            node,
            f"state().{bad}",
            f"{self.spec} has no variable {bad!r} (its variables: "
            f"{', '.join(self.spec_variables)})",
        )

    def check_step(self, node: str, done: Collected) -> None:
        for k, (dest, _) in enumerate(done.sends):
            if dest not in self.nodes:
                raise AdapterError(
                    self.name, node, f"sends[{k}]", f"to {dest!r}, {self._not_a_node()}"
                )
        actions = self.actions
        for spec in done.steps:
            if not spec.in_spec:
                continue
            if actions is not None and spec.name not in actions:
                raise AdapterError(
                    self.name,
                    node,
                    "SpecStep.name",
                    f"{spec.name!r} is not an action of {self.spec} "
                    f"(its actions: {', '.join(actions)})",
                )
            formals = actions[spec.name] if actions is not None else ()
            for param, value in spec.params.items():
                if actions is not None and param != "m" and param not in formals:
                    takes = ", ".join(formals) or "no parameters"
                    raise AdapterError(
                        self.name,
                        node,
                        f"{spec.name}.params.{param}",
                        f"{spec.name} of {self.spec} takes {takes} (and m, the message)",
                    )
                if param in self.node_params and value not in self.nodes:
                    raise AdapterError(
                        self.name,
                        node,
                        f"{spec.name}.params.{param}",
                        f"{value!r}, {self._not_a_node()}",
                    )

    def _not_a_node(self) -> str:
        return f"which is not a node of the model ({', '.join(sorted(self.nodes))})"

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        return [
            Segment(a.name if a else None, a.params if a else FrozenDict(), tuple(e))
            for a, e in split_actions(effects)
        ]

    def message_record(self, message: Any) -> Value:
        body = message.body if isinstance(message, Stamped) else message
        try:
            return frozen(self._record(body))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            shown = repr(body)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise AdapterError(
                self.name,
                self._recording,
                "message_record",
                f"cannot map the message {shown} ({type(exc).__name__}: {exc})",
            ) from None

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, AdaptedNode]) -> None:
        self._recording = node_id
        if self.log is not None:
            pending = self.pending.pop(node_id, [])
            if isinstance(event, Restart):
                # a crash before the step's durable writes: the step never happened, its records
                # go (the simulator writes it as Restart, then the message dropped)
                self.clocks[node_id] = self.clocks.get(node_id, 0) + 1
                driver = nodes[node_id].driver
                hidden = _log_hidden(driver)
                shown = _log_state(driver)
                state = self._view({k: v for k, v in shown.items() if k not in hidden})
                self.log.write(
                    node_id, self.clocks[node_id], self.restart_action, {"i": node_id}, state
                )
            else:
                for clock, name, params, state in pending:
                    self.log.write(node_id, clock, name, self._view(params), self._view(state))
        if self.ghosts:
            states = {i: n.state() for i, n in nodes.items()}
            for g in self.ghosts:
                self.ghost_values[g.name] = g.update(self.ghost_values[g.name], node_id, states)

    def _view(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        view = self.log_view
        if view is None:
            return values
        return {k: view(k, v) for k, v in values.items()}

    def abstract_state(
        self, nodes: Mapping[str, AdaptedNode], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        servers = sorted(nodes)
        states = {i: nodes[i].state() for i in servers}
        out: dict[str, Value] = {"messages": messages if messages else ()}
        for v in self.spec_variables:
            if v in self.ghost_values or v == "messages":
                continue
            if all(v in states[i] for i in servers):
                out[v] = FrozenDict({i: states[i][v] for i in servers})
            elif v in self.defaults and not any(v in states[i] for i in servers):
                out[v] = FrozenDict({i: self.defaults[v] for i in servers})
        out.update(self.ghost_values)
        self.variables = tuple(out)
        return FrozenDict(out)

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        if kind == "restart":
            return "Restart", FrozenDict({"i": subject})
        name = {"drop": "DropMessage", "duplicate": "DuplicateMessage"}[kind]
        return name, FrozenDict({"m": subject})


def raft_committed(
    history: Value, node_id: str, states: Mapping[str, Mapping[str, Value]]
) -> Value:
    """Raft.tla's `committed` (every entry ever committed, with the term it was committed in),
    extended as the spec's ExtendCommitted does from the node that stepped: its log up to its
    commitIndex, past what is already recorded. Needs `log`, `commitIndex`, `currentTerm`."""
    s = states[node_id]
    log, commit = s.get("log"), s.get("commitIndex")
    if log is None or not isinstance(commit, int):
        return history
    have = len(history)
    upto = min(commit, len(log))
    if upto <= have:
        return history
    term = s.get("currentTerm", 0)
    extra = tuple(FrozenDict({"entry": log[k], "term": term}) for k in range(have, upto))
    return (*history, *extra)


def open_log(folder: Path, run: str) -> tuple[NdjsonLog, IO[str]]:
    """A log of run `run` written to folder/<run>.ndjson (the caller closes the file)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = (folder / f"{run}.ndjson").open("w", encoding="utf-8")
    return NdjsonLog(run, out), out

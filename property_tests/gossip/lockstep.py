"""Lockstep of impl/gossip against specs/Gossip.tla: TLC says what may happen next, Hypothesis picks
it, the implementation must follow (the machine's skeleton is property_tests/lockstep.py, the
`Follower`'s bookkeeping property_tests/harness.py).

One rule per spec action, enabled when TLC's Stepper finds a successor by it under
models/Lockstep.cfg (three nodes, seeds n1 and n2, two keys, two values). The `Driver` makes the
simulated cluster (impl/gossip/simulation.py, fanout 1, no faults of its own, its scheduler never
run) take the step:

    Update(i, k, v)              a client write (k, v) at i
    Push(i, j), Pull(i, j)       a gossip round of i with its peer choice forced to j (`Round`)
    HandlePush(i, j), HandlePull(i, j), LoseMessage, DuplicateMessage
                                 the message the spec's step takes (the bag's change says which)
                                 delivered, lost or duplicated
    Crash(i), Restart(i)         crash, recover
    Partition, Heal              the network split as the spec's `cut` says, healed
    Join(i), Leave(i)            `JoinVia(n1)`, `LeaveCluster()`

One event of the implementation may be several spec steps, and not always the one drawn: a round
toward j is a Push(i, j) of the entries changed since its last round (the spec's Push sends any
non-empty subset; TLC's successor that matches the implementation's message is the one kept), or
none when nothing changed, and then a Pull(i, j); a HandlePull may pull back; a Restart and a Join
pull at once. Every spec step the implementation records (the simulator's trace) must be a
successor of the spec state before it by the action it names, equal variable for variable (the
refinement mapping, impl/gossip/refinement.py, all nine variables); the path goes on from where
the implementation got. A step past the model's MaxInFlight (a round's push and pull, a pull back,
with the bag nearly full) leaves the model, not the protocol: that example is discarded.

After every step, each live member has its gossip timer pending: a member that would never gossip
again is a divergence too (the spec's Push and Pull stay enabled for it).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from typing import Any

from hypothesis import reject

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.gossip.messages import JoinVia
from meshcheck.impl.gossip.messages import LeaveCluster
from meshcheck.impl.gossip.messages import Round
from meshcheck.impl.gossip.node import GOSSIP as ROUND_TIMER
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.gossip.refinement import Budget
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import harness
from meshcheck.property_tests.harness import PathMismatch
from meshcheck.property_tests.lockstep import differences
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Transition

BAGS = ("msgs",)


@functools.cache
def lockstep_model() -> Mapping[str, Any]:
    """The lockstep model's constants."""
    return dict(read_cfg(GOSSIP.config_path).values())


def bag(state: Mapping[str, Value]) -> Counter[Value]:
    msgs = state["msgs"]
    return Counter(dict(msgs)) if isinstance(msgs, Mapping) else Counter()


def bag_change(
    before: Mapping[str, Value], after: Mapping[str, Value]
) -> tuple[list[Any], list[Any]]:
    """(the records a step took from the bag, those it added), with repeats."""
    old, new = bag(before), bag(after)
    return list((old - new).elements()), list((new - old).elements())


def brief(record: Value) -> str:
    """A message in a few words: `push n1->n2 {k1: 1 n1 v1}`, `pull n3->n1 {k1: 1 n1 v1}`."""
    if not isinstance(record, FrozenDict):
        return format_value(record)
    body = record.get("entries", record.get("digest", ()))
    shown = {
        k: (" ".join(map(str, v.values())) if isinstance(v, Mapping) else " ".join(map(str, v)))
        for k, v in (body.items() if isinstance(body, Mapping) else ())
    }
    inner = ", ".join(f"{k}: {v}" for k, v in shown.items())
    return f"{record['type']} {record['from']}->{record['to']} {{{inner}}}"


def describe(t: Transition, before: State) -> str:
    """The step as one line: the action instance and the message it took or sent."""
    gone, added = bag_change(before.values, t.state.values)
    shown = gone if t.action.name.startswith("Handle") or t.action.name == "LoseMessage" else added
    return f"{t.action.label()} {brief(shown[0]) if shown else ''}".rstrip()


def signature(action: ActionInstance, before: State, after: State) -> tuple[Any, ...]:
    """A step's signature for shrinking: its action instance and the messages it took and added
    (the spec's handlers, LoseMessage and DuplicateMessage choose their message inside the action,
    and a Push its entries)."""
    gone, added = bag_change(before.values, after.values)
    return action, tuple(sorted(map(repr, gone))), tuple(sorted(map(repr, added)))


class Driver:
    """The simulated cluster of the model's nodes, made to take spec steps one event at a time."""

    def __init__(self, init: Mapping[str, Any], bugs: frozenset[str]) -> None:
        nodes = sorted(str(i) for i in init["entries"])
        seeds = sorted(str(i) for i in init["alive"])
        keys = sorted(str(k) for k in next(iter(init["entries"].values())))
        self.seeds = seeds
        self.sim: Simulator[GossipNode] = gossip_cluster(
            seeds,
            spares=[i for i in nodes if i not in seeds],
            keys=keys,
            fanout=1,
            bugs=bugs,
            history=False,
            budget=Budget(**init["budget"]),
        )
        self.requests = 0

    def state(self) -> FrozenDict:
        return self.sim.abstract_state()

    def envelope(self, record: Value) -> int:
        found = self.sim.find(record)
        if not found:
            raise PathMismatch(f"no message {brief(record)} in flight")
        return found[0].id

    def take(self, name: str, params: Mapping[str, Any], before: Any, after: Any) -> None:
        sim = self.sim
        i = str(params.get("i", ""))
        gone, added = bag_change(before, after)
        if name == "Update":
            self.requests += 1
            sim.inject(i, ClientRequest((params["k"], params["v"]), self.requests))
        elif name in ("Push", "Pull"):
            sim.inject(i, Round((str(params["j"]),)))
        elif name in ("HandlePush", "HandlePull"):
            sim.deliver(self.envelope(gone[0]))
        elif name == "LoseMessage":
            sim.drop(self.envelope(gone[0]))
        elif name == "DuplicateMessage":
            sim.duplicate(self.envelope(added[0]))
        elif name == "Crash":
            sim.crash(i)
        elif name == "Restart":
            sim.recover(i)
        elif name == "Partition":
            side = sorted(str(n) for n in after["cut"])
            sim.partition([[n for n in sim.node_ids if n not in side], side])
        elif name == "Heal":
            sim.heal()
        elif name == "Join":
            sim.inject(i, JoinVia(self.seeds[0]))
        elif name == "Leave":
            sim.inject(i, LeaveCluster())
        else:
            raise PathMismatch(f"no way to make the implementation take {name}")

    def silent(self, alive: Value | None = None) -> list[str]:
        """The live members without a pending gossip timer: they would never gossip again.
        `alive`: the members alive now, when the caller knows them (the spec's state the
        implementation was just checked to be in), else read off the implementation."""
        sim = self.sim
        if alive is None:
            alive = sim.abstract_state()["alive"]
        return [i for i in sorted(alive) if not sim.timer_pending(i, ROUND_TIMER)]


def beyond_in_flight(before: Mapping[str, Any], step: Step) -> bool:
    """Whether a Push or Pull was sent with the bag at the model's MaxInFlight already."""
    full = sum(bag(before).values()) >= int(lockstep_model()["MaxInFlight"])
    return step.action in ("Push", "Pull") and full


class Follower(harness.Follower):
    """The implementation following a spec path, checked after every step (see the module).

    With `replay` (the path is given in advance) the spec steps the implementation takes on its own
    within one event are expected next in it."""

    def start(self, init: State) -> Driver:
        return Driver(init.values, self.bugs)

    def describe(self, t: Transition, before: State) -> str:
        return describe(t, before)

    def compare(self, label: harness.Label, want: FrozenDict, got: FrozenDict) -> None:
        if got != want:
            problem = f"after {label} the implementation is not in the spec's state:"
            self.fail([problem, *differences(want, got, bags=BAGS)])

    def take(self, t: Transition) -> harness.Label:
        early = self.taken_early(t)
        if early is not None:
            return early
        label = self.label(t)
        sim = self.driver.sim
        start = sim.trace_length()
        try:
            self.driver.take(t.action.name, t.action.params, self.state.values, t.state.values)
        except PathMismatch:
            raise
        except Exception as exc:  # the implementation could not take a spec step: a bug too
            self.path.append(Step(t.state.values, t.action.name, t.action.params))
            self.fail([f"the implementation failed to take {label}: {type(exc).__name__}: {exc}"])
        taken = sim.trace().steps[start:]
        if not taken:
            self.path.append(Step(t.state.values, t.action.name, t.action.params))
            self.fail([f"the implementation did not take {label}: nothing the spec sees changed"])
        stepper = self.target.stepper()
        state = self.state
        for k, step in enumerate(taken):
            action = ActionInstance(step.action, step.params)
            found = [s for s in self.target.successors.by(state, action) if s.values == step.state]
            if not found and not self.replay and beyond_in_flight(state.values, step):
                reject()  # the example left the model (its MaxInFlight), not the protocol
            if not found:
                self.path.append(Step(step.state, action.name, action.params))
                near = t.state.values if k == 0 and action == t.action else state.values
                self.fail(
                    [
                        f"where the spec took {label}, the implementation took {step.label()}"
                        + ("" if k == 0 else f" (its step {k + 1} of the event)")
                        + ", which the spec does not allow there"
                        + ("" if action in stepper.actions else " (no such action instance)")
                        + (":" if near is t.state.values else "; what it changed:"),
                        *differences(near, step.state, bags=BAGS),
                    ]
                )
            state = found[0]
            self.path.append(Step(state.values, action.name, action.params))
            if self.replay and k > 0:
                self.ahead.append(Transition(action, state))
        if self.replay and (taken[0].action, taken[0].params) != (t.action.name, t.action.params):
            raise PathMismatch(f"the implementation took {taken[0].label()} for {label}")
        self.state = state
        self.after(t, label)
        return label

    def after(self, t: Transition, label: harness.Label) -> None:
        silent = self.driver.silent(self.state["alive"])
        if silent:
            self.fail(
                [
                    f"after {label} {', '.join(silent)} is a live member with no gossip round "
                    "pending: it would never push or pull again"
                ]
            )


GOSSIP = harness.LockstepSpec(
    "gossip", "Gossip", "Lockstep.cfg", Follower, signature, machine="GossipLockstep"
)
successors = GOSSIP.successors
lockstep = GOSSIP.lockstep  # the check: CheckFailed on a divergence

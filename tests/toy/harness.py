"""The toy's glue to the shared harness (property_tests/harness.py): a driver that makes the
simulated transaction take a spec step, the `Follower`, the lockstep spec, the `Harness`, and the
checks `meshcheck mutants twophase` runs. Lockstep, stored-trace replay and shrinking are the
harness's, the same code Raft goes through; only how a step is forced is the toy's.

The `Follower` checks both ways after every step, as Raft's does for reads: the cluster's state must
be the spec's (refinement), and every spec action a node would take next on its own (a timer of its
firing, a message in flight arriving) must be one the spec enables here. The second half is what
kills both mutants: each is an action the implementation may take where the spec may not.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from typing import Any

from hypothesis import settings as Settings

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.property_tests import harness
from meshcheck.property_tests.checks import Check
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Transition
from tests.toy.core import ABORT
from tests.toy.core import COMMIT
from tests.toy.core import PREPARE
from tests.toy.core import TM
from tests.toy.core import Abort
from tests.toy.core import Commit
from tests.toy.core import Coordinator
from tests.toy.core import Prepared
from tests.toy.simulation import Node
from tests.toy.simulation import cluster

# spec action -> (the node it happens at, the timer that forces it); the others are deliveries
TIMERS = {"TMCommit": COMMIT, "TMAbort": ABORT, "RMPrepare": PREPARE, "RMChooseToAbort": ABORT}
DELIVERIES = {"TMRcvPrepared": "Prepared", "RMRcvCommitMsg": "Commit", "RMRcvAbortMsg": "Abort"}


class Driver:
    """A simulated transaction that takes the spec's steps; nothing runs on its own."""

    def __init__(self, rms: list[str], bugs: frozenset[str]) -> None:
        self.sim: Simulator[Node] = cluster(rms, bugs=bugs)

    def state(self) -> FrozenDict:
        return self.sim.abstract_state()

    def take(self, action: str, params: Mapping[str, Value]) -> None:
        r = str(params.get("r", ""))
        if action in TIMERS:
            self.sim.fire(TM if action.startswith("TM") else r, TIMERS[action])
        elif action in DELIVERIES:
            dest, message = (TM, Prepared(r)) if action == "TMRcvPrepared" else (r, None)
            kind = DELIVERIES[action]
            found = [
                e
                for e in self.sim.in_flight()
                if e.dest == dest
                and type(e.message).__name__ == kind
                and (message is None or e.message == message)
            ]
            if found:
                self.sim.deliver(found[0].id)
            else:  # the spec's msgs only grows: a message may arrive again after it was received
                again = message or (Commit() if kind == "Commit" else Abort())
                self.sim.inject(dest, Deliver(r if dest == TM else TM, again))
        else:
            raise ValueError(f"the toy's driver does not know the spec action {action}")

    def would_take(self) -> list[tuple[str, ActionInstance]]:
        """(node, spec action) for every action a node would report on its own next: each of its
        timers firing, each message in flight to it arriving (on copies: the run is unchanged)."""
        found = []
        for node_id, node in self.sim.nodes.items():
            timers = (COMMIT, ABORT) if isinstance(node, Coordinator) else (PREPARE, ABORT)
            events: list[Any] = [Tick(t) for t in timers]
            events += [
                Deliver(e.source, e.message) for e in self.sim.in_flight() if e.dest == node_id
            ]
            for event in events:
                for effect in copy.deepcopy(node).step(event):
                    if isinstance(effect, Action):
                        found.append((node_id, ActionInstance(effect.name, effect.params)))
        return found


class Follower(harness.Follower):
    def start(self, init: State) -> Driver:
        return Driver(sorted(str(r) for r in init.values["rmState"]), self.bugs)

    def drive(self, t: Transition) -> None:
        self.driver.take(t.action.name, t.action.params)

    def after(self, t: Transition, label: harness.Label) -> None:
        enabled = {s.action for s in self.target.successors(t.state)}
        for node, action in self.driver.would_take():
            if action not in enabled:
                self.fail(
                    [
                        f"after {label} {node} would take {action.label()}, which the spec does not allow here"
                    ]
                )


TWOPHASE = harness.LockstepSpec(
    "twophase", "TwoPhase", "Lockstep.cfg", Follower, package="tests.toy"
)
HARNESS = harness.Harness("twophase", (TWOPHASE,), traces="tests.toy.traces")


def lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    harness.lockstep(TWOPHASE, bugs, settings, fired=fired)


CHECKS: tuple[Check, ...] = (
    Check(
        "lockstep",
        lockstep,
        "TLC picks each step, the toy takes it, both ways checked",
        HARNESS.minimize,
    ),
    Check(
        "stored traces", HARNESS.stored_traces, "the tests/toy/traces/twophase/ corpus on the toy"
    ),
)

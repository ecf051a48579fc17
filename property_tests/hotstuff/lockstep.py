"""Lockstep of impl/hotstuff against specs/HotStuff.tla, every replica honest: TLC says what may
happen next (models/Lockstep.cfg), Hypothesis picks it, the simulated group must take it, and its
refinement mapping must then equal TLC's successor state (property_tests/harness.py; the toy's
tests/toy/harness.py is the same shape).

How a spec step is forced (`Driver.take`); nothing runs on its own, no timer fires unasked:

- `Propose(i, v)`: fire i's propose timer (the leader's step after its QC, or at boot);
- `Timeout(i)`: fire i's view timer;
- `Vote(i, b)`: deliver b's proposal to i (again, if it was delivered before: the spec's msgs only
  grows);
- `FormQC(i, b)`: deliver votes for b to i until it holds 2f+1;
- `NewView(i, v)`: deliver NEW-VIEWs for v to i, the one carrying the successor's highQC first and
  none carrying a higher QC, until it holds 2f+1.

Between, the block fetching the replica starts (a proposal, vote or NEW-VIEW naming a block it does
not hold) is pumped to its end: requests and responses are no spec steps.

The Byzantine puppet (a Byzantine replica the driver makes send exactly what a spec step uses) is
not here: HotStuff.tla's Byzantine replicas are the sets its Sent* predicates admit, and driving a
faulty replica to send them is a later piece of work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from hypothesis import settings as Settings

from meshcheck.impl.base.effects import Effect, Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.hotstuff.messages import (
    BlockRequest,
    BlockResponse,
    NewView,
    Proposal,
    Vote,
)
from meshcheck.impl.hotstuff.replica import PROPOSE_TIMER, VIEW_TIMER, Replica
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin, hotstuff_cluster
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.property_tests import harness
from meshcheck.specs.tlc.stepper import State, Transition


class Driver:
    """A simulated group of honest replicas that takes the spec's steps."""

    def __init__(self, n: int, bugs: frozenset[str]) -> None:
        # no view synchronisation: a NEW-VIEW goes to its view's leader alone, whom the driver
        # hands it in NewView (impl/hotstuff/replica.py, HotStuffConfig.view_sync)
        self.sim: Simulator[Any] = hotstuff_cluster(
            n, bugs=bugs, record=True, latency=(1, 1), view_sync=False
        )
        self.plugin: HotStuffPlugin = self.sim.plugin  # type: ignore[assignment]
        self.sent: list[tuple[str, str, Any]] = []  # (sender, dest, message) of every send
        self.plugin.observers.append(self._saw)

    def _saw(self, replica: Replica, event: Any, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Send):
                self.sent.append((replica.id, e.dest, e.message))

    def state(self) -> FrozenDict:
        return self.sim.abstract_state()

    def chain(self, h: bytes) -> Value:
        return self.plugin.chains.chain(h)

    def _deliver(self, source: str, dest: str, message: Any) -> None:
        """Deliver `message` now: its envelope in flight if there is one, else a copy."""
        for e in self.sim.in_flight():
            if e.dest == dest and e.source == source and e.message == message:
                self.sim.deliver(e.id)
                break
        else:
            self.sim.inject(dest, Deliver(source, message))
        self._pump()

    def _pump(self) -> None:
        """Deliver block requests and responses until none is in flight (no spec steps)."""
        for _ in range(100):
            fetching = [
                e
                for e in self.sim.in_flight()
                if isinstance(e.message, BlockRequest | BlockResponse)
            ]
            if not fetching:
                return
            self.sim.deliver(fetching[0].id)

    def take(self, action: str, params: Mapping[str, Value]) -> None:
        i = str(params["i"])
        replica = self.plugin.replica(i)
        if action == "Propose":
            self.sim.fire(i, PROPOSE_TIMER)
        elif action == "Timeout":
            self.sim.fire(i, VIEW_TIMER)
        elif action == "Vote":
            b = params["b"]
            source, message = next(
                (s, m)
                for s, _, m in self.sent
                if isinstance(m, Proposal) and self.chain(m.block.hash) == b
            )
            self._deliver(source, i, message)
        elif action == "FormQC":
            b = params["b"]
            votes = {
                (s, m)
                for s, d, m in self.sent
                if d == i and isinstance(m, Vote) and self.chain(m.block) == b
            }
            for source, vote in sorted(votes, key=lambda sv: sv[0]):
                if self._formed(replica, b):
                    break
                self._deliver(source, i, vote)
        elif action == "NewView":
            self._new_view(i, int(params["v"]))
        else:
            raise ValueError(f"the HotStuff driver does not know the spec action {action}")

    def _formed(self, replica: Replica, b: Value) -> bool:
        return bool(self.chain(self.plugin.replica(replica.id).high_qc.block) == b)

    def _new_view(self, i: str, v: int) -> None:
        """Deliver NEW-VIEWs for v, the one with the target QC first, none above it."""
        target = self._target
        found = {
            (s, m) for s, d, m in self.sent if d == i and isinstance(m, NewView) and m.view == v
        }
        usable = [(s, m) for s, m in found if len(self.chain(m.qc.block)) <= len(target)]
        usable.sort(key=lambda sm: (self.chain(sm[1].qc.block) != target, sm[0]))
        for source, message in usable:
            if v in self.plugin.replica(i).proposed:
                break
            self._deliver(source, i, message)

    _target: Value = ()


class Follower(harness.Follower):
    def start(self, init: State) -> Driver:
        return Driver(len(init.values["view"]), self.bugs)

    def drive(self, t: Transition) -> None:
        driver: Driver = self.driver
        if t.action.name == "NewView":
            driver._target = t.state.values["highQC"][t.action.params["i"]]
        driver.take(t.action.name, t.action.params)


HOTSTUFF = harness.LockstepSpec("hotstuff", "HotStuff", "Lockstep.cfg", Follower)


def lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    """The check: TLC picks each step, the group takes it, states compared after every step."""
    harness.lockstep(HOTSTUFF, bugs, settings, fired=fired)

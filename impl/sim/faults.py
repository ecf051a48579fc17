"""The fault injector: it decides which messages are dropped, duplicated or delayed, and in each chaos
round whether a node crashes and whether the network is partitioned. It only decides; the simulator
carries the decisions out (impl/sim/simulator.py).

Every decision is drawn from the run's one random generator, in a fixed order, and a draw is made
only for a rate above 0: the same seed and settings give the same decisions. The settings in force
are those of the current phase (`SimConfig.faults` as `Phases`; one `Faults` is one phase), switched
by `enter`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import MessageFaults


@attrs.frozen
class CrashPlan:
    """A chaos crash: `victim` crashes during its next step, and stays down `down_for` ticks."""

    victim: str
    down_for: int


@attrs.frozen
class PartitionPlan:
    """A chaos partition: `side_a` from `side_b` (both ways, or only a -> b when `one_way`), healed
    after `heal_after` ticks."""

    side_a: tuple[str, ...]
    side_b: tuple[str, ...]
    one_way: bool
    heal_after: int


class FaultInjector:
    """The decisions of the faults in force (`faults`, the current phase's)."""

    def __init__(self, rng: random.Random, node_ids: Sequence[str], faults: Faults) -> None:
        self._rng = rng
        self._node_ids = tuple(node_ids)
        self.faults = faults
        self.max_down = self._max_down(faults)

    def enter(self, faults: Faults) -> None:
        """A new phase's settings are in force from now on."""
        self.faults = faults
        self.max_down = self._max_down(faults)

    def _max_down(self, faults: Faults) -> int:
        # default: a minority, so the rest can progress
        return faults.max_down if faults.max_down is not None else (len(self._node_ids) - 1) // 2

    def active(self, now: int) -> bool:
        return self.faults.active(now)

    # -- message faults -----------------------------------------------------------------------------

    def _rules(self, source: str, dest: str, message: Any) -> list[MessageFaults]:
        return [r for r in self.faults.messages if r.matches(source, dest, message)]

    def _rule_strikes(self, rate: str, source: str, dest: str, message: Any) -> bool:
        for rule in self._rules(source, dest, message):
            p: float = getattr(rule, rate)
            if p and self._rng.random() < p:
                return True
        return False

    def _strikes(self, rate: str, source: str, dest: str, message: Any, now: int) -> bool:
        """Whether the fault whose rate is named `rate` befalls a message due now: the global rate
        first, then each matching rule's."""
        faults = self.faults
        if not faults.active(now):
            return False
        p: float = getattr(faults, rate)
        if p and self._rng.random() < p:
            return True
        return bool(faults.messages) and self._rule_strikes(rate, source, dest, message)

    def drops(self, source: str, dest: str, message: Any, now: int) -> bool:
        """A message is due: is it lost?"""
        return self._strikes("drop", source, dest, message, now)

    def duplicates(self, source: str, dest: str, message: Any, now: int) -> bool:
        """A message is due and not lost: is it delivered twice?"""
        return self._strikes("duplicate", source, dest, message, now)

    def delay(self, source: str, dest: str, message: Any, now: int) -> int:
        """A message is sent: the extra ticks it is held back (0: none)."""
        faults = self.faults
        if faults.delay and faults.active(now) and self._rng.random() < faults.delay:
            return self._rng.randint(*faults.delay_ticks)
        if faults.messages and faults.active(now):
            for rule in self._rules(source, dest, message):
                if rule.delay and self._rng.random() < rule.delay:
                    return self._rng.randint(*rule.delay_ticks)
        return 0

    # -- chaos rounds -------------------------------------------------------------------------------

    def crash(self, up: Sequence[str]) -> CrashPlan | None:
        """This round's crash, if any: `up` are the nodes up with no crash armed."""
        faults = self.faults
        down = len(self._node_ids) - len(up)
        crashable = [i for i in up if i not in faults.spare]
        if (
            faults.crash
            and self._rng.random() < faults.crash
            and down < self.max_down
            and crashable
        ):
            victim = self._rng.choice(crashable)
            return CrashPlan(victim, self._rng.randint(*faults.down_ticks))
        return None

    def partition(self, partitioned: bool) -> PartitionPlan | None:
        """This round's partition, if any (none while one is in force)."""
        faults = self.faults
        if not faults.partition or partitioned or not self._rng.random() < faults.partition:
            return None
        nodes = list(self._node_ids)
        self._rng.shuffle(nodes)
        cut = self._rng.randint(1, len(nodes) - 1) if len(nodes) > 1 else 1
        side_a, side_b = sorted(nodes[:cut]), sorted(nodes[cut:])
        one_way = self._rng.random() < faults.one_way
        heal_after = self._rng.randint(*faults.partition_ticks)
        return PartitionPlan(tuple(side_a), tuple(side_b), one_way, heal_after)

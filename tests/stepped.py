"""One core stepped by hand outside any simulator, its durable store kept beside it: the step the
rule and core tests of Raft and PBFT take."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import without_actions
from meshcheck.impl.sim import check_effects
from meshcheck.impl.sim.storage import Durable


def step(node: Any, disk: Durable, event: Any) -> tuple[list[Effect], list[Effect]]:
    """`node` takes `event`: what it returned (with its `Action` reports) and the effects to carry
    out. The effects must hold at most one Persist, before every Send; what it persists is written
    to `disk`."""
    reported: list[Effect] = node.step(event)
    check_effects(node.id, reported)
    effects = without_actions(reported)
    for e in effects:
        if isinstance(e, Persist):
            disk.apply(e.writes)
    return reported, effects

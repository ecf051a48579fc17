"""The toy in the simulator (meshcheck.impl.sim): the plug-in, with the refinement map from the
cluster to TwoPhase.tla's variables, and a cluster builder.

The refinement map reads the nodes alone: `rmState` is each participant's state, `tmState` and
`tmPrepared` the coordinator's, and `msgs` (a set that only grows in the spec) the messages the
nodes have sent: a Prepared for every participant that voted, the coordinator's decision once made.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import split_actions
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.protocol import Segment
from meshcheck.impl.sim.simulator import Simulator
from tests.toy.core import TM
from tests.toy.core import Commit
from tests.toy.core import Coordinator
from tests.toy.core import Participant
from tests.toy.core import Prepared

VARIABLES: tuple[str, ...] = ("rmState", "tmState", "tmPrepared", "msgs")
Node = Coordinator | Participant


def message_record(message: Any) -> Value:
    """A message as the spec's record: [type |-> "Prepared", rm |-> r], [type |-> "Commit"], ..."""
    if isinstance(message, Prepared):
        return FrozenDict({"type": "Prepared", "rm": message.rm})
    return FrozenDict({"type": "Commit" if isinstance(message, Commit) else "Abort"})


def abstract_state(nodes: Mapping[str, Node]) -> FrozenDict:
    """The refinement map: the spec's variables from the nodes."""
    tm = nodes[TM]
    assert isinstance(tm, Coordinator)
    rms = {i: n for i, n in nodes.items() if isinstance(n, Participant)}
    msgs = {FrozenDict({"type": "Prepared", "rm": i}) for i, n in rms.items() if n.voted}
    if tm.state != "init":
        msgs.add(FrozenDict({"type": "Commit" if tm.state == "committed" else "Abort"}))
    return FrozenDict(
        {
            "rmState": FrozenDict({i: n.state for i, n in rms.items()}),
            "tmState": "init" if tm.state == "init" else "done",
            "tmPrepared": frozenset(tm.prepared),
            "msgs": frozenset(msgs),
        }
    )


class TwoPhasePlugin:
    """The toy's side of `Simulator`: timer durations drawn per node from the node's generator."""

    name = "twophase"
    variables: tuple[str, ...] = VARIABLES

    def __init__(self, rms: Sequence[str], bugs: frozenset[str] = frozenset()) -> None:
        self.rms = tuple(sorted(rms))
        self.bugs = bugs

    def new_node(self, node_id: str, rng: random.Random) -> Node:
        if node_id == TM:
            return Coordinator(self.rms, abort_after=rng.randint(50, 150), bugs=self.bugs)
        return Participant(
            node_id,
            prepare_after=rng.randint(5, 60),
            abort_after=rng.randint(40, 120),
            bugs=self.bugs,
        )

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        return [
            Segment(None if a is None else a.name, FrozenDict() if a is None else a.params, part)
            for a, part in split_actions(effects)
        ]

    def message_record(self, message: Any) -> Value:
        return message_record(message)

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, Node]) -> None:
        pass  # no ghost variables

    def abstract_state(
        self, nodes: Mapping[str, Node], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        return abstract_state(nodes)

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        raise ImplError(f"TwoPhase.tla has no {kind} step: run the toy without faults")


def cluster(
    rms: Sequence[str] = ("r1", "r2", "r3"), *, seed: int = 0, bugs: frozenset[str] = frozenset()
) -> Simulator[Node]:
    """A simulated transaction: the coordinator `tm` and participants `rms`, no faults."""
    plugin = TwoPhasePlugin(rms, bugs)
    return Simulator(plugin, (TM, *plugin.rms), SimConfig(seed=seed))

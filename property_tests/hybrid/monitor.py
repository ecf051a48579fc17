"""Hybrid.tla's invariants, checked on a simulated hybrid cluster after every step of a free run.

The monitor watches the simulator (`HybridPlugin.watchers`: called after every step) and checks the
node that just stepped, if it is honest (never Byzantine) and up, in Python on its concrete state.
What it remembers (a ghost, as the spec's `chain` is): for every epoch e, the protocol the first
honest machine that closed e at its switch entry gave epoch e+1, and the committed history that
machine held there.

- AgreedProtocolPerEpoch: the node records Raft for epoch 1 and, for every later epoch it entered,
  the protocol an honest machine's committed switch entry gave it; two honest machines that close
  one epoch agree on the next epoch's protocol and on the history carried over.
- NoCommittedOpLost: an epoch starts from the whole committed history of the epoch before (its
  start state's history is what the machine that closed the epoch before held); every op the client
  was told committed, at position p, is at position p of every honest history that long.
- NoOpCommittedTwice: no op twice in a history.
- ProtocolMatchesLevel: the node runs the protocol its level calls for, unless its machine has just
  applied the switch entry (it switches at the end of the same step, so never seen here).
- NeverBelowDemanded (ThreatLevel.tla): the level is at least what the evidence in the window
  demands, counted here, not by the threat state's own `counts`; DeescalationOneLevel: the level
  history drops one level at a time.
- LevelJustifiedByEvidence: the level is at most what all the evidence the node's threat state ever
  accepted demands (the window ignored: an upper bound), Critical only with an accepted
  equivocation, and every accepted self-proving record accuses a node that was Byzantine.

A violation raises `CheckFailed` (its `steps`: the steps the monitor saw).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import SELF_PROVING
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.levels import demanded
from meshcheck.impl.hybrid.levels import protocol
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import op_name
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.violated import INVARIANT
from meshcheck.violated import Violated


def demanded_by(records: Sequence[Evidence], th: Thresholds) -> Level:
    """levels.demanded of `records`, counted here (bad signatures and timing by reporter)."""
    counts = Counts(
        bad_signature=len({r.reporter for r in records if r.kind == BAD_SIGNATURE}),
        tampering=sum(1 for r in records if r.kind == TAMPERING),
        equivocation=sum(1 for r in records if r.kind == EQUIVOCATION),
        timing=len({r.reporter for r in records if r.kind == TIMING}),
    )
    return demanded(counts, th)


class Monitor:
    """Watches `hc`'s simulator (see the module doc)."""

    def __init__(self, hc: HybridConsensus, *, active: bool = True) -> None:
        self.hc = hc
        self.active = active  # inactive: counts steps only
        self.steps = 0
        self.agreed: dict[int, str] = {1: RAFT}
        self.carried: dict[int, tuple[tuple[str, int], ...]] = {}  # epoch -> history at its close
        # node -> what its level checks last passed on (`_level`): its threat state (a frozen
        # value, replaced whenever evidence or the replicated time changes), its level and the
        # nodes ever Byzantine
        self.level_passed: dict[str, tuple[ThreatModel, Level, frozenset[str]]] = {}
        hc.plugin.watchers.append(self)

    def fail(self, node: str, invariant: str, problem: str) -> None:
        raise CheckFailed(
            f"{invariant} violated at {node} after {self.steps} steps "
            f"(t={self.hc.sim.now}): {problem}",
            steps=self.steps,
            violated=Violated(INVARIANT, invariant),
        )

    def __call__(self, node_id: str, event: Any, nodes: Mapping[str, HybridNode]) -> None:
        self.steps += 1
        node = nodes[node_id]
        if not self.active or node_id in self.hc.byzantine:
            return
        if not node.started or not self.hc.sim.up[node_id]:
            return
        self._closes(node)
        self._agreed(node)
        self._history(node)
        self._level(node)

    def _closes(self, node: HybridNode) -> None:
        for epoch, instance in node.instances.items():
            closed = instance.machine.closed
            if closed is None:
                continue
            history = tuple(instance.machine.history)
            proto = self.agreed.setdefault(epoch + 1, closed.protocol)
            if proto != closed.protocol:
                self.fail(
                    node.id,
                    "AgreedProtocolPerEpoch",
                    f"epoch {epoch} closed with {closed.protocol} next, another honest node "
                    f"closed it with {proto}",
                )
            before = self.carried.setdefault(epoch, history)
            if before != history:
                self.fail(
                    node.id,
                    "NoCommittedOpLost",
                    f"epoch {epoch} closed with history {_names(history)}, another honest node "
                    f"closed it with {_names(before)}",
                )

    def _agreed(self, node: HybridNode) -> None:
        for epoch, proto in sorted(node.protocols.items()):
            want = self.agreed.get(epoch)
            if want != proto:
                said = f"says {want}" if want else "opened no such epoch"
                self.fail(
                    node.id,
                    "AgreedProtocolPerEpoch",
                    f"records {proto} for epoch {epoch}; the committed history {said}",
                )
        if node.protocols[node.epoch] != protocol(node.level) and node.machine.closed is None:
            self.fail(
                node.id,
                "ProtocolMatchesLevel",
                f"runs {node.protocols[node.epoch]} in epoch {node.epoch} at level "
                f"{node.level.title}",
            )

    def _history(self, node: HybridNode) -> None:
        history = node.machine.history
        if len(set(history)) != len(history):
            twice = sorted({op_name(k) for k in history if history.count(k) > 1})
            self.fail(node.id, "NoOpCommittedTwice", f"{', '.join(twice)} twice in its history")
        for epoch, instance in node.instances.items():
            carried = self.carried.get(epoch - 1)
            if carried is not None and instance.start.history != carried:
                self.fail(
                    node.id,
                    "NoCommittedOpLost",
                    f"epoch {epoch} starts from {_names(instance.start.history)}, epoch "
                    f"{epoch - 1} closed with {_names(carried)}",
                )
        for d in self.hc.decisions:
            if d.status == COMMITTED and d.position is not None and len(history) >= d.position:
                there = history[d.position - 1]
                if there != (d.client, d.seq):
                    self.fail(
                        node.id,
                        "NoCommittedOpLost",
                        f"{op_name((d.client, d.seq))} was committed at {d.position}, the "
                        f"history has {op_name(there)} there",
                    )

    def _level(self, node: HybridNode) -> None:
        """The level's invariants, which read only the node's threat state, its level and the
        nodes ever Byzantine: checked again only when one of those changed since they last held
        at this node (most steps change none of them, and a flood of evidence makes each check
        cost its whole record)."""
        threat = node.threat
        seen = (threat, node.level, frozenset(self.hc.byzantine))
        passed = self.level_passed.get(node.id)
        if passed is not None and passed[0] is threat and passed[1:] == seen[1:]:
            return
        self._check_level(node, threat)
        self.level_passed[node.id] = seen

    def _check_level(self, node: HybridNode, threat: ThreatModel) -> None:
        bound = demanded_by([a.record for a in threat.records], threat.th)
        if node.level > bound:
            self.fail(
                node.id,
                "LevelJustifiedByEvidence",
                f"level {node.level.title}, the evidence ever accepted demands {bound.title}",
            )
        need = demanded_by(threat.in_window(), threat.th)
        if node.level < need:
            self.fail(
                node.id,
                "NeverBelowDemanded",
                f"level {node.level.title}, the evidence in the window demands {need.title}",
            )
        for (_, old), (t, new) in itertools.pairwise(threat.history):
            if new < old - 1:
                self.fail(
                    node.id,
                    "DeescalationOneLevel",
                    f"dropped from {old.title} to {new.title} at replicated time {t}",
                )
        kinds = {a.record.kind for a in threat.records}
        if node.level == Level.CRITICAL and EQUIVOCATION not in kinds:
            self.fail(node.id, "LevelJustifiedByEvidence", "Critical without an equivocation")
        for a in threat.records:
            if a.record.kind in SELF_PROVING and a.record.accused not in self.hc.byzantine:
                self.fail(
                    node.id,
                    "LevelJustifiedByEvidence",
                    f"accepted {a.record.kind} evidence against {a.record.accused}, never Byzantine",
                )


def _names(history: tuple[tuple[str, int], ...] | list[tuple[str, int]]) -> str:
    return "[" + ", ".join(op_name(k) for k in history) + "]"

"""The refinement mapping: a hybrid cluster as a state of the contract's Hybrid.tla.

One small module on purpose: the spec's variable names and entry records may still change (the spec
is written at the same time), and this is the one place to align them.

- per honest node i: `epoch[i]`, `protocol[i]` (epoch -> "raft"/"bft"/"none", over 1..the highest
  epoch any node entered), `level[i]` (the level's title), `applied[i]` (entries of its current
  epoch's chain it applied), `history[i]` (the client ops it applied, in order, by name);
- shared: `chain[e]`, the entries epoch e's protocol committed, as the longest prefix any honest node
  applied (ghost: `Ghost.chain` remembers epochs the nodes no longer keep); `submitted`, the
  [op, epoch] proposals clients made; `outcome`, what each client learned.

Entries as records: `[type |-> "op", op |-> o, epoch |-> e]`, `[type |-> "evidence", kind |-> k]`,
`[type |-> "clock"]` (the spec abstracts clock entries to `quiet` ones: one quiet entry stands for the
clock entries that complete a quiet period), `[type |-> "noop"]` (Raft's no-op; the spec has none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from impl.rsm.ops import NOOP
from traces.values import FrozenDict, Value

from .entries import ClockEntry, EvidenceEntry, OpEntry, OpKey

VARIABLES: Final = (
    "epoch",
    "protocol",
    "level",
    "applied",
    "history",
    "chain",
    "submitted",
    "outcome",
)


def op_name(key: OpKey) -> str:
    client, seq = key
    return f"{client}/{seq}"


def entry_record(value: Any) -> Value:
    if isinstance(value, OpEntry):
        return FrozenDict({"type": "op", "op": op_name(value.op.key), "epoch": value.epoch})
    if isinstance(value, EvidenceEntry):
        return FrozenDict({"type": "evidence", "kind": value.record.kind})
    if isinstance(value, ClockEntry):
        return FrozenDict({"type": "clock"})
    if value == NOOP:
        return FrozenDict({"type": "noop"})
    return FrozenDict({"type": "other"})


class Ghost:
    """What no node holds: every epoch's longest applied chain, the proposals, the outcomes."""

    def __init__(self) -> None:
        self.chain: dict[int, tuple[Value, ...]] = {}
        self.submitted: set[tuple[str, int]] = set()
        self.outcome: dict[str, str] = {}

    def observe(self, nodes: Iterable[Any]) -> None:
        for node in nodes:
            for epoch, instance in getattr(node, "instances", {}).items():
                log = instance.machine.log
                if len(log) > len(self.chain.get(epoch, ())):
                    self.chain[epoch] = tuple(entry_record(v) for v in log)

    def submit(self, key: OpKey, epoch: int) -> None:
        self.submitted.add((op_name(key), epoch))
        self.outcome.setdefault(op_name(key), "pending")

    def decide(self, key: OpKey, outcome: str) -> None:
        if self.outcome.get(op_name(key)) != "committed":
            self.outcome[op_name(key)] = outcome


def abstract_state(nodes: Mapping[str, Any], honest: Iterable[str], ghost: Ghost) -> FrozenDict:
    good = {i: nodes[i] for i in sorted(honest) if getattr(nodes[i], "started", False)}
    ghost.observe(good.values())
    top = max((max(n.protocols) for n in good.values() if n.protocols), default=1)
    return FrozenDict(
        {
            "epoch": FrozenDict({i: n.epoch for i, n in good.items()}),
            "protocol": FrozenDict(
                {
                    i: FrozenDict({e: n.protocols.get(e, "none") for e in range(1, top + 1)})
                    for i, n in good.items()
                }
            ),
            "level": FrozenDict({i: n.level.title for i, n in good.items()}),
            "applied": FrozenDict({i: len(n.machine.log) for i, n in good.items()}),
            "history": FrozenDict(
                {i: tuple(op_name(k) for k in n.machine.history) for i, n in good.items()}
            ),
            "chain": FrozenDict(ghost.chain),
            "submitted": frozenset(FrozenDict({"op": o, "epoch": e}) for o, e in ghost.submitted),
            "outcome": FrozenDict(ghost.outcome),
        }
    )

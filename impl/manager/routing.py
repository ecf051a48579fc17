"""Operation types, the routing table, and what the manager answers.

The routing table (`ROUTES`) is the one place that says which layer takes which operation type:
critical operations (model updates, security decisions) go to PBFT, coordination to the hybrid
dispatcher (Raft while the threat level is None, Low or Medium; BFT at High and Critical), status
(metrics, health) to gossip. specs/Routing.tla is the same table (`Routes`) with the invariants
the answers must keep.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.manager import mutants


class OpType(enum.Enum):
    """What an operation is, and so which layer decides it."""

    CRITICAL = "critical"
    COORDINATION = "coordination"
    STATUS = "status"


class Layer(enum.Enum):
    PBFT = "pbft"
    HYBRID = "hybrid"  # the threat-level dispatcher: Raft or BFT by the epoch's protocol
    GOSSIP = "gossip"


class How(enum.Enum):
    """How an answer was reached."""

    BFT_QUORUM = "a BFT quorum"
    RAFT_MAJORITY = "a Raft majority"
    GOSSIPED = "gossiped, not agreed"
    NOT_DECIDED = "not decided"  # the hybrid dispatcher's epoch ended without it (rejected)


ROUTES: Mapping[OpType, Layer] = {
    OpType.CRITICAL: Layer.PBFT,
    OpType.COORDINATION: Layer.HYBRID,
    OpType.STATUS: Layer.GOSSIP,
}


class UnknownOperationType(ImplError):
    """An operation type the routing table does not have: refused, routed nowhere."""

    def __init__(self, given: object) -> None:
        self.given = given
        known = ", ".join(t.value for t in OpType)
        super().__init__(
            f"unknown operation type {given!r} (known types: {known}): refused, nothing was routed"
        )


class NoAnswer(ImplError):
    """A layer gave no answer within the manager's bound (under faults): the operation is still in
    that layer (its client keeps sending it), not lost; `Manager.pending` holds it."""


def op_type(given: OpType | str, bugs: frozenset[str] = frozenset()) -> OpType:
    """The operation type named by `given` (an OpType or its value); UnknownOperationType for any
    other."""
    if isinstance(given, OpType):
        return given
    for t in OpType:
        if given == t.value:
            return t
    if mutants.UNKNOWN_TO_GOSSIP in bugs:
        return OpType.STATUS
    raise UnknownOperationType(given)


def route(kind: OpType, level: str, bugs: frozenset[str] = frozenset()) -> Layer:
    """The layer that takes an operation of type `kind` (the threat level `level` is only read by
    the mutant: the correct table does not depend on it)."""
    if mutants.CRITICAL_TO_RAFT_AT_NONE in bugs and kind is OpType.CRITICAL and level == "None":
        return Layer.HYBRID
    return ROUTES[kind]


def status_agreed(bugs: frozenset[str] = frozenset()) -> bool:
    """Whether a status write's answer counts as agreement: never (the gossip node took it and
    agrees on nothing with anyone), but for the mutant."""
    return mutants.STATUS_COUNTED_COMMITTED in bugs


def hybrid_agreed(status: object, bugs: frozenset[str] = frozenset()) -> bool:
    """Whether the hybrid dispatcher's answer with `status` counts as agreement: only "committed"
    (a rejected operation's epoch ended without it: it took effect nowhere), but for the mutant,
    which takes any answer for agreement."""
    return status == COMMITTED or mutants.REJECTED_COUNTED_AS_AGREED in bugs


@attrs.frozen
class Answer:
    """What the manager tells the submitter of operation `id`: which layer took it and how it was
    decided (`how`), whether that is agreement (`agreed`), the result, and where (`detail`: the
    PBFT sequence number, the hybrid epoch and its protocol, the gossip node and version)."""

    id: int
    type: OpType
    layer: Layer
    how: How
    agreed: bool
    result: Value = None
    level: str = "None"  # the hybrid dispatcher's threat level when the operation was routed
    time: int = 0  # the manager's clock when answered
    detail: str = ""
    # where the layer holds it: PBFT (client, timestamp, sequence number); hybrid (client, seq,
    # epoch); gossip (node, key, version)
    where: tuple[Value, ...] = ()

    def __str__(self) -> str:
        said = "agreed" if self.agreed else "not agreed"
        return f"op {self.id} ({self.type.value}): {self.layer.value}, {self.how.value}, {said}"

"""The pieces of PBFT lockstep that the driver and its view-change search share: the model's
constants (`Model`, read from a .cfg of specs/PBFT.tla), the Byzantine puppet, message records in
the spec's shape, and the driver's error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.replica import Replica
from meshcheck.specs.tlc.cfg import read_cfg


class DriverError(Exception):
    """The implementation could not take the step the spec took."""


@attrs.frozen
class Model:
    """The constants of a PBFT model (a .cfg of specs/PBFT.tla) that the implementation shares."""

    n: int
    byzantine: frozenset[str]
    max_seq: int
    checkpoint_every: int
    window: int

    @classmethod
    def from_cfg(cls, path: Path) -> Model:
        c = read_cfg(path).values()
        return cls(
            n=c["N"],
            byzantine=frozenset(c["Byzantine"]),
            max_seq=c["MaxSeq"],
            checkpoint_every=c["CheckpointEvery"],
            window=c["Window"],
        )

    @property
    def replicas(self) -> tuple[str, ...]:
        return tuple(f"r{k}" for k in range(1, self.n + 1))

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    @property
    def quorum(self) -> int:
        return 2 * self.f + 1

    def primary(self, view: int) -> str:
        return f"r{view % self.n + 1}"

    def backups(self, view: int) -> list[str]:
        return [r for r in self.replicas if r != self.primary(view)]


class Puppet:
    """A Byzantine replica in lockstep: nothing reaches its core, it sends nothing of its own; the
    driver signs with its key what a step needs from it."""

    def __init__(self, core: Replica) -> None:
        self.core = core
        self.id = core.id
        self.clock = 0

    def step(self, event: Any) -> list[Effect]:
        return []

    def sign(self, body: Any) -> Signed[Any]:
        return self.core.sign(body)


def record(kind: str, **fields: Value) -> FrozenDict:
    """A message record of the spec, fields in the spec's order (`type` first)."""
    return FrozenDict({"type": kind, **fields})


def with_fields(rec: FrozenDict, **fields: Value) -> FrozenDict:
    """`rec` with `fields` replaced."""
    return FrozenDict({**rec, **fields})

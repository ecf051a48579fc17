"""A PBFT replica's configuration: the group, batching, checkpoints, timeouts, reputation, mutants."""

from __future__ import annotations

import functools

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.config import bug_set
from meshcheck.impl.base.config import check_bugs
from meshcheck.impl.base.config import ids
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.mutants import BUGS


@attrs.frozen
class PbftConfig:
    """`replicas` in primary order: the primary of view v is replicas[v % n] (OSDI 1999 section 4:
    p = v mod |R|), so with ids r1..rN it is r1 in view 0, r2 in view 1."""

    id: str
    replicas: tuple[str, ...] = attrs.field(converter=ids)
    clients: tuple[str, ...] = attrs.field(default=("c1",), converter=ids)
    batch_size: int = 1  # requests per pre-prepare (section 5.1: batching)
    batch_delay: int = 0  # ticks the primary waits for a batch to fill (0: send what it has)
    checkpoint_every: int = 10  # K: a checkpoint after every K-th sequence number (section 4.3)
    window: int = 20  # L: sequence numbers h < n <= h + L are accepted (the watermarks)
    view_change_timeout: int = 300  # ticks before a waiting backup suspects the primary
    view_change_timeout_cap: int = 4800  # the doubling (section 4.5.2) stops here
    retransmit_every: int | None = (
        150  # ticks between re-sends of what is in progress (None: never)
    )
    reputation_penalty: int = 25  # score lost per piece of evidence that proves nothing alone
    quarantine_below: int = 50  # a score below this (from 100) quarantines the replica
    quarantine: bool = True  # ignore replicas caught misbehaving
    bugs: frozenset[str] = attrs.field(default=frozenset(), converter=bug_set)

    def __attrs_post_init__(self) -> None:
        if len(set(self.replicas)) != len(self.replicas) or not self.replicas:
            raise ImplError(f"replicas must be distinct and not empty: {list(self.replicas)}")
        if self.id not in self.replicas and self.id not in self.clients:
            raise ImplError(f"{self.id} is not one of the replicas {list(self.replicas)}")
        if set(self.replicas) & set(self.clients):
            raise ImplError("a client id may not also be a replica id")
        if self.batch_size < 1 or self.batch_delay < 0:
            raise ImplError("batch_size must be at least 1 and batch_delay not negative")
        if self.checkpoint_every < 1 or self.window < self.checkpoint_every:
            raise ImplError(
                f"window ({self.window}) must hold at least one checkpoint interval "
                f"({self.checkpoint_every}), or no checkpoint ever becomes stable"
            )
        if not 1 <= self.view_change_timeout <= self.view_change_timeout_cap:
            raise ImplError("view_change_timeout must be at least 1 and at most its cap")
        if self.retransmit_every is not None and self.retransmit_every < 1:
            raise ImplError("retransmit_every must be at least 1 tick (or None)")
        check_bugs(self.bugs, BUGS, "PBFT")

    @functools.cached_property
    def n(self) -> int:
        return len(self.replicas)

    @functools.cached_property
    def f(self) -> int:
        """The faults tolerated: n >= 3f + 1 (section 3)."""
        return (self.n - 1) // 3

    @functools.cached_property
    def quorum(self) -> int:
        """ceil((n+f+1)/2), 2f+1 at n = 3f+1: any two quorums share f+1 replicas, at least one of
        them correct (impl/base/quorum.py)."""
        if mutants.QUORUM_2F_PLUS_1_AT_ANY_N in self.bugs:
            return 2 * self.f + 1
        return quorum.byzantine_quorum(self.n, self.f)

    def primary(self, view: int) -> str:
        return self.replicas[view % self.n]

    @functools.cached_property
    def peers(self) -> tuple[str, ...]:
        return tuple(r for r in self.replicas if r != self.id)

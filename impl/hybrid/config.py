"""A hybrid node's configuration: the cluster, the threat thresholds, which BFT protocol the BFT
epochs run (`bft`: "pbft" or "hotstuff", impl/hybrid/bft.py), the protocols' timing, the detectors'
bounds, and the mutants switched on."""

from __future__ import annotations

import functools

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.base.config import bug_set
from meshcheck.impl.base.config import check_bugs
from meshcheck.impl.base.config import ids
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hybrid.bft import BFT_PROTOCOLS
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.mutants import BUGS


@attrs.frozen
class HybridConfig:
    """`nodes` holds every member ("n1".."nN"), this node included; f = (n - 1) // 3, what the BFT
    epochs tolerate (and what the replicated clock and the thresholds are built for)."""

    id: str
    nodes: tuple[str, ...] = attrs.field(converter=ids)
    thresholds: Thresholds | None = None  # None: Thresholds.for_f(f)
    # Raft epochs
    election_timeout: tuple[int, int] = (150, 300)
    heartbeat_interval: int = 50
    # entries per AppendEntries (Raft.tla's AppendEntries sends any non-empty prefix): a probe for
    # a lagging follower, and so an equivocation proof made of it, never carries the whole log
    max_entries: int | None = 32
    # BFT epochs: the protocol they run (impl/hybrid/bft.py), and its timing
    bft: str = "pbft"
    # HotStuff's view timer, first duration (it doubles with each timeout in a row)
    hotstuff_timeout: int = 100
    batch_size: int = 4
    checkpoint_every: int = 10
    window: int = 40
    view_change_timeout: int = 400
    retransmit_every: int = 150
    # the hybrid layer
    clock_every: int = 25  # ticks between this node's clock entries
    retry_every: int = 100  # ticks between re-proposals of what is not committed yet
    evidence_timeout: int = 600  # Raft epoch: own evidence uncommitted this long -> campaign
    timing_bound: int = 200  # a leader's heartbeats further apart than this are an anomaly
    report_every: int = 100  # at most one report per (kind, accused) this often
    bugs: frozenset[str] = attrs.field(default=frozenset(), converter=bug_set)

    def __attrs_post_init__(self) -> None:
        if self.id not in self.nodes or len(set(self.nodes)) != len(self.nodes):
            raise ImplError(f"{self.id} must be one of distinct nodes {list(self.nodes)}")
        if len(self.nodes) < 4:
            raise ImplError(
                f"a hybrid cluster needs n >= 4 (3f + 1 with f >= 1), not {len(self.nodes)}"
            )
        if self.bft not in BFT_PROTOCOLS:
            raise ImplError(
                f"unknown BFT protocol {self.bft!r} (choices: {', '.join(BFT_PROTOCOLS)})"
            )
        check_bugs(self.bugs, BUGS, "hybrid")
        if min(self.clock_every, self.retry_every, self.evidence_timeout, self.timing_bound) < 1:
            raise ImplError("clock_every, retry_every, evidence_timeout, timing_bound must be >= 1")

    @functools.cached_property
    def f(self) -> int:
        return quorum.max_faulty(len(self.nodes))

    @functools.cached_property
    def th(self) -> Thresholds:
        return self.thresholds if self.thresholds is not None else Thresholds.for_f(self.f)

    @functools.cached_property
    def peers(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if n != self.id)

"""The phi-accrual detector of one node: one `Watch` per peer it has heard from (impl/gossip/phi.py).

A watch holds phi.py's `Arrivals` (the time of the last heartbeat and the window of the last
inter-arrival times) and, to keep a gossip round cheap with many peers, the time at which phi will
reach the threshold if nothing more arrives: phi is non-decreasing in the time since the last
arrival (phi.py), so until that deadline the peer cannot be suspected and nothing is computed. At
the deadline the exact phi of phi.py decides (the deadline only skips work, it never decides).

The deadline is `last + mean + z * std` with `z` the standard normal quantile of 10^-threshold
(`statistics.NormalDist.inv_cdf`), taken one tick early against rounding.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from meshcheck.impl.gossip.phi import Arrivals
from meshcheck.impl.gossip.phi import PhiConfig


def crossing(config: PhiConfig) -> float:
    """How many standard deviations past the mean phi reaches the threshold."""
    p = 10.0**-config.threshold
    if p <= 0.0 or p >= 1.0:  # pragma: no cover - a threshold past float range
        return math.inf if p <= 0.0 else -math.inf
    return -NormalDist().inv_cdf(p)


class Watch:
    """What node i knows of peer j's heartbeats."""

    __slots__ = ("arrivals", "beat", "boot", "deadline", "suspected_since")

    def __init__(self, now: float, boot: int, beat: int) -> None:
        self.arrivals = Arrivals(last=now)
        self.boot = boot
        self.beat = beat
        self.deadline = -math.inf
        self.suspected_since: float | None = None


class Detector:
    """Per peer: the arrivals, whether it is suspected and since when."""

    __slots__ = ("_z", "config", "watches")

    def __init__(self, config: PhiConfig) -> None:
        self.config = config
        self.watches: dict[str, Watch] = {}
        self._z = crossing(config)

    def _deadline(self, arrivals: Arrivals) -> float:
        mean, std = arrivals.model(self.config)
        return arrivals.last + mean + self._z * std - 1.0

    def fresh(self, peer: str, boot: int, beat: int) -> bool:
        """Whether (boot, beat) from `peer` is newer than the last heartbeat counted from it."""
        w = self.watches.get(peer)
        return w is None or (boot, beat) > (w.boot, w.beat)

    def watch(self, peer: str, now: float, boot: int, beat: int) -> None:
        """The first heartbeat from `peer`: its watch starts (no interval yet)."""
        w = Watch(now, boot, beat)
        w.deadline = self._deadline(w.arrivals)
        self.watches[peer] = w

    def suspected(self, peer: str) -> bool:
        w = self.watches.get(peer)
        return w is not None and w.suspected_since is not None

    def phi(self, peer: str, now: float) -> float:
        return self.watches[peer].arrivals.phi(now, self.config)

    def due(self, now: float) -> list[str]:
        """The peers not suspected yet whose phi has reached the threshold at `now`."""
        found = []
        for peer, w in self.watches.items():
            if (
                w.suspected_since is None
                and now >= w.deadline
                and w.arrivals.suspected(now, self.config)
            ):
                found.append(peer)
        return found

    def forget(self, peer: str) -> None:
        self.watches.pop(peer, None)

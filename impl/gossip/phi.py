"""The phi-accrual failure detector: suspicion as a level, from the heartbeats' inter-arrival times.

Hayashibara, Defago, Yared and Katayama, "The phi Accrual Failure Detector" (SRDS 2004), section 4:
the detector keeps a sliding window of the last inter-arrival times of a peer's heartbeats and models
the next arrival as normally distributed with the window's mean and standard deviation. With `elapsed`
the time since the last heartbeat,

    phi(elapsed) = -log10( P_later(elapsed) ),   P_later(t) = 1 - F(t) = 0.5 * erfc((t - mean) / (std * sqrt 2))

so phi = 8 means: under that model, the chance that a heartbeat still arrives this late is 10^-8. The
peer is suspected while phi >= threshold. Three settings, as in Akka's implementation (its reference
documentation, "Phi Accrual Failure Detector"): the threshold, the window size, and a minimum standard
deviation that keeps a very regular peer from being suspected at the first small delay. Until a window
holds two intervals the model uses `first_interval` as the mean and a quarter of it as the deviation.

This is pure: time arrives as arguments (the simulator's clock), nothing here reads a clock. `phi` is
non-decreasing in `elapsed` (erfc is decreasing) and a heartbeat resets elapsed to 0; models/gossip.py
states what is proved of it and what the 10^-8 reading rests on.
"""

from __future__ import annotations

import math

import attrs

from meshcheck.impl.base.errors import ImplError


def phi(elapsed: float, mean: float, std: float) -> float:
    """-log10 of the probability, under Normal(mean, std), that the next heartbeat comes later than
    `elapsed` after the last one. Infinite once that probability underflows to 0."""
    if std <= 0:
        raise ImplError(f"phi: the standard deviation must be positive, got {std}")
    later = 0.5 * math.erfc((elapsed - mean) / (std * math.sqrt(2.0)))
    return math.inf if later <= 0.0 else max(0.0, -math.log10(later))


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ImplError(f"PhiConfig.{attribute.name} must be positive, got {value}")


def _window(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 2:
        raise ImplError(f"PhiConfig.window must hold at least 2 intervals, got {value}")


@attrs.frozen
class PhiConfig:
    """The detector's settings, in the clock's units (the simulator's ticks)."""

    threshold: float = attrs.field(default=8.0, validator=_positive)
    window: int = attrs.field(default=100, validator=_window)
    min_std: float = attrs.field(default=100.0, validator=_positive)
    first_interval: float = attrs.field(default=1000.0, validator=_positive)


@attrs.frozen
class Arrivals:
    """What the detector knows of one peer: the time of its last heartbeat and the last intervals."""

    last: float
    intervals: tuple[float, ...] = ()

    def heard(self, now: float, config: PhiConfig) -> Arrivals:
        """A heartbeat at `now`: its interval joins the window (the oldest leaves a full one)."""
        if now < self.last:
            raise ImplError(f"heartbeat at {now} before the last one at {self.last}")
        intervals = (*self.intervals, now - self.last)[-config.window :]
        return Arrivals(last=now, intervals=intervals)

    def model(self, config: PhiConfig) -> tuple[float, float]:
        """The mean and standard deviation the detector assumes for the next interval."""
        if len(self.intervals) < 2:
            return config.first_interval, max(config.first_interval / 4.0, config.min_std)
        mean = sum(self.intervals) / len(self.intervals)
        var = sum((x - mean) ** 2 for x in self.intervals) / len(self.intervals)
        return mean, max(math.sqrt(var), config.min_std)

    def phi(self, now: float, config: PhiConfig) -> float:
        mean, std = self.model(config)
        return phi(max(0.0, now - self.last), mean, std)

    def suspected(self, now: float, config: PhiConfig) -> bool:
        return self.phi(now, config) >= config.threshold

"""What the hybrid drivers share: the error a driver raises when the implementation cannot take the
step the spec took (a bug, reported by the follower as a divergence)."""

from __future__ import annotations


class DriverError(Exception):
    """The implementation could not take the step the spec took."""

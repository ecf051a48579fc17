"""What a lockstep driver hooks into the simulator (property_tests/*/driver.py).

A lockstep driver takes the spec's steps one at a time and forces each on the implementation through
the simulator's operations (`Simulator.deliver`, `drop`, `duplicate`, `fire`, `inject`, `crash`,
`recover`, `restart`: they record the same steps a free run would). Where the spec sends less than
the implementation does in one step, the driver keeps the extra sends out of the network with a
send filter: a send the filter refuses never reaches the network and is not a fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SendFilter = Callable[[str, Any], bool]  # (sending node, message) -> may it enter the network


class LockstepHooks:
    """The send filter (`Simulator.send_filter`) and how many sends it refused (`withheld`)."""

    def __init__(self) -> None:
        self.send_filter: SendFilter | None = None
        self.withheld = 0

    def withhold(self, node_id: str, message: Any) -> bool:
        """Whether to keep this send out of the network (counted in `withheld`)."""
        if self.send_filter is None or self.send_filter(node_id, message):
            return False
        self.withheld += 1
        return True

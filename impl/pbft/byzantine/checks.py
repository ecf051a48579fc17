"""Agreement, Validity and StableExecuted on a running simulation, cheap enough to run after every event.

`SafetyMonitor.check()` reads the honest replicas' executed histories (the concrete `executed`
lists, so a history installed by a state transfer is checked too, not only what `Apply` effects
showed) and returns the first violation it finds:

- Agreement: every two honest replicas' histories are prefixes of one another (no two execute
  different batches at one sequence number);
- Validity: every request an honest replica executed is one the client sent (the null batch
  aside);
- StableExecuted: no honest replica's stable checkpoint is past what it executed (it reaches one
  by executing up to it or by taking its state);
- ViewMonotonic and StableCheckpointMonotonic, PBFT.tla's action properties: no honest replica's
  view or stable checkpoint is lower than when the monitor last looked (Castro and Liskov, OSDI
  1999, sections 4.4 and 4.3). A restart is no exception: the replica persists both before a
  step's sends and comes back with them (impl/pbft/replica.py, "Durability").

It is incremental: a history is re-read only from where it last ended, or whole when it was replaced
(`Replica.history_epoch`), against the batch digest first seen at each sequence number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import batch_name
from meshcheck.impl.pbft.messages import request_name
from meshcheck.impl.pbft.replica import Replica

if TYPE_CHECKING:  # annotations only: the monitor watches a simulator, it does not need one
    from meshcheck.impl.sim.simulator import Simulator


@attrs.frozen
class Violation:
    """What broke, where: `seq` is the sequence number, `replicas` the two that disagree (or the one
    that executed a request never sent)."""

    invariant: str
    seq: int  # 0 for an action property, which is about no one sequence number
    replicas: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        where = f" at sequence number {self.seq}" if self.seq else ""
        return f"{self.invariant}{where} ({', '.join(self.replicas)}): {self.detail}"


class SafetyMonitor:
    def __init__(self, sim: Simulator[Any], honest: Iterable[str], client: str = "c1") -> None:
        self.sim = sim
        self.honest = tuple(sorted(honest))
        self.client = client
        self._first: dict[int, tuple[bytes, str, Any]] = {}  # seq -> (digest, replica, name)
        self._seen: dict[str, tuple[int, int, int]] = {}  # replica -> (node id, epoch, length)
        self._last: dict[str, tuple[int, int]] = {}  # replica -> (view, stable) when last checked
        self.violation: Violation | None = None

    def __call__(self, sim: Simulator[Any]) -> bool:
        """As a `Simulator.run(stop=...)` callback: stop at the first violation."""
        return self.check() is not None

    def check(self) -> Violation | None:
        if self.violation is not None:
            return self.violation
        requested: set[Any] | None = None
        for r in self.honest:
            node = self.sim.nodes[r]
            assert isinstance(node, Replica), f"{r} is not an honest replica"
            length, epoch = len(node.executed), node.history_epoch
            if node.stable > length:  # PBFT.tla's StableExecuted
                self.violation = Violation(
                    "StableExecuted",
                    node.stable,
                    (r,),
                    f"{r}'s stable checkpoint {node.stable} is past the {length} it executed",
                )
                return self.violation
            if self._went_back(r, node) is not None:
                return self.violation
            seen = self._seen.get(r)
            if seen is not None and seen == (id(node), epoch, length):
                continue
            start = seen[2] if seen is not None and seen[:2] == (id(node), epoch) else 0
            start = min(start, length)
            self._seen[r] = (id(node), epoch, length)
            for seq in range(start + 1, length + 1):
                batch = node.executed[seq - 1]
                digest = batch_digest(batch)
                held = self._first.setdefault(seq, (digest, r, batch_name(batch)))
                if held[0] != digest:
                    self.violation = Violation(
                        "Agreement",
                        seq,
                        (held[1], r),
                        f"{held[1]} executed {held[2]!r}, {r} executed {batch_name(batch)!r}",
                    )
                    return self.violation
                if batch:
                    if requested is None:
                        requested = self._requested()
                    for req in batch:
                        if request_name(req.body) not in requested:
                            self.violation = Violation(
                                "Validity", seq, (r,), f"{request_name(req.body)!r} was never sent"
                            )
                            return self.violation
        return None

    def _went_back(self, r: str, node: Replica) -> Violation | None:
        """PBFT.tla's ViewMonotonic and StableCheckpointMonotonic on r since the last check."""
        now = (node.view, node.stable)
        last = self._last.get(r, now)
        self._last[r] = now
        for name, what, old, new in (
            ("ViewMonotonic", "view", last[0], now[0]),
            ("StableCheckpointMonotonic", "stable checkpoint", last[1], now[1]),
        ):
            if new < old:
                self.violation = Violation(name, 0, (r,), f"{r}'s {what} went from {old} to {new}")
                return self.violation
        return None

    def _requested(self) -> set[Any]:
        client = self.sim.nodes.get(self.client)
        return set(client.requested) if isinstance(client, Client) else set()

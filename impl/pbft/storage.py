"""What a PBFT replica keeps on disk, and how one step's changes become one `Persist`.

The spec has no crash, so a restart must be a stutter: everything a replica vouched for is durable
before the step's sends leave (impl/base/effects.py, persist before send). That is its view and
status, the history it executed, its stable checkpoint with the proof, the messages it sent and the
certificates its commits rest on (`LOG`), and its audit log. The replica marks what changed during a
step (`view_changed`, `executed_from`, ...); `flush` turns the marks into one batch of writes,
appending where it can (`Splice`) and rewriting only when garbage collection shrank the log.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final

from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.pbft.evidence import Evidence
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Signed

VIEW: Final = "view"  # (view, status)
EXECUTED: Final = "executed"  # the batches executed, in sequence-number order
STABLE: Final = "stable"  # (sequence number, digest, proof)
LOG: Final = "log"  # signed messages: sent, and the certificates commits rest on
AUDIT: Final = "audit"  # evidence records


class Store:
    """One replica's durable bookkeeping: the messages in `LOG` and what changed this step. The
    replica's Restart calls `load` before anything else, which sets the four fields below."""

    messages: list[Signed[Any]]
    _held: set[Signed[Any]]
    _persisted: int  # how many of `messages` are on disk
    _audit_persisted: int  # how many audit records are on disk

    def __init__(self) -> None:
        self.audit_new: list[Evidence] = []
        self.view_changed = False
        self.stable_changed = False
        self.log_collected = False  # garbage collection: rewrite LOG with what `keep` keeps
        self.executed_from: int | None = None  # first history position appended this step
        self.executed_replaced = False  # a state transfer replaced the history

    def load(self, persisted: Mapping[str, Any]) -> tuple[Signed[Any], ...]:
        """Start from a restart's durable content; the messages of `LOG`, in order."""
        self.messages = list(persisted.get(LOG, ()))
        self._held = set(self.messages)
        self._persisted = len(self.messages)
        self._audit_persisted = len(persisted.get(AUDIT, ()))
        return tuple(self.messages)

    def add(self, m: Signed[Any]) -> None:
        """Keep `m` durable (once)."""
        if m not in self._held:
            self._held.add(m)
            self.messages.append(m)

    def append_executed(self, position: int) -> None:
        if self.executed_from is None:
            self.executed_from = position

    def flush(
        self,
        view: tuple[int, str],
        executed: Sequence[Batch],
        stable: tuple[int, bytes, tuple[Signed[Checkpoint], ...]],
        keep: Callable[[Signed[Any]], bool],
    ) -> Persist | None:
        """This step's writes as one batch (None when nothing durable changed)."""
        writes: list[Write] = []
        if self.view_changed:
            writes.append(Put(VIEW, view))
        if self.executed_replaced:
            writes.append(Put(EXECUTED, tuple(executed)))
        elif self.executed_from is not None:
            start = self.executed_from
            writes.append(Splice(EXECUTED, start, tuple(executed[start:])))
        if self.stable_changed:
            writes.append(Put(STABLE, stable))
        if self.log_collected:
            self.messages = [m for m in self.messages if keep(m)]
            self._held = set(self.messages)
            writes.append(Put(LOG, tuple(self.messages)))
            self._persisted = len(self.messages)
        elif len(self.messages) > self._persisted:
            writes.append(Splice(LOG, self._persisted, tuple(self.messages[self._persisted :])))
            self._persisted = len(self.messages)
        if self.audit_new:
            writes.append(Splice(AUDIT, self._audit_persisted, tuple(self.audit_new)))
            self._audit_persisted += len(self.audit_new)
            self.audit_new = []
        self.view_changed = self.stable_changed = self.log_collected = False
        self.executed_replaced = False
        self.executed_from = None
        return Persist(tuple(writes)) if writes else None

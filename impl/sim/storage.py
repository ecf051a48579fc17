"""Per-node storage in the simulator: a durable store that survives crashes, and nothing else.

A node's volatile state is the node object itself: the simulator throws it away when the node crashes
and builds a new one from `Durable.view()` (the `Restart` event). So "a crash loses what was not
persisted" holds by construction, and a `Persist` effect the crash came before is simply never applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write


class Durable:
    """The stable storage of one node: keys to values, and list-valued keys written by `Splice`."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.writes = 0  # how many Persist batches were applied (for tests and metrics)

    def apply(self, writes: Iterable[Write]) -> None:
        """Apply one `Persist` batch (the simulator applies a batch whole or not at all)."""
        for w in writes:
            if isinstance(w, Put):
                self._data[w.key] = w.value
            elif isinstance(w, Splice):
                current = self._data.get(w.key)
                if not isinstance(current, list):
                    current = list(current) if current is not None else []
                    self._data[w.key] = current
                del current[w.start :]
                current.extend(w.items)
        self.writes += 1

    def view(self) -> Mapping[str, Any]:
        """A copy of the content for a restart: lists become tuples, so the node cannot alias them."""
        return {k: tuple(v) if isinstance(v, list) else v for k, v in self._data.items()}

    def get(self, key: str, default: Any = None) -> Any:
        value = self._data.get(key, default)
        return tuple(value) if isinstance(value, list) else value

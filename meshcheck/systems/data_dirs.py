"""Each node's data directory, in the shape of meshcheck/faults/disks.py's `NodeDisks` (a context
manager; `data(node)`): plain folders under the run's folder, made fresh for each run. A run that
plans a power failure or a corruption uses `NodeDisks` itself (lazy mounts, the faults' helpers)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path


class PlainDisks:
    def __init__(self, root: Path, nodes: Sequence[str], *, lazy: bool = False) -> None:
        self.root = root
        self.nodes = tuple(nodes)

    def __enter__(self) -> PlainDisks:
        shutil.rmtree(self.root, ignore_errors=True)  # an earlier run's, in the same folder
        for node in self.nodes:
            self.data(node).mkdir(parents=True)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def data(self, node: str) -> Path:
        return self.root / node

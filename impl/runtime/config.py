"""A real cluster's layout, written once by the launcher and read by every node process: the
protocol and its options, every node's listening address, the address each node sends to for each
peer (the peer itself, or the link proxy in front of it), the data folder, the seed, and the
PYTHONHASHSEED each node's process runs with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import ImplError

Address = tuple[str, int]


def _addresses(raw: Mapping[str, Any]) -> dict[str, Address]:
    return {k: (str(v[0]), int(v[1])) for k, v in raw.items()}


@attrs.frozen
class ClusterConfig:
    protocol: str
    nodes: Mapping[str, Address]  # where each node listens
    routes: Mapping[str, Mapping[str, Address]]  # node -> peer -> where it sends to that peer
    data: str  # one subfolder per node
    seed: int = 0
    options: Mapping[str, Any] = attrs.field(factory=dict)
    tls: bool = False  # mutual TLS on every connection (tls.py), certificates in tls_folder()
    # node -> the PYTHONHASHSEED its process runs with (launcher.py `hash_seeds`); written here
    # so that a report says which hash seeds a run's verdict belongs to
    hash_seeds: Mapping[str, int] = attrs.field(factory=dict)

    def node_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.nodes))

    def state_file(self, node: str) -> Path:
        return Path(self.data) / node / "state.wal"

    def tls_folder(self) -> Path:
        return Path(self.data) / "tls"

    def to_json(self) -> str:
        return json.dumps(
            {
                "protocol": self.protocol,
                "nodes": {k: list(v) for k, v in self.nodes.items()},
                "routes": {k: {p: list(a) for p, a in v.items()} for k, v in self.routes.items()},
                "data": self.data,
                "seed": self.seed,
                "options": dict(self.options),
                "tls": self.tls,
                "hash_seeds": dict(self.hash_seeds),
            },
            indent=1,
        )

    @classmethod
    def read(cls, path: Path) -> ClusterConfig:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                protocol=raw["protocol"],
                nodes=_addresses(raw["nodes"]),
                routes={k: _addresses(v) for k, v in raw["routes"].items()},
                data=raw["data"],
                seed=int(raw.get("seed", 0)),
                options=dict(raw.get("options", {})),
                tls=bool(raw.get("tls", False)),
                hash_seeds={k: int(v) for k, v in raw.get("hash_seeds", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            raise ImplError(f"{path}: not a cluster configuration ({e})") from None

"""Apache ZooKeeper as a system under test: the system file (meshcheck/systems/known/
zookeeper.toml: an ensemble of servers, each with its zoo.cfg and myid) and this client plug-in,
the entry point `zookeeper` of the group `meshcheck.systems`. The client needs kazoo, the
`systems` extra (`pip install 'meshcheck-verify[systems]'`); it is imported only when a client is
built, so that listing the systems never needs it."""

from __future__ import annotations

from pathlib import Path

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import SystemPlugin
from meshcheck.systems.zookeeper.four_letter import leader

FILE = Path(__file__).resolve().parent.parent / "known" / "zookeeper.toml"


def client(settings: ClientSettings) -> Client:
    try:
        from meshcheck.systems.zookeeper.client import ZooKeeperClient
    except ImportError as e:
        raise MeshcheckError(
            "the zookeeper client needs kazoo: pip install 'meshcheck-verify[systems]'"
        ) from e
    return ZooKeeperClient(settings)


ZOOKEEPER = SystemPlugin(
    name="zookeeper",
    client=client,
    workloads=("registers", "cas", "lock", "fenced-lock"),
    leader=leader,
    file=FILE,
)

"""A system the project does not build, unchanged, under the namespace network's faults: three
members of Debian's etcd-server (`make etcd`), each in its own namespace and listening on its own
address, with no proxy in their configuration. A partition leaves the isolated member unable to
serve a linearizable read while the majority still takes writes; the heal lets it catch up.

The clients are one-shot Python processes run inside the members' namespaces (etcd's JSON gateway,
/v3/kv/put and /v3/kv/range); every wait is bounded."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import missing

WHY = missing() or (None if shutil.which("etcd") else "etcd is not installed: `make etcd`")
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"etcd in namespaces: {WHY}")

MEMBERS = ["e1", "e2", "e3"]
# one request to a member's gateway: `put URL KEY VALUE` or `get URL KEY`; prints the value read
CLIENT = """
import base64, json, sys, urllib.request
op, url, key, *rest = sys.argv[1:]
b64 = lambda s: base64.b64encode(s.encode()).decode()
body = {"key": b64(key)} | ({"value": b64(rest[0])} if op == "put" else {})
path = "/v3/kv/put" if op == "put" else "/v3/kv/range"
request = urllib.request.Request(url + path, json.dumps(body).encode(), method="POST")
reply = json.loads(urllib.request.urlopen(request, timeout=2).read())
print(base64.b64decode(reply["kvs"][0]["value"]).decode() if op == "get" else "ok")
"""


def call(net: NamespaceNetwork, at: str, *args: str) -> str | None:
    """One request to member `at` from inside its namespace: what it printed, None if it failed."""
    url = f"http://{net.address(at)}:2379"
    done = net.run_in(at, [sys.executable, "-c", CLIENT, args[0], url, *args[1:]], timeout=10)
    return done.stdout.strip() if done.returncode == 0 else None


def until(net: NamespaceNetwork, at: str, *args: str, within: float = 30) -> str | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (out := call(net, at, *args)) is not None:
            return out
        time.sleep(0.2)
    return None


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[NamespaceNetwork]:
    with NamespaceNetwork(MEMBERS) as net:
        cluster = ",".join(f"{m}=http://{net.address(m)}:2380" for m in MEMBERS)
        for m in MEMBERS:
            ip = net.address(m)
            log = (tmp_path / f"{m}.log").open("wb")
            net.popen(
                m,
                ["etcd", "--name", m, "--data-dir", str(tmp_path / m),
                 "--listen-client-urls", f"http://{ip}:2379",
                 "--advertise-client-urls", f"http://{ip}:2379",
                 "--listen-peer-urls", f"http://{ip}:2380",
                 "--initial-advertise-peer-urls", f"http://{ip}:2380",
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--heartbeat-interval", "50", "--election-timeout", "500"],
                stdout=log,
                stderr=log,
            )  # fmt: skip
        yield net


@pytest.mark.moved(
    stand_in="tests/test_cluster_etcd.py::test_a_partition_of_the_plan_cuts_a_member_off_in_the_kernel",
    why="three etcd members in namespaces, one cut off both ways by the namespace network: it "
    "serves nothing while the majority goes on; the heal is tests/test_netns.py's",
)
def test_etcd_unchanged_under_a_partition_and_a_heal(etcd: NamespaceNetwork) -> None:
    assert until(etcd, "e1", "put", "k", "v1") == "ok"
    assert until(etcd, "e3", "get", "k") == "v1"
    etcd.partition([["e3"], ["e1", "e2"]])
    assert until(etcd, "e1", "put", "k", "v2") == "ok"  # the majority goes on
    assert call(etcd, "e3", "get", "k") is None  # the isolated member cannot serve it
    etcd.heal()
    assert until(etcd, "e3", "get", "k") == "v2"  # and catches up once healed
    assert [(r.kind, r.nodes) for r in etcd.log.records] == [
        ("partition", ("e1", "e2", "e3")),
        ("heal", ("e1", "e2", "e3")),
    ]

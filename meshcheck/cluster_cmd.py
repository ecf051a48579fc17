"""`meshcheck cluster test | up | down`: real clusters of processes on this machine.

test: the system `--system` names, found through the systems' registry (meshcheck/systems/
registry.py) and run: the project's own cores by their runner (meshcheck/cores_cmd.py), any other
system from its system file (meshcheck/systems/command.py). Exit 0 when every check holds, 1 when
one is violated (or cannot be decided), 2 on bad input (one line).

up: start a cluster and leave it running for a client of the user's own (the addresses are
printed and written to DIR/cluster.json); down: stop the cluster started in DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.options import number
from meshcheck.options import whole

if TYPE_CHECKING:
    from meshcheck.impl.runtime.launcher import LocalCluster

NODES = (3, 9)
DEFAULT_OUT = "reports/cluster"
_TEST: argparse.ArgumentParser | None = None  # `cluster test`'s parser: `levels` runs it


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cl = sub.add_parser(
        "cluster",
        help="test a real cluster of processes: the project's cores, or any system "
        "described by a system file",
    )
    csub = cl.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    t = csub.add_parser(
        "test", help="nodes, clients and a nemesis for a while; the history and state files checked"
    )
    # plain strings, checked here: bad input is one `meshcheck: ...` line, exit 2
    t.add_argument(
        "--protocol",
        default="",
        help="--system meshcheck: raft, pbft, hotstuff, hybrid, gossip, or manager: the three "
        "layers, operations routed by type (default raft)",
    )
    t.add_argument(
        "--nodes",
        default="",
        metavar="N",
        help="nodes, 3 to 9 (default 3; 4 for pbft, hotstuff, hybrid and manager's layers; a "
        "system file's own default and bounds)",
    )
    t.add_argument("--time", default="10", metavar="S", help="seconds of clients and faults")
    t.add_argument(
        "--nemesis",
        default="",
        metavar="F,F",
        help="faults: kill, crash (the node's core crashed and rebuilt from its disk inside its "
        "process), pause, partition, latency, loss, clock, isolate (the leader cut off for "
        "2.5-4 s), reorder, duplicate (these two with --no-tls), crash-client (pbft, hotstuff: a "
        "client core killed and restarted from its state file), power (a power failure of one "
        "node, a minority or every node: unsynced writes dropped, each node's data on a lazy "
        "filesystem), corrupt (a minority's state files truncated or bit-flipped while down) "
        "(comma-separated) or none; default kill,pause,partition (a system on --network "
        "loopback: kill,pause)",
    )
    t.add_argument(
        "--workload",
        default="",
        help="registers or register (consensus), overlays (raft: policies deployed onto "
        "several cases), status (gossip), routed (manager); a system "
        "file's: registers, cas or lock as it lists them; default the protocol's (the file's) first",
    )
    t.add_argument("--rate", default="100", metavar="R", help="operations a second (all clients)")
    t.add_argument(
        "--clients",
        default="10",
        metavar="C",
        help="concurrent clients, one operation in flight each (default 10)",
    )
    t.add_argument(
        "--delay",
        default="0",
        metavar="MS[-MS]",
        help="every link between nodes holds each frame back MS milliseconds (or between the two) "
        "for the whole run: a slow network, not a fault (default 0)",
    )
    t.add_argument(
        "--timeout",
        default="",
        metavar="S",
        help="seconds a client waits for an answer before it records the operation info (default "
        "the protocol's: 1 s, 3 s for pbft, hotstuff and hybrid)",
    )
    t.add_argument("--seed", default="0", metavar="S", help="the nemesis's and clients' seed")
    t.add_argument(
        "--bugs",
        default="",
        metavar="A,B",
        help="catalogue mutants switched on: the protocol's (impl/<protocol>/mutants.py), the "
        "state machine's for raft (overlay_cases_in_set_order: impl/rsm/mutants.py, with "
        "--workload overlays) or the runtime's disk (skip_fsync, ack_before_fsync: "
        "impl/runtime/mutants.py)",
    )
    t.add_argument(
        "--core",
        default="",
        metavar="K=V,..",
        help="the core's options over the runtime's defaults (its config's fields, values as "
        "JSON): raft max_entries=2 (AppendEntries of two entries at most), snapshot_interval=50",
    )
    t.add_argument(
        "--byzantine",
        default="",
        metavar="NODE:B,..",
        help="Byzantine nodes and what they do: hybrid (and the manager's hybrid layer): "
        "equivocate_raft, forge_seals, tamper_envelopes, censor, false_reports; pbft: silent, "
        "equivocate, tamper_digest, forge_signature, impersonate, missing_signature, replay, "
        "hide_prepared, fuzz, usurp (pre-prepares as if it were the primary), alter_unsigned (relays "
        "what others signed with an unsigned part changed), vouch (its own prepare in its view-change "
        "certificates), repeat (orders again requests it ordered before); to its clients: lie_view, "
        "lie_result, lie_timestamp, lie_signature, lying_replies (a view one higher and a wrong "
        "result), fuzz_replies",
    )
    t.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="the report folder")
    t.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mutual TLS between nodes and from clients (default on)",
    )
    t.add_argument(
        "--validate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="validate every node's log against the spec (default on; TLC, so Java 11+)",
    )
    t.add_argument(
        "--system",
        default="meshcheck",
        metavar="NAME|FILE",
        help="the system under test: meshcheck, the project's own cores (default); a system "
        "meshcheck ships a file for (etcd: `make etcd`); or a system file of your own "
        "(path/to/system.toml, docs/systems.md)",
    )
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a system file's run: KEY of the file (its keys joined by dots: nodes.ready.timeout) "
        "set to VALUE (a TOML value, or else a string) over the file's own, listed in run.txt; "
        "again for each key (docs/systems.md)",
    )
    t.add_argument(
        "--reads",
        default="",
        help="a system file's read mode, one it lists (default its first): linearizable, or "
        "serializable (served by the node asked, may be stale: checked as such), or a mode of the "
        "system's own, judged as the file maps it (docs/systems.md)",
    )
    t.add_argument(
        "--client-pause",
        default="0",
        metavar="S",
        help="--workload lock or fenced-lock of a system file: the first client stalls S seconds, "
        "once, while it holds the lock, as a paused process would (past etcd's 5 s lease the lock "
        "is lost)",
    )
    t.add_argument(
        "--long-pause",
        default="0",
        metavar="S",
        help="a system file's run: every pause of the nemesis lasts S seconds (default: the "
        "nemesis's own, 0.3 to 2.5 s), e.g. longer than a lease's TTL",
    )
    t.add_argument(
        "--broken",
        default="",
        metavar="MUTANT",
        help="a system file's run: a mutant of the workload that its checker must catch "
        "(watch-skip, stalled-keepalive, unfenced, unguarded-txn; docs/etcd.md)",
    )
    t.add_argument(
        "--network",
        default="",
        help="the nodes' links: --system meshcheck: proxy, a TCP proxy per link (default), or "
        "netns; a system file: netns, each node in its own network namespace and the faults in the "
        "kernel (root, `make netns`; the default where it can be built), or loopback (every node "
        "on 127.0.0.1: no partitions, latency or loss) (docs/network-faults.md, docs/systems.md)",
    )
    t.add_argument(
        "--hosts",
        default="",
        metavar="FILE",
        help="a system file's run: run node i on the i-th host of this hosts file, each reached "
        'over SSH, the faults carried out on the hosts (docs/systems.md, "Nodes on hosts over '
        'SSH")',
    )
    t.add_argument(
        "--fs",
        default="",
        metavar="MODEL",
        help="with --nemesis power: what a power failure keeps. strict (default): only what was "
        "fsynced, a new name only once its directory is; journal: as ext4, XFS and btrfs keep in "
        "practice, a file's fsync makes its names durable too (docs/faults.md)",
    )
    t.add_argument(
        "--strict",
        action="store_true",
        help="--system: a fault that struck more than a second after its planned time is not "
        "counted carried out, so a run whose plan mostly slipped is vacuous (exit 1; "
        "docs/vacuous-runs.md)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    global _TEST
    _TEST = t
    lv = csub.add_parser(
        "levels",
        help="a database's isolation levels judged as a published table says (Hermitage's): "
        "random transactions at each level, the anomalies each allows seen, none it prevents",
    )
    lv.add_argument("--system", required=True, metavar="NAME", help="a system with a levels file")
    lv.add_argument(
        "--levels", default="", metavar="FILE",
        help="the levels file (default meshcheck/systems/levels/NAME.toml)",
    )  # fmt: skip
    lv.add_argument("--level", default="", metavar="L,L", help="only these levels (default all)")
    lv.add_argument(
        "--workload", default="list-append,rw-register", metavar="W,W",
        help="list-append, rw-register, or both (default)",
    )  # fmt: skip
    lv.add_argument("--runs", default="1", metavar="M", help="runs of each workload at each level")
    lv.add_argument("--time", default="3", metavar="S", help="seconds of clients in each run")
    lv.add_argument("--clients", default="", metavar="C", help="concurrent clients (default 10)")
    lv.add_argument("--out", default=f"{DEFAULT_OUT}/levels", metavar="DIR")
    lv.add_argument("--quiet", action="store_true", help="no progress lines")
    u = csub.add_parser("up", help="start a cluster and leave it running")
    u.add_argument(
        "--protocol",
        default="raft",
        help="raft, pbft, hotstuff, hybrid, gossip, or manager: its three layers (default raft)",
    )
    u.add_argument("--nodes", default="", metavar="N")
    u.add_argument("--out", default=f"{DEFAULT_OUT}/up", metavar="DIR")
    d = csub.add_parser("down", help="stop the cluster `up` started")
    d.add_argument("--out", default=f"{DEFAULT_OUT}/up", metavar="DIR")


def _nodes(args: argparse.Namespace) -> int:
    """--nodes, or the protocol's smallest group: 3 for Raft, 3f+1 = 4 for a BFT protocol."""
    from meshcheck.impl.runtime.protocols import protocol

    hosted = protocol(args.protocol)
    default = "4" if hosted.bft else "3"
    return whole("nodes", args.nodes or default, *NODES)


def run_cluster_cmd(args: argparse.Namespace) -> int:
    if args.cluster_command == "test":
        return _test(args)
    if args.cluster_command == "up":
        return _up(args)
    if args.cluster_command == "levels":
        return _levels(args)
    return _down(args)


def _test(args: argparse.Namespace) -> int:
    """The system `--system` names, run: by its plug-in's runner (the project's own cores), or from
    its system file (meshcheck/systems/command.py). Nothing here knows which system it is."""
    from meshcheck.systems import command
    from meshcheck.systems.registry import System
    from meshcheck.systems.registry import resolve

    found = resolve(args.system, getattr(args, "set", []))
    progress = _progress(args)
    if isinstance(found, System):
        return command.test(found, args, progress)
    assert found.runner is not None
    return found.runner(args, progress)


def _levels(args: argparse.Namespace) -> int:
    """The control runs of a database's isolation levels (meshcheck/systems/levels_run.py), each
    a `cluster test` parsed as its command line would be."""
    from meshcheck.systems import levels_run

    assert _TEST is not None

    def run_test(argv: list[str]) -> int:
        return _test(_TEST.parse_args(argv))

    extra = ["--time", str(number("time", args.time, 1, 3600))]
    if args.clients:
        extra += ["--clients", str(whole("clients", args.clients, 1, 200))]
    return levels_run.run(
        run_test,
        args.system,
        args.levels,
        [n for n in args.level.split(",") if n],
        [w for w in args.workload.split(",") if w],
        whole("runs", args.runs, 1, 1000),
        extra,
        Path(args.out),
        _progress(args),
    )


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a run's progress lines go: stderr, indented, unless --quiet."""

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"  {line}", file=sys.stderr, flush=True)

    return progress


def _up(args: argparse.Namespace) -> int:
    from meshcheck.cores_cmd import writable
    from meshcheck.impl.manager.routing import ROUTES
    from meshcheck.impl.runtime.protocols import protocol

    if args.protocol != "manager":
        protocol(args.protocol)  # one clear line for a protocol the runtime does not host
    out = Path(args.out)
    writable(out)
    if (out / "pids.json").exists():
        raise MeshcheckError(f"{out} holds a running cluster: `meshcheck cluster down --out {out}`")
    if args.protocol != "manager":
        cluster = _up_one(args.protocol, _nodes(args), out)
        pids = dict(zip(cluster.config.node_ids(), cluster.pids(), strict=True))
        (out / "pids.json").write_text(json.dumps(pids), encoding="utf-8")
        for node, (host, port) in cluster.config.nodes.items():
            print(f"{node} {host}:{port}")
        print(
            f"configuration: {cluster.config_path}; stop with `meshcheck cluster down --out {out}`"
        )
        return EXIT_HOLDS
    # the manager: its three layers, a cluster each in a folder of its own, and the routing table
    # a client of theirs follows (impl/manager/routing.py); `down` ends all three
    n = whole("nodes", args.nodes or "4", *NODES)
    started: dict[str, LocalCluster] = {}
    try:
        for layer in ROUTES.values():
            size = n if layer.value == "gossip" else max(n, 4)  # the BFT layers: 3f+1 at least
            started[layer.value] = _up_one(layer.value, size, out / layer.value)
    except BaseException:
        for cluster in started.values():  # none of a half-started manager outlives the error
            cluster.stop()
        raise
    pids = {
        f"{name}/{node}": pid
        for name, cluster in started.items()
        for node, pid in zip(cluster.config.node_ids(), cluster.pids(), strict=True)
    }
    (out / "pids.json").write_text(json.dumps(pids), encoding="utf-8")
    for kind, layer in ROUTES.items():
        cluster = started[layer.value]
        nodes = " ".join(
            f"{node} {host}:{port}" for node, (host, port) in cluster.config.nodes.items()
        )
        print(f"{kind.value} operations -> {layer.value}: {nodes}")
        print(f"  configuration: {cluster.config_path}")
    print(f"stop with `meshcheck cluster down --out {out}`")
    return EXIT_HOLDS


def _up_one(name: str, n: int, out: Path) -> LocalCluster:
    """One cluster of protocol `name`, `n` nodes, started detached in `out` (every node it
    started is stopped again if one fails to)."""
    from meshcheck.impl.runtime.launcher import LocalCluster
    from meshcheck.impl.runtime.protocols import BFT_CLIENTS
    from meshcheck.impl.runtime.protocols import BFT_KEYS
    from meshcheck.impl.runtime.protocols import protocol

    hosted = protocol(name)
    options: dict[str, object] = {}
    if hosted.bft:
        # PBFT, HotStuff, hybrid: their clients sign (impl/runtime/member.py, meshcheck/cluster/
        # quorum_clients.py), with keys derived from the seed as every node derives them
        options = {BFT_KEYS: 0, BFT_CLIENTS: [f"c{k}" for k in range(1, 11)]}
    cluster = LocalCluster(name, hosted.node_names(n), out, detached=True, options=options)
    try:
        cluster.start_all()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _down(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        pids = json.loads((out / "pids.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise MeshcheckError(f"{out}: no cluster started by `meshcheck cluster up` there") from None
    for pid in pids.values():
        if _ours(int(pid)):
            os.kill(int(pid), signal.SIGCONT)
            os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 2
    while any(_ours(int(p)) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids.values():
        if _ours(int(pid)):
            os.kill(int(pid), signal.SIGKILL)
    (out / "pids.json").unlink()
    print(f"stopped {words.count(len(pids), 'node')}")
    return EXIT_HOLDS


def _ours(pid: int) -> bool:
    """Whether `pid` is a live node process of the runtime (not a process that took its number)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return b"meshcheck.impl.runtime.node_main" in cmdline and stat.split(") ", 1)[1][0] != "Z"

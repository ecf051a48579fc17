"""`meshcheck cluster test | up | down`: real clusters of the project's cores on this machine.

test: start the nodes (impl/runtime) behind link proxies, run concurrent clients and the nemesis
for `--time` seconds, stop everything, check the history and the state files, print one table and
write the report folder. Exit 0 when every check holds, 1 when one is violated (or cannot be
decided), 2 on bad input (one line).

up: start a cluster and leave it running for a client of the user's own (the addresses are
printed and written to DIR/cluster.json); down: stop the cluster started in DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS, EXIT_VIOLATED, MeshcheckError
from meshcheck.options import number, whole

if TYPE_CHECKING:
    from meshcheck.impl.runtime.launcher import LocalCluster

NODES = (3, 9)
DEFAULT_OUT = "reports/cluster"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cl = sub.add_parser(
        "cluster", help="test a real cluster of the project's cores (processes, TCP)"
    )
    csub = cl.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    t = csub.add_parser(
        "test", help="nodes, clients and a nemesis for a while; the history and state files checked"
    )
    # plain strings, checked here: bad input is one `meshcheck: ...` line, exit 2
    t.add_argument(
        "--protocol",
        default="raft",
        help="raft, pbft, hotstuff, hybrid, gossip, or manager: the three layers, operations "
        "routed by type (default raft)",
    )
    t.add_argument(
        "--nodes",
        default="",
        metavar="N",
        help="nodes, 3 to 9 (default 3; 4 for pbft, hotstuff, hybrid and manager's layers)",
    )
    t.add_argument("--time", default="10", metavar="S", help="seconds of clients and faults")
    t.add_argument(
        "--nemesis",
        default="kill,pause,partition",
        metavar="F,F",
        help="faults: kill, crash (the node's core crashed and rebuilt from its disk inside its "
        "process), pause, partition, latency, loss, clock, isolate (the leader cut off for "
        "2.5-4 s), reorder, duplicate (these two with --no-tls), crash-client (pbft, hotstuff: a "
        "client core killed and restarted from its state file), power (a power failure of one "
        "node, a minority or every node: unsynced writes dropped, each node's data on a lazy "
        "filesystem), corrupt (a minority's state files truncated or bit-flipped while down) "
        "(comma-separated) or none",
    )
    t.add_argument(
        "--workload",
        default="",
        help="registers or register (consensus), status (gossip), routed (manager); default the "
        "protocol's first",
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
        help="catalogue mutants switched on: the protocol's (impl/<protocol>/mutants.py) or the "
        "runtime's disk (skip_fsync, ack_before_fsync: impl/runtime/mutants.py)",
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
        "certificates), repeat (orders again requests it ordered before)",
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
        help="meshcheck: the project's own cores (default); etcd: Debian's etcd-server "
        "(`make etcd`), its members as processes, clients over its JSON gateway",
    )
    t.add_argument(
        "--reads",
        default="linearizable",
        help="etcd's read mode: linearizable (default) or serializable (served by the member "
        "asked, may be stale: checked as such)",
    )
    t.add_argument(
        "--client-pause",
        default="0",
        metavar="S",
        help="--system etcd --workload lock: the first client stalls S seconds, once, while it "
        "holds the lock, as a paused process would (past the lease's 5 s TTL the lock is lost)",
    )
    t.add_argument(
        "--network",
        default="proxy",
        help="the nodes' links: proxy, a TCP proxy per link (default); netns, each node in its own "
        "network namespace and the faults in the kernel (root, `make netns`; "
        "docs/network-faults.md)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress lines")
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


def _core(protocol: str, text: str, nodes: int) -> tuple[tuple[str, Any], ...]:
    """`--core max_entries=2,snapshot_interval=50` as pairs, each value read as JSON (a bare word
    as a string); one clear line for a pair without `=` or an option the core does not take (a
    core is built with them here, before any process starts)."""
    from meshcheck.cluster.options import node_names
    from meshcheck.impl.runtime.protocols import protocol as runtime_protocol

    pairs: list[tuple[str, Any]] = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, eq, raw = item.partition("=")
        if not eq or not name.strip():
            raise MeshcheckError(f"--core {item}: expected NAME=VALUE")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        pairs.append((name.strip(), value))
    if pairs:
        names = node_names(protocol, nodes)
        try:
            runtime_protocol(protocol).build(names[0], names, dict(pairs), random.Random(0))
        except (TypeError, ValueError, MeshcheckError) as exc:
            raise MeshcheckError(f"--core {text}: {protocol}'s core refuses it ({exc})") from None
    return tuple(pairs)


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
    return _down(args)


PROTOCOLS = ("gossip", "hotstuff", "hybrid", "manager", "pbft", "raft")


SYSTEMS = ("etcd", "meshcheck")
NETWORKS = ("netns", "proxy")


def _test(args: argparse.Namespace) -> int:
    if args.system not in SYSTEMS:
        raise MeshcheckError(f"--system {args.system}: choose from {', '.join(SYSTEMS)}")
    if args.system == "etcd" or args.protocol == "manager":
        for flag, given in (("--delay", args.delay != "0"), ("--timeout", bool(args.timeout))):
            if given:
                raise MeshcheckError(f"{flag}: only for a cluster of one of the project's cores")
    if args.system == "etcd" and args.network != "proxy":
        raise MeshcheckError("--network: only for a cluster of one of the project's cores")
    if args.system == "etcd":
        from meshcheck import etcd_cmd

        return etcd_cmd.test(args, _progress(args))
    if args.reads != "linearizable":
        raise MeshcheckError(
            f"--reads {args.reads}: only with --system etcd (the cores' reads are linearizable)"
        )
    if args.client_pause != "0":
        raise MeshcheckError("--client-pause: only with --system etcd --workload lock")
    if args.protocol not in PROTOCOLS:
        raise MeshcheckError(f"--protocol {args.protocol}: choose from {', '.join(PROTOCOLS)}")
    if args.network not in NETWORKS:
        raise MeshcheckError(f"--network {args.network}: choose from {', '.join(NETWORKS)}")
    if args.network == "netns":
        from meshcheck.cluster.netns import missing

        if args.protocol == "manager" or args.delay != "0":
            flag = "--protocol manager" if args.protocol == "manager" else "--delay"
            raise MeshcheckError(f"--network netns: not with {flag} (--network proxy)")
        if why := missing():
            raise MeshcheckError(f"--network netns: {why}")
    if args.protocol == "manager":
        return _test_manager(args)
    from meshcheck.cluster import nemesis
    from meshcheck.cluster.options import fault_plan
    from meshcheck.cluster.run import Options, run, summary_rows
    from meshcheck.cluster.workload import keys_of
    from meshcheck.impl.runtime.protocols import protocol
    from meshcheck.interrupts import sigterm_interrupts
    from meshcheck.table import format_table

    hosted = protocol(args.protocol)  # one clear line for a protocol the runtime does not host
    workload = args.workload or hosted.workloads[0]
    keys_of(workload)
    if workload not in hosted.workloads:
        raise MeshcheckError(
            f"--workload {workload}: {args.protocol} runs {' or '.join(hosted.workloads)}"
        )
    bugs = frozenset(b for b in args.bugs.split(",") if b)
    _known_bugs(args.protocol, bugs)
    core = _core(args.protocol, args.core, _nodes(args))
    options = Options(
        protocol=args.protocol,
        nodes=_nodes(args),
        time=number("time", args.time, 1, 3600),
        nemesis=nemesis.parse_kinds(args.nemesis),
        workload=workload,
        rate=number("rate", args.rate, 1, 100_000),
        clients=whole("clients", args.clients, 1, 200),
        seed=whole("seed", args.seed, 0, 2**32 - 1),
        bugs=bugs,
        byzantine=_byzantine(args.protocol, args.byzantine, _nodes(args)),
        tls=args.tls,
        validate=args.validate,
        core=core,
        delay=_delay(args.delay),
        timeout=number("timeout", args.timeout, 0.1, 600) if args.timeout else 1.0,
        network=args.network,
    )
    out = Path(args.out)
    _writable(out)
    (out / "anomaly.txt").unlink(missing_ok=True)  # an earlier run's, in the same folder
    plan = fault_plan(options)
    print(
        f"cluster test: {options.protocol}, {words.count(options.nodes, 'node')}, {options.time:g} s, seed {options.seed}"
        + (f", links delayed {args.delay} ms" if options.delay[1] else "")
    )
    for fault in plan:
        print(f"  {fault.describe()}")

    progress = _progress(args)

    with sigterm_interrupts():
        outcome = run(options, out, progress)
    rows = summary_rows(outcome)
    print(
        format_table(
            ("check", "result", "detail"), [(r["what"], r["result"], r["detail"]) for r in rows]
        )
    )
    if options.byzantine and hosted.spec is not None and options.validate:
        print(
            "the honest nodes' logs are validated, the Byzantine nodes' not (they write none: "
            "Hybrid.tla's Byzantine nodes only add evidence)"
            if args.protocol == "hybrid"
            else "the nodes' logs are not validated with Byzantine nodes: the spec's Byzantine "
            "senders make a real run's model too large for TLC (docs/cluster.md)"
        )
    if protocol(args.protocol).spec is None:
        print(
            f"the nodes' logs are not validated: `meshcheck validate` knows no {args.protocol} "
            "spec yet (docs/cluster.md)"
        )
    if hosted.linearizable:
        from meshcheck.cluster.anomaly import replay_command
        from meshcheck.traces.history.models import Rsm

        replay = replay_command(out, Rsm(), budget=options.budget)
        if (out / "anomaly.txt").exists():
            print((out / "anomaly.txt").read_text(encoding="utf-8"), end="")
        print(f"report: {out} (history.jsonl: `{replay}`)")
    else:
        print(f"report: {out} (history.jsonl, key-value shape: gossip reads may be stale)")
    return EXIT_HOLDS if outcome.holds else EXIT_VIOLATED


def _test_manager(args: argparse.Namespace) -> int:
    """The manager over its three layers as real clusters (meshcheck/cluster/routed.py)."""
    from meshcheck.cluster import nemesis, routed
    from meshcheck.cluster.options import fault_plan
    from meshcheck.cluster.run import Options
    from meshcheck.interrupts import sigterm_interrupts
    from meshcheck.table import format_table

    if args.workload not in ("", "routed"):
        raise MeshcheckError(
            f"--workload {args.workload}: the manager runs `routed` (its three operation types)"
        )
    if args.core:
        raise MeshcheckError(
            f"--core {args.core}: the manager's three layers run their cores as the runtime sets "
            "them; run a layer's protocol alone to change its core"
        )
    bugs = frozenset(b for b in args.bugs.split(",") if b)
    routed.known_bugs(bugs)
    n = whole("nodes", args.nodes or "4", *NODES)
    options = Options(
        protocol="manager",
        nodes=n,
        time=number("time", args.time, 1, 3600),
        nemesis=nemesis.parse_kinds(args.nemesis),
        workload="routed",
        rate=number("rate", args.rate, 1, 100_000),
        clients=whole("clients", args.clients, 1, 200),
        seed=whole("seed", args.seed, 0, 2**32 - 1),
        bugs=bugs,
        byzantine=_byzantine("hybrid", args.byzantine, max(n, 4)),
        tls=args.tls,
        validate=args.validate,
    )
    nemesis.needs_frames(options.nemesis, options.tls)
    out = Path(args.out)
    _writable(out)
    layers = routed.layer_options(options)
    print(f"cluster test: manager, {options.time:g} s, seed {options.seed}")
    for name, o in layers.items():
        plan = fault_plan(o)
        print(
            f"  {name.value}: {words.count(o.nodes, 'node')}, seed {o.seed}, {words.count(len(plan), 'fault')}"
        )
        for fault in plan:
            print(f"    {fault.describe()}")

    progress = _progress(args)

    with sigterm_interrupts():
        outcome = routed.run(options, out, progress)
    print(format_table(("check", "result", "detail"), routed.summary_rows(outcome)))
    print(
        f"report: {out} (routing.jsonl: what each operation was told; routing.ndjson: the "
        "manager's log, Routing.tla's steps; a folder per layer, each with its history.jsonl)"
    )
    return EXIT_HOLDS if outcome.holds else EXIT_VIOLATED


def _delay(text: str) -> tuple[int, int]:
    """`--delay 700` or `--delay 700-800` as (low, high) milliseconds; one line for anything else."""
    low, dash, high = text.partition("-")
    lo = whole("delay", low.strip(), 0, 60_000)
    hi = whole("delay", high.strip(), 0, 60_000) if dash else lo
    if hi < lo:
        raise MeshcheckError(f"--delay {text}: the second bound is below the first")
    return (lo, hi)


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a run's progress lines go: stderr, indented, unless --quiet."""

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"  {line}", file=sys.stderr, flush=True)

    return progress


def _byzantine(name: str, text: str, n: int) -> tuple[tuple[str, str], ...]:
    """`--byzantine n4:forge_seals,n3:censor` as (node, behaviour) pairs; one line for anything
    else: a protocol that hosts no Byzantine node, an unknown node or behaviour, more than f
    nodes."""
    from meshcheck.cluster.run import node_names
    from meshcheck.impl.runtime.protocols import protocol

    if not text:
        return ()
    behaviours = protocol(name).behaviours
    if not behaviours:
        raise MeshcheckError(
            f"--byzantine: the hybrid dispatcher and PBFT take Byzantine nodes, not {name}"
        )
    names = node_names(name, n)
    pairs = []
    for part in text.split(","):
        node, _, behaviour = part.partition(":")
        if node not in names:
            raise MeshcheckError(f"--byzantine {part}: no node {node!r} in {names[0]}..{names[-1]}")
        if behaviour not in behaviours:
            raise MeshcheckError(f"--byzantine {part}: choose from {', '.join(sorted(behaviours))}")
        pairs.append((node, behaviour))
    f = (n - 1) // 3
    if len({node for node, _ in pairs}) > f:
        raise MeshcheckError(f"--byzantine: more than f = {f} Byzantine nodes of {n}")
    return tuple(pairs)


def _known_bugs(name: str, bugs: frozenset[str]) -> None:
    if not bugs:
        return
    import importlib

    from meshcheck.impl.runtime.mutants import BUGS as RUNTIME

    catalogue = importlib.import_module(f"meshcheck.impl.{name}.mutants").BUGS
    unknown = sorted(bugs - set(catalogue) - set(RUNTIME))
    if unknown:
        raise MeshcheckError(
            f"--bugs: {unknown[0]} is not a {name} catalogue mutant nor the runtime's "
            f"({', '.join(RUNTIME)})"
        )


def _writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".writable"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as e:
        raise MeshcheckError(f"--out {out}: cannot write there ({e.strerror})") from None


def _up(args: argparse.Namespace) -> int:
    from meshcheck.impl.manager.routing import ROUTES
    from meshcheck.impl.runtime.protocols import protocol

    if args.protocol != "manager":
        protocol(args.protocol)  # one clear line for a protocol the runtime does not host
    out = Path(args.out)
    _writable(out)
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
    from meshcheck.impl.runtime.protocols import BFT_CLIENTS, BFT_KEYS, protocol

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

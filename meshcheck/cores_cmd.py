"""`meshcheck cluster test --system meshcheck` (the default): a cluster of one of the project's own
cores (meshcheck/cluster/run.py), or the manager over its three layers (meshcheck/cluster/
routed.py). Reached through the systems' registry as any system is: `MESHCHECK`, the entry point
`meshcheck` of the group `meshcheck.systems`, runs them (meshcheck/systems/plugin.py `runner`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.options import number
from meshcheck.options import whole
from meshcheck.systems.plugin import Client
from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Ended
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import SystemPlugin

NODES = (3, 9)


def _core(protocol: str, text: str, nodes: int) -> tuple[tuple[str, Any], ...]:
    """`--core max_entries=2,snapshot_interval=50` as pairs (impl/runtime/node_main.py
    `core_pairs`, a system file's MESHCHECK_CORE read alike); one clear line for a pair without `=`
    or an option the core does not take (a core is built with them here, before any process
    starts)."""
    from meshcheck.cluster.options import node_names
    from meshcheck.impl.runtime.node_main import core_pairs
    from meshcheck.impl.runtime.node_main import refused

    pairs = core_pairs(text, "--core")
    if pairs and (why := refused(protocol, node_names(protocol, nodes), dict(pairs))):
        raise MeshcheckError(f"--core {text}: {why}")
    return tuple(pairs)


def _nodes(args: argparse.Namespace) -> int:
    """--nodes, or the protocol's smallest group: 3 for Raft, 3f+1 = 4 for a BFT protocol."""
    from meshcheck.impl.runtime.protocols import protocol

    hosted = protocol(args.protocol)
    default = "4" if hosted.bft else "3"
    return whole("nodes", args.nodes or default, *NODES)


PROTOCOLS = ("gossip", "hotstuff", "hybrid", "manager", "pbft", "raft")


NETWORKS = ("netns", "proxy")


def run(args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    """`cluster test --system meshcheck`: a cluster of one of the project's cores."""
    args.protocol = args.protocol or "raft"
    args.network = args.network or "proxy"
    args.nemesis = args.nemesis or "kill,pause,partition"
    if args.protocol == "manager":
        for flag, given in (
            ("--delay", args.delay != "0"),
            ("--timeout", bool(args.timeout)),
            ("--fs", bool(getattr(args, "fs", ""))),
        ):
            if given:
                raise MeshcheckError(f"{flag}: only for a cluster of one of the project's cores")
    if args.reads not in ("", "linearizable"):
        raise MeshcheckError(
            f"--reads {args.reads}: the cores' reads are linearizable (other read modes: a "
            "system whose file lists them)"
        )
    if args.client_pause not in ("", "0"):
        raise MeshcheckError("--client-pause: only for a system whose file lists the lock workload")
    if getattr(args, "long_pause", "0") not in ("", "0"):
        raise MeshcheckError("--long-pause: only for a system run from its file (--system NAME)")
    if getattr(args, "broken", ""):
        raise MeshcheckError("--broken: only for a system run from its file (--system NAME)")
    if getattr(args, "hosts", ""):
        raise MeshcheckError(
            "--hosts: only for a system run from its file (--system FILE); the project's own "
            "cores run on this machine"
        )
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
        return _test_manager(args, progress)
    from meshcheck.cluster import nemesis
    from meshcheck.cluster.options import fault_plan
    from meshcheck.cluster.run import Options
    from meshcheck.cluster.run import run as run_cores
    from meshcheck.cluster.run import summary_rows
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
        fs=nemesis.durability(getattr(args, "fs", ""), nemesis.parse_kinds(args.nemesis)),
    )
    out = Path(args.out)
    writable(out)
    (out / "anomaly.txt").unlink(missing_ok=True)  # an earlier run's, in the same folder
    plan = fault_plan(options)
    print(
        f"cluster test: {options.protocol}, {words.count(options.nodes, 'node')}, {options.time:g} s, seed {options.seed}"
        + (f", links delayed {args.delay} ms" if options.delay[1] else "")
        + (f", {options.fs} durability" if "power" in options.nemesis else "")
    )
    for fault in plan:
        print(f"  {fault.describe()}")

    with sigterm_interrupts():
        outcome = run_cores(options, out, progress)
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


def _test_manager(args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    """The manager over its three layers as real clusters (meshcheck/cluster/routed.py)."""
    from meshcheck.cluster import nemesis
    from meshcheck.cluster import routed
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
    writable(out)
    layers = routed.layer_options(options)
    print(f"cluster test: manager, {options.time:g} s, seed {options.seed}")
    for name, o in layers.items():
        plan = fault_plan(o)
        print(
            f"  {name.value}: {words.count(o.nodes, 'node')}, seed {o.seed}, {words.count(len(plan), 'fault')}"
        )
        for fault in plan:
            print(f"    {fault.describe()}")

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
    from meshcheck.impl.runtime.protocols import protocol

    catalogue = set(importlib.import_module(f"meshcheck.impl.{name}.mutants").BUGS)
    machine = ""
    if protocol(name).machine_bugs:  # its nodes' state machines take the rsm catalogue
        from meshcheck.impl.rsm.mutants import BUGS as RSM

        catalogue |= set(RSM)
        machine = ", the state machine's"
    unknown = sorted(bugs - catalogue - set(RUNTIME))
    if unknown:
        raise MeshcheckError(
            f"--bugs: {unknown[0]} is not a {name} catalogue mutant{machine} nor the runtime's "
            f"({', '.join(RUNTIME)})"
        )


def writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".writable"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as e:
        raise MeshcheckError(f"--out {out}: cannot write there ({e.strerror})") from None


def _client(settings: ClientSettings) -> Client:
    from meshcheck.systems.runtime_client import client

    return client(settings)


async def _leader(endpoints: Sequence[Endpoint]) -> str | None:
    from meshcheck.systems.runtime_client import leader

    return await leader(endpoints)


async def _watch(
    options: Mapping[str, Any],
    endpoints: Sequence[Endpoint],
    clock: Callable[[], float],
    into: list[Any],
) -> None:
    from meshcheck.systems.runtime_client import watch

    await watch(options, endpoints, clock, into)


def _after(ended: Ended) -> Sequence[Any]:
    from meshcheck.systems.runtime_client import after

    return after(ended)


# The cores' plug-in: `--system meshcheck` runs a core by cluster test's flags (`run`), and a
# system file of a core (meshcheck/systems/known/cores/) names it for its client, who leads and
# its post-run checks (meshcheck/systems/runtime_client.py: imported when first used, as a
# plug-in's import is paid by every `--system`)
MESHCHECK = SystemPlugin(
    name="meshcheck",
    runner=run,
    client=_client,
    workloads=("registers", "rsm"),
    leader=_leader,
    after=_after,
    watch=_watch,
)

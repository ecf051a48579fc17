"""`meshcheck cluster test --system NAME|FILE` for a system described by its file: the options
checked against the file (one line and exit 2 for what the run cannot do), the run (run.py), its
one table, the exit status (0 every check holds, 1 one failed or is undecided, or the run was
vacuous: it did almost nothing, or its faults did not happen, meshcheck/exercise.py; 130 or 143 a run
that SIGINT or SIGTERM stopped early, its partial history checked: early_stop.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from meshcheck import words
from meshcheck.exercise import VACUOUS
from meshcheck.exercise import vacuous
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.options import number
from meshcheck.options import whole
from meshcheck.systems import hosts_file
from meshcheck.systems.hosts_file import Host
from meshcheck.systems.registry import System

if TYPE_CHECKING:
    from meshcheck.systems.run import Outcome

# `cluster test`'s flags for the project's own cores, which a system file's nodes do not take
CORES_ONLY = ("--protocol", "--bugs", "--byzantine", "--core", "--delay", "--timeout")


def options_of(system: System, args: argparse.Namespace) -> object:
    """The run's options from the command line, checked against the system file."""
    from meshcheck.cluster import nemesis
    from meshcheck.cluster.clock_faults import unavailable as no_clock_shift
    from meshcheck.cluster.netns import missing
    from meshcheck.systems import checked
    from meshcheck.systems.run import KINDS
    from meshcheck.systems.run import LOOPBACK_KINDS
    from meshcheck.systems.run import NETWORKS
    from meshcheck.systems.run import PROXY
    from meshcheck.systems.run import SSH
    from meshcheck.systems.run import RunOptions
    from meshcheck.systems.system_file import check_installed

    file = system.file
    given = {
        "--protocol": args.protocol,
        "--bugs": args.bugs,
        "--byzantine": args.byzantine,
        "--core": args.core,
        "--delay": args.delay not in ("", "0"),
        "--timeout": args.timeout,
    }
    for flag in CORES_ONLY:
        if given[flag]:
            raise MeshcheckError(
                f"{flag}: only for the project's own cores (--system meshcheck); {file.name}'s "
                f"nodes run as {file.path.name} says"
            )
    nodes = whole("nodes", args.nodes or str(file.nodes.default), file.nodes.min, file.nodes.max)
    workload = args.workload or file.client.workloads[0]
    if workload not in file.client.workloads:
        raise MeshcheckError(
            f"--workload {workload}: {file.name} runs {' or '.join(file.client.workloads)}"
        )
    reads = args.reads or file.client.reads[0]
    if reads not in file.client.reads:
        raise MeshcheckError(f"--reads {reads}: choose from {' or '.join(file.client.reads)}")
    if (
        args.reads
        and reads != file.client.reads[0]
        and workload in ("lock", "fenced-lock", "watch")
    ):
        raise MeshcheckError(
            f"--reads {reads}: the {workload} workload reads nothing a read mode applies to"
        )
    client_pause = number("client-pause", args.client_pause or "0", 0, 3600)
    if client_pause and workload not in ("lock", "fenced-lock"):
        raise MeshcheckError(
            "--client-pause: only the lock and fenced-lock workloads' clients hold anything"
        )
    long_pause = number("long-pause", getattr(args, "long_pause", "0") or "0", 0, 3600)
    broken = getattr(args, "broken", "") or ""
    if broken:
        mutable = checked.KINDS.get(workload)
        known = mutable.mutants if mutable is not None else ()
        if broken not in known:
            raise MeshcheckError(
                f"--broken {broken}: the {workload} workload's mutants are "
                f"{', '.join(known) or 'none'}"
            )
    hosts = _hosts(args, nodes)
    why = missing()
    network = args.network or ("netns" if why is None else "loopback")
    if hosts:
        if args.network:
            raise MeshcheckError(
                f"--network {args.network}: not with --hosts (the hosts' own network)"
            )
        network, why = SSH, None
    if network not in (*NETWORKS, SSH):
        raise MeshcheckError(f"--network {network}: choose from {', '.join(NETWORKS)}")
    if network == "netns" and why is not None:
        raise MeshcheckError(f"--network netns: {why}")
    if network == PROXY and not file.nodes.proxied:
        raise MeshcheckError(
            f"--network proxy: {file.name}'s file does not let its peers be reached through link "
            "proxies (nodes.proxied); --network netns"
        )
    default = "kill,pause,partition" if network in ("netns", SSH, PROXY) else "kill,pause"
    kinds = nemesis.parse_kinds(args.nemesis or default)
    for kind in kinds:
        if kind not in KINDS:
            raise MeshcheckError(
                f"--nemesis {kind}: {file.name} runs under {', '.join(KINDS)} (the others act on "
                "the project's own cores or their link proxies)"
            )
        if network == "loopback" and kind not in LOOPBACK_KINDS:
            raise MeshcheckError(
                f"--nemesis {kind}: not on --network loopback (every node on 127.0.0.1: no link "
                f"to cut, slow or thin; there: {', '.join(LOOPBACK_KINDS)}); --network netns or "
                "proxy"
            )
    if not hosts:  # on hosts: looked for there once connected (remote_disks.py `install`)
        nemesis.needs_lazy_disks(kinds)
    why = no_clock_shift() if "clock" in kinds and not hosts else None
    if why is not None:
        raise MeshcheckError(f"--nemesis clock: {why}")
    if not hosts:  # on hosts: looked for there once connected (remote_nodes.py `install`)
        check_installed(file)
    return RunOptions(
        nodes=nodes,
        time=number("time", args.time, 1, 3600),
        nemesis=kinds,
        workload=workload,
        reads=reads,
        read_check=file.client.check(reads),
        rate=number("rate", args.rate, 1, 100_000),
        clients=whole("clients", args.clients, 1, 200),
        seed=whole("seed", args.seed, 0, 2**32 - 1),
        network=network,
        client_pause=client_pause,
        validate=args.validate,
        long_pause=long_pause,
        broken=broken,
        fs=nemesis.durability(getattr(args, "fs", ""), kinds),
        hosts=hosts,
    )


def _hosts(args: argparse.Namespace, nodes: int) -> tuple[Host, ...]:
    """The hosts of --hosts FILE for `nodes` nodes, node i on the i-th (none without it)."""
    given = getattr(args, "hosts", "") or ""
    if not given:
        return ()
    hosts = hosts_file.load(Path(given))
    if len(hosts) < nodes:
        raise MeshcheckError(
            f"--hosts {given}: {words.count(nodes, 'node')} need as many hosts, the file has "
            f"{len(hosts)}"
        )
    return hosts[:nodes]


def _nemesis(outcome: Outcome) -> str:
    """The nemesis row's detail: the plan's faults carried out (how many late, and the slip) and
    skipped (why), then those undone (meshcheck/cluster/fault_account.py)."""
    undone = sum(1 for _, w in outcome.struck if w.endswith(" undone"))
    said = outcome.faults.line()
    return f"{said}; {undone} undone" if said else f"{undone} carried out and undone"


def test(system: System, args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    from meshcheck.cluster.run import latency_ms
    from meshcheck.interrupts import sigterm_interrupts
    from meshcheck.systems import provenance
    from meshcheck.systems.run import RunOptions
    from meshcheck.systems.run import faults
    from meshcheck.systems.run import replay_command
    from meshcheck.systems.run import run
    from meshcheck.table import format_table

    options = options_of(system, args)
    assert isinstance(options, RunOptions)
    out = Path(args.out)
    print(
        f"cluster test: {system.file.name}, {words.count(options.nodes, 'node')}, "
        f"{options.time:g} s, seed {options.seed}, {options.network}"
        + (f", {options.fs} durability" if "power" in options.nemesis else "")
    )
    for fault in faults(system, options):
        print(f"  {fault.describe()}")
    given = getattr(args, "hosts", "") or ""
    provenance.keep(
        out, getattr(args, "argv", []), system.file, Path(given) if given else None,
        [(system.file.nodes.name(i), h) for i, h in enumerate(options.hosts, 1)],
    )  # fmt: skip
    with sigterm_interrupts():
        outcome = run(system, options, out, progress, interruptible=True)
    h = outcome.history
    lat = latency_ms(h)
    ran = options.time if not outcome.partial else max((o.call for o in h.ops), default=0.0)
    rows = [
        ("operations", f"ok {h.count('ok')}, fail {h.count('fail')}, info {h.count('info')}",
         f"{len(h.ops) / max(ran, 1.0):.0f}/s over {ran:.3g} s"),
        ("latency (ok)", f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
         f"max {lat['max']:.1f} ms"),
        ("nemesis", f"{words.count(len(outcome.plan), 'fault')}", _nemesis(outcome)),
        ("leader changes", str(outcome.leader_changes), "as the members named it (leaders.log)"),
    ]  # fmt: skip
    if outcome.partial:  # first: every verdict below judges part of a run
        rows.insert(0, ("run", "PARTIAL", f"{outcome.partial}; the checks judge what was "
                        "recorded until then (partial.txt)"))  # fmt: skip
    if outcome.down:
        rows.append(("nodes down", ", ".join(d.node for d in outcome.down),
                     "did not come back after a fault, left out of later ones (down.txt)"))  # fmt: skip
    done = outcome.exercise
    strict = bool(getattr(args, "strict", False))  # a late fault is not carried out
    empty = vacuous(done, strict)  # a run that did (almost) nothing shows nothing: exercise.py
    rows.append(("exercised", VACUOUS if empty else "enough", empty or done.line()))
    for v in outcome.verdicts:
        rows.append((v.check, v.said(), v.detail))
    print(format_table(("check", "result", "detail"), rows))
    if (out / "anomaly.txt").exists():
        print((out / "anomaly.txt").read_text(encoding="utf-8"), end="")
    elif (out / "consistency.txt").exists() and not outcome.holds:  # the promise's window
        print((out / "consistency.txt").read_text(encoding="utf-8"), end="")
    kind = "partial report" if outcome.partial else "report"
    print(f"{kind}: {out} (history.jsonl: `{replay_command(options, out)}`)")
    if outcome.signal:  # 128 + the signal, as a shell reports a process it ended: never a pass
        return 128 + outcome.signal
    if outcome.holds and empty:  # every check held, on a run that exercised too little: 1, as
        # a check left undecided
        print(f"cluster test: {VACUOUS}: {empty}")
        return EXIT_VIOLATED
    return EXIT_HOLDS if outcome.holds else EXIT_VIOLATED

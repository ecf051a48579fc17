"""`meshcheck cluster test --system etcd` (meshcheck/cluster/etcd/): the options checked (one line and exit 2 for what an etcd
run cannot do), the run, its one table, the exit status (0 every check holds, 1 one failed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS, EXIT_VIOLATED, MeshcheckError
from meshcheck.options import number, whole


def test(args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    from meshcheck.cluster import nemesis
    from meshcheck.cluster.etcd.run import EtcdOptions, check_options, replay_command, run
    from meshcheck.cluster.run import latency_ms
    from meshcheck.interrupts import sigterm_interrupts
    from meshcheck.table import format_table

    for flag, given in (
        ("--bugs", args.bugs),
        ("--byzantine", args.byzantine),
        ("--core", args.core),
    ):
        if given:
            raise MeshcheckError(
                f"{flag}: etcd runs as it is released (no mutants, no Byzantine members)"
            )
    if args.protocol != "raft":
        raise MeshcheckError(f"--protocol {args.protocol}: --system etcd runs etcd (its own Raft)")
    nodes = whole("nodes", args.nodes or "3", 3, 9)
    options = EtcdOptions(
        nodes=nodes,
        time=number("time", args.time, 1, 3600),
        nemesis=nemesis.parse_kinds(args.nemesis),
        workload=args.workload or "registers",
        reads=args.reads,
        rate=number("rate", args.rate, 1, 100_000),
        clients=whole("clients", args.clients, 1, 200),
        seed=whole("seed", args.seed, 0, 2**32 - 1),
        client_pause=number("client-pause", args.client_pause, 0, 3600),
    )
    check_options(options)
    from meshcheck.cluster.etcd.server import etcd_binary

    etcd_binary()  # one line with the fix when etcd is not installed
    out = Path(args.out)
    (out / "anomaly.txt").unlink(missing_ok=True)  # an earlier run's, in the same folder
    print(f"cluster test: etcd, {options.nodes} members, {options.time:g} s, seed {options.seed}")
    for fault in options.faults():
        print(f"  {fault.describe()}")
    with sigterm_interrupts():
        outcome = run(options, out, progress)
    h = outcome.history
    lat = latency_ms(h)
    rows = [
        ("operations", f"ok {h.count('ok')}, fail {h.count('fail')}, info {h.count('info')}",
         f"{len(h.ops) / options.time:.0f}/s over {options.time:g} s"),
        ("latency (ok)", f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
         f"max {lat['max']:.1f} ms"),
        ("nemesis", f"{words.count(len(outcome.plan), 'fault')}", f"{len(outcome.struck) // 2} carried out"),
    ]  # fmt: skip
    for v in outcome.verdicts:
        result = {True: "holds", False: "VIOLATED", None: "unknown"}[v.holds]
        rows.append((v.check, result, v.detail))
    print(format_table(("check", "result", "detail"), rows))
    if (out / "anomaly.txt").exists():
        print((out / "anomaly.txt").read_text(encoding="utf-8"), end="")
    print(f"report: {out} (history.jsonl: `{replay_command(options, out)}`)")
    return EXIT_HOLDS if outcome.holds else EXIT_VIOLATED

"""`meshcheck campaign`: its arguments, checked before any worker starts (bad input: one line,
exit 2), and what it prints and writes."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from collections.abc import Callable

    from meshcheck.campaign.cluster_run import ClusterConfig
    from meshcheck.campaign.run import Config

from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError


def add_parser(sub: Any) -> None:
    c = sub.add_parser(
        "campaign",
        help="the property checks and the mutant kill matrix with fresh seeds until the time is up",
    )
    c.add_argument("--hours", type=float, default=None, help="how long to run")
    c.add_argument("--minutes", type=float, default=None, help="how long to run (short runs)")
    c.add_argument(
        "--protocol", action="append", default=[], help="a registered protocol (repeat; all)"
    )
    c.add_argument("--check", action="append", default=[], help="only this check (repeat)")
    c.add_argument("--bugs", default="", help="a mutant build: these catalogue bugs on (A,B)")
    c.add_argument("--no-mutants", action="store_true", help="leave out the kill matrix")
    c.add_argument("--workers", type=int, default=2, help="local workers (default 2)")
    c.add_argument("--engine", default="local", help="local (default), dask or ray")
    c.add_argument("--address", default=None, help="a running Dask scheduler or Ray head")
    c.add_argument("--db", default=None, help="example database: a folder or redis://host:port")
    c.add_argument("--out", default="reports/campaign", help="results folder")
    c.add_argument("--examples", type=int, default=25, help="Hypothesis examples per task")
    c.add_argument(
        "--profile",
        default="default",
        choices=("quick", "default", "deep"),
        help="the Hypothesis settings each task starts from (default: default; its budget is "
        "--examples)",
    )
    c.add_argument("--quiet", action="store_true", help="no progress line")
    k = c.add_argument_group(
        "a campaign of cluster tests (--cluster)",
        "N `meshcheck cluster test` runs of one system, each with its own seed, on the engine's "
        "workers; the reports gathered under OUT/runs/seed-S/ (docs/campaigns.md)",
    )
    k.add_argument("--cluster", action="store_true", help="run cluster tests, not property checks")
    k.add_argument("--system", default="", metavar="NAME|FILE", help="the system to test")
    k.add_argument("--runs", type=int, default=None, metavar="N", help="how many cluster tests")
    k.add_argument(
        "--hosts",
        action="append",
        default=[],
        metavar="FILE",
        help="a hosts file (repeat: run i takes the (i mod k)-th, a worker's own machines)",
    )
    k.add_argument(
        "--seed", action="append", default=[], type=int, help="a run's seed (repeat; else drawn)"
    )
    for flag in CLUSTER_FLAGS:
        k.add_argument(f"--{flag}", default=None, help=f"each run's `cluster test --{flag}`")


# `cluster test` options a campaign of cluster tests passes on to each run as given
CLUSTER_FLAGS = ("time", "nemesis", "network", "workload", "nodes", "rate", "clients")


def cluster_config_of(args: argparse.Namespace) -> ClusterConfig:
    """The campaign of cluster tests asked for, or MeshcheckError (exit 2) naming what is wrong."""
    from meshcheck.campaign import cluster_run
    from meshcheck.campaign import engines
    from meshcheck.systems import hosts_file
    from meshcheck.systems.registry import resolve

    if not args.system:
        raise MeshcheckError("campaign --cluster: name the system to test with --system NAME|FILE")
    if args.runs is None or args.runs < 1:
        raise MeshcheckError("campaign --cluster: give the number of cluster tests as --runs N")
    unfit = [
        flag
        for flag, given in (
            ("--hours", args.hours is not None),
            ("--minutes", args.minutes is not None),
            ("--protocol", bool(args.protocol)),
            ("--check", bool(args.check)),
            ("--db", args.db is not None),
            ("--no-mutants", args.no_mutants),
        )
        if given
    ]
    if unfit:
        raise MeshcheckError(
            f"campaign --cluster: {', '.join(unfit)} is for property checks (a campaign of "
            "cluster tests runs --runs N of them)"
        )
    if len(args.seed) > args.runs:
        raise MeshcheckError(f"campaign --cluster: {len(args.seed)} seeds for --runs {args.runs}")
    if args.workers < 1:
        raise MeshcheckError(f"campaign: --workers must be 1 or more, not {args.workers}")
    if args.engine not in engines.ENGINES:
        raise MeshcheckError(
            f"campaign: no engine {args.engine!r} (engines: {', '.join(engines.ENGINES)})"
        )
    if args.engine == "local" and args.address:
        raise MeshcheckError("campaign: --address is for --engine dask or ray: local runs here")
    system = args.system
    if Path(system).is_file():  # the same path on every worker's machine
        system = str(Path(system).resolve())
    resolve(system)  # not a system: one line, exit 2
    hosts = []
    for name in args.hosts:
        path = Path(name)
        if not path.is_file():
            raise MeshcheckError(f"campaign --cluster: --hosts {name}: no such file")
        hosts_file.load(path)  # not a hosts file: one line, exit 2
        hosts.append(str(path.resolve()))
    argv = ["--system", system]
    for flag in CLUSTER_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag}", value]
    if args.bugs:
        argv += ["--bugs", args.bugs]
    out = Path(args.out)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeshcheckError(f"campaign: --out {out}: not a folder: {exc.strerror}") from None
    return cluster_run.ClusterConfig(
        tuple(argv),
        args.runs,
        tuple(hosts),
        args.engine,
        args.workers,
        args.address,
        out,
        tuple(args.seed),
    )


def config_of(args: argparse.Namespace) -> Config:
    """The campaign's Config, or MeshcheckError (exit 2) naming what is wrong."""
    from meshcheck import registry
    from meshcheck.campaign import engines
    from meshcheck.campaign import run
    from meshcheck.mutants_cmd import catalogue
    from meshcheck.mutants_cmd import with_catalogue

    given = [f"--{f}" for f in ("cluster", "system", "runs", "hosts", "seed") if getattr(args, f)]
    given += [f"--{f}" for f in CLUSTER_FLAGS if getattr(args, f) is not None]
    if given:
        raise MeshcheckError(f"campaign: {', '.join(given)} only with --cluster")
    if (args.hours is None) == (args.minutes is None):
        raise MeshcheckError("campaign: give the time as --hours H or --minutes M (one of them)")
    seconds = args.hours * 3600 if args.hours is not None else args.minutes * 60
    if not math.isfinite(seconds) or seconds <= 0:
        raise MeshcheckError(f"campaign: the time must be more than 0, not {seconds / 60:g} min")
    if args.workers < 1:
        raise MeshcheckError(f"campaign: --workers must be 1 or more, not {args.workers}")
    most = 4 * (os.cpu_count() or 1)
    if args.engine == "local" and args.workers > most:
        raise MeshcheckError(
            f"campaign: --workers {args.workers} local processes on {os.cpu_count()} cores "
            f"(at most {most}; a cluster takes --engine dask --address)"
        )
    if args.examples < 1:
        raise MeshcheckError(f"campaign: --examples must be 1 or more, not {args.examples}")
    if args.engine not in engines.ENGINES:
        raise MeshcheckError(
            f"campaign: no engine {args.engine!r} (engines: {', '.join(engines.ENGINES)})"
        )
    protocols = tuple(registry.get(p).name for p in args.protocol) or with_catalogue()
    for p in protocols:
        catalogue(p)  # a protocol without checks: one line, exit 2
    known = run.checks_of(protocols)
    unknown = [c for c in args.check if c not in known]
    if unknown:
        raise MeshcheckError(
            f"campaign: no check {', '.join(map(repr, unknown))} "
            f"(checks: {', '.join(sorted(known))})"
        )
    bugs = tuple(b for b in args.bugs.split(",") if b)
    every_bug = {b for p in protocols for b in catalogue(p)[0]}
    stray = [b for b in bugs if b not in every_bug]
    if stray:
        raise MeshcheckError(
            f"campaign: no mutant {', '.join(stray)} in {', '.join(protocols)}'s catalogue"
        )
    out = Path(args.out)
    try:
        (out / "failures").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeshcheckError(f"campaign: --out {out}: not a folder: {exc.strerror}") from None
    db = database(args.db if args.db is not None else str(out / "examples"))
    return run.Config(
        seconds,
        protocols,
        tuple(args.check),
        bugs,
        not args.no_mutants,
        args.workers,
        args.engine,
        args.address,
        db,
        out,
        args.examples,
        args.profile,
    )


def database(db: str) -> str:
    """The example database argument checked: a folder (made), or a reachable Redis server."""
    if "://" not in db:
        path = Path(db)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MeshcheckError(f"campaign: --db {db}: not a folder: {exc.strerror}") from None
        return str(path.resolve())
    url = urlparse(db)
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme != "redis" or not url.hostname or port is None:
        raise MeshcheckError(
            f"campaign: --db {db}: an example database is a folder or redis://host:port[/db]"
        )
    try:
        import redis
    except ImportError:
        raise MeshcheckError(
            "campaign: a Redis example database needs the redis package: "
            "pip install 'meshcheck[campaign]'"
        ) from None
    try:
        redis.Redis.from_url(db, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as exc:
        raise MeshcheckError(f"campaign: --db {db}: no Redis server answers: {exc}") from None
    return db


def run_campaign(args: argparse.Namespace) -> int:
    from meshcheck.campaign import page
    from meshcheck.campaign import report
    from meshcheck.campaign import run
    from meshcheck.html import render

    if args.cluster:
        from meshcheck.campaign import cluster_run

        return cluster_run.run(cluster_config_of(args), say=_say(args.quiet))
    config = config_of(args)
    say = run.printer() if not args.quiet else None
    result = run.run(config, progress=say)
    if say is not None and sys.stderr.isatty():
        sys.stderr.write("\n")
    data, svg = report.write(result)
    html = result.config.out / "report.html"
    render.write(page.build(result), html)
    print(report.render(result))
    print(f"results: {data}\ncoverage plot: {svg}\nreport: {html}")
    if result.failures or result.survivors():
        return EXIT_VIOLATED
    if result.errors or not result.tasks:
        # nothing found, but not because everything held: a check that could not run, or no task
        # that ran to its end, is no evidence either way
        why = (
            f"{sum(result.errors.values())} task(s) of checks that could not run (above)"
            if result.errors
            else "no task ran to its end in the time given"
        )
        print(f"campaign: {why}", file=sys.stderr)
        return EXIT_USAGE
    empty = report.vacuous_checks(result)
    if empty:  # held, having exercised almost nothing: not shown to hold (meshcheck/exercise.py)
        print(f"campaign: every free run vacuous in {', '.join(empty)}", file=sys.stderr)
        return EXIT_VIOLATED
    return EXIT_HOLDS


def _say(quiet: bool) -> Callable[[str], None]:
    """Where a campaign of cluster tests prints: stdout; its progress lines (indented) left out
    with --quiet."""

    def say(line: str) -> None:
        if not (quiet and line.startswith("  [")):
            print(line, flush=True)

    return say

"""`meshcheck campaign`: its arguments, checked before any worker starts (bad input: one line,
exit 2), and what it prints and writes."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from meshcheck.campaign.run import Config

from meshcheck.impl.base.errors import EXIT_HOLDS, EXIT_USAGE, EXIT_VIOLATED, MeshcheckError


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


def config_of(args: argparse.Namespace) -> Config:
    """The campaign's Config, or MeshcheckError (exit 2) naming what is wrong."""
    from meshcheck import registry
    from meshcheck.campaign import engines, run
    from meshcheck.mutants_cmd import catalogue, with_catalogue

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
    from meshcheck.campaign import page, report, run
    from meshcheck.html import render

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
    return EXIT_HOLDS

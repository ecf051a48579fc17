"""`meshcheck claims raft-deployment`: the second design's Raft deployment, measured and judged.

Prints one table (claim, loss rate, samples, p50/p90/p99/max in ms, verdict with its witness seed)
after a progress line on stderr, writes the CDF plot to `--out`, and for each claim that does not
hold as stated the command that replays its witness. Exit 0: every claim holds as stated; 1: some
claim holds only with a different constant, or does not hold; 2: bad input (one line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import EXIT_HOLDS, EXIT_VIOLATED, MeshcheckError

DEFAULT_SEEDS = 1_000
DEFAULT_LOSS = "0,1,10"
DEFAULT_OUT = "reports/claims"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cl = sub.add_parser("claims", help="measure a design's stated numbers in the simulator")
    csub = cl.add_subparsers(dest="claims_command", required=True, metavar="CLAIMS")
    rd = csub.add_parser(
        "raft-deployment",
        help="14 Raft coordinators: election time and commit latency against the claims",
    )
    # plain strings, checked by the command: bad input is one `meshcheck: ...` line, exit 2
    rd.add_argument("--seeds", default=str(DEFAULT_SEEDS), metavar="N", help="seeds per loss rate")
    rd.add_argument("--first", default="0", metavar="S", help="the first seed (default 0)")
    rd.add_argument(
        "--loss",
        default=DEFAULT_LOSS,
        metavar="P,P",
        help=f"message loss rates in percent, comma-separated (default {DEFAULT_LOSS})",
    )
    rd.add_argument(
        "--latency",
        default=None,
        metavar="LO,HI",
        help="one-way message latency in ms, uniform in [LO, HI] (default 1,10: a LAN)",
    )
    rd.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help="where raft-deployment.svg goes"
    )
    rd.add_argument(
        "--json", metavar="FILE", help="also write every run's numbers (per seed) as JSON"
    )
    rd.add_argument("--quiet", "-q", action="store_true", help="no progress line")


def _whole(text: str, what: str, least: int) -> int:
    try:
        n = int(text)
    except ValueError:
        raise MeshcheckError(f"{what} must be a whole number, not {text!r}") from None
    if n < least:
        raise MeshcheckError(f"{what} must be at least {least}, not {n}")
    return n


def parse_losses(text: str) -> list[float]:
    """'0,1,10' -> [0.0, 0.01, 0.1]: percentages in [0, 100), distinct, in the order given."""
    out: list[float] = []
    for part in text.split(","):
        try:
            pct = float(part)
        except ValueError:
            raise MeshcheckError(
                f"--loss takes percentages separated by commas (0,1,10), not {text!r}"
            ) from None
        if not 0 <= pct < 100:
            raise MeshcheckError(f"a loss rate is a percentage in [0, 100), not {part}")
        if pct / 100 in out:
            raise MeshcheckError(f"loss rate {part}% given twice")
        out.append(pct / 100)
    return out


def parse_latency(text: str | None) -> tuple[int, int] | None:
    """'1,10' -> (1, 10); None: the deployment's default."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 2:
        raise MeshcheckError(f"--latency takes LO,HI in ms (1,10), not {text!r}")
    lo, hi = (_whole(p, "--latency", 0) for p in parts)
    if lo > hi:
        raise MeshcheckError(f"--latency {text}: LO must not exceed HI")
    return lo, hi


def run_claims(args: argparse.Namespace) -> int:
    if args.claims_command != "raft-deployment":  # pragma: no cover - argparse allows no other
        raise MeshcheckError(f"unknown claims {args.claims_command!r}")
    return raft_deployment(args)


def raft_deployment(args: argparse.Namespace) -> int:
    seeds = _whole(args.seeds, "--seeds", 1)
    first = _whole(args.first, "--first", 0)
    losses = parse_losses(args.loss)
    latency = parse_latency(args.latency)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MeshcheckError(f"--out {out}: not a folder")

    from meshcheck.claims import raft
    from meshcheck.claims.report import Ticker, format_rows
    from meshcheck.claims.verdict import HOLDS

    ticker = Ticker("raft-deployment")
    total = seeds * len(losses)

    def progress(loss: float, done: int, _total: int) -> None:
        if not args.quiet:
            ticker(f"{raft.loss_label(loss)}, {done:,} of {total:,} runs")

    start = time.monotonic()
    d = raft.DEPLOYMENT if latency is None else attrs.evolve(raft.DEPLOYMENT, latency=latency)
    results = raft.measure(range(first, first + seeds), losses, d, progress=progress)
    elapsed = time.monotonic() - start
    ticker.done()
    try:
        out.mkdir(parents=True, exist_ok=True)
        svg = out / "raft-deployment.svg"
        svg.write_text(raft.figure(results, d))
        if args.json:
            Path(args.json).write_text(json.dumps(raft.to_json(results)) + "\n")
    except OSError as exc:
        raise MeshcheckError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None

    rows = raft.rows(results)
    print(
        f"Raft deployment: {d.nodes} nodes (quorum {d.quorum}), election timeout "
        f"{d.election_timeout[0]}-{d.election_timeout[1]} ms, heartbeat {d.heartbeat} ms, "
        f"compaction every {d.snapshot_interval:,} entries, latency {d.latency[0]}-{d.latency[1]} "
        f"ms uniform; seeds {first}-{first + seeds - 1} per loss rate, {d.writes} writes per run"
    )
    print(format_rows(rows))
    for loss, runs in results.items():
        failed = sum(r.failed for r in runs)
        skipped = sum(r.no_leader for r in runs)
        if failed or skipped:
            print(
                f"{raft.loss_label(loss)}: {failed} writes answered with an error (leader deposed), "
                f"{skipped} not submitted (no leader at that moment); neither is timed"
            )
    for row in rows:
        if row.verdict.kind != HOLDS:
            pct = row.condition.split("%")[0]
            print(
                f"replay {row.claim}, {row.condition}: meshcheck claims raft-deployment "
                f"--first {row.verdict.witness} --seeds 1 --loss {pct}"
                + ("" if latency is None else f" --latency {latency[0]},{latency[1]}")
            )
    runs_total = sum(len(r) for r in results.values())
    print(f"{runs_total:,} runs in {elapsed:.0f} s; plot: {svg}")
    sys.stdout.flush()
    return EXIT_HOLDS if all(r.verdict.kind == HOLDS for r in rows) else EXIT_VIOLATED

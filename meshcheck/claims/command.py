"""`meshcheck claims raft-deployment`, `gossip`, `bft-compare` and `deployment`: stated numbers,
measured and judged.

raft-deployment: the second design's Raft deployment. Prints one table (claim, loss rate, samples, p50/p90/p99/max in ms, verdict with its witness seed)
after a progress line on stderr, writes the CDF plot to `--out`, and for each claim that does not
hold as stated the command that replays its witness. Exit 0: every claim holds as stated; 1: some
claim holds only with a different constant, or does not hold; 2: bad input (one line).

gossip: the gossip layer's claims (meshcheck/claims/gossip.py), with the same tables, plot and exit
codes.

bft-compare: PBFT against HotStuff side by side (meshcheck/claims/bft.py): per committed request
messages, bytes, signatures and CPU, the cost of a leader's crash, and the verdict on "HotStuff
O(n), PBFT O(n^2) messages". Exit 0: the claim holds at batch 1; 1: it does not; 2: bad input.

deployment: the design's targets measured on real processes, not ticks (meshcheck/claims/
deployment.py): one table of target, setup, bound, measured and verdict. Exit 0: every target
holds; 1: some does not; 2: bad input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import attrs

from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError

DEFAULT_SEEDS = 1_000
DEFAULT_LOSS = "0,1,10"
DEFAULT_OUT = "reports/claims"
DEFAULT_SIZES = "10,100,1000,10000"
DEFAULT_AGENTS = 593
DEFAULT_GOSSIP_SEEDS = 200
DEFAULT_CONDITIONS = "loss0,loss1,loss10,churn1"
DEFAULT_DETECTOR_SEEDS = 30
PROFILE_NAMES = ("lan", "wan", "tail", "loss")  # meshcheck/claims/gossip.py PROFILES, in order
DEFAULT_BFT_SIZES = "4,7,10,16,31"
DEFAULT_SYSTEM = "meshcheck"  # `cluster test --system`'s default: the project's own cores
DEFAULT_BFT_REQUESTS = 100
BFT_MIN, BFT_MAX = 4, 64  # n = 3f + 1 needs 4; PBFT's cost grows as n^2 per request


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
    _outputs(rd, "raft-deployment.svg", numbers="every run's numbers (per seed)")

    gs = csub.add_parser(
        "gossip",
        help="gossip at 10 to 10,000 nodes: propagation, rounds, messages, bytes, the detector",
    )
    gs.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        metavar="N,N",
        help=f"cluster sizes, comma-separated, or 'none' (default {DEFAULT_SIZES})",
    )
    gs.add_argument(
        "--agents",
        default=str(DEFAULT_AGENTS),
        metavar="N",
        help=f"also the second design's deployment of N agents; 0: not (default {DEFAULT_AGENTS})",
    )
    gs.add_argument(
        "--seeds",
        default=str(DEFAULT_GOSSIP_SEEDS),
        metavar="S",
        help="seeds per condition at N <= 100; larger N: max(min(S, 3), S x 100 / N) "
        f"(default {DEFAULT_GOSSIP_SEEDS})",
    )
    gs.add_argument("--first", default="0", metavar="S", help="the first seed (default 0)")
    gs.add_argument(
        "--conditions",
        default=DEFAULT_CONDITIONS,
        metavar="C,C",
        help="lossP (message loss P%%) and churnP (P%% of nodes crash per interval), "
        f"comma-separated (default {DEFAULT_CONDITIONS})",
    )
    gs.add_argument(
        "--detector-seeds",
        default=str(DEFAULT_DETECTOR_SEEDS),
        metavar="S",
        help=f"seeds per delay profile for the detector; 0: skip it (default "
        f"{DEFAULT_DETECTOR_SEEDS})",
    )
    gs.add_argument(
        "--profiles",
        default=",".join(PROFILE_NAMES),
        metavar="P,P",
        help=f"the detector's delay profiles (default {','.join(PROFILE_NAMES)})",
    )
    _outputs(gs, "gossip.svg")

    bc = csub.add_parser(
        "bft-compare",
        help="PBFT against HotStuff: messages, bytes, signatures, CPU per request; O(n) vs O(n^2)",
    )
    bc.add_argument(
        "--sizes",
        default=DEFAULT_BFT_SIZES,
        metavar="N,N",
        help=f"replica counts, comma-separated, each {BFT_MIN}-{BFT_MAX} (default "
        f"{DEFAULT_BFT_SIZES})",
    )
    bc.add_argument(
        "--requests",
        default=str(DEFAULT_BFT_REQUESTS),
        metavar="N",
        help=f"client requests per run (default {DEFAULT_BFT_REQUESTS})",
    )
    _outputs(bc, "bft-compare.svg")

    pl = csub.add_parser(
        "plot",
        help="draw a measurement's plot again from its --json file, measuring nothing",
    )
    pl.add_argument(
        "file", metavar="FILE", help="what --json wrote (raft-deployment, gossip, bft-compare)"
    )
    pl.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="where the .svg goes")

    dp = csub.add_parser(
        "deployment",
        help="the design's targets on real processes here: Raft, PBFT, HotStuff, gossip",
    )
    dp.add_argument(
        "--system",
        action="append",
        metavar="NAME|FILE",
        help="the systems measured, one table, repeatable or comma-separated: meshcheck, the "
        "project's own cores (default); a system meshcheck ships a file for (etcd); or a system "
        "file (path/to/system.toml, docs/systems.md)",
    )
    dp.add_argument(
        "--quick",
        action="store_true",
        help="short runs, 3 to 5 nodes, one leader kill (a minute; the docs' table is the full run)",
    )
    dp.add_argument("--out", default=f"{DEFAULT_OUT}/deployment", metavar="DIR",
                    help="the runs' report folders (a folder per system when several)")  # fmt: skip
    dp.add_argument("--json", metavar="FILE", help="also write every target's samples as JSON")
    dp.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def _outputs(
    parser: argparse.ArgumentParser, plot: str, *, numbers: str = "every run's numbers"
) -> None:
    """The options every measurement takes: where its plot goes, its numbers as JSON, quiet."""
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"where {plot} goes")
    parser.add_argument("--json", metavar="FILE", help=f"also write {numbers} as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress line")


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


def say(text: str = "") -> None:
    """Print within table.WIDE: a table's line as it is (each table is laid out narrow), a replay
    line as what it replays and, on the next line, the command; other lines wrapped."""
    from meshcheck.table import WIDE

    for line in text.split("\n"):
        if line.startswith("replay ") and ": meshcheck " in line:
            what, command = line.split(": meshcheck ", 1)
            print(f"{what}:\n  meshcheck {command}")
        elif line.startswith("|") or len(line) <= WIDE:
            print(line)
        else:
            print("\n".join(textwrap.wrap(line, WIDE, subsequent_indent="  ")))


def run_claims(args: argparse.Namespace) -> int:
    if args.claims_command == "plot":
        return plot(Path(args.file), Path(args.out))
    measures = {
        "raft-deployment": raft_deployment,
        "gossip": gossip,
        "bft-compare": bft_compare,
        "deployment": deployment,
    }
    if args.claims_command not in measures:  # pragma: no cover - argparse allows no other
        raise MeshcheckError(f"unknown claims {args.claims_command!r}")
    return measures[args.claims_command](args)


def raft_deployment(args: argparse.Namespace) -> int:
    seeds = _whole(args.seeds, "--seeds", 1)
    first = _whole(args.first, "--first", 0)
    losses = parse_losses(args.loss)
    latency = parse_latency(args.latency)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MeshcheckError(f"--out {out}: not a folder")

    from meshcheck.claims import raft
    from meshcheck.claims.report import Ticker
    from meshcheck.claims.report import format_rows
    from meshcheck.claims.verdict import HOLDS

    ticker = Ticker("raft-deployment")
    total = seeds * len(losses)

    def progress(loss: float, done: int, _total: int) -> None:
        if not args.quiet:
            ticker(f"{raft.loss_label(loss)}, {done:,} of {words.count(total, 'run', commas=True)}")

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
            write_json(Path(args.json), raft.to_json(results, d))
    except OSError as exc:
        raise MeshcheckError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None

    rows = raft.rows(results)
    say(
        f"Raft deployment: {words.count(d.nodes, 'node')} (quorum {d.quorum}), election timeout "
        f"{d.election_timeout[0]}-{d.election_timeout[1]} ms, heartbeat {d.heartbeat} ms, "
        f"compaction every {words.count(d.snapshot_interval, 'entry', commas=True)}, latency {d.latency[0]}-{d.latency[1]} "
        f"ms uniform; seeds {first}-{first + seeds - 1} per loss rate, {words.count(d.writes, 'write')} per run"
    )
    say(format_rows(rows))
    for loss, runs in results.items():
        failed = sum(r.failed for r in runs)
        skipped = sum(r.no_leader for r in runs)
        if failed or skipped:
            say(
                f"{raft.loss_label(loss)}: {words.count(failed, 'write')} answered with an error (leader deposed), "
                f"{skipped} not submitted (no leader at that moment); neither is timed"
            )
    for row in rows:
        if row.verdict.kind != HOLDS:
            pct = row.condition.split("%")[0]
            say(
                f"replay {row.claim}, {row.condition}: meshcheck claims raft-deployment "
                f"--first {row.verdict.witness} --seeds 1 --loss {pct}"
                + ("" if latency is None else f" --latency {latency[0]},{latency[1]}")
            )
    runs_total = sum(len(r) for r in results.values())
    say(f"{words.count(runs_total, 'run', commas=True)} in {elapsed:.0f} s; plot: {svg}")
    sys.stdout.flush()
    return EXIT_HOLDS if all(r.verdict.kind == HOLDS for r in rows) else EXIT_VIOLATED


# -- gossip -------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """'10,100' -> [10, 100]; 'none' -> []: distinct sizes of 2 nodes or more."""
    if text.strip() == "none":
        return []
    out: list[int] = []
    for part in text.split(","):
        n = _whole(part.strip(), "--sizes", 2)
        if n in out:
            raise MeshcheckError(f"size {n} given twice")
        out.append(n)
    return out


def parse_conditions(text: str) -> list[Any]:
    """'loss0,churn1' -> [Condition(0.0), Condition(churn=0.01)] ('churn1+loss1': both)."""
    from meshcheck.claims.gossip import Condition

    out: list[Condition] = []
    for part in text.split(","):
        loss = churn = 0.0
        for piece in part.strip().split("+"):
            for name in ("loss", "churn"):
                if piece.startswith(name):
                    try:
                        pct = float(piece[len(name) :])
                    except ValueError:
                        pct = -1.0
                    if not 0 <= pct < 100:
                        raise MeshcheckError(
                            f"--conditions: {piece!r}: {name} takes a percentage in [0, 100)"
                        )
                    if name == "loss":
                        loss = pct / 100
                    else:
                        churn = pct / 100
                    break
            else:
                raise MeshcheckError(
                    f"--conditions takes lossP and churnP (loss0,loss1,loss10,churn1), "
                    f"not {piece!r}"
                )
        c = Condition(loss, churn)
        if c in out:
            raise MeshcheckError(f"--conditions: {part!r} given twice")
        out.append(c)
    return out


def parse_profiles(text: str) -> list[Any]:
    from meshcheck.claims.gossip import PROFILES

    table = dict(zip(PROFILE_NAMES, PROFILES, strict=True))
    out = []
    for part in text.split(","):
        p = table.get(part.strip())
        if p is None:
            raise MeshcheckError(
                f"--profiles takes {', '.join(PROFILE_NAMES)}, comma-separated, not {part!r}"
            )
        if p not in out:
            out.append(p)
    return out


def seeds_at(n: int, seeds: int, first: int) -> range:
    """The seeds run at size `n`: `seeds` up to 100 nodes, fewer above (their cost grows with n)."""
    count = seeds if n <= 100 else max(min(seeds, 3), seeds * 100 // n)
    return range(first, first + count)


def gossip(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.sizes)
    agents = _whole(args.agents, "--agents", 0)
    if agents == 1:
        raise MeshcheckError("--agents must be 0 (none) or at least 2")
    if agents and agents not in sizes:
        sizes.append(agents)
    sizes.sort()
    seeds = _whole(args.seeds, "--seeds", 1)
    first = _whole(args.first, "--first", 0)
    conditions = parse_conditions(args.conditions)
    detector_seeds = _whole(args.detector_seeds, "--detector-seeds", 0)
    profiles = parse_profiles(args.profiles)
    if not sizes and not detector_seeds:
        raise MeshcheckError("nothing to measure: --sizes none, --agents 0 and --detector-seeds 0")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MeshcheckError(f"--out {out}: not a folder")

    import resource

    from meshcheck import table
    from meshcheck.claims import gossip as g
    from meshcheck.claims.report import Ticker
    from meshcheck.claims.report import format_rows
    from meshcheck.claims.report import labelled
    from meshcheck.claims.verdict import HOLDS
    from meshcheck.claims.verdict import percentile

    ticker = Ticker("gossip")
    start = time.monotonic()
    cpu = time.process_time()

    def progress(n: int, label: str, done: int, total: int) -> None:
        if not args.quiet:
            ticker(f"N = {n:,}, {label}, {done:,} of {words.count(total, 'run', commas=True)}")

    def dprogress(name: str, done: int, total: int) -> None:
        if not args.quiet:
            ticker(f"detector, {name}, {done:,} of {words.count(total, 'run', commas=True)}")

    results = g.measure(sizes, lambda n: seeds_at(n, seeds, first), conditions, progress=progress)
    prop_wall = time.monotonic() - start
    detector = (
        g.measure_detector(range(first, first + detector_seeds), profiles, progress=dprogress)
        if detector_seeds
        else {}
    )
    elapsed = time.monotonic() - start
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    ticker.done()
    svg = out / "gossip.svg"
    try:
        out.mkdir(parents=True, exist_ok=True)
        if results:
            svg.write_text(g.figure(results))
        if args.json:
            write_json(Path(args.json), g.to_json(results, detector))
    except OSError as exc:
        raise MeshcheckError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None

    s = g.SETTING
    say(
        f"Gossip: interval {s.interval} ms, fanout {s.fanout}, latency {s.latency[0]}-"
        f"{s.latency[1]} ms uniform; one write at {s.warmup}-{s.warmup + s.interval} ms, runs "
        f"until every live node holds it and {s.horizon // 1000} s passed (cap "
        f"{s.cap // 1000} s); link {g.LINK * 8 // 10**9} Gbit/s per node"
    )
    rows = g.rows(results) + g.detector_rows(detector)
    if rows:
        say(format_rows(rows))
    growth = g.growth(results)
    for claim in dict.fromkeys(c for c, _, _ in growth):
        # per claim: the logarithmic fit and both fits' R2, the constant that held and its witness;
        # a verdict other than "holds" is said whole (under the table when it is long)
        say()
        say(claim)
        say(
            table.format_fitted(
                GROWTH_HEADER,
                [_growth_cells(label, v) for c, label, v in growth if c == claim],
                label=labelled(claim),
            )
        )
    if results:
        say()
        body: list[tuple[str, ...]] = []

        def q(v: list[Any], p: float, fmt: str = "{:,.0f}") -> str:
            return fmt.format(percentile(v, p)) if v else "-"

        for n, by in results.items():
            for label, runs in by.items():
                t99 = [r.t99 for r in runs if r.t99 is not None]
                t100 = [r.t100 for r in runs if r.t100 is not None]
                rounds = [r.rounds100 for r in runs if r.rounds100 is not None]
                mpr = [r.messages_per_node_round for r in runs]
                bpr = [r.bytes_per_node_round for r in runs]
                events = sum(r.events for r in runs)
                used = sum(r.cpu for r in runs)

                body.append(
                    (
                        g.size_label(n),
                        label,
                        f"{len(runs):,}",
                        q(t99, 50),
                        q(t99, 99),
                        q(t100, 50),
                        q(t100, 99),
                        str(len(runs) - len(t100)),
                        q(rounds, 50, "{:.1f}"),
                        q(rounds, 100, "{:.1f}"),
                        q(mpr, 50, "{:.2f}"),
                        q(bpr, 50),
                        f"{used / len(runs):.2f}",
                        f"{events / used:,.0f}" if used else "-",
                    )
                )
        # two tables of the same rows, so that each stays narrow: the times, then the costs
        times = ("99% p50", "99% p99", "100% p50", "100% p99", "never 100%")
        costs = ("rounds p50", "rounds max", "msgs/node/round", "bytes/node/round", "CPU s/run")
        spread = [row[:8] for row in body]
        cost = [(*row[:2], *row[8:]) for row in body]
        say(
            "time from the write to 99% and 100% of live nodes (ms), and runs that never reached 100%"
        )
        say(table.format_table(("size", "condition", "runs", *times), spread, right=range(2, 8)))
        say()
        say("rounds to 100%, traffic and the simulator's cost per run")
        say(table.format_table(("size", "condition", *costs, "events/s"), cost, right=range(2, 8)))
    if detector:
        say()
        dbody: list[tuple[str, ...]] = []
        for name, druns in detector.items():
            found = [v for r in druns for v in r.detect if v is not None]
            missed = sum(1 for r in druns for v in r.detect if v is None)
            checks = sum(r.checks for r in druns)
            false = sum(r.false for r in druns)

            def dq(p: float, found: list[int] = found) -> str:
                return f"{percentile(found, p):,.0f}" if found else "-"

            dbody.append(
                (
                    name,
                    f"{len(found) + missed:,}",
                    dq(50),
                    dq(90),
                    dq(99),
                    dq(100),
                    str(missed),
                    f"{false:,} in {checks:,}",
                )
            )
        say(
            table.format_table(
                (
                    "delay profile",
                    "watchers",
                    "suspect p50",
                    "p90",
                    "p99",
                    "max",
                    "never",
                    "false suspicions",
                ),
                dbody,
                right=(1, 2, 3, 4, 5, 6),
            )
        )
    for row in rows:
        if row.verdict.kind == HOLDS:
            continue
        if row.claim == g.FALSE:
            name = PROFILE_NAMES[[p.name for p in g.PROFILES].index(row.condition)]
            say(
                f"replay {row.claim}, {row.condition}: meshcheck claims gossip --sizes none "
                f"--agents 0 --first {row.verdict.witness} --detector-seeds 1 --profiles {name}"
            )
        else:
            size, label = row.condition.split(", ", 1)
            n = int(size.split()[-1 if size.startswith("N") else 0].replace(",", ""))
            c = next(c for c in conditions if c.label == label)
            say(
                f"replay {row.claim}, {row.condition}: meshcheck claims gossip --sizes {n} "
                f"--agents 0 --first {row.verdict.witness} --seeds 1 --conditions {c.option} "
                "--detector-seeds 0"
            )
    for claim, label, v in growth:
        if v.kind != HOLDS and v.at is not None:
            c = next(c for c in conditions if c.label == label)
            say(
                f"replay {claim}, {label}: meshcheck claims gossip --sizes {v.at} --agents 0 "
                f"--first {v.witness} --seeds 1 --conditions {c.option} --detector-seeds 0"
            )
    for n in sizes:
        pull = g.digest_bytes(n, n)
        say(
            f"{g.size_label(n)}: with one status entry per node held, a pull's digest alone is "
            f"{pull:,} bytes; one pull a round is {100 * pull / g.LINK:.3g}% of the link"
        )
    runs_total = sum(len(r) for by in results.values() for r in by.values())
    druns_total = sum(len(r) for r in detector.values())
    say(
        f"{runs_total:,} propagation runs in {prop_wall:.0f} s, {druns_total:,} detector runs in "
        f"{elapsed - prop_wall:.0f} s; {cpu:.0f} s of CPU; peak memory (max RSS) {peak:.0f} MiB"
        + (f"; plot: {svg}" if results else "")
    )
    sys.stdout.flush()
    kinds = [r.verdict.kind for r in rows] + [v.kind for _, _, v in growth]
    return EXIT_HOLDS if all(k == HOLDS for k in kinds) else EXIT_VIOLATED


# -- bft-compare ----------------------------------------------------------------------------------------


def parse_bft_sizes(text: str) -> list[int]:
    """'4,7,10' -> [4, 7, 10]: distinct replica counts in [BFT_MIN, BFT_MAX], sorted."""
    out: list[int] = []
    for part in text.split(","):
        n = _whole(part.strip(), "--sizes", BFT_MIN)
        if n > BFT_MAX:
            raise MeshcheckError(f"--sizes: {n} replicas are more than {BFT_MAX}")
        if n in out:
            raise MeshcheckError(f"size {n} given twice")
        out.append(n)
    return sorted(out)


def bft_compare(args: argparse.Namespace) -> int:
    sizes = parse_bft_sizes(args.sizes)
    requests = _whole(args.requests, "--requests", 1)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MeshcheckError(f"--out {out}: not a folder")

    from meshcheck import table
    from meshcheck.claims import bft
    from meshcheck.claims.report import Ticker
    from meshcheck.claims.verdict import HOLDS

    ticker = Ticker("bft-compare")

    def progress(label: str, done: int, total: int) -> None:
        if not args.quiet:
            ticker(f"{label}, {done} of {words.count(total, 'run')} done")

    start = time.monotonic()
    cpu = time.process_time()
    c = bft.compare(sizes, requests, progress=progress)
    elapsed = time.monotonic() - start
    cpu = time.process_time() - cpu
    ticker.done()
    claims = bft.growth(c)
    svg = out / "bft-compare.svg"
    try:
        out.mkdir(parents=True, exist_ok=True)
        svg.write_text(bft.figure(c, claims))
        if args.json:
            write_json(Path(args.json), bft.to_json(c, claims))
    except OSError as exc:
        raise MeshcheckError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None

    say(
        f"PBFT against chained HotStuff: n = {', '.join(map(str, sizes))}, f = (n-1)//3, no "
        f"faults; one client, {requests} requests one every {bft.LOAD_EVERY} ticks, latency "
        f"{bft.LATENCY[0]}-{bft.LATENCY[1]} ticks uniform, seed {bft.SEED}"
    )
    say(table.format_table(bft.LOAD_HEADER, bft.load_rows(c), right=tuple(range(4, 11))))
    say(bft.LOAD_LEGEND)
    say()
    say(
        table.format_table(
            ("claim", "batch", "fit: replica messages per request", "verdict"),
            [
                (
                    f"{bft.NAMES[g.protocol]} O(n^{g.claimed})",
                    str(g.batch),
                    g.fit.text() if g.fit else "-",
                    g.text(),
                )
                for g in claims
            ],
        )
    )
    fits = bft.cost_fits(c)
    if fits:
        say()
        say(
            table.format_table(
                ("protocol", "batch", "per request", "fit c n^k", "k"),
                [
                    (
                        bft.NAMES[p],
                        str(b),
                        name,
                        f"{f.c:.3g} n^{f.k:.2f} (R2 {f.r2:.3f})",
                        f"{f.k:.2f}",
                    )
                    for p, b, name, f in fits
                ],
                right=(4,),
            )
        )
    say()
    say(table.format_table(bft.VIEW_CHANGE_HEADER, bft.view_change_rows(c), right=(3, 4, 5, 6)))
    kind = bft.overall(claims)
    say()
    say("batch 1, one request per PBFT pre-prepare and per HotStuff block, is the fair comparison:")
    say(f'verdict on "HotStuff O(n) messages, PBFT O(n^2)" at batch 1: {kind}')
    say(
        f"{words.count(len(c.loads) + len(c.view_changes), 'run')} in {elapsed:.0f} s, {cpu:.0f} s of CPU; "
        f"plot: {svg}"
    )
    sys.stdout.flush()
    return EXIT_HOLDS if kind == HOLDS else EXIT_VIOLATED


# -- deployment -----------------------------------------------------------------------------------------


def deployment(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MeshcheckError(f"--out {out}: not a folder")
    if args.json:
        _writable_file(Path(args.json))

    from meshcheck import table
    from meshcheck.claims import deployment as dep
    from meshcheck.interrupts import sigterm_interrupts

    names = system_names(args.system)
    measures = dep.measurers(names, say=lambda line: print(line, flush=True))
    plan = dep.QUICK if args.quick else dep.FULL

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"  {line}", file=sys.stderr, flush=True)

    start = time.monotonic()
    rows: list[dep.Row] = []
    with sigterm_interrupts():
        for name, measure in measures:
            where = out / name if len(measures) > 1 else out
            rows.extend(attrs.evolve(r, system=name) for r in measure(plan, where, progress))
    print(
        "the design's targets on processes on this machine "
        f"({'--quick' if args.quick else 'full'} runs; meshcheck/claims/deployment.py)"
    )
    print(table.format_table(dep.HEADERS, [r.cells() for r in rows]))
    counts = dep.summary(rows)
    print(
        f"{counts['hold']} of {counts['targets']} targets hold; {time.monotonic() - start:.0f} s; "
        f"the runs' reports: {out}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_json() for r in rows]) + "\n")
    sys.stdout.flush()
    return EXIT_HOLDS if counts["hold"] == counts["targets"] else EXIT_VIOLATED


def system_names(given: list[str] | None) -> list[str]:
    """--system's values, each possibly comma-separated, in order, once each; the default: the
    project's own cores."""
    names: list[str] = []
    for text in given or [DEFAULT_SYSTEM]:
        for part in text.split(","):
            name = part.strip()
            if not name:
                raise MeshcheckError(f"--system {text!r}: an empty system name")
            if name not in names:
                names.append(name)
    return names


def _writable_file(path: Path) -> None:
    if path.is_dir() or not path.parent.is_dir():
        raise MeshcheckError(f"--json {path}: cannot write a file there")


# -- plot -----------------------------------------------------------------------------------------------


def plot(path: Path, out: Path) -> int:
    """The plot of a measurement drawn again from what its --json wrote: the same picture as the
    run drew, nothing measured (make docs draws docs/*.svg of the claims this way)."""
    if out.exists() and not out.is_dir():
        raise MeshcheckError(f"--out {out}: not a folder")
    try:
        raw = path.read_bytes()
        doc = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    except OSError as exc:
        raise MeshcheckError(f"{path}: {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:  # gzip's BadGzipFile is an OSError, caught above
        raise MeshcheckError(f"{path}: not JSON: {exc}") from None
    kind = doc.get("claims") if isinstance(doc, dict) else None
    try:
        if kind == "raft-deployment":
            from meshcheck.claims import raft

            results, d = raft.from_json(doc)
            svg = raft.figure(results, d)
        elif kind == "gossip":
            from meshcheck.claims import gossip as g

            propagation, _ = g.from_json(doc)
            if not propagation:
                raise MeshcheckError(f"{path}: no propagation runs to draw (the detector's alone)")
            svg = g.figure(propagation)
        elif kind == "bft-compare":
            from meshcheck.claims import bft

            c = bft.from_json(doc)
            svg = bft.figure(c, bft.growth(c))
        else:
            raise MeshcheckError(
                f"{path}: not what claims raft-deployment, gossip or bft-compare --json writes "
                f"(its 'claims' is {kind!r})"
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise MeshcheckError(
            f"{path}: a {kind} file whose runs do not read back: {exc!r}"
        ) from None
    target = out / f"{kind}.svg"
    try:
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(svg)
    except OSError as exc:
        raise MeshcheckError(
            f"cannot write {exc.filename or target}: {exc.strerror or exc}"
        ) from None
    print(f"plot: {target}")
    return EXIT_HOLDS


def write_json(path: Path, doc: object) -> None:
    """`--json`'s file: JSON text, gzip-compressed when its name ends in .gz (a full measurement's
    runs are megabytes of numbers; docs/claims/ keeps them so)."""
    text = json.dumps(doc) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)


GROWTH_HEADER = (
    "condition",
    "fit: a + b log2 N",
    "R2 log / linear",
    "at most",
    "max at",
    "verdict",
)


def _growth_cells(label: str, v: Any) -> tuple[str, ...]:
    """One row of an O(log N) claim's table (meshcheck/claims/verdict.py's GrowthVerdict)."""
    if v.fit is None or v.constant is None:
        return (label, "-", "-", "-", "-", v.text())
    f = v.fit
    return (
        label,
        f"{f.a:.2f} + {f.b:.2f} x log2 N",
        f"{f.r2_log:.3f} / {f.r2_linear:.3f}",
        f"{v.constant:.2f} x log2 N",
        f"seed {v.witness}, N = {v.at:,}",
        v.kind if v.kind == "holds" else v.text(),
    )

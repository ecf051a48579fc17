"""A campaign over plenum: drawn schedules, each run judged (checks.py) and, with one-request batches,
trace-validated (validation.py); and the one-run replay every finding names.

    python -m meshcheck.property_tests.plenum run --seed 3 --crash Alpha:2500 --ticks 130000
    python -m meshcheck.property_tests.plenum campaign --runs 40 --seed 1

`run` prints the run's verdict, one line per check, and exits 1 when one failed (0 when all held,
2 on bad arguments); `--itf FILE` writes the trace validation's mapped steps as an ITF trace.
`campaign` draws `--runs` schedules from `--seed` (schedules()), prints one line per run, then
the totals, each failure with its replay command, and exits 1 when a run failed.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.property_tests.plenum import checks
from meshcheck.property_tests.plenum import validation
from meshcheck.property_tests.plenum.runs import NODES
from meshcheck.property_tests.plenum.runs import Crash
from meshcheck.property_tests.plenum.runs import Run
from meshcheck.property_tests.plenum.runs import Schedule
from meshcheck.property_tests.plenum.runs import byzantine_acted
from meshcheck.property_tests.plenum.runs import run
from meshcheck.property_tests.plenum.runs import start_driver

BEHAVIOURS = ("equivocate", "withhold", "forge", "replay")  # drivers/plenum/driver.py's, drawn
# and those `run` takes besides: equivocate-and-commit breaks agreement (docs/plenum.md, "plenum
# orders a batch without having prepared it"), so a campaign does not draw it
REPLAYED = (*BEHAVIOURS, "equivocate-and-commit")
BUGS = ("commit-on-f-prepares", "order-on-f-commits")
COMMAND = "python -m meshcheck.property_tests.plenum"


def draw(seed: int) -> Schedule:
    """One campaign schedule from `seed`: a crash (of the primary or a backup, for a while or for
    good), a Byzantine replica in a drawn role, or neither; batches of one or two requests, delays
    up to 50 to 300 ms, and a run long enough for the liveness bound to judge its requests."""
    rng = random.Random(seed)
    kind = rng.choice(("honest", "crash", "byzantine"))
    base = Schedule(
        seed=seed,
        requests=rng.randint(4, 10),
        every=rng.choice((200, 500, 1000)),
        delay=(5, rng.choice((50, 100, 300))),
        batch=rng.choice((1, 2)),
        duplicate=rng.choice((0.0, 0.0, 0.1)),
        ticks=130_000,  # the liveness bound with no fault: 122 s and ten delays
    )
    if kind == "crash":
        node = rng.choice(NODES)
        down = rng.choice((None, 5_000, 90_000))
        crash = Crash(node, rng.randint(500, 8_000), down)
        return attrs.evolve(base, crash=crash, ticks=250_000)
    if kind == "byzantine":
        byzantine = ((rng.choice(NODES), rng.choice(BEHAVIOURS)),)
        return attrs.evolve(base, byzantine=byzantine, ticks=1_000_000)
    return base


@attrs.frozen
class Outcome:
    schedule: Schedule
    problems: tuple[str, ...]
    judged: int  # requests the liveness check judged
    validated: int  # spec steps TLC validated (0: the run's batches were not of one request)
    ended: str  # where validation stopped
    acted: bool  # its Byzantine replica's behaviour showed (True without one)
    steps: int
    bugs: tuple[str, ...] = ()

    def line(self) -> str:
        s = self.schedule
        what = "honest"
        if s.crash is not None:
            down = "for good" if s.crash.down is None else f"for {s.crash.down} ms"
            what = f"crash {s.crash.node} at {s.crash.at} ms {down}"
        elif s.byzantine:
            what = " ".join(f"{n} {b}" for n, b in s.byzantine) + (
                "" if self.acted else " (never acted)"
            )
        verdict = "FAIL " + self.problems[0] if self.problems else "holds"
        checked = f"liveness judged {self.judged}, validated {self.validated} steps"
        return f"seed {s.seed}: {what}, batch {s.batch}: {verdict} ({checked})"

    def replay(self) -> str:
        bugs = "".join(f" --bug {b}" for b in self.bugs)
        return f"{COMMAND} run {flags(self.schedule)}{bugs}"


def flags(s: Schedule) -> str:
    """The schedule as `run`'s arguments."""
    parts = [
        f"--seed {s.seed}", f"--requests {s.requests}", f"--every {s.every}",
        f"--ticks {s.ticks}", f"--max-delay {s.delay[1]}", f"--batch {s.batch}",
    ]  # fmt: skip
    if s.crash is not None:
        down = "" if s.crash.down is None else f":{s.crash.down}"
        parts.append(f"--crash {s.crash.node}:{s.crash.at}{down}")
    parts += [f"--byzantine {n}:{b}" for n, b in s.byzantine]
    if s.drop:
        parts.append(f"--drop {s.drop}")
    if s.duplicate:
        parts.append(f"--duplicate {s.duplicate}")
    return " ".join(parts)


def judge(r: Run, bugs: Sequence[str] = ()) -> Outcome:
    """A run's outcome: every check, and trace validation when its batches are of one request."""
    problems = checks.problems(r)
    validated, ended = 0, "batches of two are not validated"
    if r.schedule.batch == 1:
        verdict = validation.validate(r)
        validated, ended = verdict.validated, verdict.ended
        if verdict.problem is not None:
            problems.append(f"Refinement of PBFTPlenum.tla: {verdict.problem}")
    acted = all(byzantine_acted(r).values())
    return Outcome(
        r.schedule, tuple(problems), checks.judged(r), validated, ended, acted, r.steps, tuple(bugs)
    )


def _schedule(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Schedule:
    crash = None
    if args.crash:
        parts = args.crash.split(":")
        if (
            len(parts) not in (2, 3)
            or parts[0] not in NODES
            or not all(p.isdigit() for p in parts[1:])
        ):
            parser.error(f"--crash {args.crash}: NODE:AT[:DOWN], NODE one of {', '.join(NODES)}")
        crash = Crash(parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else None)
    byzantine = []
    for b in args.byzantine:
        node, _, behaviour = b.partition(":")
        if node not in NODES or behaviour not in REPLAYED:
            parser.error(f"--byzantine {b}: NODE:BEHAVIOUR, BEHAVIOUR one of {', '.join(REPLAYED)}")
        byzantine.append((node, behaviour))
    if len(byzantine) > (len(NODES) - 1) // 3:
        parser.error(f"--byzantine: at most f = {(len(NODES) - 1) // 3} of {len(NODES)} replicas")
    for bug in args.bug:
        if bug not in BUGS:
            parser.error(f"--bug {bug}: one of {', '.join(BUGS)}")
    if min(args.requests, args.every, args.ticks, args.max_delay, args.batch) < 1:
        parser.error("--requests, --every, --ticks, --max-delay and --batch must be at least 1")
    if not (0 <= args.drop <= 1 and 0 <= args.duplicate <= 1):
        parser.error("--drop and --duplicate are probabilities, 0 to 1")
    return Schedule(
        seed=args.seed, requests=args.requests, every=args.every, ticks=args.ticks,
        delay=(min(5, args.max_delay), args.max_delay), batch=args.batch, drop=args.drop,
        duplicate=args.duplicate, crash=crash, byzantine=tuple(byzantine),
    )  # fmt: skip


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        """Bad arguments: one line, exit 2."""
        self.exit(2, f"{COMMAND}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    doc = __doc__.splitlines()[0] if __doc__ else None
    parser = _Parser(prog=COMMAND, description=doc)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    one = sub.add_parser("run", help="one schedule, judged")
    one.add_argument("--seed", type=int, required=True)
    one.add_argument("--requests", type=int, default=6)
    one.add_argument("--every", type=int, default=500, help="ms between requests")
    one.add_argument("--ticks", type=int, default=20_000, help="ms the run lasts")
    one.add_argument("--max-delay", type=int, default=100, help="ms a message takes at most")
    one.add_argument("--batch", type=int, default=2, help="requests a batch holds at most")
    one.add_argument("--crash", help="NODE:AT[:DOWN] (ms; no DOWN: for good)")
    one.add_argument("--byzantine", action="append", default=[], help="NODE:BEHAVIOUR")
    one.add_argument("--drop", type=float, default=0.0)
    one.add_argument("--duplicate", type=float, default=0.0)
    one.add_argument("--bug", action="append", default=[], help="plenum patched (driver.py BUGS)")
    one.add_argument("--itf", type=Path, help="write the validated steps as an ITF trace here")
    many = sub.add_parser("campaign", help="drawn schedules, each judged")
    many.add_argument("--runs", type=int, default=20)
    many.add_argument("--seed", type=int, default=1, help="the first schedule's seed")
    many.add_argument("--bug", action="append", default=[])
    return parser


def main(argv: Sequence[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        process = start_driver()
    except ConfigError as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 2
    with process:
        if args.command == "run":
            return _one(args, parser, process)
        return _campaign(args, parser, process)


def _one(args: argparse.Namespace, parser: argparse.ArgumentParser, process: Any) -> int:
    schedule = _schedule(args, parser)
    r = run(schedule, args.bug, process=process)
    outcome = judge(r, args.bug)
    print(f"plenum {r.version}: {outcome.line()}")
    for p in outcome.problems:
        print(f"  {p}")
    print(f"  trace validation: {outcome.validated} steps, ended at {outcome.ended}")
    if args.itf is not None:
        from meshcheck.traces.itf import write

        write(validation.trace_of(r)[0], args.itf)
        print(f"  ITF trace: {args.itf}")
    return 1 if outcome.problems else 0


def _campaign(args: argparse.Namespace, parser: argparse.ArgumentParser, process: Any) -> int:
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for bug in args.bug:
        if bug not in BUGS:
            parser.error(f"--bug {bug}: one of {', '.join(BUGS)}")
    outcomes = []
    versions = set()
    for seed in range(args.seed, args.seed + args.runs):
        r = run(draw(seed), args.bug, process=process)
        versions.add(r.version)
        outcome = judge(r, args.bug)
        outcomes.append(outcome)
        print(outcome.line(), flush=True)
    print(f"plenum {', '.join(sorted(versions))}")
    failed = [o for o in outcomes if o.problems]
    never = [o for o in outcomes if not o.acted]
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} runs hold; liveness judged "
        f"{sum(o.judged for o in outcomes)} requests; TLC validated "
        f"{sum(o.validated for o in outcomes)} steps in {sum(1 for o in outcomes if o.validated)} runs; "
        f"{len(never)} runs' Byzantine replica never acted"
    )
    for o in failed:
        print(f"FAIL seed {o.schedule.seed}: {o.problems[0]}\n  again: {o.replay()}")
    return 1 if failed else 0

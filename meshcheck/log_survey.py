"""`python -m meshcheck.log_survey [RUNS] [--budget S]`: the validator on the reference core's faulty
runs in every mode (docs/logs.md, "Exit codes").

Seeds 1..RUNS of property_tests/raft/log_duplicates.py's runs (one message in five duplicated,
beside loss, delay, crashes and partitions), each run's logs validated five ways: naming the
messages their receives took or not (`blind`), with every variable or five, the no-op on or off.
Per mode: how many logs came back valid, unknown and invalid, and the median and largest seconds a
validation took; a progress line per mode on stderr; exit 1 if any log was called invalid (a
correct run's log never is).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from meshcheck import words
from meshcheck.property_tests.raft.log_duplicates import blind
from meshcheck.property_tests.raft.log_duplicates import faulty_log
from meshcheck.property_tests.raft.log_duplicates import faulty_run
from meshcheck.property_tests.raft.log_duplicates import model_for
from meshcheck.table import format_table
from meshcheck.traces.logs import reference
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import stepper_for

MODES: tuple[tuple[str, tuple[str, ...], bool, bool], ...] = (
    # name, variables, receives name their message, no-op on election
    ("named, full", reference.FULL, True, True),
    ("named, partial", reference.PARTIAL, True, True),
    ("named, partial, no no-op", reference.PARTIAL, True, False),
    ("blind, full", reference.FULL, False, True),
    ("blind, partial", reference.PARTIAL, False, True),
)


def survey(runs: int, budget: float = 60.0) -> list[tuple[str, int, int, int, int, float, float]]:
    """Per mode: (mode, runs, valid, unknown, invalid, median and largest seconds), seeds 1..runs;
    a progress line per mode on stderr."""
    rows = []
    for name, variables, named, noop in MODES:
        counts = {"valid": 0, "unknown": 0, "invalid": 0}
        seconds: list[float] = []
        for seed in range(1, runs + 1):
            records = faulty_log(faulty_run(seed, noop=noop), variables, f"seed-{seed}")
            if not named:
                records = blind(records)
            start = time.perf_counter()
            verdict = Validator(stepper_for("Raft", model_for(noop))).run(records, budget=budget)
            seconds.append(time.perf_counter() - start)
            counts[verdict.verdict] += 1
            if verdict.verdict == "invalid":
                print(f"{name}: seed {seed} invalid: {verdict.render()}", file=sys.stderr)
            print(
                f"\r{name}: {seed}/{words.count(runs, 'run')}, {counts['invalid']} invalid",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        rows.append(
            (
                name,
                runs,
                counts["valid"],
                counts["unknown"],
                counts["invalid"],
                statistics.median(seconds),
                max(seconds),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(
        prog="python -m meshcheck.log_survey",
        description="validate the logs of the reference core's faulty runs in every mode",
    )
    parser.add_argument("runs", nargs="?", type=int, default=100, help="runs per mode (seeds 1..)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per validation")
    args = parser.parse_args(argv)
    if args.runs < 1 or not args.budget > 0:
        parser.error("runs and --budget must be positive")
    rows = survey(args.runs, args.budget)
    print(
        format_table(
            ("logs", "runs", "valid", "unknown", "invalid", "median s", "max s"),
            [
                (m, str(n), str(v), str(u), str(i), f"{med:.2f}", f"{mx:.1f}")
                for m, n, v, u, i, med, mx in rows
            ],
            right=range(1, 7),
        )
    )
    return 1 if any(row[4] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

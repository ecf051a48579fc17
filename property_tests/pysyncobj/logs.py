"""Write PySyncObj free runs as NDJSON logs for trace validation against specs/Raft.tla:

    python -m meshcheck.property_tests.pysyncobj.logs OUT [--runs N] [--nodes N] [--seed S]

One file per run, OUT/seed-<seed>.ndjson, each record one spec step of one node (the format of
impl/adapters/contract.py's `NdjsonLog`). The runs are free runs on first-in first-out links with
drops, partitions, crashes and restarts; a run that fails its checks is still written, and named
on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pysyncobj.free_runs import check_safety


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m meshcheck.property_tests.pysyncobj.logs")
    p.add_argument("out", type=Path)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.runs < 1 or args.nodes < 1:
        print("meshcheck: --runs and --nodes must be at least 1", file=sys.stderr)
        return 2
    for seed in range(args.seed, args.seed + args.runs):
        schedule = Schedule(
            seed=seed, ticks=1500, drop=0.05, crash=0.3, partition=0.3, every=20, fifo=True
        )
        try:
            check_safety(schedule, args.nodes, frozenset(), logs=args.out)
        except CheckFailed as failed:
            print(f"seed {seed}: {failed.message}", file=sys.stderr)
        print(args.out / f"seed-{seed}.ndjson")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

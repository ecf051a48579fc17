"""`make bench`: run every benchmark module of this package and print one table.

Each module `bench/bench_*.py` exposes `bench(runs: int) -> list[Row]` (see bench/common.py).
`python -m bench --runs 5 --only tlc` runs one of them.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

import bench
from bench.common import Row
from bench.common import format_table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--runs", type=int, default=5, help="measurements per benchmark (median taken)")
    p.add_argument("--only", action="append", metavar="NAME", help="e.g. tlc, stepper, raft")
    args = p.parse_args(argv)
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    if args.only:
        wanted = {f"bench_{n}" for n in args.only}
        unknown = wanted - set(names)
        if unknown:
            known = ", ".join(n.removeprefix("bench_") for n in names)
            print(f"bench: unknown {', '.join(sorted(unknown))} (known: {known})", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    rows: list[Row] = []
    for name in names:
        start = time.perf_counter()
        print(f"running {name} ({args.runs} runs) ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{name}")
        rows.extend(module.bench(args.runs))
        print(f"  {time.perf_counter() - start:.1f}s", file=sys.stderr, flush=True)
    print(format_table(rows))
    for r in rows:  # what a figure alone does not say (a target met, a check that held)
        if r.note:
            print(f"{r.name}: {r.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What each test costs: the pytest plug-in of `make test-cost`, a CPU profile per test file.

Each test's set-up, call and tear-down is measured apart: wall seconds and CPU seconds of the test
process (every thread, so a JVM's compilers and collectors count) plus those of every child process
it reaped in that phase (a server, a TLC worker, a cluster node). A fixture built once per file is
paid in the set-up of the file's first test, which is where the file's figure shows it.

`MESHCHECK_TEST_COST=path` names the file; each xdist worker appends one JSON line per test phase,
and `python -m tests.cost_profile path` sums them per file, heaviest first, as one table.
`python -m tests.cost_profile path --order [N]` prints instead the N files (40 unless given) that
held a worker longest (wall seconds), longest first, one path a line: tests/heavy_first.txt, the
order tests/conftest.py hands the files out in. Below the table, when each xdist worker ended and
the tail, the seconds the last one ran alone: what a better order can win back.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _record(item: pytest.Item, phase: str, wall: float, cpu: float) -> None:
    target = os.environ.get("MESHCHECK_TEST_COST")
    if not target:
        return
    line = {
        "test": item.nodeid,
        "phase": phase,
        "wall": round(wall, 4),
        "cpu": round(cpu, 4),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),  # xdist's gw0, gw1, ...
        "end": round(time.time(), 3),  # when the phase ended, for the workers' ends
    }
    with open(target, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def _measured(item: pytest.Item, phase: str) -> Generator[None, None, None]:
    wall, cpu = time.monotonic(), _cpu()
    yield
    _record(item, phase, time.monotonic() - wall, _cpu() - cpu)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    yield from _measured(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield from _measured(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield from _measured(item, "teardown")


def _files(path: Path) -> dict[str, list[float]]:
    """Each file's [wall, CPU, tests] summed over its tests' phases."""
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for raw in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(raw)
        name = row["test"].split("::", 1)[0]
        files[name][0] += row["wall"]
        files[name][1] += row["cpu"]
        if row["phase"] == "call":
            files[name][2] += 1
    return files


def workers(path: Path) -> str:
    """When each worker ended, from the first test's start, and the tail: how long the last one
    ran alone after the one before it ended ("" for a file without the workers recorded)."""
    rows = [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines()]
    if not rows or any("worker" not in r or "end" not in r for r in rows):
        return ""
    began = min(r["end"] - r["wall"] for r in rows)
    ends: dict[str, float] = {}
    busy: dict[str, float] = defaultdict(float)
    for r in rows:
        ends[r["worker"]] = max(ends.get(r["worker"], 0.0), r["end"] - began)
        busy[r["worker"]] += r["wall"]
    said = ", ".join(f"{w} busy {busy[w]:.1f} s, ended at {ends[w]:.1f} s" for w in sorted(ends))
    last = sorted(ends.values())
    tail = last[-1] - last[-2] if len(last) > 1 else 0.0
    return f"workers: {said}; the tail, one worker alone: {tail:.1f} s"


def order(path: Path, top: int) -> str:
    """The `top` files that held a worker longest, longest first, one path a line: with
    `--dist loadfile` a worker is busy for a file's wall seconds, whatever their CPU."""
    ranked = sorted(_files(path).items(), key=lambda kv: -kv[1][0])
    return "\n".join(name for name, _ in ranked[:top])


def summarise(path: Path, top: int) -> str:
    files = _files(path)
    total_wall = sum(v[0] for v in files.values())
    total_cpu = sum(v[1] for v in files.values())
    lines = ["| file | tests | wall s | CPU s | share of CPU |", "|---|---:|---:|---:|---:|"]
    ranked = sorted(files.items(), key=lambda kv: -kv[1][1])
    for name, (wall, cpu, tests) in ranked[:top]:
        lines.append(f"| {name} | {int(tests)} | {wall:.1f} | {cpu:.1f} | {cpu / total_cpu:.1%} |")
    rest = ranked[top:]
    if rest:
        lines.append(
            f"| {len(rest)} other files | {int(sum(v[2] for _, v in rest))} | "
            f"{sum(v[0] for _, v in rest):.1f} | {sum(v[1] for _, v in rest):.1f} | "
            f"{sum(v[1] for _, v in rest) / total_cpu:.1%} |"
        )
    tests = int(sum(v[2] for v in files.values()))
    lines.append(
        f"| all {len(files)} files | {tests} | {total_wall:.1f} | {total_cpu:.1f} | 100% |"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    usage = "usage: python -m tests.cost_profile COST_FILE [--order] [TOP]"
    if not argv or not Path(argv[0]).is_file():
        print(f"{usage}: no such file {argv[0] if argv else ''}".rstrip(), file=sys.stderr)
        return 2
    ordering = "--order" in argv[1:2]
    rest = argv[2:] if ordering else argv[1:]
    if len(rest) > 1 or (rest and not rest[0].isdigit()):
        print(f"{usage}: TOP is a whole number of rows, got {' '.join(rest)!r}", file=sys.stderr)
        return 2
    top = int(rest[0]) if rest else 40
    try:
        if ordering:
            print(order(Path(argv[0]), top))
        else:
            print(summarise(Path(argv[0]), top))
            ends = workers(Path(argv[0]))
            if ends:
                print(ends)
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        print(f"{argv[0]}: not a cost file of this plug-in ({type(exc).__name__})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

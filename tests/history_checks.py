"""What the tests of the transactional history checkers (list-append and rw-register) share: the
brute-force oracle (small random histories, and whether some serial order of their transactions
replays them), and the command line that checks a history file."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TypeVar

from meshcheck.traces.history import list_append
from meshcheck.traces.history import rw_register
from tests import command

# a transaction of either checker
T = TypeVar("T", bound=list_append.Txn | rw_register.Txn)


def serial_ok(txns: Sequence[T], strict: bool, replays: Callable[[Sequence[T]], bool]) -> bool:
    """Some serial order of the committed transactions and of a subset of the info ones `replays`
    (in real-time order too when `strict`)."""
    ok = [t for t in txns if t.status == "ok"]
    info = [t for t in txns if t.status == "info"]
    for n in range(len(info) + 1):
        for chosen in itertools.combinations(info, n):
            for order in itertools.permutations([*ok, *chosen]):
                if strict and any(
                    later.ret < earlier.call
                    for i, earlier in enumerate(order)
                    for later in order[i + 1 :]
                ):
                    continue
                if replays(order):
                    return True
    return False


def random_specs(
    rng: random.Random, write: str
) -> tuple[list[list[list[Any]]], list[int], list[str]]:
    """3 to 5 transactions on keys x and y: each one's micro-operations (a `write` of a fresh value
    or a read, its value to be filled), the points in time they run at, and their statuses."""
    n = rng.randint(3, 5)
    counter = itertools.count(1)
    specs: list[list[list[Any]]] = []
    for _ in range(n):
        specs.append(
            [
                [write, k, next(counter)] if rng.random() < 0.5 else ["r", k, None]
                for k in (rng.choice("xy") for _ in range(rng.randint(1, 3)))
            ]
        )
    points = sorted(rng.sample(range(2, 40), n))
    statuses = [rng.choices(["ok", "fail", "info"], [8, 1, 1])[0] for _ in range(n)]
    return specs, points, statuses


def placed(rng: random.Random, points: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    """Which transaction ran at which point, in a random order: (transaction, call, ret), its
    interval random around its point."""
    order = list(range(len(points)))
    rng.shuffle(order)
    for place, i in enumerate(order):
        p = points[place]
        yield i, p - rng.randint(0, 12), p + rng.randint(1, 12)


def check_file(*args: str) -> subprocess.CompletedProcess[str]:
    """`meshcheck history check ARGS`, in this process's environment."""
    return command.meshcheck("history", "check", *args, pythonpath=None, timeout=120)


def write_jsonl(path: Path, events: Sequence[dict[str, object]]) -> Path:
    """`events` written to `path`, one JSON object a line."""
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path

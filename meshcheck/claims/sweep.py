"""Every seed under every setting: the loop a measurement runs, counting runs for its progress."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import TypeVar

K = TypeVar("K")
S = TypeVar("S")
R = TypeVar("R")


def sweep(
    settings: Sequence[tuple[K, S]],
    seeds: Sequence[int],
    run: Callable[[S, int], R],
    progress: Callable[[K, int, int], None] | None = None,
) -> dict[K, list[R]]:
    """`run(setting, seed)` for every seed under every (name, setting), in that order, the results
    listed under the setting's name; `progress(name, done, total)` after each run."""
    out: dict[K, list[R]] = {}
    total = len(seeds) * len(settings)
    done = 0
    for name, setting in settings:
        runs = out.setdefault(name, [])
        for seed in seeds:
            runs.append(run(setting, seed))
            done += 1
            if progress is not None:
                progress(name, done, total)
    return out

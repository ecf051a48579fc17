"""A campaign's loop: keep every worker busy with fresh tasks until the time is up, and gather.

Work comes from two rotations, taken in turn so that neither starves the other:

- the property checks: every check of every chosen protocol (its descriptor's `checks`), with the
  campaign's bugs (none, or a mutant build's), each time with a fresh seed;
- the kill matrix (as `meshcheck mutants --all`): every check on every mutant of each protocol's
  catalogue (`mutants_cmd.catalogue`), with a fresh seed; a cell that killed its mutant is done,
  a cell that did not is tried again with another seed on the next round.

As results arrive: failures of the property checks are folded by signature (the check, its bugs
and the failure message without its numbers and parameters: tasks.signature), each written once as
ITF under OUT/failures/ (the shortest counterexample seen) with the line that replays it; the
coverage of the property checks is merged (meshcheck/coverage.py: counts add, state sets unite)
and a point of it kept per protocol, for the plot; a progress line shows examples, failures,
actions and states.
"""

from __future__ import annotations

import itertools
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck import coverage
from meshcheck import registry
from meshcheck import words
from meshcheck.campaign import engines
from meshcheck.campaign.tasks import Found
from meshcheck.campaign.tasks import Result
from meshcheck.campaign.tasks import Task
from meshcheck.html.page import CoveragePoint
from meshcheck.mutants_cmd import catalogue


@attrs.frozen
class Config:
    seconds: float
    protocols: tuple[str, ...]
    checks: tuple[str, ...] = ()  # only the checks of these names (all when empty)
    bugs: tuple[str, ...] = ()  # a mutant build: these bugs on in the property checks
    mutants: bool = True  # run the kill matrix too
    workers: int = 2
    engine: str = "local"
    address: str | None = None  # a running Dask scheduler or Ray head
    db: str = ""
    out: Path = Path("reports") / "campaign"
    examples: int = 25  # Hypothesis examples per task
    profile: str = "default"


@attrs.define
class Folded:
    """One failure signature: how often it was seen, and its shortest counterexample."""

    protocol: str
    check: str
    bugs: tuple[str, ...]
    signature: str
    message: str
    steps: int | None
    path: str = ""  # the ITF file under OUT/failures ("" when the check left no trace)
    replay: str = ""
    itf: str = ""
    count: int = 1
    first_seconds: float = 0.0
    seeds: list[int] = attrs.field(factory=list)


@attrs.define
class Cell:
    """One cell of the kill matrix: a check against a mutant, over every try."""

    protocol: str
    mutant: str
    check: str
    tries: int = 0
    examples: int = 0
    seconds: float = 0.0  # spent on it, over every try
    killed: bool = False
    kill_seconds: float = 0.0  # the try that killed it
    steps: int | None = None
    error: str = ""


@attrs.define
class CampaignResult:
    config: Config
    seconds: float = 0.0
    tasks: int = 0
    examples: Counter[str] = attrs.field(factory=Counter)  # by kind: property, mutant
    by_worker: Counter[str] = attrs.field(factory=Counter)  # examples by worker
    tasks_by_worker: Counter[str] = attrs.field(factory=Counter)
    by_check: dict[tuple[str, str], list[int]] = attrs.field(factory=dict)  # runs, examples
    # per check, the free runs it judged and how many were vacuous (meshcheck/exercise.py)
    judged: dict[tuple[str, str], list[int]] = attrs.field(factory=dict)
    failures: dict[str, Folded] = attrs.field(factory=dict)
    cells: dict[tuple[str, str, str], Cell] = attrs.field(factory=dict)
    errors: Counter[str] = attrs.field(factory=Counter)  # a check that could not run
    coverage: coverage.Coverage = attrs.field(factory=dict)
    points: list[CoveragePoint] = attrs.field(factory=list)
    workers: int = 0
    abandoned: int = 0  # tasks still running when the coordinator stopped waiting
    cut: int = 0  # tasks cut when the time was up
    skipped: int = 0  # tasks queued for a worker that reached it after the time was up
    cpu: float = 0.0  # CPU seconds the workers spent on tasks (cut ones included)
    startup: float = 0.0  # seconds to start and warm the workers, before the clock started

    @property
    def total_examples(self) -> int:
        return sum(self.examples.values())

    def survivors(self) -> list[tuple[str, str]]:
        """Mutants every check was tried on at least once, none killing them."""
        by_mutant: dict[tuple[str, str], list[Cell]] = {}
        for cell in self.cells.values():
            by_mutant.setdefault((cell.protocol, cell.mutant), []).append(cell)
        return [
            key
            for key, cells in by_mutant.items()
            if all(c.tries for c in cells) and not any(c.killed for c in cells)
        ]


def plan(config: Config) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(protocol, check) pairs of the property checks, in the protocols' and catalogues' order,
    and the (protocol, mutant, check) cells of the matrix, column by column: every mutant of every
    protocol under its protocol's first check, then every one under the second, and so on. The
    catalogues put their quickest killers first (lockstep, then the stored corpus), so a campaign
    shorter than the whole matrix has still tried each mutant against its likeliest killers,
    rather than every check on the first protocol's mutants."""
    properties: list[tuple[str, str]] = []
    columns: list[tuple[int, tuple[str, str, str]]] = []
    for protocol in config.protocols:
        bugs, checks = catalogue(protocol)
        names = [c.name for c in checks if not config.checks or c.name in config.checks]
        properties += [(protocol, name) for name in names]
        if config.mutants and not config.bugs:
            columns += [
                (k, (protocol, mutant, name)) for mutant in bugs for k, name in enumerate(names)
            ]
    columns.sort(key=lambda kc: kc[0])  # stable: protocols and mutants keep their order
    return properties, [cell for _, cell in columns]


def _bugs_of(config: Config, protocol: str) -> tuple[str, ...]:
    bugs, _ = catalogue(protocol)
    return tuple(b for b in config.bugs if b in bugs)


def grace(seconds: float) -> float:
    """How long tasks still running at the deadline may go on (to finish shrinking a failure
    they found): a fifth of the budget, at least 15 s and at most 2 min."""
    return min(120.0, max(15.0, 0.2 * seconds))


@attrs.define
class Sizer:
    """How many examples the next task of a check gets: the campaign's `--examples`, or fewer
    when the time left would not hold that many, judged by the wall seconds per example that
    check's finished tasks took (so that a task started near the deadline ends near it)."""

    examples: int
    per_example: dict[tuple[str, str, str], float] = attrs.field(factory=dict)

    def learn(self, got: Result) -> None:
        if got.examples and not got.cut and got.failure is None:  # shrinking is not examples
            key = (got.task.kind, got.task.protocol, got.task.check)
            rate = got.seconds / got.examples
            old = self.per_example.get(key)
            self.per_example[key] = rate if old is None else 0.7 * old + 0.3 * rate

    def size(self, kind: str, protocol: str, check: str, seconds_left: float) -> int:
        rate = self.per_example.get((kind, protocol, check))
        if rate is None or rate <= 0:
            return self.examples
        return max(1, min(self.examples, int(seconds_left / rate)))


def _tasks(
    config: Config,
    result: CampaignResult,
    db: str,
    stop_at: float,
    start_by: float,
    size: Callable[[str, str, str], int],
) -> Iterator[Task]:
    properties, matrix = plan(config)
    ids = itertools.count(1)
    prop = itertools.cycle(properties) if properties else iter(())
    rounds = 0
    cells: list[tuple[str, str, str]] = []
    while True:
        made = False
        for protocol, check in itertools.islice(prop, 1):
            made = True
            yield Task(
                next(ids),
                "property",
                protocol,
                check,
                _bugs_of(config, protocol),
                secrets.randbits(63),
                size("property", protocol, check),
                config.profile,
                db,
                stop_at,
                start_by,
            )
        if not cells and matrix:
            rounds += 1
            cells = [c for c in matrix if not _killed(result, c)]
        if cells:
            protocol, mutant, check = cells.pop(0)
            made = True
            yield Task(
                next(ids),
                "mutant",
                protocol,
                check,
                (mutant,),
                secrets.randbits(63),
                size("mutant", protocol, check),
                config.profile,
                db,
                stop_at,
                start_by,
            )
        if not made:
            return


def _killed(result: CampaignResult, cell: tuple[str, str, str]) -> bool:
    found = result.cells.get(cell)
    return found is not None and found.killed


def run(
    config: Config,
    *,
    say: Callable[[str], None] = lambda line: None,
    progress: Callable[[str], None] | None = None,
) -> CampaignResult:
    """Run the campaign; what it ran, found and reached."""
    result = CampaignResult(config)
    properties, matrix = plan(config)
    for protocol, mutant, check in matrix:
        result.cells[(protocol, mutant, check)] = Cell(protocol, mutant, check)
    for protocol, check in properties:
        result.by_check[(protocol, check)] = [0, 0]
    (config.out / "failures").mkdir(parents=True, exist_ok=True)
    up = time.monotonic()
    engine = engines.start(config.engine, config.workers, config.address, config.protocols)
    pending: set[Any] = set()
    submitted: dict[Any, Task] = {}
    shown = 0.0
    try:
        engine.warm()  # the clock starts once every worker is up and has imported the checks
        result.workers = engine.workers
        start = time.monotonic()
        result.startup = start - up
        deadline = start + config.seconds
        start_by = time.time() + config.seconds
        stop_at = start_by + grace(config.seconds)
        sizer = Sizer(config.examples)
        ahead = [0.0]  # when a task submitted now may start: after the one before it on a worker

        def size(kind: str, protocol: str, check: str) -> int:
            return sizer.size(kind, protocol, check, deadline - time.monotonic() - ahead[0])

        source = _tasks(config, result, config.db, stop_at, start_by, size)
        while True:
            now = time.monotonic()
            # every worker has a task running and one queued, so that it never waits for the
            # coordinator between two; one queued past the deadline is skipped when it arrives
            while now < deadline and len(pending) < 2 * engine.workers:
                ahead[0] = _typical(sizer, config) if len(pending) >= engine.workers else 0.0
                task = next(source, None)
                if task is None:
                    break
                handle = engine.submit(task)
                pending.add(handle)
                submitted[handle] = task
            if not pending:
                break
            if now > deadline + grace(config.seconds) + 10:  # an engine that cannot cut them
                result.abandoned = len(pending)
                break
            wait = max(0.5, min(2.0, deadline - now)) if now < deadline else 2.0
            for handle in engine.wait(pending, wait):
                pending.discard(handle)
                task = submitted.pop(handle)
                try:
                    got = engine.result(handle)
                except Exception as exc:  # a worker that died, or an engine's own error
                    name = (
                        f"{task.check} on {task.bugs[0]}" if task.kind == "mutant" else task.check
                    )
                    result.errors[f"{task.protocol}: {name}: worker lost: {exc!r}"[:300]] += 1
                    continue
                sizer.learn(got)
                _gather(result, got, time.monotonic() - start)
            if progress is not None and time.monotonic() - shown >= 1.0:
                shown = time.monotonic()
                progress(
                    progress_line(
                        result,
                        time.monotonic() - start,
                        config.seconds,
                        len(pending) if time.monotonic() >= deadline else 0,
                    )
                )
        result.seconds = time.monotonic() - start
    finally:
        engine.close()
    return result


def _typical(sizer: Sizer, config: Config) -> float:
    """The wall seconds of a full task, over the checks measured so far (0 before any)."""
    rates = list(sizer.per_example.values())
    return max(rates) * config.examples if rates else 0.0


def _gather(result: CampaignResult, got: Result, seconds: float) -> None:
    task = got.task
    result.cpu += got.cpu
    if got.skipped:
        result.skipped += 1
        return
    if got.cut:
        result.cut += 1
        if got.failure is None:
            return
        # found before the cut, while Hypothesis shrank it: the bug counts, unshrunk
        if task.kind == "mutant":
            _kill(result.cells[(task.protocol, task.bugs[0], task.check)], got)
        else:
            _fold(result, task, got.failure, seconds)
        return
    result.tasks += 1
    result.examples[task.kind] += got.examples
    result.by_worker[got.worker] += got.examples
    result.tasks_by_worker[got.worker] += 1
    if got.error:
        what = f"{task.check} on {task.bugs[0]}" if task.kind == "mutant" else task.check
        result.errors[f"{task.protocol}: {what}: {got.error}"] += 1
    if task.kind == "mutant":
        cell = result.cells[(task.protocol, task.bugs[0], task.check)]
        cell.error = got.error
        if not got.error:  # a check that could not run did not try the mutant
            cell.tries += 1
        cell.examples += got.examples
        cell.seconds += got.seconds
        _kill(cell, got)
        return
    counts = result.by_check.setdefault((task.protocol, task.check), [0, 0])
    counts[0] += 1
    counts[1] += got.examples
    if got.judged[0]:
        judged = result.judged.setdefault((task.protocol, task.check), [0, 0])
        judged[0] += got.judged[0]
        judged[1] += got.judged[1]
    for protocol, seen in coverage.loads(got.coverage, "worker").items():
        result.coverage.setdefault(protocol, coverage.Seen()).merge(seen)
    if got.failure is not None:
        _fold(result, task, got.failure, seconds)
    result.points.extend(_points(result, seconds))


def _kill(cell: Cell, got: Result) -> None:
    if got.failure is not None and not cell.killed:
        cell.killed = True
        cell.kill_seconds = got.seconds
        cell.steps = got.failure.steps


def _fold(result: CampaignResult, task: Task, found: Found, seconds: float) -> None:
    from meshcheck.property_tests.record import replay_command
    from meshcheck.traces import itf

    known = result.failures.get(found.signature)
    if known is not None:
        known.count += 1
        known.seeds.append(task.seed)
        shorter = found.steps is not None and (known.steps is None or found.steps < known.steps)
        if not (shorter and found.itf):
            return
        known.steps, known.message, known.itf = found.steps, found.message, found.itf
        folded = known
    else:
        folded = Folded(
            task.protocol,
            task.check,
            task.bugs,
            found.signature,
            found.message,
            found.steps,
            itf=found.itf,
            first_seconds=seconds,
            seeds=[task.seed],
        )
        result.failures[found.signature] = folded
    if folded.itf:
        number = list(result.failures).index(found.signature) + 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{task.protocol}.{task.check}").strip("-")
        path = result.config.out / "failures" / f"{number:02d}.{safe}.itf.json"
        path.write_text(folded.itf, encoding="ascii")
        folded.path = str(path)
        folded.replay = replay_command(path, itf.loads(folded.itf, path=str(path)))


def _points(result: CampaignResult, seconds: float) -> list[CoveragePoint]:
    found = []
    for protocol in result.config.protocols:
        p = registry.get(protocol)
        s = coverage.summarize(p, result.coverage.get(protocol))
        examples = sum(n for (name, _), (_, n) in result.by_check.items() if name == protocol)
        found.append(
            CoveragePoint(
                protocol,
                round(seconds, 3),
                examples,
                s.actions_fired,
                s.actions_total,
                s.states,
                s.rare_hit,
                len(s.rare),
            )
        )
    return found


def progress_line(result: CampaignResult, seconds: float, budget: float, finishing: int) -> str:
    rate = result.total_examples / seconds if seconds > 0 else 0.0
    parts = [
        f"campaign {_clock(seconds)}/{_clock(budget)}",
        f"{words.count(result.total_examples, 'example', commas=True)} ({rate:.0f}/s)",
        f"{words.count(result.tasks, 'task', commas=True)}",
        f"{words.count(len(result.failures), 'failure')}",
    ]
    killed = sum(1 for c in result.cells.values() if c.killed)
    if result.cells:
        parts.append(f"matrix {killed}/{len(result.cells)} cells killed")
    latest: dict[str, CoveragePoint] = {p.protocol: p for p in result.points}
    for point in latest.values():
        parts.append(
            f"{point.protocol}: actions {point.actions}/{point.actions_total}, "
            f"states {point.states:,}, rare {point.rare}/{point.rare_total}"
        )
    if finishing:
        parts.append(f"time is up: finishing {words.count(finishing, 'task')}")
    return "  ".join(parts)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def printer(stream: Any = None) -> Callable[[str], None]:
    """A progress callback: one line rewritten in place on a terminal, else a line every 10 s."""
    out = stream if stream is not None else sys.stderr
    tty = out.isatty()
    last = [0.0]

    def show(line: str) -> None:
        if tty:
            out.write("\r\x1b[K" + line)
        elif time.monotonic() - last[0] >= 10.0:
            out.write(line + "\n")
            last[0] = time.monotonic()
        out.flush()

    return show


def checks_of(protocols: Sequence[str]) -> set[str]:
    """Every check name of the protocols (to validate --check)."""
    return {c.name for p in protocols for c in catalogue(p)[1]}

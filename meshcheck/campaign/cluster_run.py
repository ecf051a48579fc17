"""`meshcheck campaign --cluster`: N cluster tests of one system, each with a seed of its own,
fanned out to an engine's workers (meshcheck/campaign/engines.py), each run by
`cluster_task.run_one` on its worker; the reports gathered under `OUT/runs/seed-S/`, a progress
line as each run finishes, one summary table at the end, and the line that runs each violating
seed again."""

from __future__ import annotations

import random
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from meshcheck import words
from meshcheck.campaign import engines
from meshcheck.campaign.cluster_task import Outcome
from meshcheck.campaign.cluster_task import Run
from meshcheck.campaign.cluster_task import run_one
from meshcheck.campaign.cluster_task import unpack
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.table import format_table

VERDICTS = {EXIT_HOLDS: "holds", EXIT_VIOLATED: "VIOLATED", EXIT_USAGE: "bad input"}


@attrs.frozen
class ClusterConfig:
    """A campaign of `runs` cluster tests of `argv` (everything after `cluster test` but the seed,
    the report folder and the hosts), the i-th on `hosts[i % len(hosts)]` when hosts files are
    given, on `engine` with `workers` local workers or joined to `address`."""

    argv: tuple[str, ...]
    runs: int
    hosts: tuple[str, ...]
    engine: str
    workers: int
    address: str | None
    out: Path
    seeds: tuple[int, ...] = ()

    def plan(self) -> list[Run]:
        """The runs, each with a seed (the given ones, then drawn afresh) and its hosts file."""
        draw = random.SystemRandom()
        seeds = list(self.seeds[: self.runs])
        while len(seeds) < self.runs:
            seed = draw.randrange(1, 2**31)
            if seed not in seeds:
                seeds.append(seed)
        hosts = self.hosts or ("",)
        return [Run(s, self.argv, hosts[i % len(hosts)]) for i, s in enumerate(seeds)]


def again(run: Run) -> str:
    """The command that runs `run` once more, by hand."""
    hosts = ["--hosts", run.hosts] if run.hosts else []
    argv = ["meshcheck", "cluster", "test", *run.argv, *hosts, "--seed", str(run.seed)]
    return shlex.join(argv)


def verdict(code: int) -> str:
    return VERDICTS.get(code, f"failed (exit {code})")


def gather(outcome: Outcome, out: Path) -> Path:
    """The run's report unpacked under `OUT/runs/seed-S/`, with its table (verdict.txt) and its
    stderr's end (stderr.txt) beside it."""
    folder = out / "runs" / f"seed-{outcome.run.seed}"
    if outcome.archive:
        unpack(outcome.archive, folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "verdict.txt").write_text(outcome.verdict, encoding="utf-8")
    if outcome.errors:
        (folder / "stderr.txt").write_text(outcome.errors, encoding="utf-8")
    return folder


def run(config: ClusterConfig, say: Callable[[str], None] = print) -> int:
    """Run the campaign; its exit status: 1 if a run found a violation, 2 if none did but a run
    could not be judged (bad input, a failed run), 0 when every run held."""
    plan = config.plan()
    say(
        f"campaign: {words.count(len(plan), 'cluster test')} on {config.engine}, seeds "
        f"{', '.join(str(r.seed) for r in plan)}"
    )
    start = time.monotonic()
    engine = engines.start(config.engine, config.workers, config.address)
    outcomes: list[tuple[Outcome, Path]] = []
    try:
        pending = {engine.call(run_one, r) for r in plan}
        while pending:
            for handle in engine.wait(pending, 5.0):
                pending.discard(handle)
                outcome: Outcome = engine.value(handle)
                folder = gather(outcome, config.out)
                outcomes.append((outcome, folder))
                say(
                    f"  [{len(outcomes)}/{len(plan)}] seed {outcome.run.seed}"
                    f"{' on ' + outcome.run.hosts if outcome.run.hosts else ''}: "
                    f"{verdict(outcome.code)} in {outcome.seconds:.1f} s ({outcome.worker})"
                )
    finally:
        engine.close()
    say(summary(outcomes, time.monotonic() - start))
    violated = [o.run for o, _ in outcomes if o.code == EXIT_VIOLATED]
    for r in violated:
        say(f"violated: seed {r.seed}; again: {again(r)}")
    if violated:
        return EXIT_VIOLATED
    if any(o.code != EXIT_HOLDS for o, _ in outcomes):
        return EXIT_USAGE
    return EXIT_HOLDS


def summary(outcomes: list[tuple[Outcome, Path]], seconds: float) -> str:
    """The table of every run (in seed order) and a line of totals."""
    rows = [
        [str(o.run.seed), o.run.hosts or "-", verdict(o.code), f"{o.seconds:.1f}", str(folder)]
        for o, folder in sorted(outcomes, key=lambda pair: pair[0].run.seed)
    ]
    table = format_table(("seed", "hosts", "verdict", "seconds", "report"), rows, right=(3,))
    held = sum(1 for o, _ in outcomes if o.code == EXIT_HOLDS)
    return (
        f"{table}\n{words.count(len(outcomes), 'run')} in {seconds:.1f} s: {held} held, "
        f"{sum(1 for o, _ in outcomes if o.code == EXIT_VIOLATED)} violated"
    )

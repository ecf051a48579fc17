"""`meshcheck check SPEC`: run TLC on one model, show progress, end in a summary table.

A violation is written as an ITF trace (default `reports/counterexamples/<model>-<property>.itf.json`
under the current folder, or `--out`) and its path printed with the command that shows it. Not
under `traces/`: in a checkout that is the tracked regression corpus, which a user's run must not
dirty (`reports/` is where `meshcheck verify` writes its reports too, and git ignores it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from meshcheck import table
from meshcheck import words
from meshcheck.catalog import Model
from meshcheck.catalog import load_model
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import ConfigError
from meshcheck.progress import ProgressPrinter


def resolve_model(spec_arg: str, config_arg: str | None) -> Model:
    """The spec and model a `check` call means, with the model's meshcheck directives."""
    spec = Path(spec_arg)
    if spec.suffix == ".cfg" and config_arg is None:
        if not spec.is_file():
            raise ConfigError(f"{spec}: model not found")
        return load_model(spec)
    if spec.suffix != ".tla":
        raise ConfigError(f"{spec}: expected a .tla spec or a .cfg model")
    if not spec.is_file():
        raise ConfigError(f"{spec}: spec not found")
    config = Path(config_arg) if config_arg else spec.with_suffix(".cfg")
    if not config.is_file():
        hint = "" if config_arg else " (pass --config CFG)"
        raise ConfigError(f"{config}: model configuration not found{hint}")
    return load_model(config, spec)


# where a counterexample goes without --out: outside the tracked traces/ (the module doc says why)
RUN_FOLDER = Path("reports") / "counterexamples"


def counterexample_path(model: Model, prop: str | None, out: str | None) -> Path:
    if out:
        return Path(out)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{model.name}-{prop or 'violation'}")
    return RUN_FOLDER / f"{name}.itf.json"


def run_check(args: argparse.Namespace) -> int:
    from meshcheck.specs.tlc.check import Outcome
    from meshcheck.specs.tlc.check import check
    from meshcheck.traces import itf

    model = resolve_model(args.spec, args.config)
    workers = args.workers or model.workers or 1
    deadlock = model.deadlock if args.deadlock is None else args.deadlock
    printer = None if args.quiet else ProgressPrinter(model.name)
    try:
        result = check(
            model.spec, model.config, workers=workers, deadlock=deadlock, progress=printer
        )
    finally:
        if printer is not None:
            printer.done()
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    if args.verbose:
        print(result.output.rstrip())
        print()

    outcome = result.outcome.value
    if result.violation is not None:
        what = result.violation.name or result.violation.kind
        outcome = f"violated: {what}"
    print(
        table.format_table(
            ("spec", "model", "result", "generated", "distinct", "depth", "seconds"),
            [
                (
                    model.spec.name,
                    model.config.name,
                    outcome,
                    table.count(result.generated),
                    table.count(result.distinct),
                    str(result.depth),
                    table.seconds(result.seconds),
                )
            ],
            right=(3, 4, 5, 6),
        )
    )
    if result.outcome is Outcome.HOLDS:
        changed = model.count_changed(result.distinct)
        if changed is not None:  # the verdict `meshcheck verify` gives this model: a failure
            print(f"FAIL: {changed}")
            return EXIT_VIOLATED
        return EXIT_HOLDS
    if result.message:
        print(result.message, file=sys.stderr if result.outcome is Outcome.ERROR else sys.stdout)
    if result.trace is not None:
        prop = result.violation.name if result.violation else "error"
        path = itf.write(result.trace, counterexample_path(model, prop, args.out))
        kind = "lasso" if result.trace.loop is not None else "trace"
        print(
            f"counterexample ({words.count(len(result.trace), 'state')}, {kind}) written to {path}"
        )
        print(f"  meshcheck trace show {path}")
    return EXIT_VIOLATED if result.outcome is Outcome.VIOLATED else EXIT_USAGE

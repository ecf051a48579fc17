"""`meshcheck mutants PROTOCOL`: switch on each known bug in turn and see which check kills it.

A verification toolkit is as good as the bugs it catches (DESIGN.md, "Measuring the toolkit itself").
Each protocol keeps a catalogue of mutants (impl/<protocol>/mutants.py: BUGS, name -> what the bug is)
and an ordered list of property checks (property_tests/<protocol>/checks.py: CHECKS). For each
mutant the command runs the checks in order with that one bug switched on, under the profile's
Hypothesis settings made reproducible (derandomized, no example database), and stops at the first
check that fails: the killer, how long it took, and how many steps the counterexample has after
Hypothesis shrank it, or, for a check with its own `minimize` (lockstep), after that made it
1-minimal (every step left is needed), which is faster than shrinking a stateful program. `--all` runs every check on every mutant (the kill matrix). A mutant that
survives every check is a hole in the toolkit: exit 1.

`--save` writes each lockstep counterexample (a path of the spec, so it replays on the spec and on the
implementation) to traces/<protocol>/<mutant>.itf.json, the regression corpus.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck import table
from meshcheck.errors import EXIT_HOLDS, EXIT_VIOLATED, MeshcheckError

# protocol -> (module with BUGS, module with CHECKS)
PROTOCOLS = {
    "pbft": ("impl.pbft.mutants", "property_tests.pbft.checks"),
    "raft": ("impl.raft.mutants", "property_tests.raft.checks"),
}
ROOT = Path(__file__).resolve().parents[1]


class UnknownMutant(MeshcheckError):
    pass


@attrs.frozen
class Attempt:
    check: str
    killed: bool
    seconds: float
    steps: int | None = None  # length of the (shrunk) counterexample
    error: str = ""  # the check could not run (not a kill)
    saved: str = ""  # where the counterexample was written


@attrs.frozen
class Outcome:
    mutant: str
    attempts: tuple[Attempt, ...]

    @property
    def killer(self) -> Attempt | None:
        return next((a for a in self.attempts if a.killed), None)


def catalogue(protocol: str) -> tuple[Mapping[str, str], Sequence[Any]]:
    """(BUGS, CHECKS) of a protocol."""
    if protocol not in PROTOCOLS:
        raise UnknownMutant(
            f"no mutant catalogue for {protocol!r} (protocols: {', '.join(sorted(PROTOCOLS))})"
        )
    bugs_module, checks_module = PROTOCOLS[protocol]
    bugs: Mapping[str, str] = importlib.import_module(bugs_module).BUGS
    checks: Sequence[Any] = importlib.import_module(checks_module).CHECKS
    return bugs, checks


def mutant_settings(profile: str, *, shrink: bool = True) -> Any:
    """The profile's Hypothesis settings, reproducible: derandomized, no database, one bug reported."""
    from hypothesis import Phase, settings

    from property_tests.profiles import HYPOTHESIS

    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        settings.get_profile(HYPOTHESIS[profile]),
        derandomize=True,
        database=None,
        report_multiple_bugs=False,
        phases=phases,
        print_blob=False,
    )


def run_mutants(
    protocol: str,
    *,
    profile: str = "default",
    only: Sequence[str] = (),
    every_check: bool = False,
    shrink: bool = True,
    save: Path | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> list[Outcome]:
    """Run the checks against each mutant; one Outcome per mutant, in catalogue order."""
    from property_tests.failure import CheckFailed

    bugs, checks = catalogue(protocol)
    unknown = [m for m in only if m not in bugs]
    if unknown:
        raise UnknownMutant(
            f"no {protocol} mutant {', '.join(unknown)} (mutants: {', '.join(bugs)})"
        )
    chosen = [m for m in bugs if not only or m in only]
    settings = mutant_settings(profile, shrink=shrink)
    unshrunk = mutant_settings(profile, shrink=False)
    outcomes = []
    for mutant in chosen:
        attempts: list[Attempt] = []
        for check in checks:
            say(f"{protocol}: {mutant}: {check.name} ...")
            start = time.perf_counter()
            minimize = getattr(check, "minimize", None)
            try:
                check.run(frozenset({mutant}), unshrunk if minimize else settings)
            except CheckFailed as found:
                failure = minimize(found, frozenset({mutant})) if minimize and shrink else found
                seconds = time.perf_counter() - start
                saved = ""
                trace = failure.trace
                if (
                    save is not None
                    and trace is not None
                    and trace.meta.get("source") == "lockstep"
                ):
                    saved = _save(trace, save / protocol / f"{mutant}.itf.json")
                attempts.append(Attempt(check.name, True, seconds, failure.steps, saved=saved))
                say(
                    f"{protocol}: {mutant}: killed by {check.name} in {seconds:.1f} s, "
                    f"counterexample of {failure.steps} steps"
                )
                if not every_check:
                    break
            except Exception as exc:  # the check itself broke: report it, it is not a kill
                seconds = time.perf_counter() - start
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                attempts.append(
                    Attempt(check.name, False, seconds, error=f"{type(exc).__name__}: {first}")
                )
                say(f"{protocol}: {mutant}: {check.name} could not run: {type(exc).__name__}")
            else:
                seconds = time.perf_counter() - start
                attempts.append(Attempt(check.name, False, seconds))
                say(f"{protocol}: {mutant}: survived {check.name} ({seconds:.1f} s)")
        outcomes.append(Outcome(mutant, tuple(attempts)))
    return outcomes


def _save(trace: Any, path: Path) -> str:
    from traces import itf

    path.parent.mkdir(parents=True, exist_ok=True)
    itf.write(trace, path)
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def render(outcomes: Sequence[Outcome], *, every_check: bool = False) -> str:
    """The kill table (first killer per mutant), or the whole matrix with `every_check`."""
    if every_check and outcomes:
        names = [a.check for a in outcomes[0].attempts]
        header = ["mutant", *names]
        rows = []
        for o in outcomes:
            cells = {a.check: _cell(a) for a in o.attempts}
            rows.append([o.mutant, *(cells.get(n, "") for n in names)])
        return table.format_table(header, rows)
    header = ["mutant", "killed by", "seconds", "counterexample", "checks that missed it"]
    rows = []
    for o in outcomes:
        k = o.killer
        missed = ", ".join(
            f"{a.check} ({a.seconds:.0f} s{', ' + a.error if a.error else ''})"
            for a in o.attempts
            if not a.killed
        )
        if k is None:
            spent = f"{sum(a.seconds for a in o.attempts):.1f}"
            rows.append([o.mutant, "SURVIVED", spent, "", missed])
        else:
            rows.append([o.mutant, k.check, f"{k.seconds:.1f}", f"{k.steps} steps", missed])
    return table.format_table(header, rows, right=(2,))


def _cell(a: Attempt) -> str:
    if a.killed:
        return f"killed, {a.seconds:.1f} s, {a.steps} steps"
    if a.error:
        return f"error: {a.error}"
    return f"survived, {a.seconds:.0f} s"


def run_mutants_cmd(args: Any) -> int:
    outcomes = run_mutants(
        args.protocol,
        profile=args.profile,
        only=args.mutant or (),
        every_check=args.all,
        shrink=not args.no_shrink,
        save=(Path(args.save) if args.save else None),
        say=(lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr)),
    )
    print(render(outcomes, every_check=args.all))
    survivors = [o.mutant for o in outcomes if o.killer is None]
    if survivors:
        print(f"\n{len(survivors)} of {len(outcomes)} mutants survived: {', '.join(survivors)}")
        return EXIT_VIOLATED
    print(f"\nall {len(outcomes)} mutants killed")
    return EXIT_HOLDS

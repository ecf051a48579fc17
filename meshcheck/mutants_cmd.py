"""`meshcheck mutants PROTOCOL`: switch on each known bug in turn and see which check kills it.

A verification toolkit is as good as the bugs it catches: a mutant no check kills is a bug the checks
would miss (mutation analysis, DeMillo, Lipton and Sayward 1978). Each protocol keeps a catalogue of
mutants (impl/<protocol>/mutants.py: BUGS, name -> what the bug is)
and an ordered list of property checks (property_tests/<protocol>/checks.py: CHECKS). For each
mutant the command runs the checks in order with that one bug switched on, under the profile's
Hypothesis settings made reproducible (derandomized, no example database), and stops at the first
check that fails: the killer, how long it took, and how many steps the counterexample has after
Hypothesis shrank it, or, for a check with its own `minimize` (lockstep), after that made it
1-minimal (every step left is needed), which is faster than shrinking a stateful program. `--all` runs every check on every mutant (the kill matrix). A mutant that
survives every check is a hole in the toolkit: exit 1.

The matrix's first column (`--all` only: `make mutants` stays fast) is TLC on the spec mutant of the
same bug (specs/mutants/: Raft's by its `impl` switch, PBFT's by name), on that mutant's model with
one worker: killed when the property it must break fails, with TLC's time and the counterexample's
steps; "-" where the bug is not in the spec. It says whether the spec's properties catch the bug;
the implementation's checks must catch it on their own, so TLC's kill does not count as the
implementation's (a spec mutant that TLC does not kill exits 1 too).

`--save` writes each lockstep counterexample (a path of the spec, so it replays on the spec and on the
implementation) to traces/<corpus>/<mutant>.itf.json, the regression corpus (`corpus` of the
protocol's descriptor: its name).

Each run adds its kills to the kill record, reports/kills.json (meshcheck/kills.py: which
check has ever killed which mutant, which `meshcheck verify` shows beside each row's cost). The
checks run every example of the profile's budget here: the saturation stop of `make verify`'s
property tests (property_tests/saturation.py) is off while a mutant is hunted.

The protocols, their catalogues and checks come from the registry (meshcheck/registry.py): each
protocol's descriptor names its `bugs` and `checks`. Without a PROTOCOL, every registered protocol
that has both runs in turn.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck import exercise
from meshcheck import registry
from meshcheck import table
from meshcheck import words
from meshcheck.exercise import VACUOUS
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.violated import explained


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
    spec: bool = False  # TLC on the mutated spec, not a check of the implementation
    absent: str = ""  # why TLC did not run: the mutant is not in the spec
    # the Hypothesis test functions the check ran (property_tests/saturation.py's `identity`):
    # how `meshcheck verify` finds the property-test rows that run this check (meshcheck/kills.py)
    runs: tuple[str, ...] = ()
    # a check the mutant survived whose every free run held vacuously (meshcheck/exercise.py): it
    # exercised nothing, rather than missed the bug; what its runs' judgement says, else ""
    vacuous: str = ""


@attrs.frozen
class Outcome:
    mutant: str
    attempts: tuple[Attempt, ...]

    @property
    def killer(self) -> Attempt | None:
        """The first check of the implementation that killed it (TLC on the spec does not count:
        the implementation's bug must be caught in the implementation)."""
        return next((a for a in self.attempts if a.killed and not a.spec), None)

    @property
    def tlc(self) -> Attempt | None:
        return next((a for a in self.attempts if a.spec), None)

    @property
    def spec_survived(self) -> bool:
        """TLC ran on the mutated spec and the property the mutant must break held."""
        tlc = self.tlc
        return tlc is not None and not tlc.absent and not tlc.killed


def with_catalogue() -> tuple[str, ...]:
    """The registered protocols that have a mutant catalogue and checks to run on it."""
    return tuple(
        name
        for name, p in registry.protocols().items()
        if p.bugs is not None and p.checks is not None
    )


def catalogue(protocol: str) -> tuple[Mapping[str, str], Sequence[Any]]:
    """(its mutants, its ordered checks) of a registered protocol (its descriptor's `bugs` and
    `checks`); UnknownProtocol or UnknownMutant (exit 2) when it has none."""
    p = registry.get(protocol)
    bugs: Mapping[str, str] = p.load("bugs") if p.bugs is not None else {}
    checks: Sequence[Any] = p.load("checks") if p.checks is not None else ()
    if not bugs or not checks:  # "all 0 mutants killed" would be a check that cannot fail
        has = ", ".join(with_catalogue()) or "none"
        raise UnknownMutant(
            f"the protocol {protocol!r} has no mutants to run: set its descriptor's bugs "
            '("module:BUGS", a mapping mutant -> what the bug is) and checks ("module:CHECKS", '
            f"the property checks), as docs/plugins.md shows (protocols with: {has})"
        )
    return bugs, checks


def mutant_settings(profile: str, *, shrink: bool = True) -> Any:
    """The profile's Hypothesis settings, reproducible: derandomized, no database, one bug reported."""
    from hypothesis import Phase
    from hypothesis import settings

    from meshcheck.property_tests.profiles import HYPOTHESIS

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
    tlc: bool | None = None,
    first: Sequence[str] = (),
) -> list[Outcome]:
    """Run the checks against each mutant; one Outcome per mutant, in catalogue order. `tlc`
    (default: with `every_check`) first runs TLC on the spec mutant of the same bug. `first`
    names checks to try before the others (the rest in the protocol's order): whether a mutant
    dies does not depend on the order, only which check is reported as its killer, and a cheap
    check that kills many (the stored traces replay a few files) spares the whole budget of the
    ones before it."""
    from meshcheck.property_tests import saturation

    bugs, checks = catalogue(protocol)
    names = [c.name for c in checks]
    missing = [name for name in first if name not in names]
    if missing:
        raise UnknownMutant(
            f"no {protocol} check {', '.join(missing)} (checks: {', '.join(names)})"
        )
    checks = [*(checks[names.index(n)] for n in first), *(c for c in checks if c.name not in first)]
    unknown = [m for m in only if m not in bugs]
    if unknown:
        raise UnknownMutant(
            f"no {protocol} mutant {', '.join(unknown)} (mutants: {', '.join(bugs)})"
        )
    chosen = [m for m in bugs if not only or m in only]
    settings = mutant_settings(profile, shrink=shrink)
    unshrunk = mutant_settings(profile, shrink=False)
    # a hunt for a kill runs the profile's whole budget, whatever the process's saturation stop
    # (property_tests/saturation.py): a kill one example past a stop would be a kill lost
    with saturation.configured(None):
        return [
            _outcome(
                protocol, mutant, checks, settings, unshrunk, every_check, shrink, save, say, tlc
            )
            for mutant in chosen
        ]


def _outcome(
    protocol: str,
    mutant: str,
    checks: Sequence[Any],
    settings: Any,
    unshrunk: Any,
    every_check: bool,
    shrink: bool,
    save: Path | None,
    say: Callable[[str], None],
    tlc: bool | None,
) -> Outcome:
    """One mutant's attempts: the checks in order with it switched on (see run_mutants)."""
    from meshcheck.property_tests import saturation
    from meshcheck.property_tests.failure import CheckFailed

    attempts: list[Attempt] = []
    if every_check if tlc is None else tlc:
        attempts.append(tlc_attempt(protocol, mutant, say))
    for check in checks:
        say(f"{protocol}: {mutant}: {check.name} ...")
        saturation.take_runs()
        exercise.take()  # this check's runs only
        start = time.perf_counter()
        minimize = getattr(check, "minimize", None)
        try:
            check.run(frozenset({mutant}), unshrunk if minimize else settings)
        except CheckFailed as found:
            failure = minimize(found, frozenset({mutant})) if minimize and shrink else found
            seconds = time.perf_counter() - start
            saved = ""
            trace = failure.trace
            if save is not None and trace is not None and trace.meta.get("source") == "lockstep":
                trace = attrs.evolve(
                    trace, meta=explained(trace.meta, check.name, failure.violated)
                )
                saved = _save(trace, save / corpus_folder(protocol) / f"{mutant}.itf.json")
            runs = _runs(saturation.take_runs())
            attempts.append(
                Attempt(check.name, True, seconds, failure.steps, saved=saved, runs=runs)
            )
            say(
                f"{protocol}: {mutant}: killed by {check.name} in {seconds:.1f} s, "
                f"counterexample of {words.count(failure.steps, 'step')}"
            )
            if not every_check:
                break
        except MeshcheckError:  # bad input (an adapter naming what the spec lacks): exit 2
            raise
        except Exception as exc:  # the check itself broke: report it, it is not a kill
            seconds = time.perf_counter() - start
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            error = f"{type(exc).__name__}: {first}"
            runs = _runs(saturation.take_runs())
            attempts.append(Attempt(check.name, False, seconds, error=error, runs=runs))
            say(f"{protocol}: {mutant}: {check.name} could not run: {type(exc).__name__}")
        else:
            seconds = time.perf_counter() - start
            runs = _runs(saturation.take_runs())
            every, said = exercise.read(exercise.tally(exercise.take()))
            empty = said if every else ""
            attempts.append(Attempt(check.name, False, seconds, runs=runs, vacuous=empty))
            idle = f"; {empty}" if empty else ""
            say(f"{protocol}: {mutant}: survived {check.name} ({seconds:.1f} s{idle})")
    return Outcome(mutant, tuple(attempts))


def _runs(found: Sequence[Any]) -> tuple[str, ...]:
    """The distinct test functions of the Hypothesis runs `found` (saturation.Run's), sorted."""
    return tuple(sorted({run.identity for run in found}))


def corpus_folder(protocol: str) -> str:
    """The folder (under traces/) of a protocol's counterexamples: its descriptor's `corpus`."""
    return registry.get(protocol).corpus or protocol


TLC_CHECK = "TLC on the spec"


def tlc_attempt(protocol: str, mutant: str, say: Callable[[str], None]) -> Attempt:
    """TLC on the spec mutant of the same bug (specs/mutants/), on its model with one worker:
    killed when the property it must break fails; `absent` when the spec has no such mutant."""
    from meshcheck.specs import mutants as spec_mutants

    spec = spec_mutants.for_bug(protocol, mutant)
    if spec is None:
        why = spec_mutants.equivalent(protocol, mutant) or "not in the spec"
        return Attempt(TLC_CHECK, False, 0.0, spec=True, absent=why)
    say(f"{protocol}: {mutant}: {TLC_CHECK} ...")
    try:
        kill = spec_mutants.run_tlc(protocol, spec)
    except Exception as exc:  # TLC or the mutation could not run: report it, not a kill
        problem = f"could not run: {type(exc).__name__}: {exc}"
        return Attempt(TLC_CHECK, False, 0.0, error=problem, spec=True)
    say(
        f"{protocol}: {mutant}: {TLC_CHECK}: {'killed' if kill.killed else 'SURVIVED'} in "
        f"{kill.seconds:.1f} s ({spec.catches})"
    )
    return Attempt(TLC_CHECK, kill.killed, kill.seconds, kill.steps, error=kill.detail, spec=True)


def _save(trace: Any, path: Path) -> str:
    from meshcheck.traces import itf

    path.parent.mkdir(parents=True, exist_ok=True)
    itf.write(trace, path)
    here = Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def render(outcomes: Sequence[Outcome], *, every_check: bool = False) -> str:
    """The kill table (first killer per mutant), or the whole matrix with `every_check` (as wide as
    its checks: the user asked for every one)."""
    if every_check and outcomes:
        names = [a.check for a in outcomes[0].attempts]
        header = ["mutant", *names]
        rows = []
        for o in outcomes:
            cells = {a.check: _cell(a) for a in o.attempts}
            rows.append([o.mutant, *(cells.get(n, "") for n in names)])
        return table.format_table(header, rows)
    with_tlc = any(o.tlc is not None for o in outcomes)
    header = ["mutant", "killed by", "seconds", "counterexample", "checks that missed it"]
    if with_tlc:
        header.insert(1, TLC_CHECK)
    rows = []
    for o in outcomes:
        k = o.killer
        missed = ", ".join(
            f"{a.check} ({a.seconds:.0f} s{', ' + (a.error or a.vacuous) if a.error or a.vacuous else ''})"
            for a in o.attempts
            if not a.killed and not a.spec
        )
        if k is None:
            spent = f"{sum(a.seconds for a in o.attempts if not a.spec):.1f}"
            row = [o.mutant, "SURVIVED", spent, "", missed]
        else:
            row = [o.mutant, k.check, f"{k.seconds:.1f}", _steps(k.steps), missed]
        tlc = o.tlc
        if with_tlc:
            row.insert(1, _cell(tlc) if tlc is not None else "")
        rows.append(row)
    # the checks that missed a mutant, when too many for the line, are listed whole under the table
    return table.format_fitted(header, rows, right=(3,) if with_tlc else (2,))


def _steps(steps: int | None) -> str:
    """A counterexample's length, counted ("1 step"); "? steps" when it is not known."""
    return words.count(steps, "step") if steps is not None else "? steps"


def _cell(a: Attempt) -> str:
    if a.absent:
        # "-": the bug is not in the spec; an equivalent mutant says so
        return "-" if a.absent == "not in the spec" else f"- ({a.absent.split(':')[0]})"
    if a.killed:
        return f"killed, {a.seconds:.1f} s, {_steps(a.steps)}"
    if a.error and a.spec and not a.error.startswith("could not run"):
        return f"SURVIVED ({a.error})"
    if a.error:
        return f"error: {a.error}"
    return f"survived, {a.seconds:.0f} s" + (f", {VACUOUS}" if a.vacuous else "")


def run_mutants_cmd(args: Any) -> int:
    """`meshcheck mutants NAME`, or every registered protocol with a catalogue (no NAME): one
    table per protocol, exit 1 when any mutant survived."""
    if args.protocol is not None:
        return _one_protocol(args, args.protocol)
    if args.mutant:
        raise UnknownMutant("--mutant names one protocol's mutants: give its PROTOCOL too")
    worst = EXIT_HOLDS
    for i, protocol in enumerate(with_catalogue()):
        if i:
            print()
        print(f"== {protocol}")
        worst = max(worst, _one_protocol(args, protocol))
    return worst


def _one_protocol(args: Any, protocol: str) -> int:
    outcomes = run_mutants(
        protocol,
        profile=args.profile,
        only=args.mutant or (),
        every_check=args.all,
        shrink=not args.no_shrink,
        save=(Path(args.save) if args.save else None),
        say=(lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr)),
        tlc=getattr(args, "tlc", None),
    )
    print(render(outcomes, every_check=args.all))
    from meshcheck import kills

    kills.add(kills.of_outcomes(protocol, outcomes), Path.cwd() / kills.PATH)
    survivors = [o.mutant for o in outcomes if o.killer is None]
    spec_survivors = [o.mutant for o in outcomes if o.spec_survived]
    if spec_survivors:
        print(
            f"\nTLC did not kill the spec mutant of {', '.join(spec_survivors)}: "
            "the spec's property no longer catches it"
        )
    if survivors:
        print(
            f"\n{len(survivors)} of {words.count(len(outcomes), 'mutant')} survived: {', '.join(survivors)}"
        )
        return EXIT_VIOLATED
    if spec_survivors:
        return EXIT_VIOLATED
    print(f"\nall {words.count(len(outcomes), 'mutant')} killed")
    return EXIT_HOLDS

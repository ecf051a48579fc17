"""The rows of `meshcheck verify` and the units that make them, apart from the command that runs
them (meshcheck/verify.py): what the row modules (verify_cluster.py, verify_systems.py,
verify_etcd.py, verify_logs.py) and the parallel run (verify_pool.py) share, so that none of them
imports verify.py back (the import contract "verify: the command over its pool, its row modules
and its rows" in pyproject.toml keeps it so)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.interrupts import held


@attrs.frozen
class Row:
    kind: str
    name: str
    result: str  # "pass" | "FAIL" | "error" | "skip" | "vacuous" (meshcheck/exercise.py)
    count: int | None
    unit: str  # what count counts: "states", "obligations", "examples", "tests", "steps", ...
    seconds: float  # wall-clock
    detail: str = ""
    # the row's cost and catch (meshcheck/kills.py): CPU-seconds of the process that ran it (the
    # JVM's threads included; None where not measured), and the catalogue mutants its check has
    # killed, as `protocol:mutant`
    cpu: float | None = None
    kills: tuple[str, ...] = ()
    # what a failed row violated, "invariant ElectionSafety" (meshcheck/violated.py): its detail
    # starts with it, and every report says it first
    violated: str = ""
    # the file a row checks, as a command takes it (a TLC row: its model's .cfg), for the command
    # that runs the check again (verify_summary.again)
    source: str = ""
    # a property test's Hypothesis runs (property_tests/saturation.py's identities): how its
    # kills are found; not in the JSON report
    runs: tuple[str, ...] = attrs.field(default=(), repr=False)


@attrs.frozen
class Unit:
    """One piece of a stage that runs on its own: a TLC model, a proof set, the property-test run,
    a stored trace, a protocol's mutant matrix. `run` gives its rows, in the order the table lists
    them. The parallel run (meshcheck/verify_pool.py) hands units to worker processes by their
    stage and index, so a stage's units must come out the same, in the same order, in every
    process that lists them."""

    kind: str
    name: str
    run: Callable[[], list[Row]] = attrs.field(eq=False, repr=False)


@attrs.frozen
class TraceCheck:
    """A check that a system file or a protocol's descriptor adds to `meshcheck verify`, found by
    a Ref naming one of these, so that the command names neither: a system file's `[verify]`
    table's `checks`, for code of the system that its cluster test does not reach (etcd's Raft
    library: meshcheck/verify_etcd.py; meshcheck/verify_systems.py), and a protocol's `log_checks`,
    its implementation's logs validated against its spec (meshcheck/verify_logs.py). Its row's
    name, known before it runs, and how to run it, (the project's folder, the profile, an
    exploration's seed or None) -> its row, of kind "traces"."""

    name: str
    run: Callable[[Path, str, int | None], Row] = attrs.field(eq=False, repr=False)
    # whether `--profile fast`, the 3-minute gate, runs it too (a protocol's log checks; a system
    # file's checks run beside its cluster test, in the other profiles only: docs/systems.md)
    fast: bool = False
    # the specs it validates against that no protocol registers (a system's: RaftEtcd.tla for
    # etcd's Raft library): their TLC models' rows go with its row in verify's summary
    # (meshcheck/verify_summary.py `Areas`)
    specs: tuple[str, ...] = ()


def trace_check(ref: str, where: str) -> TraceCheck:
    """The TraceCheck the Ref `ref` names; for anything else one ConfigError line starting with
    `where` (the file or descriptor and the key that name it)."""
    from meshcheck.protocol import resolve

    try:
        found = resolve(ref)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where} does not load: {type(exc).__name__}: {exc}") from None
    if not isinstance(found, TraceCheck):
        raise ConfigError(f"{where} is a {type(found).__name__}, not a TraceCheck")
    return found


def error_unit(kind: str, name: str, detail: str) -> Unit:
    """A unit of one "error" row: a check that could not even be found."""
    row = Row(kind, name, "error", None, "", 0.0, detail)
    return Unit(kind, name, partial(list, [row]))


def one(kind: str, name: str, fn: Callable[[], Row]) -> Unit:
    """A unit of one row, `fn`'s, timed (a MeshcheckError is the row's error)."""
    return Unit(kind, name, lambda: [timed(kind, name, fn)])


def rows_of(units: list[Unit]) -> Iterator[Row]:
    for unit in units:
        yield from unit.run()


def run_costed(unit: Unit) -> list[Row]:
    """`unit.run()`, and the CPU time this process spent on it (the JVM's threads included: TLC
    runs in-process) as the cpu of a unit's one row that has none (a unit of several rows, the
    property tests', measures each row itself)."""
    start = time.process_time()
    rows = unit.run()
    if len(rows) == 1 and rows[0].cpu is None:
        return [attrs.evolve(rows[0], cpu=round(time.process_time() - start, 3))]
    return rows


def timed(kind: str, name: str, fn: Callable[[], Row]) -> Row:
    start = time.perf_counter()
    try:
        return fn()
    except MeshcheckError as exc:
        return Row(kind, name, "error", None, "", time.perf_counter() - start, str(exc))


# The pytest runs under way (test_rows): what `stop_children` ends when a run is interrupted.
_RUNNING: set[subprocess.Popen[str]] = set()


def stop_children() -> None:
    """Terminate the pytest runs under way (their xdist workers exit when their channel closes)."""
    for proc in list(_RUNNING):
        proc.terminate()


def run_tracked(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`subprocess.run(command, capture_output=True, text=True)`, the process kept in _RUNNING
    while it runs; its exit code, stdout and stderr."""
    proc: subprocess.Popen[str] | None = None
    try:
        with held():  # started and recorded, or neither (meshcheck/interrupts.py)
            proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            _RUNNING.add(proc)
        out, err = proc.communicate()
    except BaseException:  # interrupted: end it and wait for it, as subprocess.run does
        if proc is not None:
            proc.terminate()
            proc.communicate()
        raise
    finally:
        if proc is not None:
            _RUNNING.discard(proc)
    return proc.returncode, out, err


@attrs.frozen
class Plan:
    """What one verify run checks, as values a worker process can be handed: every process that
    lists a stage's units from the same plan lists the same units in the same order."""

    root: Path
    profile: str
    chosen: tuple[str, ...] | None
    scratch: Path  # the run's scratch folder (the property tests' JUnit report and coverage)
    workers: int = 1
    seed: int | None = (
        None  # an exploration's seed; None: derandomized (property_tests/profiles.py)
    )


# the units of one stage of a plan (meshcheck.verify.stage_units): a function of a module's top
# level, so that the parallel run hands it to its worker processes by name
Stages = Callable[[Plan, str], list[Unit]]

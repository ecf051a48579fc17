"""One unit of a campaign's work, and the function a worker runs on it.

A `Task` is one property check of one protocol (a `Check` of its descriptor's `checks`,
property_tests/<protocol>/checks.py) run once under Hypothesis with a seed of its own and a
budget of examples, with `bugs` switched on: none for the property checks proper, one mutant of
the protocol's catalogue for a cell of the kill matrix (as `meshcheck mutants --all` runs it,
meshcheck/mutants_cmd.py, but with a fresh seed each time instead of derandomized), or the bugs a
campaign on a mutant build was given.

`run_task` is what travels to a worker: a module-level function of plain data to plain data
(attrs classes of strings and numbers), so a process pool pickles it and Dask or Ray ships it to
another machine; the worker imports meshcheck itself. It returns what the coordinator needs and
nothing that only makes sense on the worker's file system: the examples Hypothesis ran (counted
as property_tests/conftest.py counts them, from `hypothesis.statistics.collector`), the coverage
recorded meanwhile (meshcheck/coverage.py, as its JSON text), and a failure as its message, a
signature to fold duplicates by, and its counterexample as ITF text with what re-runs it
(property_tests/record.py: `#meta.rerun` for a free run).

The example database is Hypothesis's own: `DirectoryBasedExampleDatabase` for a folder, and
`hypothesis.extra.redis.RedisExampleDatabase` for `redis://host:port[/db]` (the `redis` package).
Each set of bugs keeps its own part of it (a sub-folder, a key prefix): Hypothesis deletes a stored
example that no longer fails when it replays it, so a mutant's counterexample must not be replayed
by the correct implementation's run of the same check.
"""

from __future__ import annotations

import ctypes
import math
import os
import random
import re
import signal
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

import attrs

if TYPE_CHECKING:
    from meshcheck.property_tests.failure import CheckFailed

Kind = Literal["property", "mutant"]


@attrs.frozen
class Task:
    id: int
    kind: Kind
    protocol: str
    check: str  # the check's name in the protocol's CHECKS
    bugs: tuple[str, ...]
    seed: int
    examples: int  # Hypothesis's max_examples for this run
    profile: str = "default"  # the Hypothesis profile (property_tests/profiles.py) it starts from
    db: str = ""  # "": no database; a folder; redis://host:port[/db]
    stop_at: float = 0.0  # wall clock (time.time()) by which the run is cut; 0: never
    start_by: float = 0.0  # wall clock after which the task is not started (skipped); 0: always


class TimeUp(BaseException):
    """The campaign's time is up (a BaseException, so Hypothesis does not take it for a failure
    of the test and shrink it)."""


@attrs.frozen
class Found:
    """A failed check, as the coordinator folds and writes it."""

    message: str  # what the check said (its first lines)
    signature: str  # the check, the bugs and the message with its numbers and parameters removed
    steps: int | None
    itf: str = ""  # the counterexample as ITF text ("" when the check left none)


@attrs.frozen
class Result:
    task: Task
    worker: str  # host:pid
    seconds: float
    examples: int
    coverage: str  # meshcheck.coverage.dumps of what the run reached
    failure: Found | None = None
    error: str = ""  # the check itself could not run (not a failure of the implementation)
    cut: bool = False  # stopped when the campaign's time was up (its examples are not counted)
    skipped: bool = False  # reached a worker after the campaign's time was up: not started
    cpu: float = 0.0  # CPU seconds of the worker's process while it ran the task
    # the runs the check judged, and how many of them were vacuous (meshcheck/exercise.py)
    judged: tuple[int, int] = (0, 0)


def namespace(bugs: tuple[str, ...]) -> str:
    """The part of the example database a set of bugs keeps its examples in."""
    return "+".join(sorted(bugs)) or "correct"


def database(db: str, bugs: tuple[str, ...]) -> Any:
    """Hypothesis's example database `db` names (None for ""), the part for `bugs`."""
    if not db:
        return None
    if db.startswith("redis://"):
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        client = redis.Redis.from_url(db)
        return RedisExampleDatabase(client, key_prefix=f"meshcheck:{namespace(bugs)}:".encode())
    from hypothesis.database import DirectoryBasedExampleDatabase

    return DirectoryBasedExampleDatabase(Path(db) / namespace(bugs))


def settings_for(task: Task, *, shrink: bool = True) -> Any:
    """The profile's settings with the task's budget and database, randomized (the seed is the
    task's), reporting one bug."""
    from hypothesis import Phase
    from hypothesis import settings

    from meshcheck.property_tests.profiles import HYPOTHESIS

    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    return settings(
        settings.get_profile(HYPOTHESIS[task.profile]),
        max_examples=task.examples,
        derandomize=False,
        database=database(task.db, task.bugs),
        report_multiple_bugs=False,
        phases=[*phases, Phase.shrink] if shrink else phases,
        print_blob=False,
    )


_NUMBER = re.compile(r"\d+")


def signature(protocol: str, check: str, bugs: tuple[str, ...], message: str) -> str:
    """What makes two failures the same: the check, its bugs, and the first line of the message
    with parenthesized parts (schedules, action parameters, entries) and numbers (steps, times,
    node and value names) taken out, so the same bug seen from two seeds folds into one."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    previous = None
    while previous != first:  # innermost parentheses first, until none are left
        previous = first
        first = re.sub(r"\([^()]*\)", "", first)
    first = _NUMBER.sub("N", first)
    first = re.sub(r"\s+", " ", first).strip()
    return f"{protocol} | {check} | {namespace(bugs)} | {first}"


def _examples_in(stats: Mapping[str, Any]) -> int:
    """Test cases of one Hypothesis run, as property_tests/conftest.py counts them (every phase
    but shrinking; valid or failing)."""
    return sum(
        case.get("status") in ("valid", "interesting")
        for phase, found in stats.items()
        if phase.endswith("-phase") and phase != "shrink-phase" and isinstance(found, Mapping)
        for case in found.get("test-cases", ())
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def warm_up(protocols: tuple[str, ...] = ()) -> str:
    """Import what a task needs and load the protocols' catalogues, once per worker process, so
    that its first task costs what the others do (a process pool's initializer, Dask's
    `Client.run`); the worker's name."""
    import hypothesis.core
    import hypothesis.extra.redis  # noqa: F401

    from meshcheck import coverage  # noqa: F401
    from meshcheck.mutants_cmd import catalogue
    from meshcheck.property_tests import record  # noqa: F401
    from meshcheck.traces import itf  # noqa: F401

    for protocol in protocols:
        catalogue(protocol)
    return worker_name()


def run_task(task: Task) -> Result:
    """Run the task's check once: what it ran, reached and found (never raises for a failure of
    the implementation or of the check). A task that reaches its worker after `start_by` is
    skipped; one still running at `stop_at` is cut, on whatever thread it runs (`_Cut`)."""
    if task.start_by and time.time() >= task.start_by:
        return Result(task, worker_name(), 0.0, 0, "{}", skipped=True)
    from meshcheck.property_tests.failure import first_failure

    cpu = time.process_time()
    cut = _Cut(task.stop_at)
    with first_failure() as seen:
        try:
            try:
                found = _run(task, cut)
            finally:
                cut.disarm()
        except TimeUp:  # cut, or raised during the clean-up below: make sure it is all undone
            cut.disarm()
            from meshcheck import coverage

            if coverage.recording():
                coverage.stop()
            # a bug found before the cut (Hypothesis was shrinking it) comes back unshrunk
            failure = _found(task, seen[0]) if seen else None
            found = Result(task, worker_name(), 0.0, 0, "{}", failure, cut=True)
    return attrs.evolve(found, cpu=time.process_time() - cpu)


def _run(task: Task, cut: _Cut) -> Result:
    import hypothesis.core
    from hypothesis.statistics import collector

    from meshcheck import coverage
    from meshcheck import exercise
    from meshcheck.mutants_cmd import catalogue
    from meshcheck.property_tests.record import find_failure

    _, checks = catalogue(task.protocol)
    check = next(c for c in checks if c.name == task.check)
    minimize = getattr(check, "minimize", None)
    bugs = frozenset(task.bugs)
    ran: list[int] = []
    statistics: Any = collector  # typed as holding None only: it holds a callback when set
    found: Found | None = None
    error = ""
    start = time.perf_counter()
    # the task's seed for the random source Hypothesis draws each run's seed from (not
    # `global_force_seed`, pytest's --hypothesis-seed, which also turns the database off)
    local = hypothesis.core.threadlocal
    before = getattr(local, "_hypothesis_global_random", None)
    local._hypothesis_global_random = random.Random(task.seed)
    coverage.start()
    exercise.take()  # this task's runs only
    cut.arm()
    try:
        with statistics.with_value(lambda stats: ran.append(_examples_in(stats))):
            check.run(bugs, settings_for(task, shrink=minimize is None))
    except Exception as exc:
        failed = find_failure(exc)
        if failed is None and cut.due():
            # the cut landed inside Hypothesis's engine, which can turn it into an error of its
            # own (FlakyStrategyDefinition: a test case drew differently when TimeUp cut it; seen
            # once in a loaded make test, 2026-11-28): past the deadline, an error that is no
            # failure of the check is the cut
            raise TimeUp from exc
        if failed is None:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            error = f"{type(exc).__name__}: {first}"
        else:
            failed = _minimized(failed, minimize, bugs)
            found = _found(task, failed)
    finally:
        cut.disarm()
        local._hypothesis_global_random = before
        seen = coverage.stop()
    judged = exercise.take()
    return Result(
        task,
        worker_name(),
        time.perf_counter() - start,
        sum(ran),
        coverage.dumps(seen),
        found,
        error,
        judged=(len(judged), sum(w is not None for w in judged)),
    )


class _Cut:
    """Raise TimeUp in the thread that runs a task once the wall clock reaches `stop_at`, and
    again every second should it land where it is swallowed (a gc hook, a `finally`).

    On a process's main thread (a process pool's and Ray's workers) SIGALRM does it, which also
    interrupts a blocking call; on any other thread (Dask runs a task on a worker thread, even in
    a single-threaded worker process) a timer thread raises it in the task's thread with
    `PyThreadState_SetAsyncExc` (https://docs.python.org/3/c-api/init.html), which takes effect
    at the next Python instruction that thread runs. `disarm` stops either, and takes back an
    exception raised but not yet seen."""

    def __init__(self, stop_at: float) -> None:
        self.stop_at = stop_at
        self.thread = threading.get_ident()
        self.main = threading.current_thread() is threading.main_thread()
        self.lock = threading.Lock()
        self.armed = False
        self.timer: threading.Timer | None = None

    def due(self) -> bool:
        """Whether the deadline has passed (the cut has fired, or is about to)."""
        return bool(self.stop_at) and time.time() >= self.stop_at

    def arm(self) -> None:
        if not self.stop_at:
            return
        with self.lock:
            self.armed = True
            if self.main:
                signal.signal(signal.SIGALRM, _raise_time_up)
                signal.alarm(max(1, math.ceil(self.stop_at - time.time())))
            else:
                self._later(max(0.0, self.stop_at - time.time()))

    def _later(self, seconds: float) -> None:
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            if not self.armed:
                return
            _async_raise(self.thread, TimeUp)
            self._later(1.0)

    def disarm(self) -> None:
        with self.lock:
            if not self.armed:
                return
            if self.main:
                # first: a SIGALRM landing between the two would re-arm itself (`_raise_time_up`)
                signal.alarm(0)
            self.armed = False
            if not self.main:
                if self.timer is not None:
                    self.timer.cancel()
                _async_raise(self.thread, None)


def _async_raise(thread: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in `thread` at its next instruction (None: take back one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(exc) if exc is not None else None
    )


def _raise_time_up(signum: int, frame: Any) -> None:
    signal.alarm(1)  # again in a second, should this one land where it is swallowed (a gc hook)
    raise TimeUp


def _minimized(failed: Any, minimize: Any, bugs: frozenset[str]) -> Any:
    if minimize is None:
        return failed
    try:
        return minimize(failed, bugs)
    except Exception:  # the unminimized counterexample still shows the bug
        return failed


def _found(task: Task, failed: CheckFailed) -> Found:
    from meshcheck.property_tests.record import rerun_of
    from meshcheck.property_tests.record import with_rerun
    from meshcheck.traces import itf
    from meshcheck.violated import explained

    text = ""
    trace = failed.trace
    if trace is not None:
        spec = rerun_of(failed)
        if spec is not None:
            trace = with_rerun(trace, spec)
        name = f"campaign {task.protocol} {task.check}"
        meta = {**trace.meta, "test": name, "seed": task.seed}
        if task.bugs and "bugs" not in meta:
            meta["bugs"] = task.bugs
        trace = attrs.evolve(trace, meta=explained(meta, name, failed.violated))
        text = itf.dumps(trace)
    message = "\n".join(failed.message.strip().splitlines()[:6])
    return Found(
        message,
        signature(task.protocol, task.check, task.bugs, failed.message),
        failed.steps,
        text,
    )

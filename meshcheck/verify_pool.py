"""`meshcheck verify --workers N` (N > 1): the checks of a verify run spread over N cores.

Two things run side by side:

- the property tests, one pytest run in a subprocess spread over N pytest-xdist workers
  (`--dist loadfile`, as `make test`; meshcheck.verify.test_rows), waited on by a thread here;
- every other unit (a TLC model, a proof set, a stored trace, a protocol's mutant matrix) in a
  pool of N worker processes. JPype starts one JVM per process and cannot start a second, so TLC
  runs in parallel only in separate processes; each worker starts its JVM once, at its first unit
  that needs it. The workers are spawned, not forked: a fork of a process whose JVM is running
  inherits the JVM's memory but not its threads.

A unit goes to a worker as (stage, index, name): the worker lists the stage's units from the same
`Plan` (the `stages` function it is given, meshcheck.verify.stage_units: deterministic) and runs the one at that index, so no closure
or open file crosses a process boundary. Rows come back as each unit finishes (the progress lines),
and the table lists them in the order of a serial run: by stage, then by unit, then as the unit
gave them. The longest stages are handed out first (mutant matrices, then TLC models), so that a
long unit does not start last.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Executor
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait

from meshcheck import registry
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.protocol import Protocol
from meshcheck.verify_rows import Plan
from meshcheck.verify_rows import Row
from meshcheck.verify_rows import Stages
from meshcheck.verify_rows import Unit
from meshcheck.verify_rows import run_costed
from meshcheck.verify_rows import stop_children

# the order units are handed to the pool: the longest kinds first
POOL_ORDER = ("mutants", "tlc", "z3", "traces")

Key = tuple[str, int, str]  # (stage, index in the stage, unit name)

_listed: dict[tuple[Plan, str], list[Unit]] = {}  # per worker process: the stages it listed


def run_unit(stages: Stages, plan: Plan, kind: str, index: int, name: str) -> list[Row]:
    """In a worker process: the rows of unit `index` of stage `kind` (listed once per process)."""
    key = (plan, kind)
    if key not in _listed:
        _listed[key] = stages(plan, kind)
    units = _listed[key]
    if index >= len(units) or units[index].name != name:
        raise MeshcheckError(
            f"a worker listed the {kind} checks differently from the main process "
            f"(unit {index}: expected {name!r})"
        )
    return run_costed(units[index])


def _register(protocols: Sequence[Protocol]) -> None:
    """In a new worker: the protocols the main process registered itself (`registry.register`,
    not an installed entry point), so that the worker lists the same checks."""
    for protocol in protocols:
        registry.register(protocol)


def run_parallel(
    plan: Plan, kinds: Sequence[str], stages: Stages, say: Callable[[Row], None]
) -> list[Row]:
    """Every unit of `kinds` that `stages` lists (meshcheck.verify.stage_units: a function of a
    module's top level, which a worker process imports by name) on plan.workers cores; `say` is
    called with each row as its unit finishes; the rows returned are in the serial run's order."""
    listed = {kind: stages(plan, kind) for kind in kinds}
    pooled: list[Key] = [
        (kind, i, unit.name)
        for kind in POOL_ORDER
        if kind in listed
        for i, unit in enumerate(listed[kind])
    ]
    local = [("tests", i, unit) for i, unit in enumerate(listed.get("tests", []))]
    done: dict[tuple[str, int], list[Row]] = {}
    executors: list[Executor] = []
    pending: dict[Future[list[Row]], Key] = {}
    try:
        if local:
            thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-tests")
            executors.append(thread)
            for kind, i, unit in local:
                pending[thread.submit(unit.run)] = (kind, i, unit.name)
        if pooled:
            pool = ProcessPoolExecutor(
                max_workers=min(plan.workers, len(pooled)),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_register,
                initargs=(registry.in_process(),),
            )
            executors.append(pool)
            for key in pooled:
                pending[pool.submit(run_unit, stages, plan, *key)] = key
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                kind, i, name = pending.pop(future)
                rows = _rows(future, kind, name)
                done[(kind, i)] = rows
                for row in rows:
                    say(row)
    except BaseException:
        # interrupted (Ctrl-C, or a SIGTERM that verify.sigterm_interrupts made one): end the
        # pool's workers and the pytest run now, not when their units would have finished
        for child in multiprocessing.active_children():
            child.terminate()
        stop_children()
        raise
    finally:
        for executor in executors:
            executor.shutdown(wait=not pending, cancel_futures=True)
    return [row for kind in kinds for i in range(len(listed[kind])) for row in done[(kind, i)]]


def _rows(future: Future[list[Row]], kind: str, name: str) -> list[Row]:
    """A unit's rows; a unit that raised (a MeshcheckError the unit did not turn into a row, a
    bug, a worker that died) is one error row saying what it raised."""
    try:
        return future.result()
    except Exception as exc:  # the other units' results still count
        return [Row(kind, name, "error", None, "", 0.0, f"{type(exc).__name__}: {exc}")]

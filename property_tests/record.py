"""Failures as replayable artefacts: the ITF trace of a failing check, and what re-runs it.

When a property check fails under pytest (property_tests/conftest.py), its counterexample is written
to reports/failures/<test>.itf.json under the current folder (never into the installed package;
MESHCHECK_FAILURES names another folder) and the failure message ends with the one command that
replays it: `meshcheck trace replay FILE`; a failed client-history check's history is written
beside it as JSON lines (`write_history`), with the `meshcheck history check` command that
re-checks it. Two kinds of counterexample, two kinds of replay:

- a spec path (lockstep, stored-trace replay: `#meta.source` "lockstep"): the implementation is
  driven along it again, step by step (property_tests/replay.py), with the mutants of `#meta.bugs`;
- a free run (the simulator's trace, `#meta.source` "impl"): the run is not a spec path, so it is
  re-run from its seed. `#meta.rerun` names the check (free-run safety, liveness after healing,
  trace validation), the cluster size, the fault schedule (its repr, which rebuilds it: the same
  seed gives the same run) and the mutants; `rerun` runs that check once more.

The check and its arguments are read from the failing call itself (`rerun_of`: the frame of one of
the functions the protocol's harness lists as its `reruns`, e.g. Raft's `check_safety`,
`check_liveness` and `check_validation`, in the exception's traceback), so the checks need not know
they are recorded.

A counterexample `meshcheck trace replay` cannot replay (`replayable`: a plug-in's free run, whose
adapter no harness of meshcheck's re-runs, or any free run with no `#meta.rerun`) is still written,
and its replay line is the command that runs its test again (`again_command`, kept as `#meta.again`):
a path that exists, and the same draw (verify's environment). A plug-in's tests live outside
property_tests/ and this folder's conftest: `meshcheck verify` loads meshcheck/failures_pytest.py
into their run, which records them the same way (`record_failure`).
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import sys
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.traces import itf
from meshcheck.violated import VIOLATED
from meshcheck.violated import Violated
from meshcheck.violated import explained
from meshcheck.violated import property_of

if TYPE_CHECKING:
    from meshcheck.property_tests.harness import Harness


def failures() -> Path:
    """Where pytest writes failures: reports/failures/ under the current folder, or the folder
    MESHCHECK_FAILURES names (tests of this module use their own)."""
    return Path(os.environ.get("MESHCHECK_FAILURES") or Path.cwd() / "reports" / "failures")


def _registered() -> tuple[str, ...]:
    from meshcheck import registry

    return registry.names()


def _harness(protocol: str) -> Harness | None:
    from meshcheck import registry

    found: Harness | None = registry.get(protocol).load("harness")
    return found


def checks() -> dict[tuple[str, str], Callable[..., object]]:
    """(protocol, check) -> the one-run check a free-run failure comes from, as the registered
    protocols' harnesses name them (`Harness.reruns`)."""
    from meshcheck import registry

    found = {}
    for name in registry.names():
        harness = _harness(name)
        for check, function in harness.reruns.items() if harness is not None else ():
            found[(name, check)] = function
    return found


@attrs.frozen
class Rerun:
    """What re-runs a free run: the check, the cluster size, the schedule's repr, the mutants."""

    protocol: str
    check: str  # a name of the protocol's `Harness.reruns`: "safety", "liveness", "validation", ...
    nodes: int | None  # None for trace validation (its model fixes the size)
    schedule: str
    bugs: tuple[str, ...] = ()

    def as_meta(self) -> FrozenDict:
        return FrozenDict(
            {
                "protocol": self.protocol,
                "check": self.check,
                **({"nodes": self.nodes} if self.nodes is not None else {}),
                "schedule": self.schedule,
                "bugs": self.bugs,
            }
        )

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], where: str) -> Rerun:
        from meshcheck.impl.base.errors import TraceFormatError

        try:
            protocol, check, schedule = (str(meta[k]) for k in ("protocol", "check", "schedule"))
            nodes = meta.get("nodes")
            bugs = tuple(str(b) for b in meta.get("bugs", ()))
        except (KeyError, TypeError) as exc:
            raise TraceFormatError(where, "#meta.rerun", f"incomplete: {exc}") from None
        harness = _harness(protocol) if protocol in _registered() else None
        if harness is None or check not in harness.reruns:
            raise TraceFormatError(where, "#meta.rerun", f"no {protocol} check {check!r}")
        if nodes is not None and not isinstance(nodes, int):
            raise TraceFormatError(where, "#meta.rerun.nodes", f"not a number: {nodes!r}")
        return cls(protocol, check, nodes, schedule, bugs)


def rerun_of(exc: BaseException) -> Rerun | None:
    """The free-run check call that raised `exc`, from its traceback; None if it came from
    elsewhere (lockstep, a test's own assertion)."""
    tb: TracebackType | None = exc.__traceback__
    known = checks()
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__", "")
        for (protocol, check), function in known.items():
            if frame.f_code.co_name == function.__name__ and module == function.__module__:
                local = frame.f_locals
                nodes = local.get("n", local.get("nodes"))
                bugs = tuple(sorted(local.get("bugs", ())))
                return Rerun(protocol, check, nodes, repr(local["schedule"]), bugs)
        tb = tb.tb_next
    return None


def parse_schedule(protocol: str, text: str) -> Any:
    """The schedule a repr describes, built without `eval`: only calls of the protocol's Schedule
    and Byzantine behaviours, with literal arguments, are allowed (a trace file is data)."""
    harness = _harness(protocol)
    names = harness.schedule_names() if harness is not None else {}

    def build(node: ast.expr) -> Any:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id not in names:
                raise ValueError(f"{node.func.id} is not a schedule or a behaviour")
            args = [build(a) for a in node.args]
            kwargs = {k.arg: build(k.value) for k in node.keywords if k.arg is not None}
            return names[node.func.id](*args, **kwargs)
        if isinstance(node, ast.Tuple):
            return tuple(build(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [build(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {build(k): build(v) for k, v in zip(node.keys, node.values, strict=True) if k}
        if isinstance(node, ast.Constant | ast.UnaryOp):
            return ast.literal_eval(node)
        raise ValueError(f"unexpected {type(node).__name__} in a schedule")

    return build(ast.parse(text, mode="eval").body)


def rerun(spec: Rerun) -> CheckFailed | None:
    """Run the check once more on the schedule: the CheckFailed it raises, or None if it holds."""
    check = checks()[(spec.protocol, spec.check)]
    schedule = parse_schedule(spec.protocol, spec.schedule)
    args = (schedule, spec.nodes) if spec.nodes is not None else (schedule,)
    try:
        check(*args, frozenset(spec.bugs))
    except CheckFailed as failed:
        return failed
    return None


def with_rerun(trace: Trace, spec: Rerun) -> Trace:
    """The run's trace with what re-runs it in its `#meta`."""
    return attrs.evolve(trace, meta=FrozenDict({**trace.meta, "rerun": spec.as_meta()}))


def save_shortest(
    protocol: str,
    bugs: Mapping[str, str],
    shortest: Callable[[str], tuple[Trace, Rerun]],
    argv: list[str],
) -> int:
    """`python -m <protocol's save module> [MUTANT ...]`: each mutant's shortest failing free run
    (`shortest(mutant)`) written to traces/<protocol>/MUTANT.itf.json with what re-runs it and the
    mutant it kills, for a protocol whose corpus is free runs (gossip, hotstuff)."""
    from meshcheck.property_tests.harness import resource  # the harness imports this module

    unknown = [m for m in argv if m not in bugs]
    if unknown:
        print(f"meshcheck: no {protocol} mutant {', '.join(unknown)}", file=sys.stderr)
        return 2
    folder = resource("meshcheck.traces", protocol)
    for mutant in argv or list(bugs):
        trace, spec = shortest(mutant)
        named = property_of(trace.meta)
        shown = Violated("property", named) if named is not None else None
        meta = explained(trace.meta, f"{spec.protocol} {spec.check}", shown)
        trace = with_rerun(attrs.evolve(trace, meta=meta), spec)
        trace = attrs.evolve(trace, meta=FrozenDict({**trace.meta, "bugs": (mutant,)}))
        path = itf.write(trace, folder / f"{mutant}.itf.json")
        print(f"{mutant}: {len(trace.steps) - 1} steps -> {path}")
    return 0


def replayable(trace: Trace) -> bool:
    """Whether `meshcheck trace replay` replays `trace`: a model trace (its `#meta.spec`), or a
    trace of a registered protocol that has a harness, a free run among those only with what
    re-runs it (`#meta.rerun`). A plug-in's free run is none of these: its adapter is no
    harness's."""
    protocol = trace.meta.get("protocol")
    if protocol is None:
        return "spec" in trace.meta
    from meshcheck import registry

    known = registry.protocols()
    if not isinstance(protocol, str) or protocol not in known or known[protocol].harness is None:
        return False
    return trace.meta.get("source") != "impl" or "rerun" in trace.meta


FAILURES_PLUGIN = "meshcheck.failures_pytest"  # what records a test outside property_tests/


def pytest_command(
    node: str, hypothesis: str, seed: int | str | None = None, *, outside: bool = False
) -> str:
    """The command that runs one test (`node`: its file, as the command's folder sees it, and
    `::` its name) again as `meshcheck verify` ran it: its Hypothesis profile, its seed, fixed
    string hashes. `outside`: a test outside meshcheck's property_tests/ (a plug-in's), which
    loads the plugin that writes its failure (meshcheck/failures_pytest.py) itself."""
    env = f"PYTHONHASHSEED=0 MESHCHECK_HYPOTHESIS={hypothesis}"
    if seed is not None and str(seed) != "":
        env += f" MESHCHECK_SEED={seed}"
    plugin = f" -p {FAILURES_PLUGIN}" if outside else ""
    return f"{env} python -m pytest{plugin} {shlex.quote(node)}"


def again_command(path: Path, nodeid: str, *, outside: bool = False) -> str:
    """`pytest_command` of the running test whose file is `path` and pytest node id `nodeid`, in
    this process's environment (MESHCHECK_HYPOTHESIS, MESHCHECK_SEED): the file relative to the
    current folder when under it, else whole, so that the path exists wherever verify ran."""
    here, path = Path.cwd().resolve(), path.resolve()
    shown = path.relative_to(here) if path.is_relative_to(here) else path
    _, sep, name = nodeid.partition("::")
    node = f"{shown}{sep}{name}"
    hypothesis = os.environ.get("MESHCHECK_HYPOTHESIS") or "ci"
    return pytest_command(node, hypothesis, os.environ.get("MESHCHECK_SEED"), outside=outside)


def replay_command(path: Path, trace: Trace) -> str:
    """The one line that replays a written counterexample: `meshcheck trace replay FILE`, or for
    one that command cannot replay (`replayable`) the command that runs its test again, when the
    trace says it (`#meta.again`)."""
    again = trace.meta.get("again")
    if isinstance(again, str) and again and not replayable(trace):
        return again
    here = Path.cwd()
    shown = path.relative_to(here) if path.is_relative_to(here) else path
    bugs = " --recorded-bugs" if trace.meta.get("bugs") and "rerun" not in trace.meta else ""
    return f"meshcheck trace replay {shown}{bugs}"


def file_name(test: str) -> str:
    """A file name for a test's failure: its node id made safe, without the folder of the property
    tests (`pbft/test_lockstep.py::test_x[4]` -> `pbft.test_lockstep.test_x-4.itf.json`: Raft's
    and PBFT's tests share names)."""
    test = test.removeprefix("property_tests/").replace(".py::", "::")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test.replace("/", ".").replace("::", ".")).strip("-.")
    return f"{name or 'failure'}.itf.json"


def check_name(spec: Rerun | None, test: str) -> str:
    """The check a written failure names (`#meta.check`): the protocol's check that re-runs it
    ("raft safety"), else the test that failed."""
    return f"{spec.protocol} {spec.check}" if spec is not None else test


def write_failure(
    failed: CheckFailed, test: str, *, folder: Path | None = None, again: str | None = None
) -> Path | None:
    """Write the failure's counterexample (with what re-runs it, for a free run) as ITF under
        `folder` (default: `failures()`); give the failure the command that replays it. None if it has
        no trace and no check to re-run it. A free run that keeps no trace of its own (the routing runs
        drive three simulators at once) is written as one empty state with what re-runs it: the
        schedule's seed gives the same run again. Its `#meta` names the check and the property
    (meshcheck/violated.py `explained`). `again`: the command that runs the test again
        (`again_command`), the replay line of a trace `meshcheck trace replay` cannot replay."""
    spec = rerun_of(failed)
    trace = failed.trace
    if trace is None:
        if spec is None:
            return None
        trace = Trace((), (Step(FrozenDict()),), meta={"source": "impl", "protocol": spec.protocol})
    if spec is not None:
        trace = with_rerun(trace, spec)
    meta = explained({**trace.meta, "test": test}, check_name(spec, test), failed.violated)
    trace = attrs.evolve(trace, meta=meta)
    if again and not replayable(trace):
        trace = attrs.evolve(trace, meta=FrozenDict({**trace.meta, "again": again}))
    path = itf.write(trace, (folder or failures()) / file_name(test))
    failed.add_replay(replay_command(path, trace))
    return path


def history_name(test: str) -> str:
    """The file name of a test's failing client history (`file_name`'s, as JSON lines)."""
    return file_name(test).removesuffix(".itf.json") + ".history.jsonl"


def write_history(failed: CheckFailed, test: str, *, folder: Path | None = None) -> Path | None:
    """When `failed` is a client-history check's failure (property_tests/histories.py keeps the
    last one), write the history it read under `folder` (default: `failures()`) as JSON lines in
    the shape `meshcheck history check` reads, and give the failure the command that re-checks it.
    None if the failure is not a client-history check's."""
    from meshcheck.property_tests import histories
    from meshcheck.traces.history import jepsen
    from meshcheck.traces.history.models import MODELS

    found = histories.last_failure()
    if found is None or found.problem not in failed.message:
        return None
    path = (folder or failures()) / history_name(test)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jepsen.dumps(found.ops, MODELS["rsm"]), encoding="utf-8")
    here = Path.cwd()
    shown = path.relative_to(here) if path.is_relative_to(here) else path
    failed.add_recheck(f"meshcheck history check {shown} --model rsm")
    return path


def record_failure(
    exc: BaseException,
    test: str,
    properties: list[tuple[str, object]],
    *,
    again: str | None = None,
    history: bool = True,
) -> CheckFailed | None:
    """What a pytest hook does with a test's exception (property_tests/conftest.py for meshcheck's
    own tests, meshcheck/failures_pytest.py for a plug-in's): the CheckFailed in it, if any, has
    its violated property added to the test's report `properties`, its counterexample written
    (`write_failure`, `again` the command that runs the test again) and, with `history`, its
    client history (`write_history`). A file that cannot be written is a note on the failure,
    never another failure. Nothing twice: a failure already written (its replay line said) is
    left as it is."""
    failed = find_failure(exc)
    if failed is None:
        return None
    if failed.violated is not None and all(key != VIOLATED for key, _ in properties):
        properties.append((VIOLATED, str(failed.violated)))
    if failed.replay is None:
        try:
            write_failure(failed, test, again=again)
        except OSError as problem:  # the failure itself matters more than its file
            failed.add_note(f"(its counterexample could not be written: {problem})")
    if history and failed.recheck is None:
        try:
            write_history(failed, test)
        except OSError as problem:
            failed.add_note(f"(its client history could not be written: {problem})")
    return failed


def find_failure(exc: BaseException) -> CheckFailed | None:
    """The CheckFailed in `exc`: itself, one of a group's, or the one it was raised from."""
    if isinstance(exc, CheckFailed):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = find_failure(inner)
            if found is not None:
                return found
    cause = exc.__cause__ or exc.__context__
    return find_failure(cause) if cause is not None else None

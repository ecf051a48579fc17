"""The driver protocol (docs/driver-protocol.md, meshcheck/drivers): an implementation in another
process, spoken to in JSON lines, runs under the simulator as it runs in-process. The reference is
tests/adapter_example.py's CoreDriver (the project's Raft core behind the adapter contract) served
by meshcheck/drivers/serve.py: the same schedule gives the same run through the pipe as in-process,
the same checks catch the same mutant, its logs validate, lockstep walks it one spec action at a
time; and a driver that breaks the protocol is one clear error."""

from __future__ import annotations

import io
import json
import os
import random
import sys
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase
from hypothesis import settings

from meshcheck.drivers import serve
from meshcheck.drivers.pipe import DriverProcess
from meshcheck.drivers.pipe import LockstepDrivers
from meshcheck.drivers.pipe import pipe_plugin
from meshcheck.impl.adapters.contract import AdapterError
from meshcheck.impl.adapters.contract import Ghost
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import raft_committed
from meshcheck.impl.base.events import Restart
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.adapted_lockstep import Lockstep
from meshcheck.property_tests.adapted_lockstep import lockstep
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.validation import validation_model
from meshcheck.traces.logs import loads
from meshcheck.traces.logs import validate
from tests import adapter_example
from tests.adapter_example import EXAMPLE
from tests.adapter_example import NAME
from tests.adapter_example import STORM
from tests.adapter_example import TAKES
from tests.adapter_example import VARIABLES
from tests.adapter_example import CoreDriver
from tests.adapter_example import check_sim
from tests.adapter_example import sim_config
from tests.schedules import faulty
from tests.test_adapted_lockstep import MODEL
from tests.test_adapted_lockstep import SETTINGS as ADAPTED

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "driver-protocol.md"
MUTANT = "vote_without_log_check"
ACTIONS = {a.name: a.params for a in EXAMPLE.actions}


def _served(*args: str, timeout: float = 30.0) -> DriverProcess:
    command = [sys.executable, "-m", "meshcheck.drivers", "tests.adapter_example:served", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return DriverProcess(command, name="example", timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture
def served() -> Iterator[DriverProcess]:
    with _served() as process:
        yield process


def _piped(process: DriverProcess, schedule: Schedule, nodes: int, **kw: Any) -> Simulator[Any]:
    servers = tuple(f"s{k}" for k in range(1, nodes + 1))
    plugin = pipe_plugin(
        process,
        servers,
        variables=VARIABLES,
        ghosts=(Ghost("committed", (), raft_committed),),
        actions=ACTIONS,
        spec="Raft",
        log=kw.pop("log", None),
    )
    return Simulator(plugin, servers, sim_config(schedule, **kw))


class Reseeded(CoreDriver):
    """The in-process driver seeded as the pipe seeds a node: a number drawn from the node's
    generator, sent to the driver, which makes its own generator of it."""

    def boot(self, persisted: Mapping[str, Any], now: int, rng: random.Random) -> None:
        super().boot(persisted, now, random.Random(rng.getrandbits(63)))


def _steps(sim: Simulator[Any]) -> list[tuple[Any, ...]]:
    return [(s.action, s.params, s.state) for s in sim.trace().steps]


def test_a_served_driver_runs_step_for_step_as_it_runs_in_process(served: DriverProcess) -> None:
    for seed in (1, 2):
        schedule = faulty(seed)
        here = adapter_example.cluster(schedule, 3, driver=Reseeded)
        free_runs.run(here, schedule, schedule.ticks + 500, STORM)
        there = _piped(served, schedule, 3)
        free_runs.run(there, schedule, schedule.ticks + 500, STORM)
        mine, theirs = _steps(here), _steps(there)
        assert len(mine) > 150 and {"Restart", "DropMessage"} <= {a for a, _, _ in mine}
        assert mine == theirs  # every action, its parameters and every spec variable after it
        assert here.history is not None and there.history is not None
        assert here.history.history() == there.history.history()  # what the clients saw


def test_the_checks_catch_a_mutant_behind_the_pipe() -> None:
    # seed 3 at a 150-160 tick election timeout, seeded as the pipe seeds a node: the correct
    # core holds and the vote mutant breaks LeaderCompleteness, in-process and behind the pipe
    schedule = faulty(3, timeout=(150, 160))
    with pytest.raises(CheckFailed, match="violates LeaderCompleteness"):
        check_sim(
            adapter_example.cluster(schedule, 3, frozenset({MUTANT}), driver=Reseeded), schedule
        )
    with _served("timeout=150,160") as process:
        check_sim(_piped(process, schedule, 3), schedule)
    with (
        _served(MUTANT, "timeout=150,160") as process,
        pytest.raises(CheckFailed, match="violates LeaderCompleteness"),
    ):
        check_sim(_piped(process, schedule, 3), schedule)


def test_the_logs_of_a_piped_run_validate_against_the_spec(served: DriverProcess) -> None:
    nodes, values, _ = validation_model()
    schedule = faulty(5)
    log = NdjsonLog("piped")
    sim = _piped(
        served, schedule, nodes, log=log, make=lambda n: values[(n - 1) % len(values)], record=False
    )
    free_runs.run(sim, schedule, schedule.ticks + 500, STORM)
    records = [loads(json.dumps(r), f"piped:{n}") for n, r in enumerate(log.records, 1)]
    assert len(records) > 100
    verdict = validate(records, spec="Raft")
    assert verdict.verdict == "valid", verdict.render()


LOCKSTEP = settings(ADAPTED, max_examples=8)


def _lockstep(process: DriverProcess) -> Lockstep:
    drivers = LockstepDrivers(process)
    return Lockstep(EXAMPLE, MODEL, drivers, actions=TAKES, message_record=drivers.records)


def test_lockstep_walks_a_served_driver_one_spec_action_at_a_time(served: DriverProcess) -> None:
    served.hello(("s1",))  # `take` is a capability the driver announces
    assert served.takes and served.driver == NAME
    walk = lockstep(_lockstep(served), LOCKSTEP, steps=30)
    assert {"Timeout", "HandleRequestVoteRequest", "ClientRequest", "AppendEntries"} <= set(
        walk.taken
    )
    with _served(MUTANT) as broken, pytest.raises(CheckFailed) as failed:
        lockstep(
            _lockstep(broken), settings(LOCKSTEP, phases=[Phase.explicit, Phase.generate]), steps=40
        )
    assert "HandleRequestVoteRequest(i=" in failed.value.message
    assert (
        "no successor of the spec agrees with the implementation: votedFor[s"
        in failed.value.message
    )


# -- the protocol as docs/driver-protocol.md writes it -------------------------------------------


def _exchange() -> list[tuple[str, str]]:
    """The example session of the doc: its `>` lines (meshcheck's requests) and `<` lines (the
    driver's answers), in order."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```jsonl session", 1)[1].split("```", 1)[0]
    return [(line[0], line[2:]) for line in block.strip().splitlines() if line[:2] in ("> ", "< ")]


def test_the_docs_example_session_is_what_the_reference_driver_answers() -> None:
    lines = _exchange()
    requests = [json.loads(text) for side, text in lines if side == ">"]
    answers = [json.loads(text) for side, text in lines if side == "<"]
    assert len(requests) == len(answers) >= 6
    out = io.StringIO()
    session_in = io.StringIO("".join(json.dumps(r) + "\n" for r in requests))
    assert serve.serve(adapter_example.served([]), session_in, out) == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == answers


# -- a driver that breaks the protocol ------------------------------------------------------------


def _script(body: str, **kw: Any) -> DriverProcess:
    return DriverProcess([sys.executable, "-c", body], name="broken", **kw)


HELLO = (
    "import sys, json\n"
    "line = sys.stdin.readline()\n"
    "print(json.dumps({'driver': 'd', 'protocol': 1}), flush=True)\n"
)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("import sys; sys.stderr.write('cannot load libraft.so\\n'); sys.exit(3)",
         "adapter broken: node -: hello: the driver exited (3); its stderr ends: cannot load libraft.so"),
        ("print('ready', flush=True); import time; time.sleep(30)",
         "adapter broken: node -: hello: answered a line that is not JSON: 'ready'"),
        ("import sys, json; sys.stdin.readline(); print(json.dumps({'driver': 'd', 'protocol': 2}), flush=True)",
         "adapter broken: node -: hello: hello.protocol: speaks 2, meshcheck speaks 1"),
        ("import time; time.sleep(30)", "adapter broken: node -: hello: no answer within 1 s"),
        (HELLO + "sys.stdin.readline(); print(json.dumps({'error': 'no such node'}), flush=True)",
         "adapter broken: node s1: boot: the driver says: no such node"),
        (HELLO + "sys.stdin.readline(); print(json.dumps({'done': {'timers': [['t', -5]]}}), flush=True)",
         "adapter broken: node s1: boot: done.timers[0]: the delay must be a whole number of ticks, at least 0"),
        (HELLO + "sys.stdin.readline(); print(json.dumps({'done': {'sends': [{'message': 1}]}}), flush=True)",
         "adapter broken: node s1: boot: done.sends[0].to: missing"),
        (HELLO + "sys.stdin.readline(); print(json.dumps({'done': {'steps': [{'action': 'Timeout', 'sends': [0]}]}}), flush=True)",
         "adapter broken: node s1: boot: done.steps[0].sends: indexes into this answer's 0 sends"),
    ],
)  # fmt: skip
def test_a_driver_that_breaks_the_protocol_is_one_clear_error(body: str, said: str) -> None:
    with _script(body, timeout=1.0) as process:
        with pytest.raises(AdapterError) as failed:
            plugin = pipe_plugin(process, ("s1",), variables=VARIABLES)
            plugin.new_node("s1", random.Random(0)).step(Restart({}, 0))
        assert str(failed.value) == said


def test_a_driver_that_died_stays_one_error_and_closes_without_one() -> None:
    # a driver that dies mid-run (a library that panics on what it reads from its disk): each
    # later request is the same one line, and leaving the block closes the pipes quietly, though
    # a request is left unsent in them
    with _script(HELLO + "sys.stdin.readline(); sys.exit(4)", timeout=1.0) as process:
        plugin = pipe_plugin(process, ("s1",), variables=VARIABLES)
        with pytest.raises(AdapterError, match=r"boot: the driver exited \(4\)"):
            plugin.new_node("s1", random.Random(0)).step(Restart({}, 0))
        with pytest.raises(AdapterError, match=r"hello: the driver exited \(4\)"):
            process.hello(("s1",))


def test_a_command_that_does_not_exist_is_one_clear_error() -> None:
    with pytest.raises(
        AdapterError, match=r"^adapter d: node -: command: cannot start '/no/such/driver'"
    ):
        DriverProcess(["/no/such/driver"], name="d")


def test_the_child_ends_with_its_process_object() -> None:
    process = _served()
    process.hello(("s1",))
    pid = process.pid
    process.close()
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "usage: python -m meshcheck.drivers MODULE:FUNCTION [ARG ...]"),
        (["nocolon"], "meshcheck.drivers: 'nocolon': expected MODULE:FUNCTION"),
        (["tests.adapter_example:nope"], "meshcheck.drivers: tests.adapter_example:nope: module"),
        (["tests.adapter_example:served", "no_such_bug"],
         "meshcheck.drivers: tests.adapter_example:served no_such_bug: no mutant 'no_such_bug'"),
    ],
)  # fmt: skip
def test_the_python_kit_refuses_bad_arguments_in_one_line(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(said)

"""etcd's Raft library through its Go driver (drivers/etcd-raft, docs/etcd-raft.md): free runs under
the simulator's faults whose NDJSON logs are validated against specs/RaftEtcd.tla, and the check
`meshcheck verify` runs of them (`check_validated`).

A run is as a `driver run`'s (meshcheck/driver_cmd.py): three nodes, drops, duplicates, delays,
crashes and partitions while clients write and read, Raft.tla's safety invariants on every step
and the clients' history at the end; here its log is written too (the driver names each step and
each message in RaftEtcd.tla's vocabulary, drivers/etcd-raft/spec.go) and validated.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from meshcheck.impl.base.errors import ConfigError

if TYPE_CHECKING:
    from meshcheck.drivers.pipe import DriverProcess
    from meshcheck.impl.adapters.contract import AdapterPlugin
    from meshcheck.impl.adapters.contract import NdjsonLog
    from meshcheck.impl.base.trace import Trace

# The spec the driver's logs are a behaviour of, and its restart (the commit index is in the
# library's hard state: RaftEtcd.tla's RestartKeepingCommit, not Raft.tla's Restart)
SPEC = "RaftEtcd"
RESTART = "RestartKeepingCommit"
NODES = ("s1", "s2", "s3")
# what the driver's `state` gives of Raft.tla's variables
VARIABLES = (
    "currentTerm", "votedFor", "role", "commitIndex", "log", "snapshotIndex", "snapshotTerm",
)  # fmt: skip
TICKS = 1500
CALM = 500  # ticks after the faults stop, in which the clients' last operations complete
# a seed on which the driver that leaves the vote out of its hard state is rejected at a restart
VOTE_NOT_DURABLE_SEED = 3


def driver_path(root: Path) -> Path:
    """The driver `make etcd-raft` builds; ConfigError (one line) with the fix when it is not."""
    path = root / ".build" / "etcd-raft-driver"
    if not path.exists():
        raise ConfigError(
            f"no etcd Raft driver at {path} (make etcd-raft builds it from Debian's golang-go "
            "and golang-etcd-server-dev)"
        )
    return path


@attrs.frozen
class Run:
    """One seed's run: what its own checks found (None: they hold) and its log's verdict."""

    seed: int
    problem: str | None
    verdict: str  # "valid" | "invalid" | "unknown"
    records: int
    seconds: float  # validation's
    diagnosis: str  # the record no step of the spec explains, and why ("" when valid)


def validated_run(
    driver: Path,
    seed: int,
    folder: Path,
    bugs: Sequence[str] = (),
    *,
    pre_vote: bool = False,
    check_quorum: bool = False,
) -> Run:
    """One free run of the driver (with `bugs`, its `--bug` flags; `pre_vote` and `check_quorum`,
    the library's options) writing its log into `folder`, its invariants and history checked, its
    log validated against RaftEtcd.tla (its PreVote and CheckQuorum as the run's)."""
    from meshcheck.drivers.conform import read_query
    from meshcheck.drivers.conform import write_op
    from meshcheck.drivers.pipe import DriverProcess
    from meshcheck.impl.adapters.contract import AdapterError
    from meshcheck.impl.adapters.contract import open_log
    from meshcheck.impl.base.node import Workload
    from meshcheck.impl.sim import Simulator
    from meshcheck.impl.sim.config import Faults
    from meshcheck.impl.sim.config import SimConfig
    from meshcheck.property_tests.histories import check_history
    from meshcheck.property_tests.raft import safety
    from meshcheck.traces.logs.format import read
    from meshcheck.traces.logs.validate import model_text
    from meshcheck.traces.logs.validate import validate
    from meshcheck.traces.logs.validate import validation_model

    faults = Faults(
        drop=0.05, duplicate=0.05, delay=0.1, crash=0.3, partition=0.3, down_ticks=(200, 2000),
        until=TICKS,
    )  # fmt: skip
    workload = Workload(every=20, reads=0.3, make=write_op, query=read_query, until=TICKS)
    command = [str(driver), *(flag for bug in bugs for flag in ("--bug", bug))]
    command += ["--pre-vote"] * pre_vote + ["--check-quorum"] * check_quorum
    log, out = open_log(folder, f"seed-{seed}")
    with out, DriverProcess(command, name="etcd-raft", timeout=30) as process:
        config = SimConfig(seed=seed, faults=faults, workload=workload)
        sim = Simulator(etcd_plugin(process, log), NODES, config)
        crashed: str | None = None
        try:
            sim.run(until=TICKS + CALM)
        except AdapterError as exc:  # the driver refused a request, or exited (a panic)
            crashed = str(exc).splitlines()[0]
    # the invariants the driver's variables are enough to check (all but ReadLinearizable)
    checked = [n for n, reads in safety.READS.items() if set(reads) <= {*VARIABLES, "committed"}]
    problem = crashed or _first_violation(sim.trace(), checked) or check_history(sim)
    records = read(folder / f"seed-{seed}.ndjson")
    model = None
    if pre_vote or check_quorum:
        settings = {"PreVote": str(pre_vote).upper(), "CheckQuorum": str(check_quorum).upper()}
        model = folder / f"seed-{seed}.cfg"
        model.write_text(model_text(SPEC, records, validation_model(SPEC), settings), "utf-8")
    verdict = validate(records, SPEC, model, deadline=time.monotonic() + 120)
    diagnosis = verdict.diagnosis.render() if verdict.diagnosis is not None else verdict.reason
    return Run(seed, problem, verdict.verdict, verdict.records, verdict.seconds, diagnosis)


def _first_violation(trace: Trace, checked: list[str]) -> str | None:
    """The first step whose state breaks one of the `checked` invariants of Raft.tla, in a line."""
    from meshcheck.property_tests.raft import safety

    for k, step in enumerate(trace.steps):
        broken = [n for n in checked if not safety.INVARIANTS[n](step.state)]
        if broken:
            return f"step {k} {step.action}: violates {', '.join(broken)}"
    return None


def etcd_plugin(process: DriverProcess, log: NdjsonLog | None = None) -> AdapterPlugin:
    """The simulator plug-in of the driver's cluster (NODES), its NDJSON log, if any, in
    RaftEtcd.tla's vocabulary: the validation model's values, the restart RESTART."""
    from meshcheck.drivers.pipe import pipe_plugin
    from meshcheck.impl.adapters.contract import Ghost
    from meshcheck.impl.adapters.contract import raft_committed
    from meshcheck.impl.adapters.spec_values import log_view

    return pipe_plugin(
        process,
        NODES,
        variables=VARIABLES,
        ghosts=(Ghost("committed", (), raft_committed),),
        log=log,
        spec=SPEC,
        log_view=log_view,
        restart_action=RESTART,
    )


def seeds_of(count: int, seed: int | None) -> list[int]:
    """Seeds 1..count, or, exploring (`seed`), count seeds drawn from it."""
    if seed is None:
        return list(range(1, count + 1))
    draw = random.Random(seed)
    return [draw.randrange(2**32) for _ in range(count)]


def check_validated(
    driver: Path, count: int, seed: int | None = None
) -> tuple[bool, int, float, str]:
    """`count` runs (seeds_of) each holding its invariants and history with its log valid, and the
    driver that forgets its vote rejected by validation on VOTE_NOT_DURABLE_SEED: (all as
    expected, records validated, validation seconds, a one-line detail)."""
    records = 0
    seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="meshcheck-etcd-raft-") as tmp:
        for s in seeds_of(count, seed):
            run = validated_run(driver, s, Path(tmp) / "runs")
            records += run.records
            seconds += run.seconds
            if run.problem is not None or run.verdict != "valid":
                why = run.problem or run.diagnosis.splitlines()[0]
                return False, records, seconds, f"seed {s}: {run.verdict}: {why}"
        bad = validated_run(
            driver, VOTE_NOT_DURABLE_SEED, Path(tmp) / "vote-not-durable", ["vote-not-durable"]
        )
    caught = bad.verdict == "invalid" and RESTART in bad.diagnosis
    rate = records / seconds if seconds > 0 else 0.0
    detail = f"{count} runs valid ({rate:,.0f} steps/s); " + (
        "a vote not made durable rejected at a restart"
        if caught
        else f"a vote not made durable NOT caught: {bad.verdict}"
    )
    return caught, records, seconds, detail

"""`meshcheck verify`'s rows for the project's own cores run as clusters of OS processes
(docs/cluster.md): one `meshcheck cluster test` per protocol the runtime hosts that declares its
run (`clusters`), over TLS, under the nemesis (kill, pause, partition), its clients' history and
the nodes' state files checked and, for the protocols whose nodes log spec actions (Raft, PBFT,
gossip), every node's log validated against the spec. The systems described by files have rows of
their own (meshcheck/verify_systems.py), judged by `judge` too.

A row's verdict is its checks that hold of correct code on any machine: the history linearizable,
agreement and durability on the state files, the logs valid (`judge`). The checks on real
time (progress after healing, gossip's agreement and detection within seconds: `Verdict.timed`)
are shown in the row's detail, not judged: on a loaded machine they fail on correct code
(docs/cluster.md, "What it has caught"), and `make verify`'s verdict belongs to the code. The
seed is fixed (1), or drawn from the exploration's (`verify --explore`); the timing of real
processes is not replayable, the nemesis's plan is (meshcheck/cluster/nemesis.py)."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from meshcheck import words
from meshcheck.verify_rows import Row

if TYPE_CHECKING:
    from meshcheck.cluster.checks import Verdict

PREFIX = "cluster of processes: "


@attrs.frozen
class Cluster:
    protocol: str
    nodes: int
    seconds: float  # of clients and nemesis

    @property
    def row(self) -> str:
        return f"{PREFIX}{self.protocol}, {words.count(self.nodes, 'node')}, {self.seconds:g} s, the nemesis"


def clusters() -> tuple[Cluster, ...]:
    """A cluster per protocol the runtime hosts that declares the run `meshcheck verify` makes of
    it (meshcheck/impl/runtime/protocols.py, `RuntimeProtocol.verify`: its nodes and seconds), in
    the runtime's order. Imported here, not at the module's top: the runtime builds every core."""
    from meshcheck.impl.runtime.protocols import PROTOCOLS

    return tuple(
        Cluster(name, p.verify.nodes, p.verify.seconds)
        for name, p in PROTOCOLS.items()
        if p.verify is not None
    )


def cluster_row(cluster: Cluster, seed: int | None, bugs: frozenset[str] = frozenset()) -> Row:
    """`meshcheck cluster test --protocol P --nodes N --time T --seed S`, judged by `judge`
    (`bugs`: the core's mutants, for the tests that show a row can fail)."""
    from meshcheck.cluster.run import Options
    from meshcheck.cluster.run import run
    from meshcheck.impl.runtime.protocols import protocol

    s = 1 if seed is None else random.Random(f"{seed}:{cluster.protocol}").randrange(2**32)
    options = Options(
        protocol=cluster.protocol,
        nodes=cluster.nodes,
        time=cluster.seconds,
        workload=protocol(cluster.protocol).workloads[0],
        seed=s,
        bugs=bugs,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="meshcheck-cluster-") as tmp:
        outcome = run(options, Path(tmp))
        ok, said = judge(outcome.verdicts)
        if not ok:  # the evidence outlives the run: the timing of real processes is not replayable
            kept = kept_folder(cluster, s)
            shutil.copytree(tmp, kept, dirs_exist_ok=True)
            said += f"; the run's folder: {kept}"
    count = outcome.history.count
    detail = (
        f"seed {s}: ok {count('ok')}, fail {count('fail')}, info {count('info')}; {said} "
        f"(meshcheck cluster test --protocol {cluster.protocol} --nodes {cluster.nodes} "
        f"--time {cluster.seconds:g} --seed {s})"
    )
    seconds = time.monotonic() - started
    result = "pass" if ok else "FAIL"
    return Row("traces", cluster.row, result, len(outcome.history.ops), "ops", seconds, detail)


def kept_folder(cluster: Cluster, seed: int) -> Path:
    """Where a failing row's run is kept: its history, the nodes' logs and state files, the
    report (reports/failures/ under the current folder, beside an exploration's counterexamples;
    paths in the row's detail name the temporary folder the run had, which this copies)."""
    return Path.cwd() / "reports" / "failures" / f"cluster-{cluster.protocol}-seed-{seed}"


def judge(verdicts: Sequence[Verdict]) -> tuple[bool, str]:
    """(whether the run passes, what its checks said): it passes when it has untimed checks and
    each holds (undecided is no pass); the timed ones that did not hold are named, not judged."""
    judged = [v for v in verdicts if not v.timed and v.judged]
    wrong = [f"{v.check}: {v.detail}" for v in judged if v.holds is not True]
    late = [v.check for v in verdicts if v.timed and v.holds is not True]
    said = "; ".join(wrong) if wrong else f"{words.count(len(judged), 'check')} held"
    if late:
        said += f" (not judged, on real time: {', '.join(late)} did not hold)"
    return bool(judged) and not wrong, said

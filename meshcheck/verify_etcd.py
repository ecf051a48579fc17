"""`meshcheck verify`'s rows for etcd, the system nobody here wrote: its Raft library's
runs through the Go driver, validated against specs/RaftEtcd.tla (docs/etcd-raft.md), and a
cluster of real etcd members under the nemesis, its clients' history checked (docs/etcd.md).
Each needs what a make target installs (`make etcd-raft`, `make etcd`, both run by `make verify`);
without it the row is "skip" with the line that says how to get it. Exploring (`verify
--explore`), both draw their seeds from the exploration's."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from meshcheck import words
from meshcheck.impl.base.errors import ConfigError
from meshcheck.verify_rows import Row

ETCD_RAFT_ROW = "etcd's Raft library: its runs' logs validated against RaftEtcd.tla"
ETCD_CLUSTER_ROW = "etcd cluster: 3 members, cas, the nemesis, the history checked"
# the cluster run's seconds of clients and faults (the short one of `make test` runs 5)
CLUSTER_SECONDS = 20.0


def etcd_raft_row(root: Path, profile: str, seed: int | None) -> Row:
    """The driver's free runs (3 under `ci`, else 10), each holding Raft's invariants and its
    history with its log a behaviour of RaftEtcd.tla, and a driver that forgets its vote
    rejected (property_tests/etcd_raft.py)."""
    from meshcheck.property_tests.etcd_raft import check_validated, driver_path

    try:
        driver = driver_path(root)
    except ConfigError as exc:
        return Row("traces", ETCD_RAFT_ROW, "skip", None, "", 0.0, str(exc))
    started = time.monotonic()
    ok, records, _, detail = check_validated(driver, 3 if profile == "ci" else 10, seed)
    result = "pass" if ok else "FAIL"
    return Row(
        "traces", ETCD_RAFT_ROW, result, records, "steps", time.monotonic() - started, detail
    )


def etcd_cluster_row(seed: int | None) -> Row:
    """`meshcheck cluster test --system etcd --nodes 3 --workload cas --time 20 --seed S`, judged
    as the project's own clusters are (meshcheck/verify_cluster.py `judge`: every check that does
    not depend on real time holds); seed 1, or one drawn from the exploration's."""
    from meshcheck.cluster.netns import missing
    from meshcheck.systems.registry import System, resolve
    from meshcheck.systems.run import RunOptions, run
    from meshcheck.systems.system_file import check_installed
    from meshcheck.verify_cluster import judge

    try:
        etcd = resolve("etcd")
        assert isinstance(etcd, System)
        check_installed(etcd.file)
    except ConfigError as exc:
        return Row("traces", ETCD_CLUSTER_ROW, "skip", None, "", 0.0, str(exc))
    network = "netns" if missing() is None else "loopback"
    kinds = ("kill", "pause", "partition") if network == "netns" else ("kill", "pause")
    s = 1 if seed is None else random.Random(seed).randrange(2**32)
    options = RunOptions(
        nodes=3, time=CLUSTER_SECONDS, workload="cas", seed=s, network=network, nemesis=kinds
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="meshcheck-etcd-") as tmp:
        outcome = run(etcd, options, Path(tmp), lambda _: None)
    h = outcome.history
    ok, said = judge(outcome.verdicts)
    detail = (
        f"seed {s}: ok {h.count('ok')}, info {h.count('info')}, {words.count(len(outcome.struck) // 2, 'fault')}; "
        f"{said} (meshcheck cluster test --system etcd --workload cas --time {CLUSTER_SECONDS:g} "
        f"--seed {s})"
    )
    result = "pass" if ok else "FAIL"
    return Row(
        "traces", ETCD_CLUSTER_ROW, result, len(h.ops), "ops", time.monotonic() - started, detail
    )

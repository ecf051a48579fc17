"""`meshcheck verify`'s row for etcd's Raft library, code nobody here wrote: its runs through the
Go driver, validated against specs/RaftEtcd.tla (docs/etcd-raft.md). etcd's system file names it
(meshcheck/systems/known/etcd.toml, `[verify] checks`), so that the command finds it as data
(meshcheck/verify_systems.py), beside the cluster of real etcd members the same table describes.
It needs the driver `make etcd-raft` builds (`make verify` runs it); without it the row is "skip"
with the line that says how to get it. Exploring (`verify --explore`), it draws its seeds from the
exploration's."""

from __future__ import annotations

import time
from pathlib import Path

from meshcheck.impl.base.errors import ConfigError
from meshcheck.verify_rows import Row
from meshcheck.verify_rows import TraceCheck

ETCD_RAFT_ROW = "etcd's Raft library: its runs' logs validated against RaftEtcd.tla"


def etcd_raft_row(root: Path, profile: str, seed: int | None) -> Row:
    """The driver's free runs (3 under `ci`, else 10), each holding Raft's invariants and its
    history with its log a behaviour of RaftEtcd.tla, and a driver that forgets its vote
    rejected (property_tests/etcd_raft.py)."""
    from meshcheck.property_tests.etcd_raft import check_validated
    from meshcheck.property_tests.etcd_raft import driver_path

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


# the Ref etcd's system file names: "meshcheck.verify_etcd:RAFT_LIBRARY"; RaftEtcd.tla, which no
# protocol registers, is etcd's: its models' rows go with etcd's in verify's summary
RAFT_LIBRARY = TraceCheck(ETCD_RAFT_ROW, etcd_raft_row, specs=("RaftEtcd",))

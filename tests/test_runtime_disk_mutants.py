"""The runtime's disk mutants (impl/runtime/mutants.py) on one state file through the lazy
filesystem: the correct file keeps every record a power failure strikes after; `skip_fsync` keeps
none (the file's name was never made durable); `ack_before_fsync` keeps those a fsync caught up
with and loses the ones written since, each of which the host had answered for."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from meshcheck.faults.lazyfs import LazyMount
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.impl.base.effects import Put
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.disk import StateFileError
from meshcheck.impl.runtime.mutants import ACK_BEFORE_FSYNC
from meshcheck.impl.runtime.mutants import DEFERRED_SECONDS
from meshcheck.impl.runtime.mutants import SKIP_FSYNC
from meshcheck.impl.runtime.protocols import protocol

CODEC = protocol("raft").codec()
_WHY = fuse_unavailable()


def _kept(tmp_path: Path, bugs: frozenset[str]) -> tuple[int, int]:
    """(records written, records a power failure right after left): ten records, a pause of more
    than a second before the sixth (so that the deferred fsync comes due there)."""
    backing, mount = tmp_path / "backing", tmp_path / "data"
    backing.mkdir()
    with LazyMount(backing, mount) as fs:
        disk = Disk(mount / "n1" / "state.wal", CODEC, bugs=bugs)
        disk.load()
        for k in range(10):
            if k == 5:
                time.sleep(DEFERRED_SECONDS + 0.05)
            disk.persist((Put("hard", (k, "n1")),))
        disk.close()
        fs.power_failure()
        after = Disk(mount / "n1" / "state.wal", CODEC)
        hard = after.load().get("hard")
        after.close()
    return 10, 0 if hard is None else hard[0] + 1


@pytest.mark.skipif(_WHY is not None, reason=f"FUSE cannot be mounted: {_WHY}")
@pytest.mark.parametrize(
    ("bugs", "kept"),
    [(frozenset(), 10), (frozenset({SKIP_FSYNC}), 0), (frozenset({ACK_BEFORE_FSYNC}), 6)],
)
def test_a_power_failure_keeps_what_each_discipline_fsynced(
    tmp_path: Path, bugs: frozenset[str], kept: int
) -> None:
    # ack_before_fsync: the sixth write finds its fsync due and makes the six durable; the four
    # after it, each answered for, wait for a fsync that the power failure comes before
    written, survived = _kept(tmp_path, bugs)
    assert written == 10
    assert survived == kept


def test_an_unknown_runtime_mutant_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="no_such is not a runtime mutant"):
        Disk(tmp_path / "state.wal", CODEC, bugs={"no_such"})

"""The runtime's disk (impl/runtime/disk.py): what was persisted is read back exactly, across
compactions; a damaged file is one clear error, never an empty start."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.disk import StateFileError
from meshcheck.impl.runtime.protocols import protocol

CODEC = protocol("raft").codec()


def fill(disk: Disk, batches: int) -> dict[str, object]:
    """Persist `batches` batches like a Raft node's (term and vote, log splices with truncation);
    what a restart must see."""
    log: list[Entry] = []
    for k in range(batches):
        start = max(0, len(log) - (k % 3))  # now and then a conflicting suffix is cut
        items = (Entry(k, f"v{k}"),)
        disk.persist((Put("hard", (k, "n1")), Splice("log", start, items)))
        del log[start:]
        log.extend(items)
    return {"hard": (batches - 1, "n1"), "log": tuple(log)}


def test_what_was_persisted_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "n1" / "state.wal"
    disk = Disk(path, CODEC)
    assert disk.load() == {}
    expected = fill(disk, 50)
    assert disk.fsyncs == 50
    disk.close()
    assert Disk(path, CODEC).load() == expected


def test_compaction_keeps_the_content(tmp_path: Path) -> None:
    path = tmp_path / "state.wal"
    disk = Disk(path, CODEC, compact_after=7)
    disk.load()
    expected = fill(disk, 40)
    disk.close()
    size = path.stat().st_size
    assert Disk(path, CODEC, compact_after=7).load() == expected
    full = Disk(tmp_path / "other.wal", CODEC)
    full.load()
    fill(full, 40)
    full.close()
    assert size < (tmp_path / "other.wal").stat().st_size


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda b: b[:-1], "truncated record"),
        (lambda b: b[:-9] if len(b) > 9 else b[:3], "truncated"),
        (lambda b: b + b"\x00\x00", "truncated record header"),
        (lambda b: b[:12] + bytes([b[12] ^ 1]) + b[13:], "checksum"),
    ],
)
def test_a_damaged_file_is_one_clear_error(tmp_path: Path, damage: object, why: str) -> None:
    path = tmp_path / "state.wal"
    disk = Disk(path, CODEC)
    disk.load()
    fill(disk, 3)
    disk.close()
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(StateFileError, match=why) as error:
        Disk(path, CODEC).load()
    assert str(path) in str(error.value) and "\n" not in str(error.value)

"""Corruption of a stopped node's files (meshcheck/faults/corrupt.py): seeded, recorded exactly, and
refused by the runtime's state file (impl/runtime/disk.py) rather than started on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshcheck.faults.corrupt import Corruption
from meshcheck.faults.corrupt import corrupt
from meshcheck.impl.base.effects import Put
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.disk import StateFileError


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _node_dir(root: Path) -> Path:
    for n in range(3):
        disk = Disk(root / f"n{n}" / "state", Codec([]))
        disk.load()
        for term in range(1, 8):
            disk.persist((Put("term", term), Put("log", list(range(term)))))
        disk.close()
    (root / "empty").write_bytes(b"")
    return root


def test_the_same_seed_does_the_same_thing(tmp_path: Path) -> None:
    original = _node_dir(tmp_path / "original")
    outcomes = []
    for seed in range(12):
        copies = []
        for attempt in ("a", "b"):
            where = tmp_path / f"{seed}{attempt}"
            shutil.copytree(original, where)
            record = corrupt(where, seed, files=2, flips=3)
            copies.append((record, _files(where)))
        assert copies[0] == copies[1]
        outcomes.append(copies[0][0])
    assert len(set(outcomes)) == len(outcomes)  # and different seeds do different things


def test_the_record_says_exactly_what_changed(tmp_path: Path) -> None:
    original = _node_dir(tmp_path / "original")
    before = _files(original)
    kinds = set()
    for seed in range(20):
        where = tmp_path / str(seed)
        shutil.copytree(original, where)
        record = corrupt(where, seed, files=2, flips=2)
        after = _files(where)
        expected = dict(before)
        for c in record:
            kinds.add(c.kind)
            data = bytearray(expected[c.file])
            if c.kind == "truncate":
                assert (c.before, c.offset) == (len(data), c.after) and c.after < c.before
                del data[c.after :]
            else:
                data[c.offset] ^= 1 << c.bit
            expected[c.file] = bytes(data)
        assert after == expected
        assert {c.file for c in record} <= set(before) - {"empty"}
    assert kinds == {"truncate", "flip"}


def test_a_truncation_always_shortens_the_file(tmp_path: Path) -> None:
    """A truncation's new length is drawn below the old one: a file of one byte is always left
    empty, one of two bytes shorter, never whole with a record of a damage not done."""
    for seed in range(40):
        for size in (1, 2):
            where = tmp_path / f"{seed}-{size}"
            where.mkdir()
            (where / "f").write_bytes(b"x" * size)
            (record,) = corrupt(where, seed, truncate_share=1.0)
            assert record.kind == "truncate" and record.before == size
            assert record.after < size and (where / "f").stat().st_size == record.after


def test_the_runtimes_state_file_refuses_every_flipped_bit(tmp_path: Path) -> None:
    original = _node_dir(tmp_path / "original")
    for seed in range(30):
        where = tmp_path / str(seed)
        shutil.copytree(original, where)
        (where / "empty").unlink()
        (record,) = corrupt(where, seed, files=1, flips=1, truncate_share=0.0)
        disk = Disk(where / record.file, Codec([]))
        with pytest.raises(StateFileError, match="at byte"):
            disk.load()


def test_describe_names_the_file_and_the_bits() -> None:
    assert Corruption("n1/state", "flip", 17, 3, 40, 40).describe() == (
        "n1/state: bit 3 of byte 17 flipped"
    )
    assert Corruption("n1/state", "truncate", 9, before=40, after=9).describe() == (
        "n1/state: truncated from 40 to 9 bytes"
    )


@pytest.mark.parametrize(
    "bad", [{"files": 0}, {"flips": 0}, {"truncate_share": 1.5}, {"truncate_share": -0.1}]
)
def test_bad_arguments_are_refused(tmp_path: Path, bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        corrupt(tmp_path, 1, **bad)  # type: ignore[arg-type]

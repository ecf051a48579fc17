"""Corruption of a stopped node's files: what a bad disk, a torn write or a lost block leaves.

`corrupt(directory, seed, ...)` picks files under `directory` and, for each, either truncates it to a
shorter length or flips bits at chosen offsets, and returns a record of exactly what it did (the
file, the offsets and bits, the lengths before and after) for the report. The choices come from
`random.Random(seed)` over the files in sorted order: the same seed on the same files does the same
thing. Run it only on a node that is down; the node must then refuse the file or recover from its
peers, never start on wrong data.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Literal

import attrs


@attrs.frozen
class Corruption:
    """One change to one file: `truncate` (its length from `before` to `after`) or `flip` (the bit
    `bit`, 0 the lowest, of the byte at `offset`)."""

    file: str  # relative to the corrupted directory
    kind: Literal["truncate", "flip"]
    offset: int
    bit: int = 0
    before: int = 0
    after: int = 0

    def describe(self) -> str:
        if self.kind == "truncate":
            return f"{self.file}: truncated from {self.before} to {self.after} bytes"
        return f"{self.file}: bit {self.bit} of byte {self.offset} flipped"


def truncate_file(path: Path, rng: random.Random, name: str) -> Corruption:
    """The file cut to a length drawn in [0, its length): it must not be empty. The damage is
    fsynced, as a bad disk's is what the disk holds (on a lazy filesystem, meshcheck/faults/lazyfs.py,
    a power failure would otherwise undo it)."""
    before = path.stat().st_size
    after = rng.randrange(before)
    with open(path, "r+b") as f:
        f.truncate(after)
        os.fsync(f.fileno())
    return Corruption(name, "truncate", after, before=before, after=after)


def flip_bits(path: Path, rng: random.Random, name: str, count: int) -> list[Corruption]:
    """`count` bits flipped at offsets drawn in the file (which must not be empty), fsynced."""
    data = bytearray(path.read_bytes())
    done: list[Corruption] = []
    for _ in range(count):
        offset = rng.randrange(len(data))
        bit = rng.randrange(8)
        data[offset] ^= 1 << bit
        done.append(Corruption(name, "flip", offset, bit, len(data), len(data)))
    with open(path, "r+b") as f:
        for change in done:
            f.seek(change.offset)
            f.write(bytes([data[change.offset]]))
        f.flush()
        os.fsync(f.fileno())
    return done


def corrupt(
    directory: Path, seed: int, *, files: int = 1, flips: int = 1, truncate_share: float = 0.5
) -> tuple[Corruption, ...]:
    """Corrupt up to `files` non-empty files under `directory`: each one is truncated with
    probability `truncate_share`, else gets `flips` flipped bits. Returns what was done, in order."""
    if files < 1 or flips < 1 or not 0.0 <= truncate_share <= 1.0:
        raise ValueError("files and flips must be at least 1, truncate_share within [0, 1]")
    rng = random.Random(seed)
    candidates = sorted(
        p for p in directory.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_size
    )
    chosen = rng.sample(candidates, min(files, len(candidates)))
    done: list[Corruption] = []
    for path in chosen:
        name = str(path.relative_to(directory))
        if rng.random() < truncate_share:
            done.append(truncate_file(path, rng, name))
        else:
            done.extend(flip_bits(path, rng, name, flips))
    return tuple(done)

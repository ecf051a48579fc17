"""Corruption of a stopped node's files: what a bad disk, a torn write or a lost block leaves.

`corrupt(directory, seed, ...)` picks files under `directory` and, for each, either truncates it to a
shorter length or flips bits at chosen offsets, and returns a record of exactly what it did (the
file, the offsets and bits, the lengths before and after) for the report. The choices come from
`random.Random(seed)` over the files in sorted order: the same seed on the same files does the same
thing. Run it only on a node that is down; the node must then refuse the file or recover from its
peers, never start on wrong data.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Sequence
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


def corrupt_one(here: Path, rng: random.Random, globs: Sequence[str]) -> list[Corruption]:
    """One non-empty file under `here` matching `globs` (every file when none is given), drawn by
    `rng`, truncated or given one to three flipped bits, the damage fsynced; what was done, the
    file named relative to `here`. None when no file matches (meshcheck/faults/disks.py)."""
    found = {
        path
        for pattern in (globs or ["**/*"])
        for path in here.glob(pattern)
        if path.is_file() and not path.is_symlink() and path.stat().st_size
    }
    if not found:
        return []
    path = rng.choice(sorted(found))
    name = os.path.relpath(path, here)
    if rng.random() < 0.5:
        return [truncate_file(path, rng, name)]
    return flip_bits(path, rng, name, rng.randint(1, 3))


def main(argv: Sequence[str]) -> int:
    """`python -m meshcheck.faults.corrupt DIR [GLOB...]`: `corrupt_one` on a host of a run over
    SSH (meshcheck/systems/remote_disks.py), its generator's state (`random.Random.getstate`) read
    as JSON on the standard input, so that it draws what the same fault draws on this machine;
    what it did printed as JSON."""
    version, internal, gauss = json.load(sys.stdin)
    rng = random.Random()
    rng.setstate((version, tuple(internal), gauss))
    done = corrupt_one(Path(argv[0]), rng, argv[1:])
    print(json.dumps([attrs.asdict(c) for c in done]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

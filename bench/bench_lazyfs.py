"""What the lazy filesystem (meshcheck/faults/, docs/faults.md) costs a node that fsyncs each write.

Workload: the runtime's state file (impl/runtime/disk.py) as a node writes it: RECORDS batches of a
term, a vote and a log entry of ENTRY bytes, each appended in one write and fsynced, on a fresh
folder, through the lazy filesystem's FUSE mount (the subject) and on the plain disk the mount's
backing folder lies on (the baseline), in the same run. The rate is batches per second (wall
clock); a ratio above 1 would mean the mount is faster than the disk. A fsync through the mount
copies the file's bytes to the backing folder without an fsync of its own (the machine never
really fails), which is why the mount can outrun a disk whose fsync waits for the device; each
write is a round trip to the daemon, which is why it can be slower.

When FUSE cannot be mounted here, one row says why and the rate is 0.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row
from meshcheck.faults.lazyfs import LazyMount
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import Disk

GROUP = "Lazy FS"
RECORDS = 300
ENTRY = 200


def _batches_per_second(folder: Path) -> float:
    disk = Disk(folder / "node" / "state", Codec([]), compact_after=10 * RECORDS)
    disk.load()
    start = time.perf_counter()
    for i in range(RECORDS):
        disk.persist((Put("term", i), Put("votedFor", "n1"), Splice("log", i, ("x" * ENTRY,))))
    elapsed = time.perf_counter() - start
    disk.close()
    return RECORDS / elapsed


def bench(runs: int) -> list[Row]:
    why = fuse_unavailable()
    plain: list[float] = []
    lazy: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-lazyfs-") as tmp:
        root = Path(tmp)
        for run in range(runs):
            plain_dir = root / f"plain{run}"
            plain_dir.mkdir()
            plain.append(_batches_per_second(plain_dir))
            shutil.rmtree(plain_dir)
            if why is None:
                backing = root / f"backing{run}"
                backing.mkdir()
                with LazyMount(backing, root / f"mnt{run}") as fs:
                    lazy.append(_batches_per_second(fs.mountpoint))
                shutil.rmtree(backing)
    baseline = statistics.median(plain)
    subject = statistics.median(lazy) if lazy else 0.0
    what = f"{RECORDS} write+fsync batches of the runtime's state file"
    return [
        Row(GROUP, f"{what}, plain disk", baseline, "batches/s", runs),
        Row(
            GROUP,
            f"{what}, through the lazy filesystem",
            subject,
            "batches/s",
            len(lazy),
            baseline=f"{what}, plain disk",
            ratio=subject / baseline if lazy else None,
            note="" if why is None else f"not measured: {why}",
        ),
    ]

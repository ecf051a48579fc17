"""What a shifted clock (meshcheck/cluster/clock_shift.c) costs a reading of the wall clock.

Rows: the median nanoseconds of one `time.time_ns()` in a child Python process, 1,000,000 readings a
measurement: baseline on the real vDSO, subject with the process on a `ShiftedClock` set an hour
ahead (each reading a system call and the shift). In the same run. Skipped, with one line, where the
library cannot be built.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Row
from bench.common import median_of
from meshcheck.cluster.clock_faults import ShiftedClock
from meshcheck.cluster.clock_faults import unavailable

READINGS = 1_000_000
PROBE = (
    "import time\n"
    "t = time.perf_counter_ns()\n"
    f"for _ in range({READINGS}):\n"
    "    time.time_ns()\n"
    f"print((time.perf_counter_ns() - t) / {READINGS})\n"
)


def _ns(env: dict[str, str] | None) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    return float(done.stdout)


def bench(runs: int) -> list[Row]:
    why = unavailable()
    if why:
        print(f"  bench_clock_shift skipped: {why}", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory() as folder:
        clock = ShiftedClock("n1", Path(folder))
        clock.set(3600)
        real = median_of(runs, lambda: _ns(None))
        shifted = median_of(runs, lambda: _ns(clock.env()))
        clock.close()
    return [
        Row("Clock", "one wall-clock reading (Python time.time_ns), real vDSO", real, "ns", runs),
        Row(
            "Clock",
            "the same on a shifted clock (system call and shift)",
            shifted,
            "ns",
            runs,
            baseline="real vDSO",
            ratio=real / shifted,
        ),
    ]

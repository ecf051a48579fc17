"""Clock faults for any process (meshcheck/cluster/clock_faults.py): libfaketime's offset is seen by
a child Python process and by `date`, and changes while the child runs; its rate makes the clock run
fast; the monotonic clock stays real; a Go binary does not see it (the documented limit); a time
namespace offsets CLOCK_MONOTONIC and CLOCK_BOOTTIME, and not the wall clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.cluster.clock_faults import ClockError, FakeClock, libfaketime, time_namespace
from meshcheck.cluster.fault_log import FaultLog

needs_libfaketime = pytest.mark.skipif(
    libfaketime() is None, reason="libfaketime is not installed: `make netns`"
)

# prints the wall clock and the monotonic clock each time it reads a line (bounded by its input)
READER = (
    "import sys, time\nfor _ in sys.stdin:\n    print(time.time(), time.monotonic(), flush=True)\n"
)


class Reader:
    """A child Python process on `clock`, asked for its clocks' readings one at a time."""

    def __init__(self, clock: FakeClock) -> None:
        self.proc = clock.popen(
            [sys.executable, "-c", READER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> tuple[float, float, float, float]:
        """(its wall clock - ours, its monotonic clock - ours, our wall clock, its wall clock)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        wall, mono = map(float, self.proc.stdout.readline().split())
        now, our_mono = time.time(), time.monotonic()
        return wall - now, mono - our_mono, now, wall

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@needs_libfaketime
def test_an_offset_is_seen_by_a_child_and_changed_while_it_runs(tmp_path: Path) -> None:
    log = FaultLog()
    clock = FakeClock("n1", tmp_path, log)
    clock.set(3600)
    reader = Reader(clock)
    try:
        skew, mono, _, _ = reader.read()
        assert 3595 < skew < 3605, skew
        assert abs(mono) < 5, mono  # the monotonic clock stays real
        clock.set(-7200)  # a jump back, while it runs
        skew, mono, _, _ = reader.read()
        assert -7205 < skew < -7195, skew
        assert abs(mono) < 5, mono
        clock.set(0)
        assert abs(reader.read()[0]) < 5
    finally:
        reader.close()
    assert [(r.kind, r.nodes, r.detail) for r in log.records] == [
        ("clock", ("n1",), "+3600.000000"),
        ("clock", ("n1",), "-7200.000000"),
        ("clock", ("n1",), "+0.000000"),
    ]


@needs_libfaketime
def test_a_rate_makes_the_clock_run_fast(tmp_path: Path) -> None:
    clock = FakeClock("n1", tmp_path)
    reader = Reader(clock)
    try:
        clock.set(0, rate=10)
        _, _, ours0, theirs0 = reader.read()
        time.sleep(1.0)
        _, _, ours1, theirs1 = reader.read()
    finally:
        reader.close()
    ratio = (theirs1 - theirs0) / (ours1 - ours0)
    assert 6 < ratio < 14, ratio


@needs_libfaketime
def test_date_sees_the_offset(tmp_path: Path) -> None:
    clock = FakeClock("n2", tmp_path)
    clock.set(86400)
    out, _ = clock.popen(["date", "+%s"], stdout=subprocess.PIPE, text=True).communicate(timeout=10)
    assert 86390 < int(out) - time.time() < 86410


GO_CLOCK = 'package main\nimport ("fmt"; "time")\nfunc main() { fmt.Println(time.Now().Unix()) }\n'


@needs_libfaketime
@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain: `make etcd-raft`")
def test_a_go_binary_does_not_see_libfaketime(tmp_path: Path) -> None:
    """Go reads the clock through the vDSO, not the C library: libfaketime cannot reach it (nor
    etcd). The docs say so; this shows it."""
    (tmp_path / "main.go").write_text(GO_CLOCK)
    binary = tmp_path / "clock"
    built = subprocess.run(
        ["go", "build", "-o", str(binary), "main.go"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "GO111MODULE": "off",
             "GOCACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    clock = FakeClock("n3", tmp_path)
    clock.set(86400)
    out, _ = clock.popen([str(binary)], stdout=subprocess.PIPE, text=True).communicate(timeout=10)
    assert abs(int(out) - time.time()) < 10  # the real time: the offset did not reach it


def test_a_time_namespace_offsets_the_monotonic_clocks_only() -> None:
    probe = (
        "import time; print(time.monotonic(), time.clock_gettime(time.CLOCK_BOOTTIME), time.time())"
    )
    done = subprocess.run(
        time_namespace([sys.executable, "-c", probe], monotonic=86400, boottime=2 * 86400),
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"no time namespaces here: {done.stderr.strip()}")
    mono, boot, wall = map(float, done.stdout.split())
    assert 86390 < mono - time.monotonic() < 86410
    assert 2 * 86400 - 10 < boot - time.clock_gettime(time.CLOCK_BOOTTIME) < 2 * 86400 + 10
    assert abs(wall - time.time()) < 10


@needs_libfaketime
def test_a_rate_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClockError, match=r"between 0\.01 and 100"):
        FakeClock("n1", tmp_path).set(0, rate=0)

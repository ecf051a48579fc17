"""Clock faults for any process (meshcheck/cluster/clock_faults.py, clock_shift.c): a shifted clock's
offset is seen by a child Python process, by `date`, by the JVM and by a Go binary (which reads the
vDSO itself), and changes while the child runs, never torn; its rate makes the wall clock run fast;
the monotonic clock stays real and sleeps keep their length; a process that cannot be put on its
clock stops, saying why; a time namespace offsets CLOCK_MONOTONIC and CLOCK_BOOTTIME, and not the
wall clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.cluster.clock_faults import ClockError
from meshcheck.cluster.clock_faults import ShiftedClock
from meshcheck.cluster.clock_faults import time_namespace
from meshcheck.cluster.clock_faults import unavailable
from meshcheck.cluster.clock_faults import unreachable
from meshcheck.cluster.fault_log import FaultLog

needs_shift = pytest.mark.skipif(unavailable() is not None, reason=f"{unavailable()}")

# prints the wall clock and the monotonic clock each time it reads a line (bounded by its input)
READER = (
    "import sys, time\nfor _ in sys.stdin:\n    print(time.time(), time.monotonic(), flush=True)\n"
)


class Reader:
    """A child Python process on `clock`, asked for its clocks' readings one at a time."""

    def __init__(self, clock: ShiftedClock) -> None:
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


@needs_shift
def test_an_offset_is_seen_by_a_child_and_changed_while_it_runs(tmp_path: Path) -> None:
    log = FaultLog()
    clock = ShiftedClock("n1", tmp_path, log)
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
        ("clock", ("n1",), "+3600.000 s at rate 1"),
        ("clock", ("n1",), "-7200.000 s at rate 1"),
        ("clock", ("n1",), "+0.000 s at rate 1"),
    ]


@needs_shift
def test_a_rate_makes_the_clock_run_fast(tmp_path: Path) -> None:
    clock = ShiftedClock("n1", tmp_path)
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


@needs_shift
@pytest.mark.parametrize("rate", [0.5, 2.5])
def test_a_clock_at_rate_r_reads_r_times_the_real_time_since_it_was_set(
    tmp_path: Path, rate: float
) -> None:
    """Set at rate r, the clock reads the moment it was set plus r times the real time since (the
    child's reading is taken between our asking and its answer), at every moment of the first
    second as well: a rate that is not a whole number is kept as it is, and no fraction of a
    second is dropped before it applies (the nemesis's clock faults run at 0.5 and 2)."""
    clock = ShiftedClock("n1", tmp_path)
    reader = Reader(clock)
    try:
        before = time.time()
        clock.set(0, rate=rate)
        set_at = (before + time.time()) / 2
        for _ in range(5):
            time.sleep(0.2)
            asked = time.time()
            _, _, answered, theirs = reader.read()  # read by the child between the two
            low, high = (set_at + (t - set_at) * rate for t in (asked, answered))
            assert low - 0.02 <= theirs <= high + 0.02, (asked - set_at, theirs - set_at, rate)
    finally:
        reader.close()


@needs_shift
def test_date_sees_the_offset(tmp_path: Path) -> None:
    clock = ShiftedClock("n2", tmp_path)
    clock.set(86400)
    out, _ = clock.popen(["date", "+%s"], stdout=subprocess.PIPE, text=True).communicate(timeout=10)
    assert 86390 < int(out) - time.time() < 86410


# `net` links Go's C resolver, so the binary is dynamic, as etcd and nats-server are; without it
# the binary is static, which nothing can be preloaded into (`unreachable` says so)
GO_CLOCK = 'package main\nimport ("fmt"; "time"; _ "net")\nfunc main() { fmt.Println(time.Now().Unix()) }\n'
STATIC_GO = 'package main\nimport ("fmt"; "time")\nfunc main() { fmt.Println(time.Now().Unix()) }\n'


def _go_build(folder: Path, source: str) -> Path:
    (folder / "main.go").write_text(source)
    binary = folder / "clock"
    built = subprocess.run(
        ["go", "build", "-o", str(binary), "main.go"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HOME": str(folder), "PATH": "/usr/bin:/bin", "GO111MODULE": "off",
             "GOCACHE": str(folder / "cache"), "CGO_ENABLED": "1"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return binary


@needs_shift
@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain: `make etcd-raft`")
def test_a_go_binary_sees_the_offset(tmp_path: Path) -> None:
    """Go's runtime reads the clock through the vDSO itself, not the C library (what libfaketime
    replaces, and so never reached etcd or nats-server): the redirected vDSO reaches it."""
    binary = _go_build(tmp_path, GO_CLOCK)
    assert unreachable(str(binary)) is None
    clock = ShiftedClock("n3", tmp_path)
    clock.set(86400)
    out, _ = clock.popen([str(binary)], stdout=subprocess.PIPE, text=True).communicate(timeout=10)
    assert 86390 < int(out) - time.time() < 86410


@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain: `make etcd-raft`")
def test_a_static_binary_is_named_unreachable(tmp_path: Path) -> None:
    binary = _go_build(tmp_path, STATIC_GO)
    assert unreachable(str(binary)) == (
        f"{binary} is a static binary: nothing can be preloaded into it to shift its clock"
    )
    assert unreachable("date") is None  # dynamic
    assert unreachable(__file__) is None  # a script: its interpreter's matter


JAVA_CLOCK = "class C { public static void main(String[] a) { System.out.println(System.currentTimeMillis()); } }\n"


@needs_shift
@pytest.mark.skipif(shutil.which("java") is None, reason="no Java")
def test_the_jvm_sees_the_offset(tmp_path: Path) -> None:
    (tmp_path / "C.java").write_text(JAVA_CLOCK)
    clock = ShiftedClock("n4", tmp_path)
    clock.set(-86400)
    out, _ = clock.popen(
        ["java", str(tmp_path / "C.java")], stdout=subprocess.PIPE, text=True
    ).communicate(timeout=120)
    assert -86410 < int(out) / 1000 - time.time() < -86390


# the C library's three wall-clock calls, each to its own vDSO entry point
C_CALLS = """
import ctypes, time
libc = ctypes.CDLL(None)
class TimeVal(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long)]
tv = TimeVal()
libc.gettimeofday(ctypes.byref(tv), None)
libc.time.restype = ctypes.c_long
print(tv.sec, libc.time(None), int(time.clock_gettime(5)))  # 5: CLOCK_REALTIME_COARSE
"""


@needs_shift
def test_gettimeofday_time_and_the_coarse_clock_are_shifted_too(tmp_path: Path) -> None:
    clock = ShiftedClock("n1", tmp_path)
    clock.set(86400)
    out, _ = clock.popen(
        [sys.executable, "-c", C_CALLS], stdout=subprocess.PIPE, text=True
    ).communicate(timeout=30)
    readings = [int(word) for word in out.split()]
    assert len(readings) == 3, out
    for seconds in readings:
        assert 86390 < seconds - time.time() < 86410, out


@needs_shift
def test_a_reading_is_never_torn_while_the_clock_is_set(tmp_path: Path) -> None:
    """The child reads its clock as fast as it can while the harness jumps it between +1000 s and
    -1000 s: every reading is one of the two (the control words change under a sequence count)."""
    clock = ShiftedClock("n1", tmp_path)
    clock.set(1000)
    probe = "import time\nfor _ in range(200_000):\n    print(round(time.time()))\n"
    child = clock.popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True)
    flips = 0
    while child.poll() is None and flips < 2000:
        clock.set(-1000 if flips % 2 else 1000)
        flips += 1
    out, _ = child.communicate(timeout=60)
    now = time.time()
    skews = {round((int(line) - now) / 100) * 100 for line in out.split()}
    assert skews <= {1000, -1000}, skews
    assert flips > 10


@needs_shift
def test_the_monotonic_clock_and_sleeps_stay_real_at_any_rate(tmp_path: Path) -> None:
    clock = ShiftedClock("n1", tmp_path)
    clock.set(0, rate=3)
    probe = "import time\nm, w = time.monotonic(), time.time()\ntime.sleep(1)\nprint(time.monotonic() - m, time.time() - w)\n"
    start = time.monotonic()
    out, _ = clock.popen(
        [sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True
    ).communicate(timeout=30)
    took = time.monotonic() - start
    mono, wall = map(float, out.split())
    assert 0.9 < mono < 1.5 and took < 5, (mono, took)
    assert 2.7 < wall < 4.5, wall  # the wall clock ran at three times the real one


@needs_shift
def test_a_process_whose_clock_cannot_be_shifted_stops_saying_why(tmp_path: Path) -> None:
    clock = ShiftedClock("n1", tmp_path)
    env = {**clock.env(), "MESHCHECK_CLOCK_FILE": str(tmp_path / "absent")}
    done = subprocess.run(["date"], env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 97
    assert done.stderr.strip().endswith(
        "cannot open the control file named by MESHCHECK_CLOCK_FILE"
    )


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


@needs_shift
def test_a_rate_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClockError, match=r"between 0\.01 and 100"):
        ShiftedClock("n1", tmp_path).set(0, rate=0)

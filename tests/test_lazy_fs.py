"""The lazy filesystem (meshcheck/faults/): what a power failure keeps is exactly what was fsynced,
by the rules lazy_tree.py states, through a real FUSE mount; and no mount or process outlives the
harness, even one killed with SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshcheck.faults.lazyfs import LazyFsError
from meshcheck.faults.lazyfs import LazyMount
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.faults.lazyfs import is_mounted
from meshcheck.impl.base.effects import Put
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import Disk

_WHY = fuse_unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"FUSE cannot be mounted: {_WHY}")


@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[tuple[LazyMount, Path, Path]]:
    backing, mountpoint = tmp_path / "backing", tmp_path / "mnt"
    backing.mkdir()
    fs = LazyMount(backing, mountpoint)
    try:
        fs.mount()
    except LazyFsError as e:  # /dev/fuse there but mounting refused (an unprivileged container)
        pytest.skip(f"FUSE cannot be mounted: {e}")
    try:
        yield fs, backing, mountpoint
    finally:
        fs.unmount()
        assert not is_mounted(mountpoint)


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def test_a_write_not_fsynced_is_lost(lazy: tuple[LazyMount, Path, Path]) -> None:
    fs, backing, mnt = lazy
    _write(mnt / "f", b"first", sync=True)
    _sync_dir(mnt)
    with open(mnt / "f", "ab") as f:
        f.write(b" and more")
    assert (mnt / "f").read_bytes() == b"first and more"  # the live image
    assert (backing / "f").read_bytes() == b"first"  # the durable one
    assert fs.power_failure() == 0
    assert (mnt / "f").read_bytes() == b"first"


def test_a_fsynced_write_survives(lazy: tuple[LazyMount, Path, Path]) -> None:
    fs, backing, mnt = lazy
    _write(mnt / "f", b"kept", sync=True)
    _sync_dir(mnt)
    assert fs.unsynced() == 0
    fs.power_failure()
    assert (mnt / "f").read_bytes() == b"kept"
    assert _tree(backing) == _tree(mnt) == {"f": b"kept"}


def test_a_new_file_fsynced_but_not_its_directory_is_lost(
    lazy: tuple[LazyMount, Path, Path],
) -> None:
    fs, backing, mnt = lazy
    _write(mnt / "f", b"data", sync=True)
    assert fs.power_failure() == 1
    assert not (mnt / "f").exists()
    assert _tree(backing) == {}


def test_a_new_name_fsynced_without_its_data_is_an_empty_file(
    lazy: tuple[LazyMount, Path, Path],
) -> None:
    fs, _, mnt = lazy
    _write(mnt / "f", b"data", sync=False)
    _sync_dir(mnt)
    fs.power_failure()
    assert (mnt / "f").read_bytes() == b""


def test_a_rename_is_durable_only_once_its_directory_is_fsynced(
    lazy: tuple[LazyMount, Path, Path],
) -> None:
    fs, backing, mnt = lazy
    _write(mnt / "state", b"v1", sync=True)
    _write(mnt / "state.tmp", b"v2", sync=True)
    _sync_dir(mnt)
    os.replace(mnt / "state.tmp", mnt / "state")
    fs.power_failure()
    assert _tree(mnt) == {"state": b"v1", "state.tmp": b"v2"}

    os.replace(mnt / "state.tmp", mnt / "state")
    _sync_dir(mnt)
    fs.power_failure()
    assert _tree(mnt) == _tree(backing) == {"state": b"v2"}


def test_a_rename_into_another_directory_moves_once(lazy: tuple[LazyMount, Path, Path]) -> None:
    fs, backing, mnt = lazy
    (mnt / "a").mkdir()
    (mnt / "b").mkdir()
    _write(mnt / "a" / "f", b"x", sync=True)
    for d in (mnt / "a", mnt / "b", mnt):
        _sync_dir(d)
    os.rename(mnt / "a" / "f", mnt / "b" / "g")
    _sync_dir(mnt / "b")  # the destination's fsync makes the whole rename durable
    fs.power_failure()
    assert _tree(mnt) == _tree(backing) == {"a": None, "b": None, "b/g": b"x"}


def test_unlink_and_truncate_need_their_fsyncs(lazy: tuple[LazyMount, Path, Path]) -> None:
    fs, backing, mnt = lazy
    _write(mnt / "gone", b"1", sync=True)
    _write(mnt / "short", b"123456", sync=True)
    _sync_dir(mnt)
    (mnt / "gone").unlink()
    os.truncate(mnt / "short", 2)
    fs.power_failure()
    assert _tree(mnt) == {"gone": b"1", "short": b"123456"}

    (mnt / "gone").unlink()
    _sync_dir(mnt)
    with open(mnt / "short", "r+b") as f:
        f.truncate(2)
        os.fsync(f.fileno())
    fs.power_failure()
    assert _tree(mnt) == _tree(backing) == {"short": b"12"}


def test_a_write_past_the_end_leaves_zeros_and_a_power_failure_keeps_the_synced_bytes(
    lazy: tuple[LazyMount, Path, Path],
) -> None:
    """A write past the end of a file leaves a hole of zeros before its bytes (POSIX pwrite); a
    power failure keeps exactly the bytes the last fsync or fdatasync saw, the hole included."""
    fs, backing, mnt = lazy
    _write(mnt / "f", b"ab", sync=True)
    _sync_dir(mnt)
    fd = os.open(mnt / "f", os.O_RDWR)
    try:
        assert os.pwrite(fd, b"cd", 6) == 2
        assert (mnt / "f").read_bytes() == b"ab\0\0\0\0cd"
        os.fdatasync(fd)  # the data and the length: what a write-ahead log syncs with
        assert (backing / "f").read_bytes() == b"ab\0\0\0\0cd"
        os.pwrite(fd, b"ef", 12)  # past the end again, never synced
    finally:
        os.close(fd)
    assert (mnt / "f").read_bytes() == b"ab\0\0\0\0cd\0\0\0\0ef"
    assert fs.power_failure() == 0
    assert _tree(mnt) == _tree(backing) == {"f": b"ab\0\0\0\0cd"}


def test_an_overwrite_in_place_is_durable_once_fsynced(lazy: tuple[LazyMount, Path, Path]) -> None:
    """Bytes rewritten before the old end reach the backing file with the file's fsync, also when
    the file grew at the same time (not only what was appended)."""
    fs, backing, mnt = lazy
    _write(mnt / "f", b"0123456789", sync=True)
    _sync_dir(mnt)
    with open(mnt / "f", "r+b") as f:
        f.seek(2)
        f.write(b"XY")
        f.seek(0, os.SEEK_END)
        f.write(b"!")
        f.flush()
        os.fsync(f.fileno())
    fs.power_failure()
    assert _tree(mnt) == _tree(backing) == {"f": b"01XY456789!"}


def test_directories_follow_the_same_rules(lazy: tuple[LazyMount, Path, Path]) -> None:
    fs, backing, mnt = lazy
    (mnt / "d" / "e").mkdir(parents=True)
    _write(mnt / "d" / "e" / "f", b"deep", sync=True)
    _sync_dir(mnt / "d" / "e")
    _sync_dir(mnt / "d")  # but not the root: d has no durable name
    fs.power_failure()
    assert _tree(mnt) == {}
    (mnt / "d" / "e").mkdir(parents=True)
    _write(mnt / "d" / "e" / "f", b"deep", sync=True)
    for d in (mnt / "d" / "e", mnt / "d", mnt):
        _sync_dir(d)
    fs.power_failure()
    assert _tree(mnt) == _tree(backing) == {"d": None, "d/e": None, "d/e/f": b"deep"}


def test_the_backing_directory_is_loaded_at_mount(tmp_path: Path) -> None:
    backing = tmp_path / "backing"
    (backing / "sub").mkdir(parents=True)
    (backing / "sub" / "x").write_bytes(b"there before")
    with LazyMount(backing, tmp_path / "mnt") as fs:
        (tmp_path / "mnt" / "sub" / "x").write_bytes(b"overwritten")
        fs.power_failure()
        assert (tmp_path / "mnt" / "sub" / "x").read_bytes() == b"there before"
    assert not is_mounted(tmp_path / "mnt")


@pytest.mark.parametrize(("synchronous", "kept"), [("FULL", 20), ("OFF", 0)])
def test_sqlite_keeps_its_commits_only_when_it_fsyncs(
    lazy: tuple[LazyMount, Path, Path], synchronous: str, kept: int
) -> None:
    fs, _, mnt = lazy
    db = sqlite3.connect(mnt / "db.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    for k in range(20):
        db.execute("INSERT INTO t VALUES (?, ?)", (k, f"v{k}"))
    db.close()
    _sync_dir(mnt)  # the database file's name, which sqlite does not fsync on creation
    fs.power_failure()
    db = sqlite3.connect(mnt / "db.sqlite")
    try:
        rows = db.execute("SELECT count(*) FROM t").fetchone()[0] if kept else None
        assert rows == (kept or None)
        if not kept:
            tables = db.execute("SELECT name FROM sqlite_master").fetchall()
            assert tables == []
    finally:
        db.close()


@pytest.mark.parametrize("sync", [True, False])
def test_the_runtimes_write_ahead_file_survives_only_with_its_fsyncs(
    lazy: tuple[LazyMount, Path, Path], sync: bool
) -> None:
    """impl/runtime/disk.py, the file every node of the project's cores keeps its state in: with
    its fsyncs its records survive the machine; without them (the mutant a kill -9 cannot see) a
    power failure loses them."""
    fs, backing, mnt = lazy
    (mnt / "node").mkdir()  # as the node's process makes it, for its log, before the state file
    disk = Disk(mnt / "node" / "state", Codec([]), sync=sync)
    disk.load()
    for term in range(1, 6):
        disk.persist((Put("term", term), Put("votedFor", f"n{term}")))
    disk.close()
    fs.power_failure()
    again = Disk(mnt / "node" / "state", Codec([]))
    state = again.load()
    again.close()
    assert state == ({"term": 5, "votedFor": "n5"} if sync else {})
    assert _tree(backing) == _tree(mnt)  # each fsync appended its record to the backing file


_HARNESS = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from meshcheck.faults.lazyfs import LazyMount
    fs = LazyMount(Path(sys.argv[1]), Path(sys.argv[2]))
    fs.mount()
    (Path(sys.argv[2]) / "f").write_bytes(b"x")
    print(fs.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_harness_killed_with_sigkill_leaves_no_mount_and_no_process(tmp_path: Path) -> None:
    backing, mountpoint = tmp_path / "backing", tmp_path / "mnt"
    backing.mkdir()
    harness = subprocess.run(
        [sys.executable, "-c", _HARNESS, str(backing), str(mountpoint)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert harness.returncode == -signal.SIGKILL, harness.stderr
    daemon = int(harness.stdout.split()[0])
    try:
        deadline = time.monotonic() + 20
        while _alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(daemon)
        found = subprocess.run(
            ["findmnt", "--noheadings", "--mountpoint", str(mountpoint)], capture_output=True
        )
        assert found.returncode == 1 and found.stdout == b""
        assert not is_mounted(mountpoint)
    finally:  # a failure here leaves nothing behind either
        if _alive(daemon):
            os.kill(daemon, signal.SIGKILL)
        if is_mounted(mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], check=False)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_backing_folder_it_cannot_model_is_refused_in_one_line(tmp_path: Path) -> None:
    backing = tmp_path / "backing"
    backing.mkdir()
    (backing / "link").symlink_to("/etc/hostname")
    with pytest.raises(LazyFsError, match="only regular files and directories") as refused:
        LazyMount(backing, tmp_path / "mnt").mount()
    assert "\n" not in str(refused.value)
    assert not is_mounted(tmp_path / "mnt")
    with pytest.raises(LazyFsError, match="does not exist"):
        LazyMount(tmp_path / "nowhere", tmp_path / "mnt").mount()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a command as another user")
def test_a_server_that_dropped_root_reaches_and_owns_its_files() -> None:
    """A server run as another user (MariaDB as `mysql`) makes, writes and reopens its files with
    O_NOATIME (Galera's gcache), which open(2) allows only a file's owner: the mount lets other
    users in (allow_other) and shows each asker its files as its own. In a folder under /var/tmp
    that others may pass through (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="meshcheck-lazyfs-", dir="/var/tmp"))
    folder.chmod(0o755)
    (folder / "backing").mkdir()
    fs = LazyMount(folder / "backing", folder / "mnt")
    script = textwrap.dedent(f"""
        import os
        path = os.path.join({str(folder / "mnt")!r}, "cache")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOATIME, 0o600)
        os.write(fd, b"x"); os.fsync(fd); os.close(fd)
        fd = os.open(path, os.O_RDWR | os.O_NOATIME)
        print(os.read(fd, 1).decode(), os.fstat(fd).st_uid)
    """)
    try:
        fs.mount()
        ran = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        fs.unmount()
        shutil.rmtree(folder, ignore_errors=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["x", "65534"], ran.stdout

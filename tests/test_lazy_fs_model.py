"""The lazy file system against a small model of POSIX durability written apart from it.

meshcheck/faults/lazy_tree.py keeps inodes, a live and a durable image, and a backing directory
that holds the durable one. `Posix` below knows none of that: directories are fixed dictionaries
of names to file ids, and each durability model is a few lines stating what a file's fsync, its
fdatasync and a directory's fsync make durable (lazy_tree.py's docstring is the specification
both follow; strict is POSIX's fsync(2) taken at its word, journal what ext4, XFS and btrfs keep
in practice). Random sequences of create, write, truncate, rename, unlink, fsync, fdatasync and
directory fsync, each ended by a power failure, run on both; after each sequence the backing
directory must hold exactly the model's durable image, and after the power failure the files
processes see must be exactly what the model says survives.

Each sequence starts where the previous power failure left the files, so one tree (and, through
FUSE, one mount) carries thousands of them. The seeds are fixed: a run gives the same verdict
every time, and a failure names its seed and its operations.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from meshcheck.faults.lazy_tree import DURABILITY
from meshcheck.faults.lazy_tree import Inode
from meshcheck.faults.lazy_tree import LazyTree
from meshcheck.faults.lazyfs import LazyFsError
from meshcheck.faults.lazyfs import LazyMount
from meshcheck.faults.lazyfs import fuse_unavailable

DIRS = ("", "a", "b")  # the root and two directories, made before the tree and durable
NAMES = ("f", "g", "h")
IN_PROCESS = 2000  # sequences a model on LazyTree itself
THROUGH_FUSE = 200  # sequences a model through a real mount (system calls, the daemon)


@attrs.frozen
class Op:
    kind: str  # create, write, truncate, rename, unlink, fsync, fdatasync, fsyncdir
    path: str = ""
    to: str = ""  # rename's new name
    offset: int = 0
    data: bytes = b""

    def __str__(self) -> str:
        extra = {"write": f" {self.offset} {self.data!r}", "truncate": f" {self.offset}"}
        return (
            f"{self.kind} {self.path}"
            + (f" {self.to}" if self.to else "")
            + extra.get(self.kind, "")
        )


def _split(path: str) -> tuple[str, str]:
    head, _, tail = path.rpartition("/")
    return head, tail


class Posix:
    """What survives a power failure, by the durability model's rules and nothing else."""

    def __init__(self, durability: str) -> None:
        self.durability = durability
        self.live: dict[str, dict[str, int]] = {d: {} for d in DIRS}
        self.durable: dict[str, dict[str, int]] = {d: {} for d in DIRS}
        self.data: dict[int, bytes] = {}
        self.synced: dict[int, bytes] = {}
        self.ids = 0

    def files(self) -> list[str]:
        return [f"{d}/{n}".lstrip("/") for d in DIRS for n in sorted(self.live[d])]

    def _id(self, path: str) -> int:
        directory, name = _split(path)
        return self.live[directory][name]

    def apply(self, op: Op) -> None:
        directory, name = _split(op.path)
        if op.kind == "create":
            self.ids += 1
            self.live[directory][name] = self.ids
            self.data[self.ids] = b""
        elif op.kind == "write":
            old = self.data[self._id(op.path)].ljust(op.offset, b"\0")
            new = old[: op.offset] + op.data + old[op.offset + len(op.data) :]
            self.data[self._id(op.path)] = new
        elif op.kind == "truncate":
            old = self.data[self._id(op.path)]
            self.data[self._id(op.path)] = old[: op.offset].ljust(op.offset, b"\0")
        elif op.kind == "rename":
            moved = self.live[directory].pop(name)
            target, new_name = _split(op.to)
            self.live[target][new_name] = moved
        elif op.kind == "unlink":
            del self.live[directory][name]
        elif op.kind in ("fsync", "fdatasync"):
            file = self._id(op.path)
            self.synced[file] = self.data[file]
            if self.durability == "journal":  # its names, and the directories holding them
                self._sync_directory("")
                if directory:
                    self._sync_directory(directory)
        elif op.kind == "fsyncdir":
            self._sync_directory(op.path)
        else:
            raise AssertionError(op.kind)

    def _sync_directory(self, directory: str) -> None:
        before = self.durable[directory]
        self.durable[directory] = dict(self.live[directory])
        gained = {f for n, f in self.live[directory].items() if before.get(n) != f}
        for other in DIRS:  # a durable rename: the file's old durable name goes
            if other != directory:
                for n, f in list(self.durable[other].items()):
                    if f in gained:
                        del self.durable[other][n]

    def durable_view(self) -> dict[str, bytes]:
        return {
            f"{d}/{n}".lstrip("/"): self.synced.get(f, b"")
            for d in DIRS
            for n, f in self.durable[d].items()
        }

    def live_view(self) -> dict[str, bytes]:
        return {f"{d}/{n}".lstrip("/"): self.data[f] for d in DIRS for n, f in self.live[d].items()}

    def power_failure(self) -> None:
        self.live = copy.deepcopy(self.durable)
        self.data = {
            f: self.synced.get(f, b"") for names in self.live.values() for f in names.values()
        }


def sequence(rng: random.Random, model: Posix) -> list[Op]:
    """Up to a dozen operations, each valid where the model stands when it runs."""
    ops: list[Op] = []
    for _ in range(rng.randint(1, 12)):
        files = model.files()
        kinds = ["create"] + (
            ["write", "write", "truncate", "rename", "unlink", "fsync", "fdatasync"]
            if files
            else []
        )
        kind = rng.choice([*kinds, "fsyncdir"])
        if kind == "create":
            free = [f"{d}/{n}".lstrip("/") for d in DIRS for n in NAMES if n not in model.live[d]]
            if not free:
                continue
            op = Op("create", rng.choice(free))
        elif kind == "fsyncdir":
            op = Op("fsyncdir", rng.choice(DIRS))
        else:
            path = rng.choice(files)
            if kind == "write":
                op = Op(
                    "write", path, offset=rng.randint(0, 12), data=rng.randbytes(rng.randint(1, 6))
                )
            elif kind == "truncate":
                op = Op("truncate", path, offset=rng.randint(0, 14))
            elif kind == "rename":
                to = f"{rng.choice(DIRS)}/{rng.choice(NAMES)}".lstrip("/")
                if to == path:
                    continue
                op = Op("rename", path, to=to)
            else:
                op = Op(kind, path)
        model.apply(op)
        ops.append(op)
    return ops


# -- the two ways to drive the lazy file system --------------------------------------------------


class InProcess:
    """LazyTree's own operations, as the FUSE daemon calls them."""

    def __init__(self, backing: Path, durability: str) -> None:
        self.tree = LazyTree(backing, durability)

    def apply(self, op: Op) -> None:
        tree = self.tree
        if op.kind == "create":
            tree.create(op.path, 0o644)
        elif op.kind == "write":
            tree.write(tree.lookup(op.path), op.data, op.offset)
        elif op.kind == "truncate":
            tree.truncate(tree.lookup(op.path), op.offset)
        elif op.kind == "rename":
            tree.rename(op.path, op.to)
        elif op.kind == "unlink":
            tree.unlink(op.path)
        else:  # fsync, fdatasync (the daemon calls fsync for both), fsyncdir
            tree.fsync(tree.lookup(op.path))

    def power_failure(self) -> None:
        self.tree.power_failure()

    def seen(self) -> dict[str, bytes]:
        return _seen(self.tree)


def _seen(tree: LazyTree) -> dict[str, bytes]:
    """The files a process sees in the tree's live image, by path."""
    found: dict[str, bytes] = {}

    def walk(node: Inode, prefix: str) -> None:
        for name, number in node.entries.items():
            child = tree.inode(number)
            if child.is_dir:
                walk(child, f"{prefix}{name}/")
            else:
                found[prefix + name] = bytes(child.data)

    walk(tree.lookup(""), "")
    return found


class Mounted:
    """The same operations as system calls on a real mount."""

    def __init__(self, mount: LazyMount) -> None:
        self.mount = mount
        self.root = mount.mountpoint

    def apply(self, op: Op) -> None:
        path = self.root / op.path
        if op.kind == "create":
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        elif op.kind == "write":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.pwrite(fd, op.data, op.offset)
            finally:
                os.close(fd)
        elif op.kind == "truncate":
            os.truncate(path, op.offset)
        elif op.kind == "rename":
            os.rename(path, self.root / op.to)
        elif op.kind == "unlink":
            os.unlink(path)
        else:
            flags = os.O_RDONLY | (os.O_DIRECTORY if op.kind == "fsyncdir" else 0)
            fd = os.open(path, flags)
            try:
                (os.fdatasync if op.kind == "fdatasync" else os.fsync)(fd)
            finally:
                os.close(fd)

    def power_failure(self) -> None:
        self.mount.power_failure()

    def seen(self) -> dict[str, bytes]:
        return _files(self.root)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _prepared(tmp_path: Path) -> Path:
    backing = tmp_path / "backing"
    for directory in DIRS:
        (backing / directory).mkdir(parents=True, exist_ok=True)
    return backing


def _agree(
    durability: str,
    count: int,
    seed: int,
    backing: Path,
    driver: InProcess | Mounted,
) -> None:
    rng = random.Random(f"{durability}:{seed}")
    model = Posix(durability)
    for i in range(count):
        ops = sequence(rng, model)
        for op in ops:
            driver.apply(op)
        said = f"{durability}, seed {seed}, sequence {i}: " + "; ".join(map(str, ops))
        assert driver.seen() == model.live_view(), f"live image, {said}"
        assert _files(backing) == model.durable_view(), f"backing directory, {said}"
        driver.power_failure()
        model.power_failure()
        assert driver.seen() == model.durable_view(), f"after the power failure, {said}"


@pytest.mark.parametrize("durability", DURABILITY)
def test_the_tree_keeps_what_the_model_keeps(tmp_path: Path, durability: str) -> None:
    backing = _prepared(tmp_path)
    _agree(durability, IN_PROCESS, 1, backing, InProcess(backing, durability))


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Callable[[str], tuple[Path, Mounted]]]:
    why = fuse_unavailable()
    if why is not None:
        pytest.skip(f"FUSE cannot be mounted: {why}")
    mounts: list[LazyMount] = []

    def mount(durability: str) -> tuple[Path, Mounted]:
        backing = _prepared(tmp_path)
        fs = LazyMount(backing, tmp_path / "mnt", durability)
        try:
            fs.mount()
        except LazyFsError as e:  # /dev/fuse there but mounting refused
            pytest.skip(f"FUSE cannot be mounted: {e}")
        mounts.append(fs)
        return backing, Mounted(fs)

    yield mount
    for fs in mounts:
        fs.unmount()


@pytest.mark.parametrize("durability", DURABILITY)
def test_a_mount_keeps_what_the_model_keeps(
    mounted: Callable[[str], tuple[Path, Mounted]], durability: str
) -> None:
    backing, driver = mounted(durability)
    _agree(durability, THROUGH_FUSE, 2, backing, driver)


def test_the_two_models_differ_on_a_new_name_synced_only_through_its_file(tmp_path: Path) -> None:
    """The case that tells them apart (a write-ahead log's new segment): created, written,
    fsynced, its directory never fsynced. Strict loses the file; journal keeps it whole."""
    kept = {}
    for durability in DURABILITY:
        backing = _prepared(tmp_path / durability)
        tree = InProcess(backing, durability)
        for op in (Op("create", "a/f"), Op("write", "a/f", data=b"entry"), Op("fsync", "a/f")):
            tree.apply(op)
        tree.power_failure()
        kept[durability] = tree.seen()
    assert kept == {"strict": {}, "journal": {"a/f": b"entry"}}


def test_a_file_in_a_new_directory_keeps_its_whole_path_under_journal_alone(tmp_path: Path) -> None:
    """A new directory, a file made in it, the file fsynced and nothing else (etcd's `member`
    directory): journal keeps the directory and the file, strict neither."""
    kept = {}
    for durability in DURABILITY:
        backing = _prepared(tmp_path / durability)
        tree = LazyTree(backing, durability)
        tree.mkdir("a/member", 0o755)
        tree.mkdir("a/member/wal", 0o755)
        node = tree.create("a/member/wal/0.wal", 0o644)
        tree.write(node, b"record", 0)
        tree.fsync(node)
        kept[durability] = _files(backing)
        tree.power_failure()
        assert _files(backing) == kept[durability]
    assert kept == {"strict": {}, "journal": {"a/member/wal/0.wal": b"record"}}


def test_losses_name_each_path_a_power_failure_would_lose_and_lose_exactly_those(
    tmp_path: Path,
) -> None:
    """The file-level evidence a power failure's report carries (nemesis.log): each path and
    what of it goes, read from the tree before the failure, and nothing else goes."""
    backing = _prepared(tmp_path)
    tree = LazyTree(backing, "strict")
    kept = tree.create("a/kept", 0o644)
    tree.write(kept, b"synced", 0)
    tree.fsync(kept)
    tree.fsync(tree.lookup("a"))
    tree.write(kept, b"+more", 6)
    tree.mkdir("b/member", 0o755)
    tree.write(tree.create("b/member/0.wal", 0o644), b"wal", 0)
    tree.write(tree.create("b/member/1.wal", 0o644), b"wal", 0)
    tree.write(tree.create("loose", 0o644), b"xy", 0)
    old = tree.create("a/old", 0o644)
    tree.fsync(old)
    tree.fsync(tree.lookup("a"))
    tree.rename("a/old", "b/new")
    before = _files(backing)
    assert tree.losses() == [
        "bytes not synced: a/kept (6 of 11 bytes survive)",
        "name never synced: b/member/ (a folder, 2 files under it)",
        "name never synced: b/new (0 bytes)",
        "name never synced: loose (2 bytes)",
        "removal or rename not synced: a/old (comes back)",
    ]
    tree.power_failure()
    assert _seen(tree) == before == {"a/kept": b"synced", "a/old": b""}
    assert tree.losses() == []


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="a durability model is one of strict, journal"):
        LazyTree(Path("."), "ordered")
    with pytest.raises(LazyFsError, match="a durability model is one of strict, journal"):
        LazyMount(Path("."), Path("."), "ordered")

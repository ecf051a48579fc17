"""The state of a filesystem that keeps what was not fsynced apart from what was, as a machine's
page cache does, and loses the first on a power failure.

Two images of one tree of inodes are kept in memory. The live image is what processes see: every
write, truncate, create, rename and unlink applies to it at once. The durable image is what a power
failure leaves, and the backing directory holds exactly it at every moment:

- `fsync` (or `fdatasync`) of a file copies the file's live bytes, length and mode to the durable
  image, and writes them to the backing directory if the file has a durable name.
- `fsync` of a directory copies its live entries (names to inodes) to the durable image. A name
  that is new there brings its inode into the durable image: empty if that file was never
  fsynced (the inode exists, its data never reached the disk), or with the bytes its last fsync
  gave it. A name gained by a rename also drops the inode's old durable name, wherever it was:
  a rename is one atomic operation once it is durable.
- `power_failure` makes the live image a copy of the durable one: unsynced writes, truncates,
  creates, renames and unlinks are gone.

Two durability models, chosen when the tree is made (`DURABILITY`):

- `strict`, the rules above: POSIX's rules for `fsync` taken strictly (fsync "shall cause all
  modified data and attributes of fildes to be moved to a permanent storage device"; making a
  new name durable takes an fsync of its directory, as the Linux fsync(2) manual says), the ones
  a file system may hold an application to.
- `journal`, what ext4, XFS and btrfs keep in practice: a file's fsync (or fdatasync) commits the
  journal (ext4's jbd2), forces the log (XFS) or writes the log tree (btrfs), and the file's
  directory entries go with it. Here a file's fsync also does what a directory fsync does for
  each directory on the way to each of its names, from the root down: its name, and the earlier
  changes of the directories that hold it, become durable. Unsynced file data is still lost, and
  a directory no synced file sits under still loses its changes. ext4 commits every pending
  metadata change at once, a wider net than this; the model keeps the part all three share.

Pillai et al., "All File Systems Are Not Created Equal" (OSDI 2014), list which of these orderings
each Linux file system keeps. LazyFS (Jepsen and INESC TEC) sits between the two: it drops
unsynced file data as both do but passes create, mkdir and rename through to the real directory,
so every name survives its power failures, synced or not.

The model holds regular files and directories, every byte in memory: it is a fault injector for
the small data directories of a test, not a store.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
import stat
import time
from pathlib import Path

import attrs

ROOT = 1
# the durability models (the module's docstring): what a power failure keeps
DURABILITY = ("strict", "journal")
BLOCK = 65536  # the bytes a durable file is compared and written over in, at an fsync


@attrs.define
class Inode:
    """A regular file (`data`) or a directory (`entries`, names to inode numbers)."""

    number: int
    is_dir: bool
    mode: int
    data: bytearray = attrs.field(factory=bytearray)
    entries: dict[str, int] = attrs.field(factory=dict)
    mtime_ns: int = attrs.field(factory=time.time_ns)


def _error(code: int, what: str) -> OSError:
    return OSError(code, os.strerror(code), what)


class LazyTree:
    """The live and durable images over one backing directory (see the module's docstring)."""

    def __init__(self, backing: Path, durability: str = "strict") -> None:
        if durability not in DURABILITY:
            raise ValueError(f"{durability}: a durability model is one of {', '.join(DURABILITY)}")
        self.backing = backing
        self.durability = durability
        self._live: dict[int, Inode] = {}
        self._durable: dict[int, Inode] = {}
        self._next = ROOT
        self._load(ROOT, backing)
        self._durable = copy.deepcopy(self._live)
        self.syncs = 0

    # -- loading and lookup -------------------------------------------------------------------

    def _load(self, number: int, path: Path) -> None:
        st = path.lstat()
        if stat.S_ISDIR(st.st_mode):
            node = Inode(number, True, stat.S_IMODE(st.st_mode), mtime_ns=st.st_mtime_ns)
            self._live[number] = node
            self._next = max(self._next, number + 1)
            for child in sorted(path.iterdir()):
                node.entries[child.name] = self._next
                self._load(self._next, child)
        elif stat.S_ISREG(st.st_mode):
            data = bytearray(path.read_bytes())
            node = Inode(number, False, stat.S_IMODE(st.st_mode), data, mtime_ns=st.st_mtime_ns)
            self._live[number] = node
            self._next = max(self._next, number + 1)
        else:
            raise ValueError(f"{path}: only regular files and directories can be mounted lazily")

    def _new(self, is_dir: bool, mode: int) -> Inode:
        node = Inode(self._next, is_dir, stat.S_IMODE(mode))
        self._next += 1
        self._live[node.number] = node
        return node

    def lookup(self, path: str) -> Inode:
        node = self._live[ROOT]
        for name in _parts(path):
            if not node.is_dir:
                raise _error(errno.ENOTDIR, path)
            if name not in node.entries:
                raise _error(errno.ENOENT, path)
            node = self._live[node.entries[name]]
        return node

    def inode(self, number: int) -> Inode:
        """An inode by number (an open file's): EIO once a power failure dropped it."""
        if number not in self._live:
            raise _error(errno.EIO, f"inode {number}")
        return self._live[number]

    def _parent(self, path: str) -> tuple[Inode, str]:
        parts = _parts(path)
        if not parts:
            raise _error(errno.EBUSY, path)
        parent = self.lookup("/".join(parts[:-1]))
        if not parent.is_dir:
            raise _error(errno.ENOTDIR, path)
        return parent, parts[-1]

    # -- the live image: what processes see -----------------------------------------------------

    def create(self, path: str, mode: int) -> Inode:
        return self._add(path, False, mode)

    def mkdir(self, path: str, mode: int) -> Inode:
        return self._add(path, True, mode)

    def _add(self, path: str, is_dir: bool, mode: int) -> Inode:
        """A new file or directory at `path`, whose parent exists and has no entry of its name."""
        parent, name = self._parent(path)
        if name in parent.entries:
            raise _error(errno.EEXIST, path)
        node = self._new(is_dir, mode)
        parent.entries[name] = node.number
        return node

    def unlink(self, path: str) -> None:
        parent, name = self._parent(path)
        node = self.lookup(path)
        if node.is_dir:
            raise _error(errno.EISDIR, path)
        del parent.entries[name]

    def rmdir(self, path: str) -> None:
        parent, name = self._parent(path)
        node = self.lookup(path)
        if not node.is_dir:
            raise _error(errno.ENOTDIR, path)
        if node.entries:
            raise _error(errno.ENOTEMPTY, path)
        del parent.entries[name]

    def rename(self, old: str, new: str) -> None:
        source_dir, source_name = self._parent(old)
        node = self.lookup(old)
        target_dir, target_name = self._parent(new)
        if node.is_dir and _is_within(_parts(new), _parts(old)):
            raise _error(errno.EINVAL, new)
        if target_name in target_dir.entries:
            target = self._live[target_dir.entries[target_name]]
            if target.number == node.number:
                return
            if target.is_dir and not node.is_dir:
                raise _error(errno.EISDIR, new)
            if node.is_dir and not target.is_dir:
                raise _error(errno.ENOTDIR, new)
            if target.is_dir and target.entries:
                raise _error(errno.ENOTEMPTY, new)
        del source_dir.entries[source_name]
        target_dir.entries[target_name] = node.number

    def write(self, node: Inode, data: bytes, offset: int) -> int:
        if offset > len(node.data):
            node.data.extend(bytes(offset - len(node.data)))
        node.data[offset : offset + len(data)] = data
        node.mtime_ns = time.time_ns()
        return len(data)

    def truncate(self, node: Inode, length: int) -> None:
        if length < len(node.data):
            del node.data[length:]
        else:
            node.data.extend(bytes(length - len(node.data)))
        node.mtime_ns = time.time_ns()

    # -- the durable image ---------------------------------------------------------------------

    def fsync(self, node: Inode) -> None:
        """The file's bytes, length and mode made durable (a directory: its entries)."""
        self.syncs += 1
        if node.is_dir:
            self._fsync_dir(node)
            return
        durable = self._durable.setdefault(node.number, Inode(node.number, False, node.mode))
        old = durable.data
        durable.data = bytearray(node.data)
        durable.mode = node.mode
        durable.mtime_ns = node.mtime_ns
        if self.durability == "journal":
            before = self._durable_path(node.number)
            for directory in self._directories_above(node.number):
                self._fsync_dir(directory)
            if self._durable_path(node.number) != before:
                return  # a new durable name: written with the bytes just synced
        path = self._durable_path(node.number)
        if path is None:
            return
        if len(old) <= len(node.data) and node.data.startswith(old) and path.exists():
            # appended to only (a write-ahead log): the new bytes written, not the whole file
            with open(path, "ab") as f:
                f.write(node.data[len(old) :])
            os.chmod(path, node.mode)
        elif len(old) == len(node.data) and path.exists():
            # overwritten in place (InnoDB's circular redo log, a database's pages): the changed
            # blocks written, not the whole file (a 16 MB log rewritten at each commit's fsync
            # kept every commit of Galera under `journal` past its clients' timeout)
            self._write_changed(old, durable, path)
        else:
            self._write_file(durable, path)

    def _fsync_dir(self, node: Inode) -> None:
        durable = self._durable.setdefault(node.number, Inode(node.number, True, node.mode))
        here = self._durable_path(node.number)
        for name, number in list(durable.entries.items()):
            if node.entries.get(name) != number:
                del durable.entries[name]
                if here is not None:
                    _remove(here / name)
        for name, number in node.entries.items():
            if durable.entries.get(name) == number:
                continue
            self._drop_durable_names(number)
            durable.entries[name] = number
            child = self._live[number]
            if number not in self._durable:
                self._durable[number] = Inode(number, child.is_dir, child.mode)
            if here is not None:
                self._materialize(number, here / name)

    def _directories_above(self, number: int) -> list[Inode]:
        """The live directories on the way from the root to each of the inode's names, each once,
        every directory before those under it."""
        parents: dict[int, list[int]] = {}
        for directory in self._live.values():
            for child in directory.entries.values():
                parents.setdefault(child, []).append(directory.number)
        order: list[int] = []
        seen: set[int] = set()

        def climb(child: int) -> None:
            for parent in parents.get(child, []):
                if parent not in seen:
                    seen.add(parent)
                    climb(parent)
                    order.append(parent)

        climb(number)
        return [self._live[n] for n in order]

    def _drop_durable_names(self, number: int) -> None:
        """The inode's durable names elsewhere removed: it is about to gain its new one."""
        for directory in list(self._durable.values()):
            for name, child in list(directory.entries.items()):
                if child == number:
                    where = self._durable_path(directory.number)
                    del directory.entries[name]
                    if where is not None:
                        _remove(where / name)

    def _durable_path(self, number: int) -> Path | None:
        """Where the inode sits in the backing directory, None if no durable name reaches it."""
        parents = {
            child: (directory.number, name)
            for directory in self._durable.values()
            for name, child in directory.entries.items()
        }
        names: list[str] = []
        seen = {number}
        while number != ROOT:
            if number not in parents:
                return None
            number, name = parents[number]
            if number in seen:
                return None
            seen.add(number)
            names.append(name)
        return self.backing.joinpath(*reversed(names))

    def _materialize(self, number: int, path: Path) -> None:
        node = self._durable[number]
        if node.is_dir:
            path.mkdir(mode=node.mode)
            os.chmod(path, node.mode)
            for name, child in node.entries.items():
                self._materialize(child, path / name)
        else:
            self._write_file(node, path)

    @staticmethod
    def _write_changed(old: bytearray, node: Inode, path: Path) -> None:
        """`path`, which holds `old`, made to hold `node`'s bytes of the same length: each block
        that differs written over."""
        fd = os.open(path, os.O_WRONLY)
        try:
            data = memoryview(node.data)
            for start in range(0, len(data), BLOCK):
                end = start + BLOCK
                if old[start:end] != data[start:end]:
                    view, at = data[start:end], start
                    while view:
                        wrote = os.pwrite(fd, view, at)
                        view, at = view[wrote:], at + wrote
            os.fchmod(fd, node.mode)
        finally:
            os.close(fd)

    @staticmethod
    def _write_file(node: Inode, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, node.mode)
        try:
            view = memoryview(node.data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, node.mode)
        finally:
            os.close(fd)

    def power_failure(self) -> int:
        """The live image made the durable one; returns how many inodes were lost with it."""
        reachable: dict[int, Inode] = {}
        pending = [ROOT]
        while pending:
            number = pending.pop()
            if number in reachable:
                continue
            reachable[number] = self._durable[number]
            pending.extend(self._durable[number].entries.values())
        lost = len(set(self._live) - set(reachable))
        self._durable = reachable
        self._live = copy.deepcopy(reachable)
        return lost

    def losses(self) -> list[str]:
        """What a power failure now would lose, one line a path, sorted: a name never synced (a
        folder once, with how many files sit under it), a file whose bytes differ from its
        synced ones, a removal or rename not synced (the old name comes back)."""
        durable = dict(_paths(self._durable))
        live = dict(_paths(self._live))
        lines: list[str] = []
        hidden: list[str] = []  # folders reported whole: nothing under them again
        for path, number in live.items():
            if any(path.startswith(folder) for folder in hidden):
                continue
            node = self._live[number]
            if durable.get(path) != number:
                if node.is_dir:
                    hidden.append(path + "/")
                    files = sum(
                        1
                        for p, n in live.items()
                        if p.startswith(path + "/") and not self._live[n].is_dir
                    )
                    lines.append(f"name never synced: {path}/ (a folder, {files} files under it)")
                else:
                    lines.append(f"name never synced: {path} ({len(node.data)} bytes)")
            elif not node.is_dir and self._durable[number].data != node.data:
                kept = len(self._durable[number].data)
                lines.append(f"bytes not synced: {path} ({kept} of {len(node.data)} bytes survive)")
        for path, number in durable.items():
            if live.get(path) != number and not any(path.startswith(f) for f in hidden):
                lines.append(f"removal or rename not synced: {path} (comes back)")
        return sorted(lines)

    def unsynced(self) -> int:
        """How many inodes differ between the live image and the durable one."""
        differ = 0
        for number, node in self._live.items():
            durable = self._durable.get(number)
            if durable is None or durable.data != node.data or durable.entries != node.entries:
                differ += 1
        return differ


def _paths(image: dict[int, Inode]) -> list[tuple[str, int]]:
    """Every path of an image under the root, each with its inode number, parents first."""
    found: list[tuple[str, int]] = []
    pending = [("", ROOT)]
    while pending:
        prefix, number = pending.pop()
        for name, child in sorted(image[number].entries.items()):
            path = f"{prefix}{name}"
            found.append((path, child))
            if image[child].is_dir:
                pending.append((path + "/", child))
    return found


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _is_within(path: list[str], directory: list[str]) -> bool:
    return path[: len(directory)] == directory


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)

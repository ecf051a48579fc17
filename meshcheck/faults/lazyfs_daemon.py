"""The process that serves a lazy filesystem (lazy_tree.py) over FUSE, through mfusepy's ctypes
bindings of libfuse 3; lazyfs.py starts it and talks to it.

`python -m meshcheck.faults.lazyfs_daemon BACKING MOUNTPOINT FD`: FD is this process's end of a
socket pair whose other end the harness holds, or `-`: its standard input and output, the session
of a harness on another machine (meshcheck/systems/remote_disks.py: its sshd closes the input when
the harness or its connection ends). One line a command, one line an answer:
`power-failure` (answer `ok LOST`: the live image dropped for the durable one), `unsynced`,
`unmount`. When the harness's end closes, however the harness ended (SIGKILL too: the kernel
closes a dead process's descriptors), this process unmounts (`fusermount3 -u -z`) and exits, so
no mount outlives its harness. The FUSE loop is single-threaded; the control thread takes the same
lock as every filesystem operation.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from typing import BinaryIO
from typing import TypeVar
from typing import cast

import mfusepy

from meshcheck.faults.lazy_tree import Inode
from meshcheck.faults.lazy_tree import LazyTree

_T = TypeVar("_T")
_CAP_POSIX_LOCKS = 1 << 1  # fuse_common.h's FUSE_CAP_POSIX_LOCKS
_CAP_FLOCK_LOCKS = 1 << 10  # and FUSE_CAP_FLOCK_LOCKS


class LazyOperations(mfusepy.Operations):  # type: ignore[misc]
    """mfusepy's callbacks over a `LazyTree`, each under `lock`."""

    use_ns = True

    def __init__(self, tree: LazyTree, lock: threading.Lock, ready: Callable[[], None]) -> None:
        self.tree = tree
        self.lock = lock
        self._ready = ready
        self._handles: dict[int, int] = {}  # file handle -> inode number
        self._next_handle = 1

    def _locked(self, action: Callable[[], _T]) -> _T:
        with self.lock:
            try:
                return action()
            except KeyError as e:  # a handle or an inode that a power failure dropped
                raise mfusepy.FuseOSError(errno.EIO) from e
            except OSError as e:
                raise mfusepy.FuseOSError(e.errno or errno.EIO) from e

    def _node(self, path: str | None, fh: int | None) -> Inode:
        if fh is not None and fh in self._handles:
            return self.tree.inode(self._handles[fh])
        if path is None:
            raise OSError(errno.EBADF, "no path and no handle")
        return self.tree.lookup(path)

    def _handle(self, node: Inode) -> int:
        fh = self._next_handle
        self._next_handle += 1
        self._handles[fh] = node.number
        return fh

    def init_with_config(self, conn: Any, config: Any) -> None:
        # POSIX and BSD locks kept by the kernel, as on a local disk (sqlite takes them): libfuse
        # 3.14 asks for them to be sent here, where no lock operation would answer them
        if conn is not None:
            conn.want &= ~(_CAP_POSIX_LOCKS | _CAP_FLOCK_LOCKS)
        self._ready()

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        uid, gid, _ = mfusepy.fuse_get_context()

        def attrs() -> dict[str, Any]:
            node = self._node(path, fh)
            kind = stat.S_IFDIR if node.is_dir else stat.S_IFREG
            size = 4096 if node.is_dir else len(node.data)
            return {
                "st_mode": kind | node.mode,
                "st_ino": node.number,
                "st_nlink": 2 if node.is_dir else 1,
                "st_size": size,
                "st_blocks": (size + 511) // 512,
                # every file is the asking process's own: a server that dropped root opens its
                # files with O_NOATIME (Galera's gcache), which only a file's owner may (open(2))
                "st_uid": uid,
                "st_gid": gid,
                "st_atime": node.mtime_ns,
                "st_mtime": node.mtime_ns,
                "st_ctime": node.mtime_ns,
            }

        return self._locked(attrs)

    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
        # with use_ino, a name without its inode number would be skipped by readdir(3)
        def listing() -> list[tuple[str, dict[str, int], int]]:
            node = self.tree.lookup(path)
            names = [(".", node.number), ("..", node.number), *node.entries.items()]
            return [
                (name, {"st_ino": number, "st_mode": self._kind(number)}, 0)
                for name, number in names
            ]

        return self._locked(listing)

    def _kind(self, number: int) -> int:
        return stat.S_IFDIR if self.tree.inode(number).is_dir else stat.S_IFREG

    def open(self, path: str, flags: int) -> int:
        def opened() -> int:
            node = self.tree.lookup(path)
            if flags & os.O_TRUNC:
                self.tree.truncate(node, 0)
            return self._handle(node)

        return self._locked(opened)

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        return self._locked(lambda: self._handle(self.tree.create(path, mode)))

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return self._locked(lambda: bytes(self._node(path, fh).data[offset : offset + size]))

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return self._locked(lambda: self.tree.write(self._node(path, fh), data, offset))

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        self._locked(lambda: self.tree.truncate(self._node(path, fh), length))
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        self._locked(lambda: self.tree.fsync(self._node(path, fh)))
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        self._locked(lambda: self.tree.fsync(self.tree.lookup(path)))
        return 0

    def release(self, path: str, fh: int) -> int:
        with self.lock:
            self._handles.pop(fh, None)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        self._locked(lambda: self.tree.mkdir(path, mode))
        return 0

    def unlink(self, path: str) -> int:
        self._locked(lambda: self.tree.unlink(path))
        return 0

    def rmdir(self, path: str) -> int:
        self._locked(lambda: self.tree.rmdir(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        self._locked(lambda: self.tree.rename(old, new))
        return 0

    def chmod(self, path: str, mode: int) -> int:
        def change() -> None:
            self.tree.lookup(path).mode = stat.S_IMODE(mode)

        self._locked(change)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self.tree.backing)
        return {
            key: getattr(st, key)
            for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_namemax")
        }


def _serve_control(
    stream: BinaryIO, answers: BinaryIO, tree: LazyTree, lock: threading.Lock, mountpoint: str
) -> None:
    """Answer the harness's commands until its end closes, then unmount."""
    try:
        for raw in stream:
            command = raw.decode().strip()
            with lock:
                if command == "power-failure":
                    answer = f"ok {tree.power_failure()}"
                elif command == "losses":
                    answer = f"ok {json.dumps(tree.losses())}"
                elif command == "unsynced":
                    answer = f"ok {tree.unsynced()}"
                elif command == "unmount":
                    break
                else:
                    answer = f"error unknown command {command!r}"
            answers.write(f"{answer}\n".encode())
            answers.flush()
    except OSError:
        pass
    subprocess.run(["fusermount3", "-u", "-z", mountpoint], check=False, capture_output=True)


def main(argv: list[str]) -> int:
    backing, mountpoint, fd = Path(argv[0]), argv[1], argv[2]
    durability = argv[3] if len(argv) > 3 else "strict"
    stream: BinaryIO
    answers: BinaryIO
    if fd == "-":  # a session's input and output; libfuse writes nothing to the output
        stream, answers = os.fdopen(0, "rb", buffering=0), os.fdopen(1, "wb", buffering=0)
    else:
        conn = socket.socket(fileno=int(fd))
        stream = answers = cast(BinaryIO, conn.makefile("rwb", buffering=0))
    try:
        tree = LazyTree(backing, durability)
    except (OSError, ValueError) as e:
        answers.write(f"error {e}\n".encode())
        return 1
    lock = threading.Lock()

    def ready() -> None:
        answers.write(b"ready\n")
        threading.Thread(
            target=_serve_control, args=(stream, answers, tree, lock, mountpoint), daemon=True
        ).start()

    operations = LazyOperations(tree, lock, ready)
    mfusepy.FUSE(
        operations,
        mountpoint,
        foreground=True,
        nothreads=True,
        fsname="lazyfs",
        # every lookup and attribute asked of this process: the kernel keeps none that a power
        # failure could leave stale; an unlinked open file is not renamed to .fuse_hidden
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        hard_remove=True,
        use_ino=True,
        # a server that drops root (MariaDB as `mysql`, PostgreSQL as `postgres`) reaches its data
        # directory too: without it the kernel lets no user but the one that mounted past the
        # mountpoint (fuse(8), allow_other; root may always ask for it). No permission is checked
        # (no default_permissions): every file is its asker's (getattr)
        allow_other=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A lazy filesystem mounted for a test: `with LazyMount(backing, mountpoint) as fs:` serves the
backing directory at the mountpoint (lazy_tree.py says what survives), `fs.power_failure()` drops
everything not synced, and leaving the block unmounts it.

The filesystem runs in a process of its own (lazyfs_daemon.py) tied to this one by a socket pair:
if this process dies, SIGKILL included, the daemon sees its end close, unmounts lazily
(`fusermount3 -u -z`) and exits. Leaving the block asks it to unmount, waits for it, and if it
does not end, kills it and unmounts here. The daemon runs in a process group of its own: a Ctrl-C
at the terminal reaches the harness's group, and libfuse ends its loop on SIGINT (it installs
handlers for SIGINT, SIGTERM and SIGHUP: libfuse's lib/fuse_signals.c), which would take the
node's data directory away while the harness stops the run in order.

A daemon that dies while mounted (`exit_code`) leaves the mountpoint answering ENOTCONN: the
harness says so in one line (`DaemonDied`) and ends its run (meshcheck/systems/run.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from meshcheck.faults.lazy_tree import DURABILITY
from meshcheck.impl.base.errors import MeshcheckError

_START_SECONDS = 20.0


class LazyFsError(MeshcheckError):
    """The lazy filesystem could not be mounted or answered wrongly."""


class DaemonDied(LazyFsError):
    """The daemon serving a node's data directory ended while it was mounted."""

    def __init__(self, node: str, code: int) -> None:
        self.node = node
        self.code = code
        how = f"exit {code}" if code >= 0 else f"killed by {_signal_name(-code)}"
        super().__init__(
            f"the lazy file system's daemon for node {node} died ({how}) during the run"
        )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def fuse_unavailable() -> str | None:
    """Why a lazy filesystem cannot be mounted here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if shutil.which("fusermount3") is None:
        return "no fusermount3 (Debian's fuse3: make fuse)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as e:
        return f"mfusepy cannot load libfuse 3 ({e}; make fuse)"
    return None


def is_mounted(mountpoint: Path) -> bool:
    """Whether anything is mounted at `mountpoint` (/proc/self/mountinfo)."""
    target = os.path.realpath(mountpoint)
    with open("/proc/self/mountinfo") as f:
        return any(
            line.split()[4].replace("\\040", " ") == target for line in f if len(line.split()) > 4
        )


class DaemonQueries:
    """What a mounted daemon (meshcheck/faults/lazyfs_daemon.py) answers about its filesystem: a
    command a line, each answered `ok VALUE` or with what went wrong. `_exchange` sends one command
    and reads its answer line, over whatever connects to the daemon."""

    def _exchange(self, command: str) -> str:
        raise NotImplementedError

    def _answer(self, command: str) -> str:
        answer = self._exchange(command)
        word, _, value = answer.partition(" ")
        if word != "ok":
            raise LazyFsError(f"{command}: {answer or 'no answer'}")
        return value

    def losses(self) -> list[str]:
        """What a power failure now would lose, path by path (LazyTree.losses)."""
        found = json.loads(self._answer("losses"))
        assert isinstance(found, list)
        return [str(line) for line in found]

    def power_failure(self) -> int:
        """Everything not synced dropped: the live image becomes the backing directory's, which
        holds exactly what was synced. Returns how many files and directories were lost. The
        processes that used the filesystem should be dead already, as a power failure leaves them."""
        return int(self._answer("power-failure"))

    def unsynced(self) -> int:
        """How many files and directories differ from their durable state."""
        return int(self._answer("unsynced"))


class LazyMount(DaemonQueries):
    """The backing directory served lazily at the mountpoint while the block runs."""

    def __init__(self, backing: Path, mountpoint: Path, durability: str = "strict") -> None:
        if durability not in DURABILITY:
            raise LazyFsError(f"{durability}: a durability model is one of {', '.join(DURABILITY)}")
        self.backing = Path(backing).resolve()
        self.mountpoint = Path(mountpoint).resolve()
        self.durability = durability
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: socket.socket | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The daemon's process id while mounted."""
        return None if self._process is None else self._process.pid

    def exit_code(self) -> int | None:
        """How the daemon ended while mounted (Popen's returncode: negative for a signal), None
        while it runs or when not mounted."""
        return None if self._process is None else self._process.poll()

    def __enter__(self) -> LazyMount:
        self.mount()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.unmount()

    def mount(self) -> None:
        why = fuse_unavailable()
        if why is not None:
            raise LazyFsError(f"cannot mount a lazy filesystem: {why}")
        if not self.backing.is_dir():
            raise LazyFsError(f"{self.backing}: the backing directory does not exist")
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by unmount)
        ours.settimeout(_START_SECONDS)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meshcheck.faults.lazyfs_daemon",
                str(self.backing),
                str(self.mountpoint),
                str(theirs.fileno()),
                self.durability,
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # a file, not a pipe: a daemon that logs more than a pipe holds must not block on it
            stderr=self._stderr,
            process_group=0,  # not the terminal's: a Ctrl-C is the harness's (the docstring)
        )
        theirs.close()
        self._conn = ours
        try:
            first = self._readline()
        except (OSError, LazyFsError) as e:
            self.unmount()
            raise LazyFsError(f"the lazy filesystem did not start: {e}") from e
        if first != "ready":
            self.unmount()
            raise LazyFsError(f"the lazy filesystem did not start: {first or 'no answer'}")
        self._conn.settimeout(None)

    def _readline(self) -> str:
        assert self._conn is not None
        line = bytearray()
        while not line.endswith(b"\n"):
            chunk = self._conn.recv(1)
            if not chunk:
                stderr = b""
                if self._process is not None and self._stderr is not None:
                    self._process.kill()
                    self._process.wait()
                    self._stderr.seek(0)
                    stderr = self._stderr.read()
                last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
                raise LazyFsError(f"the daemon ended {last[0]}".strip())
            line += chunk
        return line.decode().strip()

    def _exchange(self, command: str) -> str:
        if self._conn is None:
            raise LazyFsError("the lazy filesystem is not mounted")
        self._conn.sendall(f"{command}\n".encode())
        return self._readline()

    def unmount(self) -> None:
        process, conn, stderr = self._process, self._conn, self._stderr
        self._process = self._conn = self._stderr = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(b"unmount\n")
            conn.close()
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if stderr is not None:
            stderr.close()
        if is_mounted(self.mountpoint):
            subprocess.run(
                ["fusermount3", "-u", "-z", str(self.mountpoint)], check=False, capture_output=True
            )

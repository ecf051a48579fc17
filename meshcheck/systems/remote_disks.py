"""The power and corrupt faults of a run on hosts over SSH (`meshcheck cluster test --hosts`,
docs/systems.md): each node's data directory on its host, R/data/NODE in the run's folder R
(remote.py), served by the lazy file system of meshcheck/faults/lazyfs.py when a power failure is
planned, as `NodeDisks` (meshcheck/faults/disks.py) serves it on this machine.

- **What the host needs.** The daemon and the corruption are the project's own modules
  (lazy_tree.py, lazyfs_daemon.py, corrupt.py), copied to R/py: the host needs no meshcheck, only
  a Python 3.11 with mfusepy and attrs (the hosts file's `python`, `python3` by default), and for
  a power failure /dev/fuse and fusermount3. What is missing is said in one line before any node
  starts (`check`).
- **A mount** is the daemon run over a session of its own, `python -m
  meshcheck.faults.lazyfs_daemon R/durable/NODE R/data/NODE -`, its commands and answers on the
  session's input and output (as over the local socket pair). When the session ends, however this
  process ends, sshd closes the daemon's input: it unmounts and exits. Before it starts, the
  session writes R/undo/lazyfs-NODE, which kills it and unmounts: the host's reaper runs it once
  the nodes' groups are killed, and unmounts anything else still mounted under R before removing
  R (remote.py REAPER).
- **A power failure** (the node killed first, by the nemesis) drops what the node did not fsync;
  **a corruption** runs corrupt.py's `corrupt_one` on the host, on the stopped node's directory,
  from the state of the fault's own generator: the same file and damage as on this machine.
- **At the end** (the nodes stopped), each mount's live image is copied out, the mount ended and
  the image put in R/data/NODE, which the run then collects into the report folder, as
  `NodeDisks` leaves each node's directory holding what its node last wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from meshcheck.cluster.fault_log import die_with_parent
from meshcheck.faults.corrupt import Corruption
from meshcheck.faults.lazyfs import DaemonDied
from meshcheck.faults.lazyfs import DaemonQueries
from meshcheck.faults.lazyfs import LazyFsError
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.remote import APART
from meshcheck.systems.remote import Remote
from meshcheck.systems.remote import RemoteError

START_WAIT = 30.0  # seconds the daemon has to mount and say so, over SSH
ANSWER_WAIT = 30.0  # seconds the daemon has to answer a command
END_WAIT = 10.0  # seconds the daemon has to unmount and exit when asked
# the project's modules the host runs, relative to the package (nothing else of meshcheck's)
MODULES = ("faults/lazy_tree.py", "faults/lazyfs_daemon.py", "faults/corrupt.py")
_PACKAGE = Path(__file__).resolve().parent.parent
# what the host's python must import: the daemon (mfusepy and libfuse 3, attrs) and corrupt.py
_IMPORTS = (
    "import sys; v = sys.version_info; "
    "sys.exit(f'Python {v.major}.{v.minor}, not 3.11 or later') if v < (3, 11) else None; "
    "import meshcheck.faults.corrupt, meshcheck.faults.lazyfs_daemon"
)


def _py(remote: Remote) -> str:
    return f"{remote.folder}/py"


def _python(remote: Remote, module: str, words: Sequence[str]) -> str:
    """The shell line that runs `module` of the copy with the host's python, in its place."""
    return (
        f"cd / && exec env PYTHONPATH={shlex.quote(_py(remote))} {shlex.quote(remote.host.python)} "
        f"-m {module} " + " ".join(shlex.quote(w) for w in words)
    )


def install(remote: Remote, kinds: Sequence[str]) -> None:
    """The modules copied to the host and what `kinds` need there looked for: one line each
    (exit 2) for a python that cannot run them, no /dev/fuse, no fusermount3."""
    with tempfile.TemporaryDirectory(prefix="mc-py-") as tmp:
        root = Path(tmp) / "meshcheck"
        (root / "faults").mkdir(parents=True)
        (root / "__init__.py").write_text("")
        (root / "faults" / "__init__.py").write_text("")
        for module in MODULES:
            shutil.copy(_PACKAGE / module, root / module)
        remote.put_tree(Path(tmp), _py(remote))
    kind = "power" if "power" in kinds else "corrupt"
    python = shlex.quote(remote.host.python)
    needs = (
        "[ -e /dev/fuse ] || { echo 'no /dev/fuse'; exit 0; }\n"
        "command -v fusermount3 >/dev/null 2>&1 || { echo 'no fusermount3 (fuse3)'; exit 0; }\n"
        if kind == "power"
        else ""
    )
    said = remote.run(
        needs + f"command -v {python} >/dev/null 2>&1 || {{ echo 'no {remote.host.python}'; "
        "exit 0; }\n"
        f"out=$(PYTHONPATH={shlex.quote(_py(remote))} {python} -c {shlex.quote(_IMPORTS)} 2>&1) "
        '|| { echo "$out" | tail -n 1; exit 0; }\necho ok'
    ).strip()
    if said != "ok":
        why = said.splitlines()[-1] if said else "no answer"
        raise MeshcheckError(
            f"--nemesis {kind}: host {remote.host.name}: {why}; the hosts file's `python` must "
            f"name a Python 3.11 there with mfusepy and attrs (now {remote.host.python})"
        )


class RemoteMount(DaemonQueries):
    """Node `node`'s data directory on `remote`, served lazily by a daemon over SSH."""

    def __init__(self, remote: Remote, node: str, durability: str) -> None:
        self.remote = remote
        self.node = node
        self.durability = durability
        r = remote.folder
        self.mountpoint = f"{r}/data/{node}"
        self.backing = f"{r}/durable/{node}"
        self.undo = f"{r}/undo/lazyfs-{node}"
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def mount(self) -> None:
        m, b, r = (shlex.quote(p) for p in (self.mountpoint, self.backing, self.remote.folder))
        undo = f"kill -KILL $$ 2>/dev/null; fusermount3 -u -z {m} 2>/dev/null; true"
        daemon = [self.backing, self.mountpoint, "-", self.durability]
        script = (
            f"mkdir -p {m} {b} && "
            f"find {m} -mindepth 1 -maxdepth 1 -exec mv {{}} {b}/ ';' && "  # already on the disk
            f'echo "{undo}" > {shlex.quote(self.undo)} && '
            + _python(self.remote, "meshcheck.faults.lazyfs_daemon", daemon)
            + f" 2>> {r}/{shlex.quote(self.node)}.lazyfs.log"
        )
        self._process = subprocess.Popen(
            self.remote.argv(script), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, process_group=APART, preexec_fn=die_with_parent,
        )  # fmt: skip
        first = self._readline(START_WAIT)
        if first != "ready":
            self.unmount()
            raise LazyFsError(
                f"host {self.remote.host.name}: the lazy file system for {self.node} did not "
                f"start: {first or 'no answer'} (its log: {self.node}.lazyfs.log)"
            )

    def _readline(self, wait: float) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + wait
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return ""
            ready, _, _ = select.select([process.stdout], [], [], left)
            if ready:
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    return ""
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").strip()

    def _exchange(self, command: str) -> str:
        process = self._process
        if process is None or process.stdin is None:
            raise LazyFsError(f"{self.node}: the lazy file system is not mounted")
        try:
            process.stdin.write(f"{command}\n".encode())
            process.stdin.flush()
        except OSError as e:
            raise LazyFsError(f"{command}: {e}") from None
        return self._readline(ANSWER_WAIT)

    def unmount(self) -> None:
        """The live image copied out, the daemon asked to unmount (killed if it does not), the
        image put back as the node's directory."""
        process, self._process = self._process, None
        m, b = shlex.quote(self.mountpoint), shlex.quote(self.backing)
        final = shlex.quote(f"{self.remote.folder}/final/{self.node}")
        with contextlib.suppress(RemoteError):
            if process is not None and process.poll() is None:
                self.remote.run(f"rm -rf {final} && mkdir -p {final} && cp -a {m}/. {final}/")
        if process is not None:
            with contextlib.suppress(OSError, ValueError):
                assert process.stdin is not None
                process.stdin.write(b"unmount\n")
                process.stdin.close()
            try:
                process.wait(timeout=END_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self.remote.run(
            f"sh {shlex.quote(self.undo)} 2>/dev/null; rm -f {shlex.quote(self.undo)}; "
            f"if [ -d {final} ]; then kept={final}; else kept={b}; fi; "
            f'rm -rf {m} && mv "$kept" {m} && rm -rf {b} {final}'
        )


class RemoteDisks:
    """Each node's data directory on its host (the module's docstring): lazily mounted when
    `lazy`, else the plain folder the node runs on, which a corruption damages all the same."""

    def __init__(
        self, remotes: Mapping[str, Remote], *, lazy: bool, durability: str = "strict"
    ) -> None:
        self.remotes = dict(remotes)
        self.lazy = lazy
        self.durability = durability
        self._mounts: dict[str, RemoteMount] = {}

    def __enter__(self) -> RemoteDisks:
        try:
            for node, remote in self.remotes.items():
                if self.lazy:
                    mount = RemoteMount(remote, node, self.durability)
                    mount.mount()
                    self._mounts[node] = mount
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        failed: MeshcheckError | None = None
        for node, mount in list(self._mounts.items()):
            del self._mounts[node]
            try:
                mount.unmount()
            except MeshcheckError as e:  # the rest still unmounted; the reaper does this one
                failed = failed or e
        if failed is not None:
            raise failed

    def _mount(self, node: str) -> RemoteMount:
        mount = self._mounts.get(node)
        if mount is None:
            raise LazyFsError(f"{node}: a power failure needs its data directory on a lazy mount")
        return mount

    def _asked(self, node: str, command: str) -> str:
        mount = self._mount(node)
        try:
            if command == "losses":
                return json.dumps(mount.losses())
            if command == "power-failure":
                changed = mount.unsynced()
                mount.power_failure()
                return str(changed)
            raise ValueError(command)
        except (OSError, LazyFsError) as e:
            code = mount.exit_code()
            if code is None:
                raise
            raise DaemonDied(node, code) from e

    def losses(self, node: str) -> list[str]:
        if node not in self._mounts:
            return []
        found = json.loads(self._asked(node, "losses"))
        return [str(line) for line in found]

    def power_failure(self, node: str) -> int:
        return int(self._asked(node, "power-failure"))

    def dead(self) -> list[DaemonDied]:
        ended = [(n, m.exit_code()) for n, m in self._mounts.items()]
        return [DaemonDied(n, code) for n, code in ended if code is not None]

    def corrupt(self, node: str, rng: random.Random, globs: Sequence[str]) -> list[Corruption]:
        """corrupt.py's `corrupt_one` on the stopped node's directory on its host, drawing from
        `rng`'s state: the file and the damage a run on this machine draws; what it did."""
        remote = self.remotes[node]
        where = [f"{remote.folder}/data/{node}", *globs]
        said = remote.run(
            _python(remote, "meshcheck.faults.corrupt", where),
            stdin=json.dumps(rng.getstate()).encode(),
        )
        return [Corruption(**c) for c in json.loads(said)]

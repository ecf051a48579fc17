"""A host reached over SSH (`meshcheck cluster test --hosts`, docs/systems.md): the machine's own
OpenSSH client, as Jepsen's control node reaches its nodes.

- **One connection per host.** A master (`ssh -M -N`, ControlMaster) is started when the host is
  opened, with its control socket in the run's temporary folder on this machine; every command
  after it is a session multiplexed over that connection (no new handshake). Every call is
  `BatchMode=yes` (no prompt), checks the host's key strictly against the hosts file's
  known_hosts, bounds the connection (`ConnectTimeout`) and is itself bounded by a timeout.
- **The run's folder on the host**, `WORK/meshcheck-RUN`: the system's folder (`{here}`), each
  node's data and logs, its process group's id (`pids/NODE`), the undo of each change the run made
  to the host outside it (`undo/NAME`, a shell line: a table of nftables rules, a qdisc).
- **A reaper on the host** (`REAPER`): a shell loop started in a session of its own over the
  master, reading a heartbeat line this process writes every `HEARTBEAT` seconds. When the
  heartbeats stop (the session closed: this process ended however it ended, its master with it,
  the master being started with the parent-death signal; or nothing came for `BOUND` seconds: the
  network to the host lost, this process stopped), it kills every process group named in
  `pids/`, runs every undo, unmounts whatever is still mounted under the run's folder (a node's
  lazy file system: remote_disks.py) and removes it. `close` does the same in order and waits
  for it, so that nothing outlives the run on the host.
- **Every ssh in a process group of its own** (`APART`): a terminal's Ctrl-C reaches meshcheck
  alone, whose stop still has every connection to bring each node's logs and data back.
- **Files** go both ways as tar over the session (`put_tree`, `fetch_tree`) or `cat` (`put`).

Every failure is one line (RemoteError, exit 2) naming the host and what ssh or the host said."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shlex
import subprocess
import tarfile
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from meshcheck.cluster.fault_log import die_with_parent
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.hosts_file import Host

CONNECT_TIMEOUT = 10  # seconds ssh has to connect (ConnectTimeout) and the master to come up
CALL_TIMEOUT = 30.0  # seconds one command on a host may take, by default
HEARTBEAT = 1.0  # seconds between two heartbeats to a host's reaper
BOUND = 10  # seconds without a heartbeat after which a host's reaper cleans up
# The process group of every ssh this module starts: 0, a group of its own (setpgid(2)). A
# terminal's Ctrl-C goes to its foreground process group: an ssh in meshcheck's own would die of
# it with meshcheck, its session's far side with it, before meshcheck's stop could bring the nodes'
# logs and data back (and a node restarting would be called down). Apart, the signal reaches
# meshcheck alone, which ends each ssh itself (`close`), the last step of its teardown.
APART = 0
# The reaper: while heartbeat lines come (each within BOUND s), nothing; then, with nobody to
# read its output, every process group of the run killed (three rounds), every undo run (a lazy
# file system's daemon killed and unmounted: remote_disks.py), anything still mounted under the
# run's folder unmounted, the folder removed. `timeout` and `head` are coreutils': POSIX sh's `read` has no time limit.
REAPER = """
run=$1 bound=$2
while line=$(timeout "$bound" head -n 1) && [ -n "$line" ]; do :; done
exec </dev/null >/dev/null 2>&1
trap '' HUP PIPE TERM INT
for round in 1 2 3; do
  for f in "$run"/pids/*; do
    [ -f "$f" ] && kill -KILL "-$(cat "$f")"
  done
  sleep 0.1
done
for f in "$run"/undo/*; do [ -f "$f" ] && sh "$f"; done
awk -v r="$run/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r |
  while read -r m; do fusermount3 -u -z "$m" || umount -l "$m"; done
rm -rf "$run"
"""


class RemoteError(MeshcheckError):
    pass


def quote(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def env_prefix(env: Mapping[str, str]) -> str:
    """`env VAR=value ...`, quoted for sh (empty without variables)."""
    if not env:
        return ""
    return "env " + quote([f"{k}={v}" for k, v in env.items()]) + " "


class Remote:
    """`host` over one master connection whose control socket is in `sockets` (a folder of this
    machine's, short enough for a socket's path); `run_id` names the run's folder there."""

    def __init__(self, host: Host, sockets: Path, run_id: str) -> None:
        self.host = host
        self.control = sockets / f"{host.name}.sock"
        self.folder = f"{host.work}/meshcheck-{run_id}"
        self._master: subprocess.Popen[bytes] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._beating = threading.Event()
        self._beat: threading.Thread | None = None

    def options(self) -> list[str]:
        h = self.host
        return [
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={h.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"IdentityFile={h.identity}",
            "-o", "IdentitiesOnly=yes",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3",
            "-o", f"ControlPath={self.control}",
            "-o", "LogLevel=ERROR",
            "-p", str(h.port),
            "-l", h.user,
        ]  # fmt: skip

    def argv(self, script: str) -> list[str]:
        """The local command that runs `script` with sh on the host, over the master."""
        return [
            "ssh", *self.options(), "-o", "ControlMaster=no", "-T", self.host.address, "--",
            "sh", "-c", shlex.quote(script),
        ]  # fmt: skip

    # opening and closing

    def open(self) -> Remote:
        """Connect (the master), make the run's folder, start the reaper."""
        self._master = subprocess.Popen(
            ["ssh", *self.options(), "-M", "-N", "-o", "ControlMaster=yes",
             "-o", "ControlPersist=no", self.host.address],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            process_group=APART,  # a terminal's Ctrl-C spares it: the run's end needs it
            preexec_fn=die_with_parent,  # its end ends every session: the reaper cleans up
        )  # fmt: skip
        deadline = time.monotonic() + CONNECT_TIMEOUT + 5
        # the socket appears once the master is connected and authenticated; then one check
        while not (self.control.exists() and self._up()):
            if self._master.poll() is not None:
                assert self._master.stderr is not None
                said = self._master.stderr.read().decode(errors="replace").strip().splitlines()
                raise RemoteError(
                    f"host {self.host.name} ({self.host.destination()}:{self.host.port}): "
                    f"ssh could not connect: {said[-1] if said else self._master.returncode}"
                )
            if time.monotonic() > deadline:
                self._end_master()
                raise RemoteError(
                    f"host {self.host.name} ({self.host.destination()}:{self.host.port}): no "
                    f"connection within {CONNECT_TIMEOUT + 5} s"
                )
            time.sleep(0.05)
        f = shlex.quote(self.folder)
        self.run(f"mkdir -p {f}/pids {f}/undo {f}/data")
        self._reaper = subprocess.Popen(
            [*self.argv(REAPER), "reaper", f, str(BOUND)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            process_group=APART, preexec_fn=die_with_parent,
        )  # fmt: skip
        self._beat = threading.Thread(target=self._heartbeats, daemon=True)
        self._beat.start()
        return self

    def _up(self) -> bool:
        done = subprocess.run(
            ["ssh", *self.options(), "-O", "check", self.host.address],
            capture_output=True, timeout=CALL_TIMEOUT, check=False, process_group=APART,
        )  # fmt: skip
        return done.returncode == 0

    def _heartbeats(self) -> None:
        reaper = self._reaper
        assert reaper is not None and reaper.stdin is not None
        while not self._beating.wait(HEARTBEAT):
            try:
                reaper.stdin.write(b".\n")
                reaper.stdin.flush()
            except (OSError, ValueError):  # the session is gone: the reaper has its EOF
                return

    def close(self, wait: float = CALL_TIMEOUT) -> None:
        """End the heartbeats: the reaper kills what is left of the run on the host, runs the
        undos and removes the run's folder; wait for it, then end the master."""
        self._beating.set()
        if self._beat is not None:
            self._beat.join()
        if self._reaper is not None:
            with contextlib.suppress(OSError, ValueError):
                assert self._reaper.stdin is not None
                self._reaper.stdin.close()
            try:
                self._reaper.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self._reaper.kill()
                self._reaper.wait()
            self._reaper = None
        self._end_master()

    def _end_master(self) -> None:
        if self._master is None:
            return
        subprocess.run(
            ["ssh", *self.options(), "-O", "exit", self.host.address],
            capture_output=True, timeout=CALL_TIMEOUT, check=False, process_group=APART,
        )  # fmt: skip
        try:
            self._master.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._master.kill()
            self._master.wait()
        self._master = None

    # commands and files

    def run(self, script: str, *, stdin: bytes | None = None, timeout: float = CALL_TIMEOUT) -> str:
        """`script` run with sh on the host; its output. A non-zero exit, or no end within
        `timeout` seconds, is a RemoteError of one line."""
        return self.run_bytes(script, stdin=stdin, timeout=timeout).decode(errors="replace")

    def run_bytes(
        self, script: str, *, stdin: bytes | None = None, timeout: float = CALL_TIMEOUT
    ) -> bytes:
        try:
            done = subprocess.run(
                self.argv(script), input=stdin if stdin is not None else b"",
                capture_output=True, timeout=timeout, check=False, process_group=APART,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise RemoteError(
                f"host {self.host.name}: no answer within {timeout:g} s to {_first(script)}"
            ) from None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            raise RemoteError(
                f"host {self.host.name}: {_first(script)}: "
                f"{said[-1] if said else f'exit {done.returncode}'}"
            )
        return done.stdout

    def status(self, script: str, timeout: float = CALL_TIMEOUT) -> int:
        """The exit status of `script` on the host (a RemoteError only for no answer or ssh's
        own failure, 255)."""
        try:
            done = subprocess.run(
                self.argv(script),
                input=b"",
                capture_output=True,
                timeout=timeout,
                check=False,
                process_group=APART,
            )
        except subprocess.TimeoutExpired:
            raise RemoteError(
                f"host {self.host.name}: no answer within {timeout:g} s to {_first(script)}"
            ) from None
        if done.returncode == 255:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            raise RemoteError(f"host {self.host.name}: ssh: {said[-1] if said else 'failed'}")
        return done.returncode

    def put(self, path: str, data: bytes, mode: int = 0o644, *, synced: bool = False) -> None:
        """`data` written to `path` on the host (its folder made first); `synced`: then fsynced,
        with its folder and each folder made for it (`sync FILE`, coreutils: nodes.py
        `write_synced`)."""
        p = shlex.quote(path)
        top = f'top=$(dirname {p}); while [ ! -e "$top" ]; do top=$(dirname "$top"); done; '
        sync = (
            f' && sync {p} && d=$(dirname {p}) && while sync "$d" && [ "$d" != "$top" ]; '
            'do d=$(dirname "$d"); done'
        )
        self.run(
            (top if synced else "")
            + f'mkdir -p "$(dirname {p})" && cat > {p}.part && chmod {mode:o} {p}.part '
            f"&& mv {p}.part {p}" + (sync if synced else ""),
            stdin=data,
        )

    def put_tree(self, local: Path, remote: str, exclude: Sequence[str] = ()) -> None:
        """The folder `local` copied to `remote` on the host (tar over the session)."""
        buffer = io.BytesIO()
        skip = {".git", "__pycache__", ".venv", *exclude}
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(local, arcname=".", filter=lambda i: None if _skipped(i.name, skip) else i)
        r = shlex.quote(remote)
        self.run(f"mkdir -p {r} && tar -xzf - -C {r}", stdin=buffer.getvalue(), timeout=120)

    def fetch_tree(self, remote: str, local: Path, exclude: Sequence[str] = ()) -> None:
        """The folder `remote` on the host copied into `local` (merged with what is there)."""
        r = shlex.quote(remote)
        skip = " ".join(f"--exclude={shlex.quote('./' + e)}" for e in exclude)
        data = self.run_bytes(f"tar -czf - {skip} -C {r} .", timeout=300)
        local.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(local, filter="data")

    def has(self, program: str) -> bool:
        return self.status(f"command -v {shlex.quote(program)} >/dev/null 2>&1") == 0


def _skipped(name: str, skip: set[str]) -> bool:
    return any(part in skip for part in Path(name).parts)


def _first(script: str) -> str:
    """The script's last line, shortened: the command it runs (any shell functions come first)."""
    line = script.strip().splitlines()[-1] if script.strip() else script
    return f"`{line[:60]}{'...' if len(line) > 60 else ''}`"


def run_id() -> str:
    """A name for one run's folders: this process's id and a random tag (runs side by side on one
    host never share a folder)."""
    return f"{os.getpid()}-{secrets.token_hex(3)}"

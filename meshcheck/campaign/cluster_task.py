"""One run of a cluster campaign, as a worker runs it: `python -m meshcheck cluster test ...` in a
subprocess with its own seed and its own report folder in a temporary folder of the worker's
machine; what comes back is the verdict (the table it printed, its exit status) and the report
folder as a gzipped tar archive, bytes the controller unpacks where the campaign keeps its results.

The function is plain and module-level, so any engine ships it to its workers (a local process,
a Dask worker on another host); the runner that starts the subprocess is a parameter, so a test
gives a fake one."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

# what a runner returns: the exit status, what it printed on stdout and on stderr
Ran = tuple[int, str, str]
Runner = Callable[[list[str], Path], Ran]


@attrs.frozen
class Run:
    """One cluster test to run: `argv` is everything after `cluster test` but the seed, the report
    folder and the hosts file, which are the run's own."""

    seed: int
    argv: tuple[str, ...]
    hosts: str = ""

    def command(self, out: str) -> list[str]:
        """The `cluster test` arguments of this run, its report going to `out`."""
        hosts = ["--hosts", self.hosts] if self.hosts else []
        return [*self.argv, *hosts, "--seed", str(self.seed), "--out", out]


@attrs.frozen
class Outcome:
    """What a run found: its exit status (0 holds, 1 violated, 2 bad input, else it failed), the
    table it printed, the end of its stderr, its wall-clock seconds, the worker's host, and its
    report folder as a gzipped tar archive."""

    run: Run
    code: int
    verdict: str
    errors: str
    seconds: float
    worker: str
    archive: bytes


def subprocess_runner(argv: list[str], out: Path) -> Ran:
    """`python -m meshcheck cluster test ARGV` with this worker's interpreter (its own meshcheck)."""
    del out  # the report folder is in argv
    done = subprocess.run(
        [sys.executable, "-m", "meshcheck", "cluster", "test", *argv, "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def run_one(run: Run, runner: Runner = subprocess_runner) -> Outcome:
    """Run `run` in a temporary folder of this machine and bring back its verdict and report (the
    folder removed afterwards). Never raises for a failed run: a runner that raises is exit 3."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"meshcheck-seed-{run.seed}-") as tmp:
        out = Path(tmp) / "report"
        try:
            code, verdict, errors = runner(run.command(str(out)), out)
        except Exception as exc:  # the run failed on this worker: say so, go on
            code, verdict, errors = 3, "", f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - start
        archive = pack(out) if out.is_dir() else b""
    return Outcome(run, code, verdict, errors[-2000:], seconds, socket.gethostname(), archive)


def pack(folder: Path) -> bytes:
    """`folder`'s files as a gzipped tar archive, the paths relative to it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def unpack(archive: bytes, folder: Path) -> None:
    """An archive of `pack` written under `folder`: regular files only, no path leaving it."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            target = (root / member.name).resolve()
            if not member.isfile() or not target.is_relative_to(root):
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())

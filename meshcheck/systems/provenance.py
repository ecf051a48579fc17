"""What a report folder keeps of how it was made: the exact command line,
meshcheck's version (and the checkout's commit, where it runs from one), and what is known of the
system's version: its file (path and SHA-256) and the program its nodes run (resolved path and
SHA-256), and, where the file gives `version = { command = [...] }`, the first line that command
prints (run once, before the nodes start), so that a report can be matched to the binary it
tested. A run on hosts over SSH (`--hosts`) adds its hosts file (path and SHA-256) and each node's
host, and once connected, the program each host runs (resolved there, and its SHA-256 there:
remote_nodes.py `install`); the lines above it are then this machine's. Jepsen keeps the test's options in each store folder for the same reason
(jepsen/src/jepsen/store.clj, `test.fressian`)."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from meshcheck import __version__
from meshcheck.impl.runtime import process_tree
from meshcheck.systems import templates
from meshcheck.systems.hosts_file import Host
from meshcheck.systems.system_file import SystemFile

FILE = "run.txt"
VERSION_WAIT = 10.0  # seconds the file's version command has to answer


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _commit() -> str | None:
    """The commit of the checkout meshcheck runs from, if it runs from one (an installed wheel has
    none); a dirty tree is marked, as `git describe --dirty` does."""
    here = Path(__file__).resolve().parent
    try:
        said = subprocess.run(
            ["git", "-C", str(here), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return said.stdout.strip() or None if said.returncode == 0 else None


def _program(file: SystemFile) -> str:
    """The program the nodes' command names, as found (a `{here}` path, `{python}`, or on PATH): the first
    role's where every role has a command of its own and the file none for every node."""
    command = file.nodes.command or file.nodes.roles[0].command
    # {python}: meshcheck's own interpreter (the cores' files, known/cores/)
    word = command[0].replace("{here}", str(file.here)).replace("{python}", sys.executable)
    found = shutil.which(word) if "{" not in word else None
    if found is None:
        return f"{word} (not found at the start)"
    path = Path(found).resolve()
    return f"{path} sha256 {_sha256(path)}"


def _version(file: SystemFile) -> str | None:
    """The first line the file's version command prints (stdout, else stderr: `java -version`
    writes there), or what kept it from answering; None where the file gives no command. A
    command that fails is said here, not fatal: the run still tests the nodes' program, whose
    SHA-256 the line before keeps. Whatever the command starts ends with it (process_tree.py):
    a wrapper script that leaves a daemon running holding its output answers when it exits."""
    if not file.version:
        return None
    command = [templates.fill(word, {"here": str(file.here)}) for word in file.version]
    try:
        said = process_tree.run(command, VERSION_WAIT)
    except OSError as e:
        return f"unknown ({command[0]} could not run: {e.strerror})"
    if said.code is None:
        return f"unknown ({shlex.join(command)} did not answer within {VERSION_WAIT:g} s)"
    text = (said.out or said.err).decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else "(it printed nothing)"
    return first if said.code == 0 else f"{first} ({command[0]} exited with {said.code})"


def describe(
    argv: Sequence[str],
    file: SystemFile,
    hosts_file: Path | None = None,
    hosts: Sequence[tuple[str, Host]] = (),
) -> str:
    """The lines of FILE for a run of `file` started with `argv` (meshcheck's arguments), its
    nodes on `hosts` (node, host) from `hosts_file` when it runs on hosts over SSH."""
    commit = _commit()
    version = _version(file)
    return "".join(
        f"{key}: {value}\n"
        for key, value in (
            ("command", shlex.join(["meshcheck", *argv])),
            ("meshcheck", __version__ + (f" ({commit})" if commit else "")),
            ("system", f"{file.name}" + (f", {file.about}" if file.about else "")),
            ("system file", f"{file.path.resolve()} sha256 {_sha256(file.path)}"),
            ("system program", _program(file)),
            *((("system version", version),) if version is not None else ()),
            *(("set", given) for given in file.sets),
            *(("environment", f"{name}={value}") for name, value in file.environ),
            *(
                (("hosts file", f"{hosts_file.resolve()} sha256 {_sha256(hosts_file)}"),)
                if hosts_file is not None
                else ()
            ),
            *(
                (
                    f"host {host.name}",
                    f"{node} on {host.destination()}:{host.port}, work {host.work}, "
                    f"python {host.python}",
                )
                for node, host in hosts
            ),
        )
    )


def keep(
    folder: Path,
    argv: Sequence[str],
    file: SystemFile,
    hosts_file: Path | None = None,
    hosts: Sequence[tuple[str, Host]] = (),
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(describe(argv, file, hosts_file, hosts), encoding="utf-8")


def add(folder: Path, key: str, value: str) -> None:
    """One more line of FILE, learnt during the run (a host's program: remote_nodes.py)."""
    with (folder / FILE).open("a", encoding="utf-8") as f:
        f.write(f"{key}: {value}\n")

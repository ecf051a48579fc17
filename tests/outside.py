"""A package installed from outside the tree, as a user installs one beside meshcheck: the shared
machinery of tests/test_plugin_outside.py (docs/plugins.md) and tests/test_tutorial.py
(docs/tutorial-your-raft.md).

`fresh_venv` makes a virtual environment that sees this project's environment through a .pth file
(site.addsitedir, so that the editable install's own .pth files run too), with the `pip` and
`meshcheck` commands pip would have written into it. `with_backend` lets a package's source folder
build with the in-tree backend tests/wheel_backend.py, and `install` installs it with nothing
downloaded (`--no-deps --no-build-isolation --no-index`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path
from typing import Any

BACKEND = Path(__file__).with_name("wheel_backend.py")
# the [build-system] table of a package built by tests/wheel_backend.py, copied in as backend.py
IN_TREE = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""


def fresh_venv(folder: Path) -> Path:
    """A virtual environment in `folder` that sees this project's packages: its python."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    theirs = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_path("purelib")
    Path(theirs, "meshcheck-project.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for command in ("meshcheck", "pip"):
        script = folder / "bin" / command
        script.write_text(f'#!/bin/sh\nexec "{python}" -m {command} "$@"\n')
        script.chmod(0o755)
    return python


def with_backend(source: Path) -> Path:
    """`source`, a package's folder whose pyproject.toml names the in-tree backend, with it."""
    shutil.copyfile(BACKEND, source / "backend.py")
    return source


def install(python: Path, source: Path) -> None:
    pip = ["-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run([python, *pip, with_backend(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def environ(**extra: str) -> dict[str, str]:
    """This process's environment without pytest's variables (the commands run their own)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return {**kept, **extra}


def meshcheck(python: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A command in the environment of `python`, with the variables `env` set too."""
    return subprocess.run(
        [python, "-m", "meshcheck", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ(**env),
    )


def pyproject(name: str, descriptor: str) -> str:
    """The pyproject.toml of the plug-in `name`, built by the in-tree backend: the distribution
    NAME-meshcheck, its entry point the constant `descriptor` of NAME_meshcheck/descriptor.py."""
    return f"""\
{IN_TREE}
[project]
name = "{name}-meshcheck"
version = "0.1"

[project.entry-points."meshcheck.protocols"]
{name} = "{name}_meshcheck.descriptor:{descriptor}"
"""


def plugin_source(
    folder: Path, pyproject: str, descriptor: str, tests: str, test_file: str
) -> Path:
    """The source of a plug-in distribution in `folder`: pyproject.toml, and its package (named by
    the folder, "_meshcheck" after it) holding descriptor.py and the tests package with `test_file`."""
    package = folder / f"{folder.name}_meshcheck"
    (package / "tests").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(pyproject)
    (package / "__init__.py").write_text("")
    (package / "descriptor.py").write_text(descriptor)
    (package / "tests" / "__init__.py").write_text("")
    (package / "tests" / test_file).write_text(tests)
    return folder


def verify_checks(
    python: Path, protocol: str, *only: str, cwd: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """The command and the rows of `meshcheck verify --protocol PROTOCOL --only ...` on one worker, from its JSON
    report in `cwd`; the command must exit 0."""
    report = cwd / "verify.json"
    done = meshcheck(
        python,
        *("verify", "--protocol", protocol, "--profile", "default"),
        *(arg for kind in only for arg in ("--only", kind)),
        *("--workers", "1", "--json", str(report)),
        cwd=cwd,
        **env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(report.read_text())["checks"]

"""docs/tutorial-your-raft.md, run: the tutorial's package is written from the page's own code
blocks, installed into a fresh virtual environment (tests/outside.py), and every command of its
shell blocks runs there, in order, with the outcome the page shows under it.

The page's conventions, which this test reads:

- a code block whose first line is `# PATH` (PATH ending in .py or .toml) is the package's file
  PATH, written as it stands; pyproject.toml's [build-system] alone is swapped for the in-tree
  backend (tests/wheel_backend.py: nothing downloaded, and setuptools cannot build a wheel here);
- a code block whose first line is `# from PATH` is an excerpt of the repository's file PATH, and
  must stand in it to the letter;
- `console` blocks are shell sessions, run as every page's are (tests/shell_docs.py: the lines
  each command must show, `echo $?` for an exit status the page expects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import outside
from tests.shell_docs import Session
from tests.shell_docs import commands
from tests.shell_docs import run_page

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "tutorial-your-raft.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
FILE = re.compile(r"# ([\w./-]+\.(?:py|toml))")
EXCERPT = re.compile(r"# from ([\w./-]+)")
BUILD_SYSTEM = re.compile(r"^\[build-system\]\n(?:.+\n)*", re.M)


def blocks(text: str) -> Iterator[tuple[str, str]]:
    """(language, body) of each fenced code block of `text`."""
    for found in BLOCK.finditer(text):
        yield found.group(1), found.group(2)


def files(text: str) -> dict[str, str]:
    """The package's files: the blocks whose first line names a path."""
    named = {}
    for _, body in blocks(text):
        found = FILE.fullmatch(body.split("\n", 1)[0])
        if found:
            assert found.group(1) not in named, f"two blocks are {found.group(1)}"
            named[found.group(1)] = body
    return named


def package(text: str, folder: Path) -> Path:
    """The tutorial's package written into `folder`, its backend the in-tree one."""
    for path, body in files(text).items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path == "pyproject.toml":
            body, swapped = BUILD_SYSTEM.subn(outside.IN_TREE, body)
            assert swapped == 1, "pyproject.toml has one [build-system] table"
        target.write_text(body)
    return outside.with_backend(folder)


def test_the_layout_is_the_files_shown() -> None:
    """The tree of section 1 lists the files the page's blocks are, and only those."""
    text = DOC.read_text()
    [tree] = [body for language, body in blocks(text) if body.startswith("myraft-meshcheck/\n")]
    listed, folders = set(), ["."]
    for line in tree.splitlines()[1:]:
        depth, name = (len(line) - len(line.lstrip())) // 2, line.split()[0]
        del folders[depth:]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        else:
            listed.add("/".join([*folders[1:], name]))
    assert listed == set(files(text))


def test_the_excerpts_stand_in_the_repository() -> None:
    shown = 0
    for _, body in blocks(DOC.read_text()):
        first, _, rest = body.partition("\n")
        found = EXCERPT.fullmatch(first)
        if found:
            shown += 1
            assert rest in (ROOT / found.group(1)).read_text(), f"not in {found.group(1)}:\n{rest}"
    assert shown >= 2


def test_plugins_md_links_the_tutorial() -> None:
    assert "(tutorial-your-raft.md)" in (ROOT / "docs" / "plugins.md").read_text()


def test_the_package_imports_only_installed_meshcheck() -> None:
    """What the package calls is meshcheck's installed, public API: no file imports the `tests`
    folder of a checkout, which is not installed with meshcheck."""
    imports = re.compile(r"^\s*(?:from|import) (\w+)", re.M)
    for path, body in files(DOC.read_text()).items():
        found = set(imports.findall(body))
        assert "tests" not in found, f"{path} imports the checkout's tests"
        assert (
            found & {"meshcheck", "myraft_meshcheck"}
            or path.endswith("__init__.py")
            or (path == "pyproject.toml")
        )


@pytest.mark.slow  # 52 s: a fresh venv, the plug-in's tests and mutants. make test keeps the page's
# files and excerpts (above) and an outside plug-in installed and run (tests/test_plugin_outside.py)
def test_the_tutorial_runs(tmp_path: Path) -> None:
    """Every command of the page, in order, in the package's folder, in a fresh virtual
    environment that sees meshcheck as installed (no checkout on the module path)."""
    text = DOC.read_text()
    python = outside.fresh_venv(tmp_path / "venv")
    source = package(text, tmp_path / "myraft-meshcheck")
    kept = {k: v for k, v in outside.environ().items() if k != "PYTHONPATH"}
    environ = {**kept, "PATH": f"{python.parent}:{kept['PATH']}", "PIP_NO_INDEX": "1"}
    first = next(body for language, body in blocks(text) if language == "console")
    assert commands(first)[0].line == "pip install ."
    assert run_page(DOC, Session(source, environ)) >= 10

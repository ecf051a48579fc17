"""docs/tutorial-your-raft.md, run: the tutorial's package is written from the page's own code
blocks, installed into a fresh virtual environment (tests/outside.py), and every command of its
shell blocks runs there, in order, with the outcome the page shows under it.

The page's conventions, which this test reads:

- a code block whose first line is `# PATH` (PATH ending in .py or .toml) is the package's file
  PATH, written as it stands; pyproject.toml's [build-system] alone is swapped for the in-tree
  backend (tests/wheel_backend.py: nothing downloaded, and setuptools cannot build a wheel here);
- a code block whose first line is `# from PATH` is an excerpt of the repository's file PATH, and
  must stand in it to the letter;
- a `console` block holds commands (`$ ` lines), each followed by the lines its stdout must show,
  in that order (`...` within a line stands for any text). `echo $?` shows the exit code of the
  command before it; any other command that exits non-zero must be followed by one.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests import outside

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "tutorial-your-raft.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
FILE = re.compile(r"# ([\w./-]+\.(?:py|toml))")
EXCERPT = re.compile(r"# from ([\w./-]+)")
BUILD_SYSTEM = re.compile(r"^\[build-system\]\n(?:.+\n)*", re.M)
PROMPT = "$ "
EXIT = "echo $?"


@attrs.frozen
class Command:
    line: str
    shows: tuple[str, ...]  # the lines shown under it


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


def commands(text: str) -> list[Command]:
    """The console blocks' commands, each with the lines shown under it."""
    found: list[Command] = []
    for language, body in blocks(text):
        if language != "console":
            continue
        lines = body.splitlines()
        assert lines and lines[0].startswith(PROMPT), f"a console block starts with no $: {body}"
        starts = [k for k, line in enumerate(lines) if line.startswith(PROMPT)] + [len(lines)]
        for start, end in itertools.pairwise(starts):
            shown = tuple(line for line in lines[start + 1 : end] if line != "...")
            found.append(Command(lines[start].removeprefix(PROMPT), shown))
    return found


def pattern(line: str) -> re.Pattern[str]:
    """A shown line as a pattern of a whole output line: `...` is any text."""
    return re.compile(".*".join(re.escape(part) for part in line.split("...")))


def missing(shown: tuple[str, ...], output: str) -> str | None:
    """The first shown line not found in `output` after the ones before it, else None."""
    lines = iter(output.splitlines())
    for line in shown:
        wanted = pattern(line)
        if not any(wanted.fullmatch(out.rstrip()) for out in lines):
            return line
    return None


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


def test_the_tutorial_runs(tmp_path: Path) -> None:
    """Every command of the page, in order, in the package's folder, in a fresh virtual
    environment; the meshcheck checkout on PYTHONPATH, as the tutorial asks."""
    text = DOC.read_text()
    python = outside.fresh_venv(tmp_path / "venv")
    source = package(text, tmp_path / "myraft-meshcheck")
    environ = outside.environ(
        PATH=f"{python.parent}:{outside.environ()['PATH']}", PYTHONPATH=str(ROOT), PIP_NO_INDEX="1"
    )
    ran = commands(text)
    assert ran and ran[0].line == "pip install ."
    previous: subprocess.CompletedProcess[str] | None = None
    for k, command in enumerate(ran):
        if command.line == EXIT:
            assert previous is not None
            output, previous = f"{previous.returncode}\n", None
        else:
            assert previous is None or previous.returncode == 0, (
                f"$ {previous.args[2]} exited {previous.returncode}, and the page shows no "
                f"`echo $?` after it:\n{previous.stdout}{previous.stderr}"
            )
            previous = subprocess.run(
                ["bash", "-c", command.line],
                capture_output=True,
                text=True,
                cwd=source,
                env=environ,
                timeout=300,
            )
            output = previous.stdout
        absent = missing(command.shows, output)
        assert absent is None, (
            f"$ {command.line} (command {k + 1}) shows no line {absent!r}:\n{output}"
            + (previous.stderr if previous is not None else "")
        )
    assert previous is None or previous.returncode == 0, previous.stderr


@pytest.mark.parametrize(
    ("shown", "output", "absent"),
    [
        (("a ... c", "d"), "x\na b c\nd\n", None),
        (("d", "a ... c"), "a b c\nd\n", "a ... c"),  # in that order
        (("a",), "ab\n", "a"),  # a whole line
    ],
)
def test_shown_lines_are_matched_in_order(
    shown: tuple[str, ...], output: str, absent: str | None
) -> None:
    assert missing(shown, output) == absent

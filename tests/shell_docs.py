"""Shell sessions in the documentation, run as written: a Sybil parser for Markdown `console` blocks.

Sybil (https://sybil.readthedocs.io) finds the blocks and keeps their page and line; this module
says what a session means. The conventions, the same on every page:

- a `console` block holds commands (`$ ` lines), each followed by the lines its stdout must show,
  in that order, among whatever else it prints (`...` within a line stands for any text; a line
  that is `...` alone only says that lines were left out);
- `echo $?` shows the exit status of the command before it; any other command that exits non-zero
  must be followed by one, so a failing command the page does not expect fails the page;
- the commands of one page run one after another in one working folder, so a later block reads
  what an earlier one wrote.

`Session` is the state of one page's run; `SessionParser` gives Sybil an evaluator bound to it.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import attrs
from sybil import Example
from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser

PROMPT = "$ "
EXIT = "echo $?"


@attrs.frozen
class Command:
    line: str
    shows: tuple[str, ...]  # the lines shown under it


def commands(body: str) -> list[Command]:
    """One console block's commands, each with the lines shown under it."""
    lines = body.splitlines()
    assert lines and lines[0].startswith(PROMPT), f"a console block starts with no $: {body}"
    starts = [k for k, line in enumerate(lines) if line.startswith(PROMPT)] + [len(lines)]
    found = []
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


@attrs.define
class Session:
    """One page's shell: its folder, its environment, the command whose status is still unshown."""

    cwd: Path
    env: Mapping[str, str]
    timeout: float = 300.0
    ran: int = 0
    previous: subprocess.CompletedProcess[str] | None = None

    def run(self, command: Command) -> str | None:
        """Run one command; what is wrong with its outcome, or None."""
        self.ran += 1
        if command.line == EXIT:
            if self.previous is None:
                return "`echo $?` follows no command"
            output, self.previous = f"{self.previous.returncode}\n", None
            stderr = ""
        else:
            unshown = self.unshown()
            if unshown:
                return unshown
            self.previous = subprocess.run(
                ["bash", "-c", command.line],
                capture_output=True, text=True, cwd=self.cwd, env=dict(self.env),
                timeout=self.timeout, check=False,
            )  # fmt: skip
            output, stderr = self.previous.stdout, self.previous.stderr
        absent = missing(command.shows, output)
        if absent is not None:
            return f"$ {command.line} shows no line {absent!r}:\n{output}{stderr}"
        return None

    def unshown(self) -> str | None:
        """The last command's failure, when the page showed no `echo $?` after it."""
        p = self.previous
        if p is not None and p.returncode != 0:
            return (
                f"$ {p.args[2]} exited {p.returncode}, and the page shows no `echo $?` after "
                f"it:\n{p.stdout}{p.stderr}"
            )
        return None

    def evaluate(self, example: Example) -> str | None:
        for command in commands(str(example.parsed)):
            wrong = self.run(command)
            if wrong is not None:
                return wrong
        return None


def run_page(page: Path, session: Session) -> int:
    """Every console block of `page`, in order, in `session`; how many commands ran. A block that
    goes wrong raises Sybil's failure, which names the page and the block's line."""
    for example in Sybil([SessionParser(session)], path=str(page.parent)).parse(page):
        example.evaluate()
    unshown = session.unshown()
    assert unshown is None, f"{page}: {unshown}"
    return session.ran


class SessionParser(CodeBlockParser):
    """The `console` blocks of a page, each evaluated in `session`."""

    language = "console"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def evaluate(self, example: Example) -> str | None:
        return self.session.evaluate(example)

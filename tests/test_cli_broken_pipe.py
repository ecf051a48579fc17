"""A broken pipe of meshcheck's own (a helper daemon it writes to died: LazyFS's, issue [23] item 4
(b)) is one line naming it; a reader of stdout gone away (`| head`) is still the quiet 141."""

from __future__ import annotations

import os
import subprocess
import sys

# main() with a command whose work breaks a pipe, as writing to a dead daemon's socket does
SCRIPT = """
import sys
from meshcheck import cli

def dispatch(args):
    raise BrokenPipeError(32, "Broken pipe (the lazy file system's control socket)")

cli._dispatch = dispatch
sys.exit(cli.main(["cluster", "down"]))
"""


def _run(stdout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], stdout=stdout, stderr=subprocess.PIPE, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_a_helper_that_died_is_one_line_not_a_silent_141() -> None:
    said = _run(subprocess.PIPE)  # stdout's reader is there all along
    assert said.returncode == 2, said
    assert said.stderr.splitlines() == [
        "meshcheck: a helper process meshcheck writes to died: "
        "[Errno 32] Broken pipe (the lazy file system's control socket)"
    ], said.stderr


def test_a_reader_gone_away_is_still_the_quiet_141() -> None:
    read, write = os.pipe()
    os.close(read)  # `| head` that has read its lines
    try:
        said = _run(write)
    finally:
        os.close(write)
    assert said.returncode == 141, said
    assert said.stderr == ""

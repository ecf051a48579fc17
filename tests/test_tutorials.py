"""The pages that teach a task run as written: every command of their `console` blocks, in order,
in a folder of its own, with the output and exit status each page shows (tests/shell_docs.py has
the conventions; Sybil reads the pages). The pages whose commands start clusters, servers or whole
verify runs are tests/test_tutorials_processes.py's (a file of their own, which pytest-xdist runs
beside this one); docs/tutorial-your-raft.md, which installs a package of its own,
tests/test_tutorial.py's."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.shell_docs import Session
from tests.shell_docs import missing
from tests.shell_docs import run_page

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "README.md",
    "docs/tutorial-counterexample.md",
    "docs/histories.md",
    "docs/history-checkers.md",
    # seven `meshcheck validate` runs, a JVM each (16 to 19 CPU-s): README.md's page runs its first
    # command, the same, and each log it validates is validated in make test by its spec's tests
    # (tests/test_validate_pbft.py, _hotstuff.py, _hybrid.py, _regressions.py, tests/test_logs.py)
    pytest.param(
        "docs/logs.md",
        marks=pytest.mark.moved(
            stand_in="tests/test_tutorials.py::test_the_page_runs_as_written[README.md]",
            why="`meshcheck validate --spec PBFT tests/data/logs/pbft-run.ndjson`, the page's "
            "first command, as README.md shows it; its other logs' verdicts by the spec's "
            "validate tests",
        ),
    ),
    "docs/driver-protocol.md",
    "docs/reference/itf.md",
    *(f"docs/specs/{name}.md" for name in ("raft", "pbft", "gossip")),
    # each runs `meshcheck prove` on a proof set of five to six CPU-seconds, the command the
    # pages above run on smaller ones; the sets themselves are proved, every obligation named,
    # in make test (test_real_model_proves_every_obligation of tests/test_models_threat.py and
    # tests/test_models_hotstuff.py)
    *(
        pytest.param(
            f"docs/specs/{name}.md",
            marks=pytest.mark.moved(
                stand_in="tests/test_tutorials.py::test_the_page_runs_as_written[docs/specs/raft.md]",
                why=f"`meshcheck prove` as a spec page shows it (its table and totals line), run "
                f"by raft.md's page; the {name} proof set (every obligation proved) by {test}",
            ),
        )
        for name, test in (
            ("hotstuff", "tests/test_models_hotstuff.py::test_real_model_proves_every_obligation"),
            ("threatlevel", "tests/test_models_threat.py::test_real_model_proves_every_obligation"),
        )
    ),
]
# what the pages name by its path in the repository; anything they write lands in the folder
LINKED = ("docs", "drivers", "examples", "specs", "tests", "traces")


def session(folder: Path) -> Session:
    folder.mkdir(exist_ok=True)
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return Session(folder, env)


def run_in_a_folder(page: str, folder: Path) -> None:
    """`page`'s commands in `folder`; a server the page starts (its pid file in the folder) ends
    with the test, however the test ends."""
    try:
        assert run_page(ROOT / page, session(folder)) >= 1  # a page with no command fails
    finally:
        for pidfile in folder.glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_written(page: str, tmp_path: Path) -> None:
    run_in_a_folder(page, tmp_path)


def test_a_page_whose_output_changed_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```console\n$ echo one\ntwo\n```\n")
    with pytest.raises(AssertionError, match="shows no line 'two'"):
        run_page(page, session(tmp_path))


def test_a_failing_command_the_page_does_not_expect_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```console\n$ false\n```\n\nText.\n")
    with pytest.raises(AssertionError, match="exited 1, and the page shows no `echo"):
        run_page(page, session(tmp_path))
    page.write_text("```console\n$ false\n$ echo $?\n1\n```\n")
    assert run_page(page, session(tmp_path / "again")) == 2


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

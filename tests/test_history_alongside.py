"""The loss count of a large history beside its check, in a forked child
(meshcheck/traces/history/alongside.py): the same text as one after the other, whatever the child
does, and no child left behind."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.traces.history import alongside
from tests.test_history_losses import _op as op

_ALONE = alongside.alone  # the real one, before the fixture replaces it

two_cores = pytest.mark.skipif(alongside.cores() < 2, reason="one core: nothing runs alongside")


@pytest.fixture(autouse=True)
def _alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process taken to run no other thread, whatever threads the tests before left in this
    worker (a library's pool, a timer): the child's own work here takes no lock."""
    monkeypatch.setattr(alongside, "alone", lambda: True)


def _gone(pid: int) -> bool:
    """Whether child `pid` has been waited for (no zombie left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@two_cores
def test_the_side_runs_in_a_child_while_the_main_part_runs_here() -> None:
    here = os.getpid()
    result, text = alongside.alongside(os.getpid, lambda: str(os.getpid()), size=alongside.LARGE)
    assert result == here and int(text) != here
    assert _gone(int(text))


def test_a_small_history_or_one_core_keeps_both_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = str(os.getpid())
    assert alongside.alongside(lambda: 1, lambda: str(os.getpid()), size=0) == (1, here)
    monkeypatch.setattr(alongside, "cores", lambda: 1)
    assert alongside.alongside(lambda: 1, lambda: str(os.getpid()), size=alongside.LARGE) == (
        1,
        here,
    )


def test_another_thread_keeps_both_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """`alone` itself (the fixture's stand-in put back): false while a thread runs, and then
    nothing forks."""
    monkeypatch.setattr(alongside, "alone", _ALONE)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not alongside.alone()
        here = str(os.getpid())
        assert alongside.alongside(lambda: 1, lambda: str(os.getpid()), size=alongside.LARGE) == (
            1,
            here,
        )
    finally:
        stop.set()
        thread.join()


@two_cores
def test_a_long_text_comes_back_whole_through_the_pipe() -> None:
    # 4 MB: many times a pipe's buffer; keys of any script, and a lone surrogate (a file name's)
    long = "".join(f"{i} 'ключ' \udc80\n" for i in range(300_000))
    assert alongside.alongside(lambda: None, lambda: long, size=alongside.LARGE) == (None, long)


@two_cores
def test_a_child_that_fails_has_its_part_run_again_here() -> None:
    here = os.getpid()

    def side() -> str:
        if os.getpid() != here:
            raise MemoryError  # the child's alone
        return "counted here"

    assert alongside.alongside(lambda: 1, side, size=alongside.LARGE) == (1, "counted here")


@two_cores
def test_an_error_of_the_side_is_raised_here_as_without_a_child() -> None:
    def side() -> str:
        raise ValueError("no count")

    with pytest.raises(ValueError, match="no count"):
        alongside.alongside(lambda: 1, side, size=alongside.LARGE)


@two_cores
def test_an_error_of_the_main_part_ends_the_child_before_it_is_raised(tmp_path: Path) -> None:
    """The child is blocked writing more than the pipe holds when the main part fails: it is
    ended and waited for, and the main part's error comes out."""
    mark = tmp_path / "child"

    def side() -> str:
        mark.write_text(str(os.getpid()))
        return "x" * 1_000_000

    def failing() -> None:
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyError("main")

    with pytest.raises(KeyError, match="main"):
        alongside.alongside(failing, side, size=alongside.LARGE)
    assert _gone(int(mark.read_text()))


@two_cores
@pytest.mark.parametrize(
    ("model", "ops"),
    [
        (
            "list-append",
            [
                *op(1, "txn", [["append", "x", 1], ["append", "y", 1]]),
                *op(2, "txn", [["append", "x", 2]]),
                *op(3, "txn", [["r", "x", None]], [["r", "x", [1]]]),
                *op(4, "txn", [["r", "y", None]], [["r", "y", [1, 1]]]),
            ],
        ),
        ("rw-register", [*op(1, "txn", [["w", "x", 1]]), *op(2, "txn", [["r", "x", None]])]),
    ],
)
def test_a_command_prints_the_same_with_its_count_alongside(
    model: str,
    ops: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in ops), encoding="utf-8")
    printed = []
    for large in (1_000_000, 0):  # one after the other, then every history large
        monkeypatch.setattr(alongside, "LARGE", large)
        assert main(["history", "check", str(path), "--model", model]) == 1
        # the check's own seconds, which the verdict line prints, aside
        printed.append(re.sub(r"\d+\.\d\d s\)", "? s)", capsys.readouterr().out, count=1))
    assert printed[0] == printed[1]
    assert "? s)" in printed[1] and " 1 lost," in printed[1] and printed[1].endswith("\n")

"""meshcheck/progress.py: what a long TLC run prints while it runs, on a terminal and in a log."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from meshcheck import progress
from meshcheck.progress import ProgressPrinter
from meshcheck.specs.tlc.check import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _at(distinct: int, seconds: float) -> Progress:
    return Progress(generated=2 * distinct, distinct=distinct, queue=7, seconds=seconds)


def test_a_log_gets_the_first_report_at_once_then_one_line_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    # the printer's clock only, not the time module everyone shares
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    out = io.StringIO()
    printer = ProgressPrinter("Raft_quick", stream=out, every=10.0)
    for k in range(25):  # a report a second for 25 s
        printer(_at(1000 * (k + 1), float(k)))
        clock[0] += 1.0
    printer.done()
    assert out.getvalue().splitlines() == [
        "Raft_quick: 1,000 distinct states, 2,000 generated, queue 7, 0s",
        "Raft_quick: 11,000 distinct states, 22,000 generated, queue 7, 10s",
        "Raft_quick: 21,000 distinct states, 42,000 generated, queue 7, 20s",
    ]


def test_a_terminal_gets_one_line_rewritten_and_cleared_before_the_result() -> None:
    out = _Terminal()
    printer = ProgressPrinter("PBFT_quick", stream=out)
    printer(_at(5, 1.0))
    printer(_at(9, 2.0))
    assert out.getvalue() == (
        "\r\x1b[KPBFT_quick: 5 distinct states, 10 generated, queue 7, 1s"
        "\r\x1b[KPBFT_quick: 9 distinct states, 18 generated, queue 7, 2s"
    )
    printer.done()
    assert out.getvalue().endswith("\r\x1b[K")


def test_done_without_a_report_prints_nothing() -> None:
    for out in (io.StringIO(), _Terminal()):
        ProgressPrinter("x", stream=out).done()
        assert out.getvalue() == ""

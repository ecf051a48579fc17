"""tests/moved.py: a moved test becomes slow, and a stand-in that is not in `make test` stops the run."""

from __future__ import annotations

from typing import Any

import pytest

from tests import moved


class _Item:
    """What moved.apply reads of a pytest item: its node id and its markers."""

    def __init__(self, nodeid: str, *marks: pytest.MarkDecorator) -> None:
        self.nodeid = nodeid
        self.marks = [m.mark for m in marks]

    def get_closest_marker(self, name: str) -> Any:
        return next((m for m in self.marks if m.name == name), None)

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.marks.append(mark.mark)


def _apply(*items: _Item) -> None:
    moved.apply(list(items))  # type: ignore[arg-type]


def _moved(stand_in: str, why: str = "the same system") -> pytest.MarkDecorator:
    return pytest.mark.moved(stand_in=stand_in, why=why)


def test_a_moved_test_is_slow_and_its_stand_in_stays() -> None:
    stays = _Item("tests/test_a.py::test_kept[3]")
    gone = _Item("tests/test_a.py::test_heavy", _moved("tests/test_a.py::test_kept"))
    _apply(stays, gone)
    assert gone.get_closest_marker("slow") is not None
    assert stays.get_closest_marker("slow") is None


@pytest.mark.parametrize(
    ("stand_in", "stand_in_marks", "said"),
    [
        ("tests/test_a.py::test_renamed", (), "is no test"),
        ("tests/test_a.py::test_kept", (pytest.mark.slow,), "is not in make test"),
        (
            "tests/test_a.py::test_kept",
            (_moved("tests/test_a.py::test_heavy"),),
            "is not in make test",
        ),
        ("", (), "needs stand_in= and why="),
    ],
)
def test_a_stand_in_that_is_not_in_make_test_stops_the_run(
    stand_in: str, stand_in_marks: tuple[pytest.MarkDecorator, ...], said: str
) -> None:
    kept = _Item("tests/test_a.py::test_kept", *stand_in_marks)
    gone = _Item("tests/test_a.py::test_heavy", _moved(stand_in))
    with pytest.raises(pytest.UsageError, match=said):
        _apply(kept, gone)


def test_a_stand_in_in_a_file_this_run_did_not_collect_is_not_judged() -> None:
    gone = _Item("tests/test_a.py::test_heavy", _moved("tests/test_b.py::test_elsewhere"))
    _apply(gone)
    assert gone.get_closest_marker("slow") is not None


def test_a_move_without_a_reason_stops_the_run() -> None:
    kept = _Item("tests/test_a.py::test_kept")
    gone = _Item("tests/test_a.py::test_heavy", _moved("tests/test_a.py::test_kept", why=""))
    with pytest.raises(pytest.UsageError, match="needs stand_in= and why="):
        _apply(kept, gone)

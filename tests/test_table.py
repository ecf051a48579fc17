"""meshcheck/table.py: the one table every summary prints, and its fitted form that keeps lines
within table.WIDE without losing a word."""

from __future__ import annotations

from meshcheck import table


def test_a_cell_too_long_for_the_line_is_cut_there_and_printed_whole_below() -> None:
    rows = [("a", "1", "short"), ("b", "2", "word " * 60)]
    text = table.format_fitted(("name", "n", "detail"), rows, right=(1,), width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[2].startswith("| a    | 1 | short ")
    assert lines[3].startswith("| b    | 2 | word word") and lines[3].endswith("... |")
    below = " ".join(line.strip() for line in lines[lines.index("") + 1 :])
    assert below == "b: " + ("word " * 60).strip()


def test_a_table_that_fits_is_format_tables_own() -> None:
    rows = [("a", "1", "short")]
    assert table.format_fitted(("name", "n", "detail"), rows) == table.format_table(
        ("name", "n", "detail"), rows
    )

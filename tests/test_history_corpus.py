"""The stored client histories (traces/histories/) get the verdicts their index expects, and
`meshcheck verify` shows each as a row; a broken index is one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import stored
from meshcheck.verify import history_rows

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = stored.entries(stored.folder(ROOT))


def test_the_corpus_has_both_verdicts() -> None:
    assert {e.expect for e in ENTRIES} == {"linearizable", "not linearizable"}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.path.name)
def test_each_stored_history_gets_its_verdict(entry: stored.Stored) -> None:
    outcome = stored.check(entry)
    assert outcome.verdict == entry.expect
    assert outcome.ok


def test_verify_rows_pass_and_a_wrong_expectation_fails(tmp_path: Path) -> None:
    rows = list(history_rows(ROOT))
    assert len(rows) == len(ENTRIES)
    assert all(r.result == "pass" for r in rows), rows
    # the same history with the opposite expectation is a failing row, not a pass
    where = tmp_path / "traces" / "histories"
    where.mkdir(parents=True)
    first = ENTRIES[0]
    (where / first.path.name).write_bytes(first.path.read_bytes())
    other = "linearizable" if first.expect != "linearizable" else "not linearizable"
    (where / "index.toml").write_text(
        f'[[history]]\nfile = "{first.path.name}"\nmodel = "{first.model}"\nexpect = "{other}"\n'
    )
    (row,) = history_rows(tmp_path)
    assert row.result == "FAIL"
    assert f"expected {other}" in row.detail


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('[[history]]\nmodel = "kv"\nexpect = "linearizable"\n', "field 'file'"),
        ('[[history]]\nfile = "h.jsonl"\nmodel = "nope"\nexpect = "linearizable"\n', "model"),
        ('[[history]]\nfile = "h.jsonl"\nmodel = "kv"\nexpect = "holds"\n', "expect"),
        ('[[history]]\nfile = "missing.jsonl"\nmodel = "kv"\nexpect = "linearizable"\n', "no file"),
        ("[[history]\n", "cannot read"),
    ],
)
def test_a_broken_index_is_one_line(tmp_path: Path, body: str, says: str) -> None:
    (tmp_path / "h.jsonl").write_text("")
    (tmp_path / "index.toml").write_text(body)
    with pytest.raises(MeshcheckError, match=says) as info:
        stored.entries(tmp_path)
    assert "\n" not in str(info.value)

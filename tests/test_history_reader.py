"""A history file that cannot be read or parsed is refused in the same one line, naming the file
and the line, and `meshcheck history check` exits 2, whichever checker reads it: the
linearizability models (traces/history/jepsen.py) and the checkers of their own format
(traces/history/events.py) read through one reader (traces/history/reader.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.traces.history import reader
from tests.test_history_cmd import meshcheck

INVOKE = '{"process": 0, "type": "invoke", "f": "read", "value": null}'
# the file's name, its bytes, what the one line says after "NAME"
BAD = [
    ("h.jsonl", f"{INVOKE}\n\n{{oops\n".encode(), ":3: not JSON: Expecting property name"),
    ("h.jsonl", b"[1, 2]\n", ":1: expected a JSON object"),
    ("h.jsonl", b"\xff\xfe\n", ": cannot read: 'utf-8' codec can't decode"),
    ("h.edn", b"[{:type :invoke, :process 0}\n 7]\n", ":2: expected an EDN map (one event), not a"),
    ("h.edn", b"]\n", ":1: not EDN: ] closes nothing"),
    ("h.txt", b"{:type :invoke, :f :read}\n:x\n", ":2: expected an EDN map (one event), not a"),
]


@pytest.mark.parametrize("model", ["register", "list-append", "stream", "watch"])
@pytest.mark.parametrize(("name", "data", "says"), BAD)
def test_a_bad_file_is_one_line_naming_it_and_exit_2(
    model: str, name: str, data: bytes, says: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    done = meshcheck("history", "check", str(path), "--model", model, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"meshcheck: {path}{says}"), done.stderr


@pytest.mark.parametrize("model", ["register", "list-append"])
def test_a_missing_file_is_one_line_and_exit_2(model: str, tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    done = meshcheck("history", "check", str(path), "--model", model, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"meshcheck: {path}: cannot read: "), done.stderr


# -- reader.plain: the one-pass reading of an ASCII JSON lines file (list-append's) --------------

_T = '{"process": 0, "type": "%s", "f": "txn", "value": [["append", "x", %s]]}'


@pytest.mark.parametrize(
    "data",
    [
        f"{_T % ('invoke', 1)}\n\n  \t\n{_T % ('ok', 1)}\r\n".encode(),
        f"{_T % ('invoke', 2)}\r{_T % ('ok', 2)}".encode(),  # \r ends a line; no last newline
    ],
)
def test_plain_reads_the_events_and_lines_read_reads(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(data)
    plain = reader.plain(path)
    assert plain is not None
    assert list(plain) == list(reader.read(path))


def test_plain_leaves_to_read_what_it_would_number_or_read_otherwise(tmp_path: Path) -> None:
    """A blank line holding \\f or \\v is more than one line to str.splitlines (`read`); a raw
    U+2028 in a string ends a line there too, and a file that is not ASCII is `read`'s."""
    path = tmp_path / "h.jsonl"
    path.write_bytes(f"{_T % ('invoke', 1)}\n\x0c\n{_T % ('ok', 1)}\n".encode())
    assert [line for line, _ in reader.read(path)] == [1.0, 4.0]
    plain = reader.plain(path)
    assert plain is not None
    with pytest.raises(reader.Irregular):
        list(plain)
    path.write_text(_T % ("invoke", '"a\u2028b"') + "\n", encoding="utf-8")
    assert reader.plain(path) is None
    for data in (b"[1]\n", b"{oops\n"):
        path.write_bytes(data)
        plain = reader.plain(path)
        assert plain is not None
        with pytest.raises(reader.Irregular):
            list(plain)
    assert reader.plain(tmp_path / "none.jsonl") is None
    edn = tmp_path / "h.txt"
    edn.write_bytes(b"{:type :invoke, :process 0, :f :txn}\n")
    assert reader.plain(edn) is None

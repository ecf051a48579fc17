"""A history file that cannot be read or parsed is refused in the same one line, naming the file
and the line, and `meshcheck history check` exits 2, whichever checker reads it: the
linearizability models (traces/history/jepsen.py) and the checkers of their own format
(traces/history/events.py) read through one reader (traces/history/reader.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

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

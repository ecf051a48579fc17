"""Jepsen's own history files (history.edn) read by `meshcheck history check`: the shapes Jepsen
writes (one map a line with extra fields and nemesis events, one vector of maps, tagged records,
jepsen.independent tuples), and malformed files, each one line naming the line and field, exit 2."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import edn
from meshcheck.traces.history import jepsen
from meshcheck.traces.history import reader
from meshcheck.traces.history.models import MODELS
from tests.test_history_cmd import meshcheck
from tests.test_history_window import NS

CAS = MODELS["cas-register"]
KV = MODELS["kv"]

# as Jepsen's store writes it: one op a line, nemesis ops with sets, lists and maps in :value,
# extra fields (:time in nanoseconds, :index, :error, :source)
LINES = """\
{:type :invoke, :f :write, :value 3, :time 2108734689, :process 4, :index 0}
{:type :info, :f :start-partition, :value {"n2" #{"n5" "n1"}, "n4" #{"n5" "n1"}}, :time 2121465497, :process :nemesis, :index 1}
{:type :invoke, :f :read, :value nil, :time 2130000000, :process 2, :index 2}
{:type :ok, :f :write, :value 3, :time 2314781208, :process 4, :index 3}
{:type :info, :f :kill, :value ("n5" "n4"), :time 2573073782, :process :nemesis, :index 4}
{:type :ok, :f :read, :value 3, :time 2600000000, :process 2, :index 5}
{:type :invoke, :f :cas, :value [3 4], :time 2700000000, :process 1, :index 6}
{:type :invoke, :f :cas, :value [9 9], :time 2710000000, :process 0, :index 7}
{:type :fail, :f :cas, :value [9 9], :time 2720000000, :process 0, :index 8, :error :cas-mismatch}
{:type :info, :f :cas, :value [3 4], :time 2800000000, :process 1, :index 9, :error [:timeout "no answer"]}
{:type :invoke, :f :read, :value nil, :time 2900000000, :process 2, :index 10}
{:type :ok, :f :read, :value 4, :time 2950000000, :process 2, :index 11}
"""


def write(tmp_path: Path, text: str, name: str = "history.edn") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_one_map_a_line_as_jepsen_writes_it() -> None:
    ops = jepsen.parse_edn(LINES, CAS, "history.edn")
    shape = [(o.process, o.f, o.input, o.output, o.call, o.ret, o.status) for o in ops]
    assert shape == [
        (4, "write", 3, None, 1.0, 4.0, "ok"),
        (2, "read", None, 3, 3.0, 6.0, "ok"),
        (1, "cas", (3, 4), None, 7.0, math.inf, "info"),
        (0, "cas", (9, 9), None, 8.0, 9.0, "fail"),
        (2, "read", None, 4, 11.0, 12.0, "ok"),
    ]


def test_a_vector_of_tagged_records_on_their_own_lines() -> None:
    text = (
        "[#jepsen.history.Op{:index 0, :time 1, :type :invoke, :process 0, :f :read, :value nil}\n"
    )
    text += " #jepsen.history.Op{:index 1, :time 2, :type :ok, :process 0, :f :read, :value 1}\n"
    text += " ; a comment\n #_{:discarded true}\n"
    text += " {:index 2, :time 3, :type :invoke, :process 1, :f :write, :value 1}]\n"
    ops = jepsen.parse_edn(text, CAS, "v.edn")
    assert [(o.f, o.call, o.ret, o.status) for o in ops] == [
        ("read", 1.0, 2.0, "ok"),
        ("write", 5.0, math.inf, "info"),
    ]


def test_several_events_on_one_line_keep_their_order() -> None:
    text = (
        "[{:type :invoke :f :write :value 1 :process 0} {:type :ok :f :write :value 1 :process 0}"
    )
    text += (
        " {:type :invoke :f :read :value nil :process 1} {:type :ok :f :read :value 1 :process 1}]"
    )
    ops = jepsen.parse_edn(text, CAS, "one-line.edn")
    assert [o.f for o in ops] == ["write", "read"]
    assert ops[0].call < ops[0].ret < ops[1].call < ops[1].ret < 2


def test_independent_keys_as_jepsen_tuples() -> None:
    text = """\
{:type :invoke, :f :write, :value [:x 1], :process 0}
{:type :ok, :f :write, :value [:x 1], :process 0}
{:type :invoke, :f :cas, :value [7 [nil 2]], :process 1}
{:type :ok, :f :cas, :value [7 [nil 2]], :process 1}
{:type :invoke, :f :read, :value [:x nil], :process 2}
{:type :ok, :f :read, :value [:x 1], :process 2}
"""
    ops = jepsen.parse_edn(text, KV, "kv.edn")
    assert [(o.key, o.f, o.input, o.output) for o in ops] == [
        ("x", "write", 1, None),
        (7, "cas", (None, 2), None),
        ("x", "read", None, 1),
    ]


def test_edn_values() -> None:
    ((_, value),) = edn.forms(
        '{:a nil, :b [1 -2 3.5 4N 1/2], :c #{:x}, :d "q\\"\\n", :e (true false), :f \\c, :g sym}',
        "v",
    )
    assert value == {
        "a": None,
        "b": [1, -2, 3.5, 4, 0.5],
        "c": frozenset({"x"}),
        "d": 'q"\n',
        "e": [True, False],
        "f": "c",
        "g": "sym",
    }


def test_chosen_by_extension_or_content(tmp_path: Path) -> None:
    by_ext = write(tmp_path, LINES, "h.edn")
    by_content = write(tmp_path, LINES, "history.txt")
    assert jepsen.read(by_ext, CAS) == jepsen.read(by_content, CAS)
    assert not reader.is_edn("h.txt", '{"process": 0, "type": "invoke"}')
    assert reader.is_edn("h.txt", "  [{:type :invoke}")
    assert reader.is_edn("h.txt", "; a comment\n#jepsen.history.Op{:type :ok}")


def test_the_command_on_a_jepsen_file(tmp_path: Path) -> None:
    good = write(tmp_path, LINES)
    done = meshcheck("history", "check", str(good), "--model", "cas-register", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    stale = LINES.replace(":ok, :f :read, :value 4,", ":ok, :f :read, :value 2,")
    bad = write(tmp_path, stale, "bad.edn")
    out = tmp_path / "w.svg"
    done = meshcheck(
        "history", "check", str(bad), "--model", "cas-register", "--out", str(out), cwd=tmp_path
    )
    assert done.returncode == 1, done.stdout + done.stderr
    window, counted = done.stdout.split("\nwrites: ")
    rows = [line.split() for line in window.splitlines() if line.startswith("  ")][1:]
    # the read of 2 (nobody wrote 2) is its own window, and the one unexpected read
    assert rows == [["2", "read()->2", "11..12", "ok"]]
    assert "1 read unexpected" in counted and "unexpected: 2 read 2 (lines 11..12)" in counted
    root = ET.fromstring(out.read_text())
    bars = [g for g in root.iter(NS + "g") if "op" in g.get("class", "").split()]
    assert [g.get("data-index") for g in bars if "conflict" in g.get("class", "")] == ["4"]
    assert len(bars) == 2  # and the info cas running then, as context


MALFORMED = [
    # (text, the line and what the one-line message names)
    (
        "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read",
        ":2: not EDN: { is not closed",
    ),
    (
        "{:type :invoke, :f :read, :value nil, :process 0]\n",
        ":1: not EDN: ] where } closes the { of line 1",
    ),
    (
        '{:type :ok, :f :read, :value "unterminated, :process 0}\n',
        ":1: not EDN: a string is not closed",
    ),
    (
        "{:type :invoke, :f :read, :value nil :process}\n",
        ":1: not EDN: the map has a key without a value",
    ),
    ("{:type :invoke, :type :ok, :f :read, :process 0}\n", ":1: not EDN: the map has the key"),
    ("{:type :invoke, :f :read, :value 12abc, :process 0}\n", ":1: not EDN: 12abc is not a number"),
    ("\n\n{:type :invoke, :f :read, :value nil}\n", ':3: field "process": missing'),
    (
        "{:type :invoke, :f :read, :value nil, :process [0]}\n",
        ':1: field "process": expected a number or a name',
    ),
    (
        "{:type :invoked, :f :read, :value nil, :process 0}\n",
        ':1: field "type": expected invoke, ok, fail or info',
    ),
    (
        "{:type :invoke, :f :append, :value 1, :process 0}\n",
        ':1: field "f": expected cas, read or write',
    ),
    (
        "{:type :invoke, :f :cas, :value 1, :process 0}\n",
        ':1: field "value": expected [old, new] for a cas',
    ),
    (
        "{:type :ok, :f :read, :value 1, :process 0}\n",
        ':1: field "type": ok without an invocation by process 0',
    ),
    (
        "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :write, :value 1, :process 0}\n",
        ':2: field "f": expected read, as the invocation on line 1',
    ),
    (
        "[{:type :invoke, :f :read, :value nil, :process 0}\n 7]\n",
        ":2: expected an EDN map (one event), not a int",
    ),
    (
        "[{:type :invoke, :f :read, :value nil, :process 0}] {:x 1}\n",
        ":1: not EDN: more after the vector",
    ),
    ("]\n", ":1: not EDN: ] closes nothing"),
    ("{:type :invoke #jepsen.x}\n", ":1: not EDN: the tag #jepsen.x tags nothing"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_edn_names_the_line(text: str, message: str) -> None:
    with pytest.raises(MeshcheckError) as info:
        jepsen.parse_edn(text, CAS, "h.edn")
    assert str(info.value).startswith("h.edn" + message), str(info.value)


def test_malformed_edn_through_the_command_exits_2_without_traceback(tmp_path: Path) -> None:
    for i, (text, message) in enumerate(MALFORMED[:4] + MALFORMED[-4:]):
        path = write(tmp_path, text, f"m{i}.edn")
        done = meshcheck("history", "check", str(path), "--model", "cas-register", cwd=tmp_path)
        assert done.returncode == 2, (text, done.stdout, done.stderr)
        assert done.stderr.startswith(f"meshcheck: {path}{message}"), done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stdout == ""


def test_kv_event_without_a_key_names_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, "{:type :invoke, :f :write, :value 1, :process 0}\n")
    done = meshcheck("history", "check", str(path), "--model", "kv", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f'meshcheck: {path}:1: field "value": expected [key, value]')


def test_out_must_be_svg(tmp_path: Path) -> None:
    path = write(tmp_path, LINES)
    done = meshcheck(
        "history", "check", str(path), "--model", "cas-register", "--out", "x.png", cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr == "meshcheck: --out x.png: expected a file name ending in .svg\n"

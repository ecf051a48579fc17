"""What a register history lost (meshcheck/traces/history/losses.py): hand-made histories of
each count, and against the brute-force oracle of tests/test_history_differential.py, a write
called lost only where no linearization exists (the count is a floor, never a false claim)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import settings

from meshcheck.cli import main
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.verdicts import kept_in_file
from meshcheck.systems.verdicts import writes_kept
from meshcheck.traces.history import events
from meshcheck.traces.history import jepsen
from meshcheck.traces.history import losses
from meshcheck.traces.history import losses_append
from meshcheck.traces.history import losses_rw
from meshcheck.traces.history import losses_stream
from meshcheck.traces.history import stream
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.list_append import Txn as LaTxn
from meshcheck.traces.history.losses import count
from meshcheck.traces.history.losses import render
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.history.rw_history import Txn as RwTxn
from tests.test_history_differential import SETTINGS
from tests.test_history_differential import oracle
from tests.test_history_differential import register_histories


def w(p: int, value: int, call: float, ret: float, status: str = "ok", key: str = "k") -> Op:
    done = math.inf if status == "info" else ret
    return Op(p, "write", value, None, call, done, status, key)  # type: ignore[arg-type]


def r(p: int, value: int | None, call: float, ret: float, key: str = "k") -> Op:
    return Op(p, "read", None, value, call, ret, "ok", key)


def test_a_write_read_back_as_nothing_later_is_lost_with_both_named() -> None:
    found = count([w(1, 7, 0, 1), r(2, None, 2, 3)])
    assert (found.acknowledged, len(found.lost)) == (1, 1)
    assert found.lost[0].read.process == 2
    text = render(found)
    assert text.startswith("writes: 1 acknowledged, 1 lost,")
    assert "lost: 1 wrote 7 to 'k' (lines 0..1); 2 read nothing after it (lines 2..3)" in text


def test_an_older_value_read_after_a_newer_write_loses_the_newer_only() -> None:
    found = count([w(1, 1, 0, 1), w(2, 2, 2, 3), r(3, 1, 4, 5)])
    assert [x.write.input for x in found.lost] == [2]


def test_a_value_of_a_concurrent_or_later_write_loses_nothing() -> None:
    concurrent = [w(1, 1, 0, 3), w(2, 2, 1, 4), r(3, 1, 5, 6)]
    assert count(concurrent).lost == ()
    overwritten = [w(1, 1, 0, 1), w(2, 2, 2, 3), r(3, 2, 4, 5)]
    assert count(overwritten).lost == ()
    before = [w(1, 1, 0, 2), r(2, None, 1, 3)]  # the read overlaps the write
    assert count(before).lost == ()


def test_an_indeterminate_write_may_explain_a_read_and_counts_as_recovered() -> None:
    found = count([w(1, 1, 0, 1), w(2, 2, 2, 0, "info"), r(3, 2, 5, 6)])
    assert (found.lost, found.indeterminate, found.recovered) == ((), 1, 1)


def test_a_read_of_a_failed_writes_value_is_unexpected_and_decides_no_loss() -> None:
    found = count([w(1, 1, 0, 1), w(2, 2, 2, 3, "fail"), r(3, 2, 4, 5)])
    assert [o.process for o in found.unexpected] == [3] and found.lost == ()
    assert "unexpected: 3 read 2 from 'k' (lines 4..5)" in render(found)
    future = count([w(1, 1, 0, 1), r(3, 2, 4, 5), w(2, 2, 6, 7)])  # written only after the read
    assert [o.process for o in future.unexpected] == [3]


def test_keys_are_apart_and_a_cas_writes_its_new_value() -> None:
    cas = Op(1, "cas", (None, 5), None, 0, 1, "ok", "a")
    found = count([cas, w(2, 6, 0, 1, key="b"), r(3, 5, 2, 3, key="a"), r(4, None, 2, 3, key="b")])
    assert [x.write.key for x in found.lost] == ["b"]


@settings(SETTINGS, max_examples=800)  # the differential test's count before it drew 400
@given(register_histories(("read", "write", "cas"), ("k1", "k2")))
def test_a_write_called_lost_leaves_the_history_no_linearization(history: list[Op]) -> None:
    if count(history).lost:
        assert not oracle(history, KeyValue())


def test_the_node_asked_goes_through_the_file_into_the_window_and_the_losses() -> None:
    """A system run's clients record the node each operation went to (Op.node); the file keeps it
    on the invocation line, and the report shows it beside each operation."""
    history = [
        attrs.evolve(w(1, 7, 0, 1), node="e1"),
        attrs.evolve(w(2, 8, 2, 3), node="e2"),
        attrs.evolve(r(3, 7, 4, 5), node="e3"),
    ]
    text = jepsen.dumps(history, KeyValue())
    assert '"node": "e2"' in text
    back = jepsen.parse(text.splitlines(), KeyValue())
    assert [o.node for o in back] == ["e1", "e2", "e3"]
    found = count(back)
    # only the node asked is known: the report says "asked", never "on" (read as "served by")
    assert "lost: 2 wrote 8 to 'k' (lines 3..4 asked e2); 3 read 7" in render(found)
    result = check(back, KeyValue())
    report = jepsen.render(result, KeyValue(), "h.jsonl")
    assert "process  node" in report and " e3 (asked) " in report


def test_the_node_that_served_goes_through_the_file_and_is_named_before_the_node_asked() -> None:
    """A client bound to replica e2 whose write the primary e1 did: the completion line keeps
    `served`, and the losses and the window name e1, with e2 as the node asked."""
    history = [
        attrs.evolve(w(1, 7, 0, 1), node="e1", served="e1"),
        attrs.evolve(w(2, 8, 2, 3), node="e2", served="e1"),
        attrs.evolve(r(3, 7, 4, 5), node="e3", served="e3"),
    ]
    text = jepsen.dumps(history, KeyValue())
    assert '"type": "ok", "value": 8, "served": "e1"' in text
    back = jepsen.parse(text.splitlines(), KeyValue())
    assert [(o.node, o.served) for o in back] == [("e1", "e1"), ("e2", "e1"), ("e3", "e3")]
    assert "lost: 2 wrote 8 to 'k' (lines 3..4 on e1 (asked e2)); 3 read 7" in render(count(back))
    assert "(lines 5..6 on e3)" in render(count(back))
    report = jepsen.render(check(back, KeyValue()), KeyValue(), "h.jsonl")
    assert " e1 (asked e2) " in report and " e3 " in report
    bad = ['{"process": 1, "type": "invoke", "f": "write", "key": "k", "value": 1}',
           '{"process": 1, "type": "ok", "f": "write", "key": "k", "value": 1, "served": 1}']  # fmt: skip
    with pytest.raises(MeshcheckError, match="served"):
        jepsen.parse(bad, KeyValue())


def test_an_operation_asked_of_no_named_node_reads_as_before() -> None:
    text = jepsen.dumps([w(1, 7, 0, 1)], KeyValue())
    assert "node" not in text
    bad = ['{"process": 1, "type": "invoke", "f": "write", "key": "k", "value": 1, "node": 3}']
    with pytest.raises(MeshcheckError, match="node"):
        jepsen.parse(bad, KeyValue())


def test_a_systems_run_row_counts_the_writes_and_names_the_first_lost_with_its_nodes() -> None:
    history = [
        attrs.evolve(w(1, 7, 0.5, 1.25), node="e1"),
        attrs.evolve(r(2, None, 2.0, 2.5), node="e3"),
        w(3, 9, 3.0, 0, "info"),
    ]
    kept, account = writes_kept(history)
    assert kept.check == "acknowledged writes kept (kv)" and kept.holds is False
    assert kept.detail == (
        "1 acknowledged, 1 lost, 0 of 1 indeterminate read back; the first: 1 wrote 7 to k asked "
        "e1 at t=1.250s, 2 read nothing at t=2.000s asked e3 (losses.txt)"
    )
    text = account.render()
    assert "lost: 1 wrote 7 to 'k' (t=0.500..1.250s asked e1); 2 read nothing after it" in text
    served = [attrs.evolve(history[0], node="e2", served="e1"), *history[1:]]
    assert "1 wrote 7 to k on e1 (asked e2) at t=1.250s" in writes_kept(served)[0].detail
    assert writes_kept(history[:1])[0].holds is True


# -- the same account for list-append, rw-register and stream (traces/history/losses_*.py)


def la(i: int, p: int, mops: tuple[Any, ...], call: float, ret: float, status: str = "ok") -> LaTxn:
    return LaTxn(i, p, mops, call, math.inf if status == "info" else ret, status)


def test_list_append_counts_each_kind_and_names_the_lost_append_with_a_later_read() -> None:
    found = losses_append.count(
        [
            la(0, 1, (("append", "x", 1),), 0, 1),
            la(1, 2, (("append", "x", 2),), 2, 3),
            la(2, 3, (("r", "x", (1, 2)),), 3.5, 3.8),  # 2 is there ...
            la(3, 4, (("append", "x", 3),), 4.5, 0, "info"),
            la(4, 5, (("r", "x", (1, 3, 9, 9)),), 6, 7),  # ... and gone: 9 from nowhere, twice
            la(5, 6, (("append", "x", 9),), 8, 8.5, "fail"),
            la(6, 7, (("r", "x", (1, 3, 2)),), 9, 10),
        ]
    )
    assert (found.acknowledged, found.indeterminate, found.recovered) == (2, 1, 1)
    assert [(x.append.index, x.value, x.read.index) for x in found.lost] == [(1, 2, 4)]
    assert [(s.read.index, s.value) for s in found.unexpected] == [(4, 9)]
    assert [(s.read.index, s.value) for s in found.duplicated] == [(4, 9)]
    text = losses_append.render(found)
    assert text.splitlines() == [
        "appends: 2 acknowledged, 1 lost, 1 of 1 indeterminate recovered, 1 element unexpected, "
        "1 duplicated",
        "  lost: T1 appended 2 to 'x' (process 2, lines 2..3); T4 read 'x' without it after "
        "(process 5, lines 6..7)",
        "  unexpected: T4 read 9 in 'x' (process 5, lines 6..7), which no append could have put",
        "  duplicated: T4 read 9 more than once in 'x' as [1 3 9 9] (process 5, lines 6..7)",
    ]


def test_list_append_a_stale_prefix_loses_what_returned_before_it_began_only() -> None:
    """Reads that are prefixes of one another (the common case, decided by their lengths): the
    last read lacking an append is named; an append concurrent with the read (3) is not lost."""
    history = [
        la(0, 1, (("append", "x", 1),), 0, 1),
        la(1, 2, (("append", "x", 2),), 2, 3),
        la(2, 3, (("r", "x", (1,)),), 4, 5),
        la(3, 4, (("r", "x", (1, 2)),), 6, 7),
        la(4, 5, (("r", "x", (1,)),), 8, 9),
        la(5, 6, (("append", "x", 3),), 7.5, 10),
        la(6, 7, (("r", "x", (1, 2, 3)),), 11, 12),
    ]
    found = losses_append.count(history)
    assert [(x.value, x.read.index) for x in found.lost] == [(2, 4)]
    assert (found.acknowledged, found.unexpected, found.duplicated) == (3, (), ())
    first = losses_append.count([*history[:4], *history[5:]])
    assert [(x.value, x.read.index) for x in first.lost] == [(2, 2)]
    assert losses_append.count([*history[:2], history[3], *history[5:]]).lost == ()
    future = [la(0, 1, (("r", "x", (5,)),), 0, 1), la(1, 2, (("append", "x", 5),), 2, 3)]
    assert [s.read.index for s in losses_append.count(future).unexpected] == [0]


def rw(i: int, p: int, mops: tuple[Any, ...], call: float, ret: float, status: str = "ok") -> RwTxn:
    return RwTxn(i, p, mops, call, math.inf if status == "info" else ret, status)


def test_rw_register_reuses_the_register_count_on_external_reads_and_all_writes() -> None:
    found = losses_rw.count(
        [
            rw(0, 1, (("w", "x", 1),), 0, 1),
            rw(1, 2, (("r", "x", None), ("w", "x", 5), ("r", "x", 5)), 2, 3),  # reads nothing
            rw(2, 3, (("w", "y", 7),), 4, 0, "info"),
            rw(3, 4, (("w", "y", 8),), 4, 5, "fail"),
            rw(4, 5, (("r", "y", 7), ("r", "x", 5)), 6, 7),
            rw(5, 6, (("r", "y", 8),), 8, 9),
            rw(6, 7, (("r", "x", None),), 10, 0, "info"),  # read what, nobody knows
        ]
    )
    assert (found.acknowledged, found.indeterminate, found.recovered) == (2, 1, 1)
    assert [(x.write.index, x.read.index) for x in found.lost] == [(0, 1)]
    assert [r.index for r in found.unexpected] == [5]
    assert losses_rw.render(found).splitlines() == [
        "writes: 2 acknowledged, 1 lost, 1 of 1 indeterminate recovered, 1 read unexpected",
        "  lost: T0 wrote 1 to 'x' (process 1, lines 0..1); T1 read nothing from 'x' after it "
        "(process 2, lines 2..3)",
        "  unexpected: T5 read 8 from 'y' (process 6, lines 8..9), which no write could have "
        "written",
    ]


def _stream_events(*objs: dict[str, Any]) -> list[events.Event]:
    return [events.Event(float(i), o) for i, o in enumerate(objs, start=1)]


def _op(p: object, f: str, value: object, out: object = None, status: str = "ok") -> list[Any]:
    done = value if out is None else out
    return [
        {"process": p, "type": "invoke", "f": f, "value": value},
        {"process": p, "type": status, "f": f, "value": done},
    ]


STREAM = [
    *_op(1, "publish", 1),
    *_op(1, "publish", 2),
    {"process": 2, "type": "invoke", "f": "publish", "value": 3},  # never completes: info
    *_op(4, "publish", 4, status="fail"),
    *_op(5, "consume", None, [1, 3, 1, 4]),
    *_op("a", "read", None, [1, 3]),
    *_op("b", "read", None, [1, 2, 3, 2]),
]


def test_stream_counts_loss_as_the_stream_checker_finds_it() -> None:
    evs = _stream_events(*STREAM)
    found = losses_stream.count(events.pair(evs, "s", ("publish", "consume", "ack", "read")))
    assert (found.acknowledged, found.indeterminate, found.recovered) == (2, 1, 1)
    assert [(x.publish.invoked, x.missing, x.of) for x in found.lost] == [(2, ("a",), 2)]
    assert [(s.call.process, s.message) for s in found.unexpected] == [(5, 4)]
    assert [(s.call.process, s.message) for s in found.duplicated] == [(5, 1), ("b", 2)]
    text, holds = stream.check(evs, "s")
    assert not holds and "lost (1)" in text.splitlines()[0]  # the checker's own count agrees
    assert (
        "publishes: 2 acknowledged, 1 lost, 1 of 1 indeterminate recovered, 1 message unexpected, "
        "2 duplicated\n  lost: 1 published 2 (lines 3..4); not in the read-back of a (1 of 2)\n"
    ) in text
    unread = losses_stream.count(events.pair(evs[:-4], "s", ("publish", "consume", "ack", "read")))
    assert unread.lost == () and "(no read-back: loss not checked)" in losses_stream.render(unread)


def _jsonl(path: Path, objs: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return str(path)


def test_history_check_and_a_cluster_run_print_the_account_of_each_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append = _jsonl(
        tmp_path / "la.jsonl",
        [
            *_op(1, "txn", [["append", "x", 1]]),
            *_op(2, "txn", [["r", "x", None]], [["r", "x", []]]),
        ],
    )
    writes = _jsonl(
        tmp_path / "rw.jsonl",
        [*_op(1, "txn", [["w", "x", 1]]), *_op(2, "txn", [["r", "x", None]])],
    )
    published = _jsonl(tmp_path / "s.jsonl", STREAM)
    for path, model, head in (
        (append, "list-append", "appends: 1 acknowledged, 1 lost,"),
        (writes, "rw-register", "writes: 1 acknowledged, 1 lost,"),
        (published, "stream", "publishes: 2 acknowledged, 1 lost,"),
    ):
        assert main(["history", "check", path, "--model", model]) == 1
        assert f"\n{head}" in capsys.readouterr().out
        kept, account = kept_in_file(model, Path(path))  # type: ignore[misc]
        assert kept.holds is False and account.render().startswith(head)
        full = account.records("lines")
        assert full["lost"]["count"] == len(full["lost"]["items"]) == 1
        json.dumps(full)  # JSON data, whatever the model's records hold
    kept, _ = kept_in_file("list-append", Path(append))  # type: ignore[misc]
    assert kept.check == "acknowledged appends kept (list-append)"
    assert kept.detail == (
        "1 acknowledged, 1 lost, 0 of 0 indeterminate read back, 0 duplicated; the first: T0 "
        "appended 1 to 'x' (process 1, lines 1..2); T1 read 'x' without it after (process 2, "
        "lines 3..4) (losses.txt)"
    )
    assert kept_in_file("watch", Path(append)) is None


# -- the full list: every one in losses.json, the text short ---------------------------------------


def _many_lost(n: int) -> list[Op]:
    """`n` acknowledged writes, each asked of e2 and served by e1, all disproved by one read of
    nothing on e3; and an indeterminate write read back."""
    ops = [attrs.evolve(w(k, 100 + k, 2 * k, 2 * k + 1), node="e2", served="e1") for k in range(n)]
    back = attrs.evolve(r(n, 999, 2 * n + 2, 2 * n + 3), node="e3")
    return [*ops, attrs.evolve(r(n + 1, None, 2 * n, 2 * n + 1), node="e3"),
            w(n + 2, 999, 2 * n, 0, "info"), back]  # fmt: skip


def test_every_lost_write_is_in_the_records_and_the_text_names_ten_and_says_where() -> None:
    found = losses.account(count(_many_lost(25)), in_lines=False)
    text = found.render(full="every one in losses.json")
    assert text.count("  lost: ") == losses.SHOWN
    assert text.rstrip().endswith("... and 15 more (every one in losses.json)")
    full = found.records("seconds")
    lost = full["lost"]["items"]
    assert full["lost"]["count"] == len(lost) == 25 and full["times"] == "seconds"
    assert [x["write"]["value"] for x in lost] == [100 + k for k in range(25)]
    assert lost[24]["write"] == {
        "process": 24, "f": "write", "key": "k", "value": 124, "output": None, "status": "ok",
        "call": 48.0, "ret": 49.0, "asked": "e2", "served": "e1", "index": 0,
    }  # fmt: skip
    assert lost[24]["read"]["asked"] == "e3" and lost[24]["read"]["served"] is None
    assert lost[24]["said"].startswith("24 wrote 124 to 'k' (t=48.000..49.000s on e1 (asked e2))")
    recovered = full["recovered"]
    assert recovered["count"] == len(recovered["items"]) == 1
    assert recovered["items"][0]["value"] == 999 and recovered["items"][0]["ret"] is None
    assert json.loads(json.dumps(full)) == full


def test_history_check_writes_every_loss_with_losses_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(jepsen.dumps(_many_lost(12), KeyValue()), encoding="utf-8")
    out = tmp_path / "all.json"
    assert main(["history", "check", str(path), "--model", "kv", "--budget", "5"]) == 1
    assert "... and 2 more (every one with --losses FILE.json)" in capsys.readouterr().out
    argv = ["history", "check", str(path), "--model", "kv", "--budget", "5", "--losses", str(out)]
    assert main(argv) == 1
    assert f"... and 2 more (every one in {out})" in capsys.readouterr().out
    full = json.loads(out.read_text(encoding="utf-8"))
    assert full["lost"]["count"] == len(full["lost"]["items"]) == 12 and full["times"] == "lines"
    assert {x["write"]["served"] for x in full["lost"]["items"]} == {"e1"}
    for bad, says in (
        ([*argv[:-1], str(tmp_path / "all.txt")], "expected a file name ending in .json"),
        ([*argv[:3], "--model", "list-append", "--losses", str(out)], "only for a register model"),
        ([*argv[:-1], str(tmp_path / "no" / "all.json")], "cannot write it"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err and err.count("\n") == 1

"""What a register history lost (meshcheck/traces/history/losses.py): hand-made histories of
each count, and against the brute-force oracle of tests/test_history_differential.py, a write
called lost only where no linearization exists (the count is a floor, never a false claim)."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.verdicts import writes_kept
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.losses import count, render
from meshcheck.traces.history.models import KeyValue
from tests.test_history_differential import SETTINGS, oracle, register_histories


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


@SETTINGS
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
    assert "lost: 2 wrote 8 to 'k' (lines 3..4 on e2); 3 read 7" in render(found)
    result = check(back, KeyValue())
    report = jepsen.render(result, KeyValue(), "h.jsonl")
    assert "process  node  operation" in report and " e3 " in report


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
        "1 acknowledged, 1 lost, 0 of 1 indeterminate read back; the first: 1 wrote 7 to k on e1 "
        "at t=1.250s, 2 read nothing at t=2.000s on e3 (losses.txt)"
    )
    assert "lost: 1 wrote 7 to 'k' (t=0.500..1.250s on e1); 2 read nothing after it" in account
    assert writes_kept(history[:1])[0].holds is True

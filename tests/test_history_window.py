"""The smallest non-linearizable window (meshcheck.traces.history.window) and its drawing (svg):
hand-built histories whose minimal conflict is known, buried in operations that play no part in
it; a Hypothesis property that every window fails on its own and is 1-minimal; the SVG read back."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.traces.history import svg
from meshcheck.traces.history import window
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import numbered
from meshcheck.traces.history.history import op
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.history.models import Model
from tests.test_linearizability import brute_force

REG = Model()
CAS = CasRegister()
KV = KeyValue()


def smallest(h: list[Op] | tuple[Op, ...], model: Model) -> window.Window:
    result = check(h, model)
    assert result.verdict == "not linearizable"
    return window.smallest(window.part_of(result, h, model), model)


def noise(start: float, n: int, value: int, process: int = 9) -> list[Op]:
    """A write of `value` and n reads of it, one after another, from `start` on: linearizable."""
    out = [op(process, "write", start, start + 1, input=value)]
    out += [
        op(process + 1, "read", start + 2 + 2 * i, start + 3 + 2 * i, output=value)
        for i in range(n)
    ]
    return out


def indices(w: window.Window) -> list[int]:
    return sorted(o.index for o in w.ops)


def test_stale_read_window_is_the_two_writes_and_the_read() -> None:
    h = numbered(
        [
            *noise(0, 6, 5),  # 0..6
            op(0, "write", 20, 21, input=1),  # 7
            op(3, "read", 20.5, 22, output=1),  # 8: fine
            op(0, "write", 22, 23, input=2),  # 9
            op(4, "read", 23.5, 24, output=2),  # 10: fine
            op(1, "read", 25, 26, output=1),  # 11: stale, write 2 completed at 23
            op(2, "read", 27, 28, output=2),
        ]
    )
    w = smallest(list(h), REG)
    assert indices(w) == [7, 9, 11]
    assert w.minimal


def test_a_cas_that_found_a_value_already_replaced() -> None:
    h = numbered(
        [
            *noise(0, 4, 3),  # 0..4
            op(0, "write", 10, 11, input=0),  # 5
            op(5, "read", 11.5, 12, output=0),  # 6
            op(1, "cas", 12, 13, input=(0, 1)),  # 7
            op(2, "cas", 14, 15, input=(0, 2)),  # 8: 0 was gone since 13
            op(3, "read", 16, 17, output=2),
        ]
    )
    w = smallest(list(h), CAS)
    assert indices(w) == [5, 7, 8]


def test_new_then_old_read_inversion() -> None:
    h = numbered(
        [
            op(0, "write", 0, 1, input=0),  # 0
            op(1, "write", 2, 20, input=1),  # 1: long, concurrent with both reads
            *noise(3, 3, 0, process=6)[1:],  # 2..4: reads of 0, fine before the write lands
            op(2, "read", 10, 11, output=1),  # 5
            op(3, "read", 12, 13, output=0),  # 6: after 1 was read, 0 is back
        ]
    )
    w = smallest(list(h), REG)
    assert indices(w) == [0, 1, 5, 6]


def test_a_value_nobody_wrote_is_its_own_window() -> None:
    h = numbered([*noise(0, 5, 1), op(2, "read", 30, 31, output=9), *noise(40, 2, 2)])
    w = smallest(list(h), REG)
    assert indices(w) == [6]


def test_kv_window_stays_inside_the_failing_key() -> None:
    a = [attrs_key(o, "a") for o in noise(0, 5, 1)]
    b = [
        op(0, "write", 0, 1, input=1, key="b"),
        op(0, "write", 2, 3, input=2, key="b"),
        op(1, "read", 4, 5, output=1, key="b"),
    ]
    h = numbered([*a, *b, *(attrs_key(o, "b") for o in noise(6, 3, 2, process=4))])
    result = check(h, KV)
    assert result.partition == "b"
    w = window.smallest(window.part_of(result, h, KV), KV)
    assert indices(w) == [6, 7, 8]


def attrs_key(o: Op, key: str) -> Op:
    return Op(o.process, o.f, o.input, o.output, o.call, o.ret, o.status, key, o.index)


def test_pending_operations_stay_when_they_are_part_of_the_conflict() -> None:
    # the info write of 2 is the only write the read of 2 can have seen: the window needs it
    h = numbered(
        [
            op(0, "write", 0, 1, input=1),  # 0
            op(1, "write", 2, None, input=2),  # 1: info
            op(2, "read", 3, 4, output=2),  # 2: so it happened by 4
            op(3, "read", 5, 6, output=1),  # 3: and 1 is back
        ]
    )
    w = smallest(list(h), REG)
    assert indices(w) == [0, 1, 2, 3]
    assert any(o.pending for o in w.ops)


def test_a_linearizable_history_has_no_window() -> None:
    h = noise(0, 3, 1)
    try:
        window.smallest(h, REG)
    except ValueError:
        return
    raise AssertionError("expected ValueError")


# --- the property: the window fails, and without any one of its operations it does not ----------


@st.composite
def histories(draw: st.DrawFn) -> list[Op]:
    n = draw(st.integers(2, 9))
    ops = []
    for p in range(n):
        f = draw(st.sampled_from(["read", "write", "cas"]))
        call = draw(st.integers(0, 16))
        length = draw(st.integers(1, 5))
        status = draw(st.sampled_from(["ok", "ok", "ok", "ok", "info", "fail"]))
        inp = out = None
        if f == "write":
            inp = draw(st.sampled_from([1, 2, 3]))
        elif f == "cas":
            inp = (draw(st.sampled_from([None, 1, 2, 3])), draw(st.sampled_from([1, 2, 3])))
        else:
            out = draw(st.sampled_from([None, 1, 2, 3]))
        ret = math.inf if status == "info" else call + length + 0.5 * (p % 2)
        ops.append(Op(p, f, inp, None if status == "info" else out, call + p / 100, ret, status))
    return ops


@settings(max_examples=300, deadline=None)
@given(histories())
def test_window_fails_and_is_one_minimal(h: list[Op]) -> None:
    result = check(h, CAS)
    if result.linearizable:
        return
    w = window.smallest(window.part_of(result, h, CAS), CAS)
    assert w.minimal
    assert not check(w.ops, CAS).linearizable
    if len(w.ops) <= 5:  # the brute-force checker agrees (independent of the search)
        assert not brute_force(w.ops, CAS)
    for o in w.ops:
        rest = window.without(w.ops, o, CAS)
        assert len(rest) < len(w.ops)
        assert check(rest, CAS).linearizable, (o, w.ops)
    # operations of the history, unchanged, or pending when they were running at the cut
    ids = {id(o) for o in h}
    running = {(o.process, o.f, o.input, o.call) for o in h if o.ret >= result.cut}
    for o in w.ops:
        assert id(o) in ids or (o.pending and (o.process, o.f, o.input, o.call) in running)


def test_window_property_is_not_vacuous() -> None:
    """The generator above gives non-linearizable histories, and windows smaller than them."""
    shrunk: list[bool] = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(histories())
    def collect(h: list[Op]) -> None:
        result = check(h, CAS)
        if not result.linearizable:
            w = window.smallest(window.part_of(result, h, CAS), CAS)
            live = [o for o in h if o.status != "fail"]
            shrunk.append(len(w.ops) < len(live))

    collect()
    assert len(shrunk) > 20 and shrunk.count(True) > 10


def test_without_removes_what_read_from_the_dropped_write() -> None:
    w1 = op(0, "write", 0, 1, input=1)
    w2 = op(0, "write", 2, 3, input=2)
    r1 = op(1, "read", 4, 5, output=1)
    assert window.without([w1, w2, r1], w1, REG) == [w2]
    assert window.without([w1, w2, r1], w2, REG) == [w1, r1]


# --- the drawing --------------------------------------------------------------------------------


NS = "{http://www.w3.org/2000/svg}"


def test_svg_has_one_bar_per_operation_and_marks_the_window() -> None:
    h = numbered(
        [
            op(0, "write", 0, 1, input=1),
            op(3, "write", 0.5, None, input=7),  # info: open bar
            op(0, "write", 2, 3, input=2),
            op(1, "read", 4, 5, output=1),
            op(2, "read", 6, 7, output=2),
        ]
    )
    w = smallest(list(h), REG)
    text = svg.render(list(h), w.ops, title='t <&> "q"')
    root = ET.fromstring(text)
    assert root.tag == NS + "svg"
    groups = [g for g in root.iter(NS + "g") if "op" in g.get("class", "").split()]
    assert len(groups) == len(h)
    assert all(len(g.findall(NS + "rect")) == 1 for g in groups)
    marked = sorted(
        int(g.get("data-index", "-1")) for g in groups if "conflict" in g.get("class", "")
    )
    assert marked == indices(w) == [0, 2, 3]
    info = [g for g in groups if "info" in g.get("class", "").split()]
    assert [g.get("data-index") for g in info] == ["1"]
    labels = {g.get("data-index"): g.find(NS + "text").text for g in groups}  # type: ignore[union-attr]
    assert labels["3"] == "read()->1" and labels["1"] == "write(7)->?"
    # one lane per process
    lanes = [t.text for t in root.iter(NS + "text") if t.get("class") == "lane-name"]
    assert lanes == ["process 0", "process 1", "process 2", "process 3"]

    # bars run from call to return in time order: the read's bar starts right of the write's end
    def bar(i: str) -> tuple[float, float]:
        (g,) = [g for g in groups if g.get("data-index") == i]
        r = g.find(NS + "rect")
        assert r is not None
        x = float(r.get("x", "0"))
        return x, x + float(r.get("width", "0"))

    assert bar("2")[1] < bar("3")[0]
    assert bar("1")[1] > bar("4")[1]  # the open bar reaches past everything that completed


def test_bench_histories_are_what_the_benchmark_says() -> None:
    """bench/bench_history.py's generator gives linearizable histories with overlapping operations,
    the same for the same seed, and its stale variant is not linearizable."""
    from bench.bench_history import generate
    from bench.bench_history import make_stale

    h = generate(300, 5, 1, seed=3)
    assert h == generate(300, 5, 1, seed=3)
    assert len(h) == 300 and check(h, CAS).linearizable
    assert any(a.ret > b.call for a, b in itertools.pairwise(h))  # concurrency
    assert any(o.pending for o in generate(2000, 5, 1, seed=1))
    stale = make_stale(generate(300, 5, 1, seed=3, pending=0.0), 150)
    result = check(stale, CAS)
    assert result.verdict == "not linearizable"
    w = window.smallest(window.part_of(result, stale, CAS), CAS)
    assert w.minimal and any(o.f == "read" for o in w.ops)
    kv = generate(500, 10, 10, seed=4)
    assert len({o.key for o in kv}) == 10 and check(kv, KV).linearizable

"""The list-append checker (traces/history/list_append.py): each anomaly of Elle's and Adya's on a
hand-written history of its kind, the valid neighbours that must hold, a brute-force oracle of
every serial order on thousands of small random histories, and the command line."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Hashable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from bench.bench_list_append import generate
from bench.bench_list_append import to_jsonl
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import cycles
from meshcheck.traces.history import events
from meshcheck.traces.history import list_append
from meshcheck.traces.history import losses_append
from meshcheck.traces.history.list_append import Txn
from tests import history_checks

STRICT, SERIAL = "strict-serializable", "serializable"


def txn(
    i: int, call: float, ret: float | None, *mops: tuple[str, str, object], status: str = "ok"
) -> Txn:
    frozen = tuple((f, k, tuple(v) if isinstance(v, list) else v) for f, k, v in mops)
    end = math.inf if ret is None else ret
    return Txn(i, i, frozen, call, end, "info" if ret is None else status)


def kinds(txns: Sequence[Txn], consistency: str = STRICT) -> set[str]:
    return set(list_append.check(txns, consistency).anomalies)


def a(k: str, v: int) -> tuple[str, str, object]:
    return ("append", k, v)


def r(k: str, *vs: int) -> tuple[str, str, object]:
    return ("r", k, list(vs))


def test_a_valid_history_holds() -> None:
    h = [
        txn(0, 1, 2, a("x", 1), a("y", 1)),
        txn(1, 3, 6, r("x", 1), a("x", 2)),
        txn(2, 4, 5, r("y", 1)),
        txn(3, 7, 8, r("x", 1, 2), r("y", 1)),
    ]
    report = list_append.check(h)
    assert report.holds and report.edges > 0


def test_g0_write_cycle() -> None:
    h = [
        txn(0, 1, 4, a("x", 1), a("y", 2)),
        txn(1, 2, 5, a("x", 3), a("y", 4)),
        txn(2, 6, 7, r("x", 1, 3), r("y", 4, 2)),
    ]
    assert kinds(h) == {"G0"}
    text = list_append.render(list_append.check(h), "h")
    assert "a cycle of 2 transactions" in text and "ww x: T1 appended 3 right after T0's 1" in text


def test_g1a_aborted_read() -> None:
    h = [txn(0, 1, 2, a("x", 1), status="fail"), txn(1, 3, 4, r("x", 1))]
    assert kinds(h) == {"G1a"}
    assert kinds([h[0], txn(1, 3, 4, r("x"))]) == set()


def test_g1b_intermediate_read() -> None:
    h = [txn(0, 1, 2, a("x", 1), a("x", 2)), txn(1, 1.5, 4, r("x", 1))]
    assert "G1b" in kinds(h)
    assert kinds([h[0], txn(1, 3, 4, r("x", 1, 2))]) == set()


def test_g1c_circular_information_flow() -> None:
    h = [txn(0, 1, 4, a("x", 1), r("y", 2)), txn(1, 2, 5, a("y", 2), r("x", 1))]
    assert kinds(h) == {"G1c"}


def test_g_single_read_skew() -> None:
    h = [
        txn(0, 1, 4, a("x", 1), a("y", 1)),
        txn(1, 2, 5, r("x"), r("y", 1)),
        txn(2, 6, 7, r("x", 1)),
    ]
    assert kinds(h) == {"G-single"}
    # the same reads, consistent: x read with 1 too
    assert kinds([h[0], txn(1, 2, 5, r("x", 1), r("y", 1)), h[2]]) == set()


def test_g2_write_skew() -> None:
    h = [
        txn(0, 1, 4, r("x"), a("y", 1)),
        txn(1, 2, 5, r("y"), a("x", 2)),
        txn(2, 6, 7, r("x", 2), r("y", 1)),
    ]
    assert kinds(h) == {"G2"}
    assert kinds([h[0], txn(1, 2, 5, r("y", 1), a("x", 2)), h[2]]) == set()


def test_a_stale_read_is_serializable_but_not_strict() -> None:
    h = [
        txn(0, 1, 2, a("x", 1)),
        txn(1, 3, 4, r("x")),  # invoked after the append completed, reads the list without it
        txn(2, 5, 6, r("x", 1)),
    ]
    assert kinds(h) == {"G-single-realtime"}
    assert kinds(h, SERIAL) == set()
    text = list_append.render(list_append.check(h), "h")
    assert text.startswith("h: serializable but not strict serializable")
    assert "rt: T0 completed (line 2) before T1 was invoked (line 3)" in text


def test_incompatible_orders() -> None:
    h = [
        txn(0, 1, 2, a("x", 1)),
        txn(1, 1, 2, a("x", 2)),
        txn(2, 3, 4, r("x", 1, 2)),
        txn(3, 3, 4, r("x", 2, 1)),
    ]
    assert "incompatible-order" in kinds(h)


def test_duplicates_garbage_and_internal() -> None:
    assert "duplicate-append" in kinds([txn(0, 1, 2, a("x", 1)), txn(1, 1, 2, a("x", 1))])
    assert "duplicate-elements" in kinds([txn(0, 1, 2, a("x", 1)), txn(1, 3, 4, r("x", 1, 1))])
    assert kinds([txn(0, 1, 2, r("x", 9))]) == {"garbage-read"}
    # a transaction that does not see its own append
    assert kinds([txn(0, 1, 2, a("x", 1), r("x"))]) == {"internal"}
    assert kinds([txn(0, 1, 2, a("x", 1), r("x", 1))]) == set()


def test_an_info_transaction_may_have_committed() -> None:
    h = [txn(0, 1, None, a("x", 1)), txn(1, 3, 4, r("x", 1))]
    assert kinds(h) == set()


# -- the oracle: every serial order of the committed transactions (and any subset of the info ones)


def _serial_ok(txns: Sequence[Txn], strict: bool) -> bool:
    return history_checks.serial_ok(txns, strict, _replays)


def _replays(order: Sequence[Txn]) -> bool:
    state: dict[Hashable, list[Hashable]] = {}
    for t in order:
        for f, k, v in t.mops:
            if f == "append":
                state.setdefault(k, []).append(v)
            elif t.status == "ok" and v is not None and tuple(state.get(k, [])) != v:
                return False
    return True


def _random_history(rng: random.Random) -> list[Txn]:
    """3 to 5 transactions on 2 keys, run serially in a random order with random intervals around
    their points, then one read perturbed now and then (dropped, swapped or stale)."""
    specs, points, statuses = history_checks.random_specs(rng, "append")
    n = len(specs)
    state: dict[str, list[int]] = {}
    for spec, status in zip(specs, statuses, strict=True):
        for m in spec:
            if status == "fail":
                m[2] = m[2] if m[0] == "append" else None
                continue
            if m[0] == "append":
                state.setdefault(m[1], []).append(m[2])
            else:
                m[2] = list(state.get(m[1], []))
    out = []
    for i, call, ret in history_checks.placed(rng, points):
        mops: list[list_append.Mop] = []
        for f, k, v in specs[i]:
            if f == "r" and statuses[i] == "info":
                v = None
            if f == "r" and isinstance(v, list) and statuses[i] == "ok" and rng.random() < 0.15:
                v = list(v)
                choice = rng.randrange(3)
                if choice == 0 and v:
                    v.pop(rng.randrange(len(v)))
                elif choice == 1 and len(v) > 1:
                    v[0], v[-1] = v[-1], v[0]
                else:
                    v = v[: rng.randrange(len(v) + 1)]
            mops.append((f, k, tuple(v) if isinstance(v, list) else v))
        out.append(
            Txn(i, i, tuple(mops), call, math.inf if statuses[i] == "info" else ret, statuses[i])
        )
    # a final read of every key, after everything: every committed append is observed
    final = Txn(n, n, tuple(("r", k, None) for k in "xy"), 100.0, 101.0, "ok")
    return [*sorted(out, key=lambda t: t.index), final]


def _with_final_reads(txns: list[Txn], order: Sequence[Txn]) -> list[Txn] | None:
    """The history with the final read filled from a serial order of it; None if none replays."""
    state: dict[Hashable, list[Hashable]] = {}
    for t in order:
        for f, k, v in t.mops:
            if f == "append":
                state.setdefault(k, []).append(v)
    last = txns[-1]
    filled = tuple(("r", k, tuple(state.get(k, []))) for _, k, _ in last.mops)
    return [*txns[:-1], Txn(last.index, last.process, filled, last.call, last.ret, "ok")]


@pytest.mark.parametrize("consistency", [STRICT, SERIAL])
def test_agrees_with_every_serial_order(consistency: str) -> None:
    """An anomaly found means no serial order exists (soundness); and when every committed and
    observed append is in the final read, no anomaly found means one exists (completeness)."""
    rng = random.Random(7 if consistency == STRICT else 11)
    strict = consistency == STRICT
    checked = violations = 0
    for _ in range(2000):
        h = _random_history(rng)
        # the final read: as the transactions' points ran them (committed ones and info ones that ran)
        ran = sorted((t for t in h[:-1] if t.status != "fail"), key=lambda t: t.call)
        if rng.random() < 0.5:
            ran = [t for t in ran if t.status == "ok"]
        filled = _with_final_reads(h, ran)
        assert filled is not None
        holds = list_append.check(filled, consistency).holds
        oracle = _serial_ok(filled, strict)
        if not holds:
            violations += 1
            assert not oracle, list_append.render(list_append.check(filled, consistency), "h")
        else:
            assert oracle, [t.show() for t in filled]
        checked += 1
    assert violations > 200  # the generator does make anomalies of its own
    assert checked - violations > 200


def test_the_generated_workload_holds_and_a_broken_read_is_caught() -> None:
    txns = generate(3000, 8, seed=3)
    assert list_append.check(txns).holds
    # drop one element from the middle of a long read
    for i, t in enumerate(txns):
        reads = [m for m in t.mops if m[0] == "r" and isinstance(m[2], tuple) and len(m[2]) > 3]
        if t.status == "ok" and reads:
            v = reads[0][2]
            assert isinstance(v, tuple)
            mops = tuple(
                (f2, k2, (v[0], *v[2:])) if (f2, k2, v2) == reads[0] else (f2, k2, v2)
                for f2, k2, v2 in t.mops
            )
            txns[i] = Txn(t.index, t.process, mops, t.call, t.ret, t.status)
            break
    assert not list_append.check(txns).holds


# -- the command line


def test_the_command_reports_and_exits(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    to_jsonl(generate(500, 5, seed=1), good)
    done = history_checks.check_file(str(good), "--model", "list-append")
    assert done.returncode == 0, done.stderr
    assert "strict serializable (list-append, 500 transactions" in done.stdout
    skew = history_checks.write_jsonl(
        tmp_path / "skew.jsonl",
        [
            {
                "process": 0,
                "type": "invoke",
                "f": "txn",
                "value": [["r", "x", None], ["append", "y", 1]],
            },
            {
                "process": 1,
                "type": "invoke",
                "f": "txn",
                "value": [["r", "y", None], ["append", "x", 2]],
            },
            {"process": 0, "type": "ok", "f": "txn", "value": [["r", "x", []], ["append", "y", 1]]},
            {"process": 1, "type": "ok", "f": "txn", "value": [["r", "y", []], ["append", "x", 2]]},
            {
                "process": 2,
                "type": "invoke",
                "f": "txn",
                "value": [["r", "x", None], ["r", "y", None]],
            },
            {"process": 2, "type": "ok", "f": "txn", "value": [["r", "x", [2]], ["r", "y", [1]]]},
        ],
    )
    done = history_checks.check_file(
        str(skew), "--model", "list-append", "--consistency", "serializable"
    )
    assert done.returncode == 1
    assert "not serializable" in done.stdout and "G2 (1)" in done.stdout
    assert "rw x: T0 read x without 2, which T1 appended next" in done.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = history_checks.write_jsonl(
        tmp_path / "bad.jsonl",
        [{"process": 0, "type": "invoke", "f": "txn", "value": [["put", "x", 1]]}],
    )
    done = history_checks.check_file(str(bad), "--model", "list-append")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and 'bad.jsonl:1: field "value"' in done.stderr
    empty = history_checks.write_jsonl(tmp_path / "empty.jsonl", [])
    done = history_checks.check_file(str(empty), "--model", "list-append")
    assert done.returncode == 2 and "nothing to check" in done.stderr
    done = history_checks.check_file(str(bad), "--model", "kv", "--consistency", "serializable")
    assert done.returncode == 2 and "--consistency serializable: not a model for kv" in done.stderr
    done = history_checks.check_file(str(bad), "--model", "list-append", "--consistency", "causl")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--consistency causl: no such model; expected one of strict-serializable," in done.stderr
    assert "cursor-stability, monotonic-atomic-view" in done.stderr and "PL-2" in done.stderr


def test_jepsens_history_edn_is_read(tmp_path: Path) -> None:
    edn = tmp_path / "history.edn"
    edn.write_text(
        "{:type :invoke, :f :txn, :value [[:append 5 1] [:r 6 nil]], :process 0, :index 0}\n"
        "{:type :invoke, :f :txn, :value [[:append 6 2] [:r 5 nil]], :process 1, :index 1}\n"
        "{:type :ok, :f :txn, :value [[:append 5 1] [:r 6 [2]]], :process 0, :index 2}\n"
        "{:type :ok, :f :txn, :value [[:append 6 2] [:r 5 [1]]], :process 1, :index 3}\n",
        encoding="utf-8",
    )
    _name, txns = list_append.read(str(edn))
    assert [t.mops for t in txns] == [
        (("append", 5, 1), ("r", 6, (2,))),
        (("append", 6, 2), ("r", 5, (1,))),
    ]
    assert set(list_append.check(txns).anomalies) == {"G1c"}


# -- what the checker once passed (issue [21]): each of these was judged to hold before


def test_write_skew_with_no_later_read_is_g2() -> None:
    """Neither append is ever read: each read precedes the other's committed append (rw both
    ways), since a list only grows at its end."""
    h = [
        txn(0, 1, 4, r("x"), a("y", 1)),
        txn(1, 2, 5, r("y"), a("x", 2)),
    ]
    assert kinds(h, SERIAL) == {"G2"}
    text = list_append.render(list_append.check(h, SERIAL), "h")
    assert "rw x: T0 read x without 2, which T1 appended" in text


def test_read_skew_against_an_unseen_append_is_g_single() -> None:
    h = [
        txn(0, 1, 2, a("x", 1)),
        txn(1, 3, 8, r("x", 1, 2), r("y")),  # saw T2's x, missed its y, which no read shows
        txn(2, 4, 5, a("x", 2), a("y", 3)),
    ]
    assert kinds(h, SERIAL) == {"G-single"}


def test_an_info_transaction_seen_in_part_took_effect_in_whole() -> None:
    h = [
        txn(0, 1, None, a("x", 1), a("y", 2)),  # unknown outcome; its x is read, so it ran
        txn(1, 3, 4, r("x", 1), r("y")),  # ... and its y must be there too
    ]
    assert kinds(h, SERIAL) == {"G-single"}
    assert kinds([txn(0, 1, None, a("x", 1), a("y", 2)), txn(1, 3, 4, r("y"))], SERIAL) == set()


def test_a_committed_read_of_null_is_the_empty_list(tmp_path: Path) -> None:
    """Jepsen writes an empty key's read as nil: an ok read of null is [], not unknown."""
    edn = tmp_path / "history.edn"
    edn.write_text(
        "{:type :invoke, :f :txn, :value [[:r :x nil] [:append :y 1]], :process 0}\n"
        "{:type :invoke, :f :txn, :value [[:r :y nil] [:append :x 2]], :process 1}\n"
        "{:type :ok, :f :txn, :value [[:r :x nil] [:append :y 1]], :process 0}\n"
        "{:type :ok, :f :txn, :value [[:r :y nil] [:append :x 2]], :process 1}\n"
        "{:type :invoke, :f :txn, :value [[:r :x nil]], :process 2}\n"
        "{:type :ok, :f :txn, :value [[:r :x [2]]], :process 2}\n",
        encoding="utf-8",
    )
    _name, txns = list_append.read(str(edn))
    assert txns[0].mops[0] == ("r", "x", ())
    assert set(list_append.check(txns, SERIAL).anomalies) == {"G2"}


def test_a_read_of_a_value_the_transaction_appends_later_is_a_future_read() -> None:
    """Elle's future-read (list_append.clj `op-future-read-case`), a case of G1c: read committed
    rules it out, where it allows an internal anomaly."""
    assert kinds([txn(0, 1, 2, r("x", 1), a("x", 1))]) == {"future-read"}
    assert kinds([txn(0, 1, 2, r("x"), a("x", 1), r("x", 1))]) == set()


def test_a_transactions_appends_shown_out_of_its_order_are_incompatible() -> None:
    h = [txn(0, 1, 2, a("x", 1), a("x", 2)), txn(1, 3, 4, r("x", 2, 1))]
    assert "incompatible-order" in kinds(h, SERIAL)  # and G1b: the read ends at 1, not 2
    assert kinds([txn(0, 1, 2, a("x", 1), a("x", 2)), txn(1, 3, 4, r("x", 1, 2))]) == set()


def test_a_realtime_cycle_is_named_by_the_weakest_class_it_has() -> None:
    """T0 completed before T1 began (rt); T1 -> T2 -> T0 by wr alone: G1c-realtime, though a
    shorter cycle through T1's rw edge to T0 is G-single-realtime."""
    h = [
        txn(0, 1, 2, r("z", 3), a("y", 5)),
        txn(1, 3, 4, a("x", 1), r("y")),
        txn(2, 5, 6, r("x", 1), a("z", 3)),
        txn(3, 10, 11, r("y", 5)),
    ]
    assert "G1c-realtime" in kinds(h, STRICT)
    assert kinds(h, SERIAL) == set()


def test_a_history_with_nothing_committed_exits_2(tmp_path: Path) -> None:
    failed = history_checks.write_jsonl(
        tmp_path / "failed.jsonl",
        [
            {"process": 0, "type": "invoke", "f": "txn", "value": [["append", "x", 1]]},
            {"process": 0, "type": "fail", "f": "txn", "value": [["append", "x", 1]]},
        ],
    )
    done = history_checks.check_file(str(failed), "--model", "list-append")
    assert done.returncode == 2 and done.stdout == ""
    assert "none of the history's 1 transactions committed (ok): nothing to check" in done.stderr


def test_completions_without_a_process_stand_alone(tmp_path: Path) -> None:
    """Elle's own test histories write committed transactions with no :process: each is an
    operation of its own, which nothing precedes in real time; an invocation needs a process."""
    edn = tmp_path / "history.edn"
    edn.write_text(
        "{:type :ok, :value [[:r :x nil] [:append :y 1]], :f :txn}\n"
        "{:type :ok, :value [[:r :y nil] [:append :x 2]], :f :txn}\n",
        encoding="utf-8",
    )
    _name, txns = list_append.read(str(edn))
    assert [t.process for t in txns] == ["(line 1)", "(line 2)"]
    assert set(list_append.check(txns, STRICT).anomalies) == {"G2"}
    lone = history_checks.write_jsonl(
        tmp_path / "lone.jsonl", [{"type": "invoke", "f": "txn", "value": []}]
    )
    done = history_checks.check_file(str(lone), "--model", "list-append")
    assert done.returncode == 2 and 'field "process": missing' in done.stderr


@pytest.mark.parametrize("consistency", [STRICT, SERIAL])
def test_agrees_with_every_serial_order_when_appends_go_unseen(consistency: str) -> None:
    """No final read: committed appends that no read shows must still order the reads before
    them. The verdict equals the brute-force oracle's, both ways."""
    rng = random.Random(13 if consistency == STRICT else 17)
    strict = consistency == STRICT
    violations = holds_count = 0
    for _ in range(1500):
        h = _random_history(rng)[:-1]
        holds = list_append.check(h, consistency).holds
        assert holds == _serial_ok(h, strict), [t.show() for t in h]
        violations += not holds
        holds_count += holds
    assert violations > 150 and holds_count > 150


def test_an_edge_of_two_kinds_counts_as_the_weaker() -> None:
    """T0 -> T1 is both ww (x: 2 right after 1) and rw (T0 read y without T1's 3); T1 -> T0 is ww
    (z). The cycle is G0 through the ww, and nothing else: not also a G-single through the rw."""
    h = [
        txn(0, 1, 10, a("x", 1), r("y"), a("z", 6)),
        txn(1, 2, 11, a("x", 2), a("y", 3), a("z", 5)),
        txn(2, 12, 13, r("x", 1, 2), r("y", 3), r("z", 5, 6)),
    ]
    assert kinds(h, SERIAL) == {"G0"}


def test_a_realtime_edge_from_an_earlier_completion_is_kept() -> None:
    """T0 completes; T1, invoked before that, completes after; T2 begins after both. T0 precedes
    T2 in real time though T1 completed last, and T2's write T0 read is G1c-realtime."""
    h = [
        txn(0, 1, 3, r("x", 9)),  # T0 read T2's append, yet completed before T2 began
        txn(1, 2, 5, a("y", 1)),
        txn(2, 6, 7, a("x", 9)),
    ]
    assert kinds(h, STRICT) == {"G1c-realtime"}
    assert kinds(h, SERIAL) == set()


def _paired(*objs: dict[str, object]) -> list[Txn]:
    evs = [events.Event(float(i), o) for i, o in enumerate(objs, start=1)]
    return list_append.parse(events.pair(evs, "h", ("txn",)), "h")


def test_an_info_completion_leaves_its_transaction_open() -> None:
    """A transaction whose outcome is unknown may take effect after its info line: no rt edge
    leaves it, so a later read that misses its append is no anomaly."""
    h = _paired(
        {"process": 0, "type": "invoke", "f": "txn", "value": [["append", "x", 1]]},
        {"process": 0, "type": "info", "f": "txn", "value": [["append", "x", 1]]},
        {"process": 1, "type": "invoke", "f": "txn", "value": [["r", "x", None]]},
        {"process": 1, "type": "ok", "f": "txn", "value": [["r", "x", []]]},
        {"process": 2, "type": "invoke", "f": "txn", "value": [["r", "x", None]]},
        {"process": 2, "type": "ok", "f": "txn", "value": [["r", "x", [1]]]},
    )
    assert h[0].ret == math.inf
    assert kinds(h, STRICT) == set()


def test_a_failed_completion_keeps_the_invocations_operations() -> None:
    """A fail completion may carry no value (or another one): what failed is what was invoked,
    and a read of it is G1a."""
    h = _paired(
        {"process": 0, "type": "invoke", "f": "txn", "value": [["append", "x", 1]]},
        {"process": 0, "type": "fail", "f": "txn", "value": None},
        {"process": 1, "type": "invoke", "f": "txn", "value": [["r", "x", None]]},
        {"process": 1, "type": "ok", "f": "txn", "value": [["r", "x", [1]]]},
    )
    assert kinds(h, SERIAL) == {"G1a"}


# -- the fast reading path (list_append._quick) against the long one (events.pair, parse) ---------

_GOOD_MOP = st.one_of(
    st.tuples(st.just("append"), st.sampled_from([1, "x"]), st.sampled_from([1, 2, "v"])),
    st.tuples(
        st.just("r"), st.sampled_from([1, "x"]), st.one_of(st.none(), st.lists(st.integers(1, 3)))
    ),
).map(list)
_ODD = st.sampled_from([None, 7, True, 1.5, "nemesis", "read", "done", [], [["w", 1, 1]]])


@st.composite
def _histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of processes 0, 1 and "p" that pair as Jepsen writes them (an invocation, then its
    ok, fail or info, or none), each with well-formed micro-operations; now and then one field of
    one event made odd (a float process, a nemesis line, another f, a malformed value)."""
    running: dict[Any, list[Any]] = {}
    out: list[dict[str, Any]] = []
    for process in draw(st.lists(st.sampled_from([0, 1, "p"]), max_size=14)):
        mops = draw(st.lists(_GOOD_MOP, max_size=3))
        if process not in running:
            running[process] = mops
            invoked = [[f, k, None if f == "r" else v] for f, k, v in mops]
            out.append({"process": process, "type": "invoke", "f": "txn", "value": invoked})
            continue
        kind = draw(st.sampled_from(["ok", "ok", "fail", "info"]))
        mops = running.pop(process)
        value = mops if kind == "ok" else draw(st.sampled_from([None, "same"]))
        if value == "same":
            value = [[f, k, None if f == "r" else v] for f, k, v in mops]
        out.append({"process": process, "type": kind, "f": "txn", "value": value})
    if out and draw(st.booleans()):
        at = draw(st.integers(0, len(out) - 1))
        key = draw(st.sampled_from(["process", "type", "f", "value"]))
        out[at] = {**out[at], key: draw(_ODD)}
    return out


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(_histories())
def test_the_fast_reading_path_gives_what_the_long_path_gives(fields: list[dict[str, Any]]) -> None:
    """Where the one-pass reading of a history (`_quick`, no Event or Call per line) takes a
    history, the long way (events.pair, then parse) reads the same transactions from it: the same
    order, processes, operations, spans and outcomes. Where it declines, the long way decides."""
    objects = [(float(n), f) for n, f in enumerate(fields, 1)]
    reading = list_append.Reading()
    quick = list_append._quick(objects, reading)
    if quick is None:
        return
    evs = [events.Event(line, f) for line, f in objects]
    long = list_append.parse(events.pair(evs, "h", ("txn",)), "h")
    shape = [(t.index, t.process, t.mops, t.call, t.ret, t.status) for t in quick]
    assert shape == [(t.index, t.process, t.mops, t.call, t.ret, t.status) for t in long]
    # what it found on the way spares the check and the loss count no finding
    known = reading.known()
    for consistency in (STRICT, SERIAL):
        assert list_append.check(quick, consistency, known).anomalies == (
            list_append.check(long, consistency).anomalies
        )
    assert _losses(losses_append.count(quick, known.chains)) == _losses(losses_append.count(long))
    # the rt edges from the frontiers it kept: those of txn.realtime, added in the same order
    graph, kept = cycles.Graph(len(quick)), cycles.Graph(len(quick))
    list_append.realtime(quick, graph)
    for t in quick:
        if t.status != "fail":
            for a in known.before[t.index]:
                kept.add(a, t.index, cycles.RT)
    assert [list(s.items()) for s in kept.succ] == [list(s.items()) for s in graph.succ]


def _losses(found: losses_append.Losses) -> tuple[Any, ...]:
    """The loss count with each transaction by its index (transactions compare by identity)."""
    return (
        found.acknowledged,
        [(x.append.index, x.key, x.value, x.read.index) for x in found.lost],
        found.indeterminate,
        found.recovered,
        [(x.read.index, x.key, x.value) for x in found.unexpected],
        [(x.read.index, x.key, x.value) for x in found.duplicated],
    )


def _ok_reads(*reads: list[int]) -> list[tuple[float, dict[str, Any]]]:
    """Events of one process: a transaction of one read of "x" for each of `reads`, each ok."""
    out: list[dict[str, Any]] = []
    for r in reads:
        out.append({"process": 0, "type": "invoke", "f": "txn", "value": [["r", "x", None]]})
        out.append({"process": 0, "type": "ok", "f": "txn", "value": [["r", "x", r]]})
    return [(float(n), f) for n, f in enumerate(out, 1)]


def test_the_fast_path_shares_the_values_of_a_keys_reads_and_keeps_each_read() -> None:
    """`Reading.share`: a read that a longer one extends, or that extends the longest so far, holds
    the same value objects; one that is neither (incompatible-order) keeps its own values, and its
    key no longer counts as one whose reads are prefixes of one."""
    # each read's values of its own, as a file's lines give them (not one constant of this code)
    read = json.loads("[[1000, 2000], [1000, 2000, 3000], [1000], [1000, 4000]]")
    assert read[0][0] is not read[1][0]
    reading = list_append.Reading()
    txns = list_append._quick(_ok_reads(*read), reading)
    assert txns is not None and reading.broken == {"x"} and reading.known().chains == {}
    reads = [t.mops[0][2] for t in txns]
    assert reads == [(1000, 2000), (1000, 2000, 3000), (1000,), (1000, 4000)]
    assert all(r[0] is reads[0][0] for r in reads[1:3]) and reads[1][1] is reads[0][1]
    assert "incompatible-order" in kinds(txns)
    reading = list_append.Reading()
    assert list_append._quick(_ok_reads([5], [5, 6], [], [5]), reading) is not None
    assert reading.known().chains == {"x": (5, 6)}


def test_events_at_one_time_are_left_to_the_long_way() -> None:
    """EDN events sharing a line share a time: a completion and an invocation at one time do not
    follow each other in real time (txn.realtime orders the invocation first), whatever their
    order in the line, so the one pass, which keeps the frontier in the order it reads, declines."""
    a = {"process": 0, "f": "txn", "value": [["append", "x", 1]]}
    b = {"process": 1, "type": "invoke", "f": "txn", "value": [["r", "x", None]]}
    objects = [(1.0, {**a, "type": "invoke"}), (2.0, {**a, "type": "ok"}), (2.0, b)]
    assert list_append._quick(objects) is None
    assert list_append._quick([*objects[:2], (3.0, b)]) is not None


def test_a_file_the_one_pass_reading_leaves_is_read_the_long_way(tmp_path: Path) -> None:
    """orjson reads an integer beyond 64 bits as a float, which the one pass refuses: the file is
    read again as `reader.read` reads it (the process exactly); a blank line holding \\f is two
    lines to it, so the completion is on line 4."""
    big = 2**64
    path = tmp_path / "h.jsonl"
    invoke = {"process": big, "type": "invoke", "f": "txn", "value": [["append", "x", 1]]}
    done = {**invoke, "type": "ok"}
    path.write_text(f"{json.dumps(invoke)}\n\x0c\n{json.dumps(done)}\n", encoding="utf-8")
    _, txns = list_append.read(str(path))
    assert [(type(t.process), t.process, t.call, t.ret) for t in txns] == [(int, big, 1.0, 4.0)]


@pytest.mark.parametrize(
    ("invoked", "says"),
    [
        ([["r", "x", None], ["r", "x", None]], "differ from the invocation's"),
        ([["append", "y", 1], ["r", "x", None]], "differ from the invocation's"),
        ([["append", "x", 1], ["r", 1, None]], "differ from the invocation's"),
        ([["append", "x", 1]], "differ from the invocation's"),
        ([["append", "x", 1], "r"], 'expected ["append", k, v] or ["r", k, list]'),
        ([["append", "x", 1.5], ["r", "x", None]], "an appended value is a number or a string"),
        ([["append", "x", 1], ["r", "x", 7]], "a read's value is a list or null"),
    ],
)
def test_an_ok_completion_unlike_its_invocation_is_refused(
    invoked: list[Any], says: str, tmp_path: Path
) -> None:
    """The one-pass reading compares an ok completion with its invocation as the long way does
    (`_well_formed`): any difference in functions, keys or their types, length, or a malformed
    invocation goes the long way, which names it."""
    path = tmp_path / "h.jsonl"
    done = [["append", "x", 1], ["r", "x", [1]]]
    lines = [
        {"process": 0, "type": "invoke", "f": "txn", "value": invoked},
        {"process": 0, "type": "ok", "f": "txn", "value": done},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    with pytest.raises(
        MeshcheckError, match=f'^{re.escape(str(path))}:1: field "value": .*{re.escape(says)}'
    ):
        list_append.read(str(path))

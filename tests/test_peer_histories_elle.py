"""The list-append checker (traces/history/list_append.py) against the test histories of Jepsen's
Elle, the reference checker (github.com/jepsen-io/elle, test/elle/list_append_test.clj; Alvaro and
Kingsbury, "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020).

Each history of that file that Elle checks for a verdict or an anomaly set was translated by hand
into meshcheck's events, with Elle's verdict, anomaly names and options beside it
(tests/data/peers/elle_list_append.json; docs/peers.md says what was translated and skipped).
Every case is checked here: where Elle says invalid, meshcheck must find an anomaly, and each of
Elle's anomalies that has a meshcheck name (`NAMES`) must be among meshcheck's; where Elle says
valid, meshcheck must hold. Where they differ, the case is in `DIFFERENCES` with the reason, and
a difference that goes away must leave the list too.

The rw-register checker (traces/history/rw_register.py) is compared the same way with the
histories of Elle's test/elle/rw_register_test.clj, written below as data (`RW_CASES`, with
`RW_NAMES` and `RW_DIFFERENCES`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from meshcheck.traces.history import consistency
from meshcheck.traces.history import events
from meshcheck.traces.history import list_append
from meshcheck.traces.history import rw_keys
from meshcheck.traces.history import rw_register

DATA = Path(__file__).resolve().parent / "data" / "peers" / "elle_list_append.json"
SOURCE = "test/elle/list_append_test.clj"
STRICT, SERIAL = "strict-serializable", "serializable"
NOTHING = "nothing to check"  # meshcheck's exit 2: no transaction committed

# Elle's anomaly names, as it reports them, to meshcheck's kinds (list_append.KINDS). None: no
# meshcheck kind of its own (a process-order cycle, a note about the graph or the search), so
# only the verdict is compared for it.
NAMES: dict[str, str | None] = {
    "G0": "G0",
    "G1a": "G1a",
    "G1b": "G1b",
    "G1c": "G1c",
    "G-single": "G-single",
    "G-single-item": "G-single",
    "G-nonadjacent": "G-nonadjacent",  # two or more rw edges, none adjacent
    "G-nonadjacent-item": "G-nonadjacent",
    "G2": "G2",
    "G2-item": "G2",
    "G-single-item-realtime": "G-single-realtime",
    "G-nonadjacent-item-realtime": "G-nonadjacent-realtime",
    "G2-item-realtime": "G2-realtime",
    "internal": "internal",
    "future-read": "future-read",  # a read showing the transaction's own later append
    # a committed append right after a failed one in the version order: the read that shows
    # that order reads the failed transaction's value
    "dirty-update": "G1a",
    "incompatible-order": "incompatible-order",
    "duplicate-elements": "duplicate-elements",
    "lost-update": "lost-update",
    "G-single-item-process": "G-single-process",
    "G-nonadjacent-item-process": "G-nonadjacent-process",
    "G1c-process": "G1c-process",
    "empty-transaction-graph": None,
}

# Elle's searches that the test runs alone, not a whole check: only the kinds they look for are
# compared (a history written to show an internal read may read values nobody appended).
SCOPES: dict[str, frozenset[str]] = {
    "(g1a-cases history)": frozenset({"G1a"}),
    "(g1b-cases history)": frozenset({"G1b"}),
    "(internal-cases history)": frozenset({"internal", "future-read"}),
}

_WEAKER = "Elle checks {what} alone; meshcheck checks serializability, which {this} breaks"

# (test, options) -> why Elle's verdict and meshcheck's differ. A reason starting "BUG:" marks
# meshcheck passing a history that is not serializable: none so far.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("checker-test / G0", "{:consistency-models nil, :anomalies [:G2]}"): _WEAKER.format(
        what="for G2 (which does not include G0)", this="the write cycle G0"
    ),
    ("checker-test / G1a", "{:consistency-models [:read-uncommitted]}"): (
        "read uncommitted allows G1a and Elle's graph has no edge: unknown "
        "(empty-transaction-graph); meshcheck checks read uncommitted too, which holds: it names "
        "the G1a it allows"
    ),
    ("checker-test / G1a", "{:consistency-models nil, :anomalies [:G2]}"): (
        "Elle looks for G2 alone and its graph has no edge: unknown (empty-transaction-graph); "
        "meshcheck checks serializability: the read of the failed append is G1a"
    ),
    ("checker-test / G1b", "{:consistency-models nil, :anomalies [:G0]}"): _WEAKER.format(
        what="for G0", this="the intermediate read (G1b, and a G-single)"
    ),
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G0]}"): _WEAKER.format(
        what="for G0", this="the G1c"
    ),
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G2]}"): _WEAKER.format(
        what="for G2 (which does not include G1c)", this="the G1c"
    ),
    ("checker-test / G-single", "{:consistency-models nil, :anomalies [:G0]}"): _WEAKER.format(
        what="for G0", this="the G-single"
    ),
    ("checker-test / G-single", "{:consistency-models nil, :anomalies [:G1]}"): _WEAKER.format(
        what="for G1", this="the G-single"
    ),
    ("checker-test / G2", "{:consistency-models nil, :anomalies [:G0]}"): _WEAKER.format(
        what="for G0", this="the G2 (write skew)"
    ),
    ("checker-test / G2", "{:consistency-models nil, :anomalies [:G1]}"): _WEAKER.format(
        what="for G1", this="the G2 (write skew)"
    ),
    (
        "checker-test / dirty update / none",
        "{:consistency-models nil, :anomalies [:dirty-update]}",
    ): (
        "no transaction committed: Elle reports unknown (empty-transaction-graph), meshcheck has "
        "nothing to check (exit 2)"
    ),
    ("checker-test / duplicated elements", "{:consistency-models [:read-committed]}"): (
        "meshcheck orders x as read, [1 2 1], so 2 -> 1 is a ww edge too and it names the cycle "
        "G0; Elle orders x by the distinct elements [1 2] and names it G1c (through y); both "
        "report the duplicate"
    ),
}


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(DATA.read_text(encoding="utf-8"))
    return cases


CASES = _cases()


def _key(case: Mapping[str, Any]) -> tuple[str, str]:
    return case["test"], case["options"]


def _consistency(options: str) -> str:
    """The model Elle's options name, when meshcheck checks it (traces/history/consistency.py);
    else strict serializability where they ask for a realtime anomaly, or give no model (Elle's
    default is strict-serializable: list_append.clj, `check`); else serializability."""
    named = re.search(r":consistency-models \[:([\w.-]+)\]", options)
    model = None if named is None else consistency.canonical(named.group(1))
    if model in consistency.CHECKED:
        assert model is not None
        return model
    strict = "strict-serializable" in options or "realtime" in options or options == "{}"
    return STRICT if strict else SERIAL


def run_meshcheck(
    case: Mapping[str, Any], consistency: str | None = None
) -> tuple[bool | str | None, set[str]]:
    """meshcheck's verdict on the case's history (True: it holds; NOTHING: no transaction
    committed) and the kinds of anomaly it found."""
    name = f"elle: {case['test']}"
    evs = [events.Event(float(line), obj) for line, obj in enumerate(case["events"], start=1)]
    txns = list_append.parse(events.pair(evs, name, ("txn",)), name)
    report = list_append.check(txns, consistency or _consistency(case["options"]))
    if not any(t.status == "ok" for t in txns):
        return NOTHING, set(report.anomalies)
    return report.holds, set(report.anomalies)


def difference(case: Mapping[str, Any]) -> str | None:
    """How meshcheck's list-append verdict differs from Elle's, or None when they agree."""
    return _differs(case, *run_meshcheck(case), NAMES)


def _differs(
    case: Mapping[str, Any], verdict: Any, kinds: set[str], names: Mapping[str, str | None]
) -> str | None:
    """How meshcheck's `verdict` and `kinds` of anomaly differ from Elle's on `case` (Elle's
    anomaly names mapped by `names`), or None when they agree."""
    elle_valid = case["elle"]["valid"]
    scope = SCOPES.get(case["options"])
    if scope is not None and verdict != NOTHING:
        kinds &= scope
        verdict = not kinds
    expected = {k for a in case["elle"]["anomalies"] if (k := names[a]) is not None}
    if elle_valid is True and verdict is True:
        return None
    if elle_valid is False and verdict is False and expected <= kinds:
        return None
    return f"Elle {elle_valid} {sorted(expected)}, meshcheck {verdict} {sorted(kinds)}"


def test_the_translated_cases_are_well_formed() -> None:
    assert len(CASES) >= 60
    assert len({_key(c) for c in CASES}) == len(CASES), "a (test, options) pair twice"
    for c in CASES:
        assert set(c) <= {"source", "test", "elle", "options", "note", "events"}, c["test"]
        assert c["source"] == SOURCE and c["events"], c["test"]
        assert c["elle"]["valid"] in (True, False, "unknown"), c["test"]
        assert set(c["elle"]["anomalies"]) <= set(NAMES), c["elle"]["anomalies"]
        assert (c["elle"]["valid"] is True) == (c["elle"]["anomalies"] == []) or (
            c["options"].startswith("elle.core/check")
        ), c["test"]
    assert {k for k in NAMES.values() if k is not None} <= set(list_append.KINDS)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['test']} {c['options']}" for c in CASES])
def test_meshcheck_agrees_with_elle_or_the_difference_is_listed(case: dict[str, Any]) -> None:
    found = difference(case)
    listed = DIFFERENCES.get(_key(case))
    if listed is None:
        assert found is None, f"{case['test']} {case['options']}: {found}"
    else:
        assert found is not None, f"listed in DIFFERENCES, but they agree now: {_key(case)}"


def test_every_listed_difference_names_a_case() -> None:
    keys = {_key(c) for c in CASES}
    assert set(DIFFERENCES) <= keys, set(DIFFERENCES) - keys


def test_process_order_cycles_are_realtime_cycles() -> None:
    """Elle's process-order anomalies (strong session SI): each process's transactions here run
    one after another, so meshcheck's rt edges hold the process order, and checked for strict
    serializability each history has a realtime cycle (and none without one)."""
    process = [c for c in CASES if any(a.endswith("-process") for a in c["elle"]["anomalies"])]
    assert len(process) == 3
    for c in process:
        verdict, kinds = run_meshcheck(c, STRICT)
        assert verdict is False and kinds and all(k.endswith("-realtime") for k in kinds), kinds
        assert run_meshcheck(c, SERIAL) == (True, set())


# -- rw-register: test/elle/rw_register_test.clj ----------------------------------------------------
#
# The rw-register checker (traces/history/rw_register.py) against the histories of Elle's
# rw-register tests, compared as above. The histories are written here as data: each event is
# (process, type, micro-operations), process None for a completion Elle writes without an
# invocation (meshcheck's events leave the process out: an operation nothing precedes in real
# time), `f` "txn" on every event; Elle's keywords are strings (`:x` is "x"), its `nil` null.
# docs/peers.md says what was translated and skipped.

RW_SOURCE = "test/elle/rw_register_test.clj"

Ev = tuple[int | None, str, list[list[Any]]]


def _w(k: Any, v: int) -> list[Any]:
    return ["w", k, v]


def _r(k: Any, v: int | None = None) -> list[Any]:
    return ["r", k, v]


_G1C = [(None, "ok", [_w("x", 1), _r("y", 1)]), (None, "ok", [_w("y", 1), _r("x", 1)])]
_G1B = [(None, "ok", [_w("x", 1), _w("x", 2)]), (None, "ok", [_r("x", 1)])]
_G_SINGLE_ORDER = [
    (None, "ok", [_r("x"), _w("y", 2)]),
    (None, "ok", [_w("x", 3), _w("y", 4)]),
]
_G2_ORDER = [
    (None, "ok", [_w("x", 1), _w("y", 2), _w("z", 3)]),
    (None, "ok", [_r("x", 1), _w("y", 5)]),
    (None, "ok", [_r("z", 3), _w("x", 4)]),
    (None, "ok", [_w("z", 7), _w("y", 8)]),
]
_WFR = [
    (None, "ok", [_r("y", 1), _w("x", 1), _w("y", 2)]),
    (None, "ok", [_r("x", 1), _r("y", 1)]),
]
_G0_WRITES = [(0, "invoke", [_w("x", 1), _w("y", 2)]), (1, "invoke", [_w("x", 2), _w("y", 1)])]
_WRITE_THEN_READ_2 = [
    (0, "invoke", [_w("x", 1)]),
    (0, "ok", [_w("x", 1)]),
    (0, "invoke", [_r("x")]),
    (0, "ok", [_r("x", 2)]),
]


def _wr_graph(*txns: list[list[Any]]) -> list[Ev]:
    """wr-graph-test's histories: each transaction invoked and completed on process 0, the
    invocation carrying the completion's values."""
    return [e for t in txns for e in ((0, "invoke", t), (0, "ok", t))]


# (test, options, Elle's verdict, Elle's anomalies, events[, note])
_RW: list[tuple[Any, ...]] = [
    (
        "internal-cases-test / good",
        "(internal-cases history)",
        True,
        [],
        [(None, "ok", [_r("y", 2), _w("x", 2), _r("x", 2), _w("x", 1), _r("x", 1)])],
    ),
    (
        "internal-cases-test / stale",
        "(internal-cases history)",
        False,
        ["internal"],
        [(None, "ok", [_r("x", 1), _w("x", 2), _r("x", 1)])],
    ),
    (
        "internal-cases-test / nil read",
        "(internal-cases history)",
        False,
        ["internal"],
        [(None, "ok", [_r("x"), _r("x", 2)])],
    ),
    (
        "g1a-cases-test / good",
        "(g1a-cases history)",
        True,
        [],
        [(None, "ok", [_w("x", 1)]), (None, "ok", [_r("x", 1)])],
    ),
    (
        "g1a-cases-test / bad",
        "(g1a-cases history)",
        False,
        ["G1a"],
        [(None, "ok", [_r("x", 2)]), (None, "fail", [_w("x", 2)])],
    ),
    (
        "g1b-cases-test / good",
        "(g1b-cases history)",
        True,
        [],
        [(None, "ok", [_w("x", 1), _w("x", 2)]), (None, "ok", [_r("x"), _r("x", 2)])],
    ),
    (
        "g1b-cases-test / bad",
        "(g1b-cases history)",
        False,
        ["G1b"],
        [(None, "ok", [_r("x", 2)]), (None, "ok", [_w("x", 2), _w("x", 1)])],
    ),
    (
        "wr-graph-test / write and read",
        "elle.core/check {:analyzer wr-graph}",
        True,
        [],
        _wr_graph([_w("x", 0)], [_w("x", 0)]),
    ),
    (
        "wr-graph-test / chain on one register",
        "elle.core/check {:analyzer wr-graph}",
        False,
        [],
        _wr_graph([_r("x", 0), _w("x", 1)], [_r("x", 1), _w("x", 0)]),
        "the wr-graph analyzer alone reports the cycle, not a type",
    ),
    (
        "wr-graph-test / chain across two registers",
        "elle.core/check {:analyzer wr-graph}",
        False,
        [],
        _wr_graph([_r("x", 0), _w("y", 1)], [_r("y", 1), _w("x", 0)]),
        "the wr-graph analyzer alone reports the cycle, not a type",
    ),
    (
        "wr-graph-test / write skew",
        "elle.core/check {:analyzer wr-graph}",
        True,
        [],
        _wr_graph([_r("x", 0), _r("y", 0), _w("x", 1)], [_r("x", 0), _r("y", 0), _w("y", 1)]),
    ),
    (
        "checker-test / Read doesn't return what was just been written",
        "{:consistency-models [:strict-serializable], :linearizable-keys? true}",
        True,
        [],
        _WRITE_THEN_READ_2,
        "Elle's test says of its verdict: a bug, this should be invalid",
    ),
    (
        "checker-test / Read read returns what was just been written",
        "{:consistency-models [:strict-serializable], :linearizable-keys? true}",
        False,
        ["cyclic-versions"],
        [*_WRITE_THEN_READ_2, (0, "invoke", [_r("x")]), (0, "ok", [_r("x", 1)])],
    ),
    (
        "checker-test / G0",
        "{:consistency-models nil, :anomalies [:G0]}",
        "unknown",
        ["empty-transaction-graph"],
        _G0_WRITES,
        "two invocations, no completion",
    ),
    (
        "checker-test / G0",
        "{:consistency-models nil, :anomalies [:G0], :sequential-keys? true}",
        False,
        ["G0"],
        [
            _G0_WRITES[0],
            (0, "ok", _G0_WRITES[0][2]),
            _G0_WRITES[1],
            (1, "ok", _G0_WRITES[1][2]),
            (0, "invoke", [_r("x")]),
            (0, "ok", [_r("x", 2)]),
            (1, "invoke", [_r("y")]),
            (1, "ok", [_r("y", 2)]),
        ],
    ),
    (
        "checker-test / G1a",
        "{:consistency-models nil, :anomalies [:G1]}",
        False,
        ["G1a", "empty-transaction-graph"],
        [(None, "ok", [_r("x", 1)]), (None, "fail", [_w("x", 1)])],
    ),
    (
        "checker-test / G1b",
        "{:consistency-models nil, :anomalies [:G0]}",
        "unknown",
        ["empty-transaction-graph"],
        _G1B,
    ),
    (
        "checker-test / G1b",
        "{:consistency-models nil, :anomalies [:G1]}",
        False,
        ["G1b", "empty-transaction-graph"],
        _G1B,
    ),
    (
        "checker-test / G1b",
        "{:consistency-models [:repeatable-read]}",
        False,
        ["G1b", "empty-transaction-graph"],
        _G1B,
    ),
    (
        "checker-test / G-single transaction-order",
        "{:consistency-models [:serializable]}",
        True,
        [],
        _G_SINGLE_ORDER,
    ),
    (
        "checker-test / G-single transaction-order",
        "{:consistency-models [:serializable], :transaction-order {0 2, 1 1}}",
        False,
        ["G-single-item"],
        _G_SINGLE_ORDER,
    ),
    (
        "checker-test / G2-item transaction-order",
        "{:consistency-models [:serializable]}",
        True,
        [],
        _G2_ORDER,
    ),
    (
        "checker-test / G2-item transaction-order",
        "{:consistency-models [:serializable], :transaction-order {0 1, 1 4, 2 2, 3 3}}",
        False,
        ["G2-item"],
        _G2_ORDER,
    ),
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G0]}", True, [], _G1C),
    ("checker-test / G1c", "{:consistency-models [:read-uncommitted]}", True, [], _G1C),
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G1]}", False, ["G1c"], _G1C),
    ("checker-test / G1c", "{:consistency-models [:read-committed]}", False, ["G1c"], _G1C),
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G2]}", True, [], _G1C),
    ("checker-test / G1c", "{:consistency-models [:serializable]}", False, ["G1c"], _G1C),
    (
        "checker-test / G2-item",
        "{:consistency-models [:read-committed], :linearizable-keys? true}",
        True,
        [],
        [
            (0, "invoke", [_r("x"), _r("y")]),
            (0, "ok", [_r("x", 1), _r("y", 1)]),
            (1, "invoke", [_r("x"), _w("y", 2)]),
            (2, "invoke", [_r("y"), _w("x", 2)]),
            (2, "ok", [_r("y", 1), _w("x", 2)]),
            (1, "ok", [_r("x", 1), _w("y", 2)]),
        ],
    ),
    (
        "checker-test / internal",
        "{:consistency-models nil, :anomalies [:internal]}",
        False,
        ["empty-transaction-graph", "internal"],
        [(None, "ok", [_r("x", 1), _r("x", 2)])],
    ),
    (
        "checker-test / initial state",
        "{:consistency-models [:serializable]}",
        False,
        ["G-single-item"],
        [
            (0, "invoke", [_r("x"), _r("y")]),
            (1, "invoke", [_w("y", 1), _w("x", 2)]),
            (1, "ok", [_w("y", 1), _w("x", 2)]),
            (0, "ok", [_r("x"), _r("y", 1)]),
        ],
        "the writer is process 1 here (0 in Elle's test, with both transactions running at once)",
    ),
    (
        "checker-test / wfr",
        "{:wfr-keys? false, :consistency-models [:serializable]}",
        True,
        [],
        _WFR,
    ),
    (
        "checker-test / wfr",
        "{:wfr-keys? true, :consistency-models [:serializable]}",
        False,
        ["G-single-item"],
        _WFR,
    ),
    (
        "checker-test / cyclic version order",
        "{:sequential-keys? true}",
        False,
        ["cyclic-versions"],
        [
            (0, "invoke", [_w("x", 1)]),
            (0, "ok", [_w("x", 1)]),
            (0, "invoke", [_w("x", 2)]),
            (0, "ok", [_w("x", 2)]),
            (0, "invoke", [_r("x")]),
            (0, "ok", [_r("x", 1)]),
        ],
    ),
    (
        "lost-update-test",
        "{}",
        False,
        ["lost-update"],
        [
            (0, "invoke", [_r("x"), _w("x", 1)]),
            (0, "ok", [_r("x", 0), _w("x", 1)]),
            (1, "invoke", [_r("x"), _w("x", 2)]),
            (1, "ok", [_r("x", 0), _w("x", 2)]),
        ],
    ),
    (
        "scc-sort-bug-test",
        "{:consistency-models [:strong-serializable], :wfr-keys? true, :linearizable-keys? true}",
        False,
        ["G1c-realtime", "cyclic-versions"],
        [
            (0, "invoke", [_r("x")]),
            (0, "ok", [_r("x", 1)]),
            (0, "invoke", [_r("x")]),
            (0, "ok", [_r("x")]),
            (0, "invoke", [_r("x"), _w("x", 3)]),
            (0, "ok", [_r("x", 4), _w("x", 3)]),
            (0, "invoke", [_w("x", 4)]),
            (0, "ok", [_w("x", 4)]),
        ],
    ),
    (
        "cyclic-versions-bug-test",
        "{:consistency-models [:serializable], :linearizable-keys? true}",
        True,
        [],
        [
            (0, "invoke", []),
            (0, "ok", []),
            (0, "invoke", [_r(1)]),
            (1, "invoke", [_w(1, 4)]),
            (2, "invoke", []),
            (0, "ok", [_r(1)]),
            (1, "ok", [_w(1, 4)]),
            (2, "ok", []),
            (0, "invoke", []),
            (0, "ok", []),
            (0, "invoke", [_r(1)]),
            (0, "ok", [_r(1, 4)]),
        ],
        "Elle's events carry indexes and times; here their order alone, which the times keep",
    ),
]


def _rw_cases() -> list[dict[str, Any]]:
    out = []
    for test, options, valid, found, evs, *note in _RW:
        case: dict[str, Any] = {
            "source": RW_SOURCE,
            "test": test,
            "elle": {"valid": valid, "anomalies": found},
            "options": options,
            "events": [
                {"type": kind, "f": "txn", "value": mops}
                | ({} if process is None else {"process": process})
                for process, kind, mops in evs
            ],
        }
        if note:
            case["note"] = note[0]
        out.append(case)
    return out


RW_CASES = _rw_cases()

# Elle's rw-register anomaly names to meshcheck's kinds (rw_register.KINDS); None: the verdict
# alone is compared.
RW_NAMES: dict[str, str | None] = {
    "G0": "G0",
    "G1a": "G1a",
    "G1b": "G1b",
    "G1c": "G1c",
    "G-single-item": "G-single",
    "G2-item": "G2",
    "G1c-realtime": "G1c-realtime",
    "internal": "internal",
    # two transactions that read the same version of a key and both wrote it: Elle's lost update
    # (lost_update.py), beside a G2 (test_a_lost_update_is_g2_as_elle_names_it)
    "lost-update": "lost-update",
    # a cycle in the version order Elle infers from its assumptions (the initial state first,
    # linearizable or sequential keys, writes following reads): meshcheck keeps no version graph
    # of its own, and the same contradiction is a dependency cycle, rt edges included when
    # strict, or a read of a value nobody wrote
    "cyclic-versions": None,
    "empty-transaction-graph": None,
}

_UNWRITTEN = (
    "{what} never written: Elle's rw-register has no garbage-read check and takes it for a "
    "version older than every write; meshcheck's initial state is null, and a read of a value "
    "nobody wrote is a garbage-read, which names no version{then}"
)
_ORDER = (
    "Elle is given the database's commit order (:transaction-order) and draws ww and rw edges "
    "from it; meshcheck checks the history alone, which is serializable (that order as real "
    "time, strict serializability finds the cycle: test_rw_an_order_given_to_elle_is_a_realtime_"
    "cycle)"
)

# (test, options) -> why Elle's verdict and meshcheck's differ; "BUG:" would mark meshcheck
# passing a history that is not serializable: none.
_UNWRITTEN_LATER = (
    "; written first, meshcheck names {it} (test_rw_a_value_nobody_wrote_written_first)"
)
_WR_GRAPH = "elle.core/check {:analyzer wr-graph}"
_RW_WEAKER = "Elle checks {what} alone; meshcheck checks serializability, which {this} breaks"
RW_DIFFERENCES: dict[tuple[str, str], str] = {
    ("wr-graph-test / write and read", _WR_GRAPH): (
        "both transactions write 0 to x: meshcheck takes written values to be unique (a read "
        "names its writer) and reports the duplicate-write; Elle's wr-graph analyzer alone "
        "looks at wr edges only"
    ),
    ("wr-graph-test / write skew", _WR_GRAPH): _UNWRITTEN.format(
        what="x = 0 and y = 0 are",
        then="; Elle's wr-graph analyzer alone allows the write skew, which meshcheck names G2 "
        "once 0 is written first (test_rw_a_value_nobody_wrote_written_first)",
    ),
    (
        "checker-test / Read doesn't return what was just been written",
        "{:consistency-models [:strict-serializable], :linearizable-keys? true}",
    ): _UNWRITTEN.format(
        what="x = 2 is", then="; Elle's test marks its own valid verdict a bug to fix"
    ),
    ("checker-test / G0", "{:consistency-models nil, :anomalies [:G0]}"): (
        "no transaction committed: Elle reports unknown (empty-transaction-graph), meshcheck has "
        "nothing to check (exit 2)"
    ),
    ("checker-test / G1b", "{:consistency-models nil, :anomalies [:G0]}"): (
        "Elle looks for G0 alone and its graph has no edge: unknown (empty-transaction-graph); "
        "meshcheck checks serializability: the intermediate read is G1b"
    ),
    (
        "checker-test / G-single transaction-order",
        "{:consistency-models [:serializable], :transaction-order {0 2, 1 1}}",
    ): _ORDER,
    (
        "checker-test / G2-item transaction-order",
        "{:consistency-models [:serializable], :transaction-order {0 1, 1 4, 2 2, 3 3}}",
    ): _ORDER,
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G0]}"): _RW_WEAKER.format(
        what="for G0", this="the G1c"
    ),
    ("checker-test / G1c", "{:consistency-models nil, :anomalies [:G2]}"): _RW_WEAKER.format(
        what="for G2 (which does not include G1c)", this="the G1c"
    ),
    (
        "checker-test / G2-item",
        "{:consistency-models [:read-committed], :linearizable-keys? true}",
    ): _UNWRITTEN.format(
        what="x = 1 and y = 1 are",
        then="; Elle checks read committed, which allows the G2-item"
        + _UNWRITTEN_LATER.format(it="G2"),
    ),
    ("checker-test / wfr", "{:wfr-keys? false, :consistency-models [:serializable]}"): (
        _UNWRITTEN.format(
            what="y = 1 is",
            then="; without writes following reads Elle cannot order y's versions, and "
            "meshcheck infers them under serializability (as under any model that rules out "
            "G1c: the other order closes one)" + _UNWRITTEN_LATER.format(it="the G-single"),
        )
    ),
    ("checker-test / wfr", "{:wfr-keys? true, :consistency-models [:serializable]}"): (
        _UNWRITTEN.format(what="y = 1 is", then=_UNWRITTEN_LATER.format(it="the G-single"))
    ),
    (
        "scc-sort-bug-test",
        "{:consistency-models [:strong-serializable], :wfr-keys? true, :linearizable-keys? true}",
    ): (
        "T2 read T3's 4 and wrote 3 (writes follow reads), so the edge T3 -> T2 is ww as well as "
        "wr: meshcheck names a cycle by each edge's weaker kind, G0-realtime (with the rt edge "
        "T2 -> T3); Elle explains the step as wr, G1c-realtime. Both report the cycle; x = 1, "
        "read first, was never written: a garbage-read too"
    ),
}

# Elle's histories that read a value nobody wrote (Elle takes it for an older version), with a
# transaction writing it first: the writes, and what meshcheck finds then
RW_WRITTEN_FIRST: dict[tuple[str, str], tuple[list[list[Any]], set[str]]] = {
    ("wr-graph-test / write skew", _WR_GRAPH): ([_w("x", 0), _w("y", 0)], {"G2"}),
    (
        "checker-test / Read doesn't return what was just been written",
        "{:consistency-models [:strict-serializable], :linearizable-keys? true}",
    ): ([_w("x", 2)], {"G-single-realtime"}),
    (
        "checker-test / G2-item",
        "{:consistency-models [:read-committed], :linearizable-keys? true}",
    ): ([_w("x", 1), _w("y", 1)], {"G2"}),
    ("checker-test / wfr", "{:wfr-keys? false, :consistency-models [:serializable]}"): (
        [_w("y", 1)],
        {"G-single"},
    ),
    ("checker-test / wfr", "{:wfr-keys? true, :consistency-models [:serializable]}"): (
        [_w("y", 1)],
        {"G-single"},
    ),
}


def _rw_consistency(options: str) -> str:
    """Strict serializability where Elle's options ask for it (strict or strong serializable) or
    name no model (Elle's rw-register defaults to [:strict-serializable]); otherwise
    serializability."""
    named = _consistency(options)
    if named not in (STRICT, SERIAL):
        return named  # a weaker model meshcheck checks
    strict = "strict-serializable" in options or "strong-serializable" in options
    default = options.startswith("{") and ":consistency-models" not in options
    return STRICT if strict or default else SERIAL


def run_rw(
    case: Mapping[str, Any], consistency: str | None = None, keys: Sequence[str] | None = None
) -> tuple[bool | str | None, set[str]]:
    """meshcheck's rw-register verdict on the case's history and the kinds of anomaly found, with
    the version orders Elle's options name assumed (`keys` instead, when given)."""
    name = f"elle: {case['test']}"
    evs = [events.Event(float(line), obj) for line, obj in enumerate(case["events"], start=1)]
    txns = rw_register.parse(events.pair(evs, name, ("txn",)), name)
    if not any(t.status == "ok" for t in txns):
        return NOTHING, set()
    if keys is None:
        keys = [k for k in (*rw_keys.OPTIONS, rw_keys.WFR) if f":{k}? true" in case["options"]]
    report = rw_register.check(txns, consistency or _rw_consistency(case["options"]), keys)
    return report.holds if report.holds is not None else "undecided", set(report.anomalies)


def rw_difference(case: Mapping[str, Any]) -> str | None:
    """How meshcheck's rw-register verdict differs from Elle's, or None when they agree."""
    return _differs(case, *run_rw(case), RW_NAMES)


def test_the_translated_rw_register_cases_are_well_formed() -> None:
    assert len(RW_CASES) >= 35
    assert len({_key(c) for c in RW_CASES}) == len(RW_CASES), "a (test, options) pair twice"
    for c in RW_CASES:
        assert c["source"] == RW_SOURCE and c["events"], c["test"]
        assert c["elle"]["valid"] in (True, False, "unknown"), c["test"]
        assert set(c["elle"]["anomalies"]) <= set(RW_NAMES), c["elle"]["anomalies"]
    assert {k for k in RW_NAMES.values() if k is not None} <= set(rw_register.KINDS)
    keys = {_key(c) for c in RW_CASES}
    assert set(RW_DIFFERENCES) <= keys, set(RW_DIFFERENCES) - keys
    assert set(RW_WRITTEN_FIRST) <= set(RW_DIFFERENCES)


@pytest.mark.parametrize("case", RW_CASES, ids=[f"{c['test']} {c['options']}" for c in RW_CASES])
def test_rw_register_agrees_with_elle_or_the_difference_is_listed(case: dict[str, Any]) -> None:
    found = rw_difference(case)
    listed = RW_DIFFERENCES.get(_key(case))
    if listed is None:
        assert found is None, f"{case['test']} {case['options']}: {found}"
    else:
        assert not listed.startswith("BUG"), listed
        assert found is not None, f"listed in RW_DIFFERENCES, but they agree now: {_key(case)}"


def _case(test: str, options: str) -> dict[str, Any]:
    return next(c for c in RW_CASES if _key(c) == (test, options))


def test_rw_a_value_nobody_wrote_written_first() -> None:
    """Where Elle's history reads a value nobody wrote, and meshcheck reports the garbage-read,
    the same history after a transaction that writes those values has Elle's anomaly: not the
    model checked, or, where the model allows it (read committed allows a G2), holds when a
    version order proves the model and is undecided otherwise (the rw-register checker proves
    the others only by a serial order)."""
    for key, (writes, expected) in RW_WRITTEN_FIRST.items():
        case = dict(_case(*key))
        first = [
            {"process": "first", "type": t, "f": "txn", "value": writes} for t in ("invoke", "ok")
        ]
        case["events"] = [*first, *case["events"]]
        verdict, kinds = run_rw(case)
        model = _rw_consistency(key[1])
        allowed = model not in consistency.ruled_out(expected)
        proven = model in consistency.BY_VERSION_ORDER  # (a version order proves it)
        assert verdict == ((proven or "undecided") if allowed else False), (key, verdict)
        assert expected <= kinds and "garbage-read" not in kinds, (key, kinds)


def test_rw_process_order_is_realtime_order() -> None:
    """Elle's sequential keys order versions by process order: with the option (rw_keys.py)
    meshcheck finds Elle's G0; without it, each process here runs its transactions one after
    another, so strict serializability's rt edges hold that order, and meshcheck finds a realtime
    cycle (and none without rt edges)."""
    case = _case(
        "checker-test / G0", "{:consistency-models nil, :anomalies [:G0], :sequential-keys? true}"
    )
    assert run_rw(case) == (False, {"G0"})
    verdict, kinds = run_rw(case, STRICT, keys=())
    assert verdict is False and kinds and all(k.endswith("-realtime") for k in kinds), kinds
    assert run_rw(case, SERIAL, keys=()) == (True, set())


def test_rw_an_order_given_to_elle_is_a_realtime_cycle() -> None:
    """The commit order Elle's :transaction-order gives it, written as real time (each
    transaction invoked after the one before it in that order completed): strict
    serializability finds a realtime cycle, where Elle finds its G-single and G2-item."""
    given = [c for c in RW_CASES if ":transaction-order" in c["options"]]
    assert len(given) == 2
    for c in given:
        m = re.search(r":transaction-order \{([^}]*)\}", c["options"])
        assert m is not None
        numbers = [int(n) for n in m.group(1).replace(",", " ").split()]
        rank = dict(zip(numbers[::2], numbers[1::2], strict=True))
        order = sorted(rank, key=rank.__getitem__)
        serial = dict(c)
        serial["events"] = [
            {**c["events"][i], "process": i, "type": t} for i in order for t in ("invoke", "ok")
        ]
        verdict, kinds = run_rw(serial, STRICT)
        assert verdict is False and kinds and all(k.endswith("-realtime") for k in kinds), kinds
        assert run_rw(serial, SERIAL) == (True, set())


# -- Elle's lattice tests (test/elle/consistency_model_test.clj) ----------------------------------

# Each assertion of Elle's tests of its model graph that names models or anomalies, written as
# data: (Elle's test / testing, the function, its argument, Elle's expected answer). Elle's
# friendly names are meshcheck's, but for strong-serializable, Elle's friendly name of PL-SS,
# which is strict-serializable here (an alias); Elle's `-cycle-exists` marks (a search that did
# not finish) are left out of the anomaly sets, as meshcheck's searches leave none.
_SS = "strict-serializable"
ELLE_LATTICE: list[tuple[str, str, tuple[str, ...], frozenset[str]]] = [
    ("weakest-models-test / empty", "weakest", (), frozenset()),
    ("weakest-models-test / simple", "weakest", ("serializable", _SS), frozenset({"serializable"})),
    (
        "weakest-models-test / independent",
        "weakest",
        ("repeatable-read", "read-committed", "sequential", "read-your-writes"),
        frozenset({"read-your-writes", "read-committed"}),
    ),
    (
        "weakest-models-test / cerone-end-to-end",
        "weakest",
        ("serializable", "read-atomic"),
        frozenset({"read-atomic"}),
    ),
    ("strongest-models-test / empty", "strongest", (), frozenset()),
    (
        "strongest-models-test / simple",
        "strongest",
        ("serializable", "strong-serializable", _SS),
        frozenset({_SS}),
    ),
    (
        "strongest-models-test / independent",
        "strongest",
        ("repeatable-read", "read-committed", "sequential", "read-your-writes"),
        frozenset({"repeatable-read", "sequential"}),
    ),
    (
        "strongest-models-test / cerone-end-to-end",
        "strongest",
        ("serializable", "read-atomic"),
        frozenset({"serializable"}),
    ),
    (
        "anomalies-prohibited-by-test / read committed",
        "forbidden",
        ("read-committed",),
        frozenset(
            {
                "dirty-update",
                "G1a",
                "G1b",
                "G1c",
                "G1",
                "G0",
                "cyclic-versions",
                "duplicate-elements",
                "incompatible-order",
                "future-read",
            }
        ),
    ),
    (
        "anomaly->impossible-models-test / G-single",
        "impossible",
        ("G-single",),
        frozenset(
            {
                "consistent-view",
                "forward-consistent-view",
                _SS,
                "serializable",
                "snapshot-isolation",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
                "update-serializable",
            }
        ),
    ),
    (
        "anomaly->impossible-models-test / G-SI",
        "impossible",
        ("G-SI",),
        frozenset(
            {
                "snapshot-isolation",
                "serializable",
                _SS,
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
            }
        ),
    ),
    (
        "anomaly->impossible-models-test / dirty update",
        "impossible",
        ("dirty-update",),
        frozenset(
            {
                "read-committed",
                "monotonic-atomic-view",
                "snapshot-isolation",
                "repeatable-read",
                "update-atomic",
                "serializable",
                _SS,
                "update-serializable",
                "cursor-stability",
                "forward-consistent-view",
                "consistent-view",
                "monotonic-view",
                "monotonic-snapshot-read",
                "causal-cerone",
                "parallel-snapshot-isolation",
                "prefix",
                "read-atomic",
                "strong-session-read-committed",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-read-committed",
                "strong-snapshot-isolation",
            }
        ),
    ),
    (
        "anomaly->impossible-models-test / internal",
        "impossible",
        ("internal",),
        frozenset(
            {
                "causal-cerone",
                "parallel-snapshot-isolation",
                "prefix",
                "read-atomic",
                "update-atomic",
                "serializable",
                "snapshot-isolation",
                _SS,
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
            }
        ),
    ),
    ("friendly-boundary-test / empty", "not", (), frozenset()),
    (
        "friendly-boundary-test / cyclic-versions",
        "not",
        ("cyclic-versions",),
        frozenset({"read-uncommitted"}),
    ),
    ("friendly-boundary-test / internal", "not", ("internal",), frozenset({"read-atomic"})),
    ("friendly-boundary-test / G1a", "not", ("G1a",), frozenset({"read-committed"})),
    ("friendly-boundary-test / G-single", "not", ("G-single",), frozenset({"consistent-view"})),
    (
        "friendly-boundary-test / internal and G2",
        "not",
        ("G2", "internal"),
        frozenset({"read-atomic"}),
    ),
    (
        "friendly-boundary-test / lost update",
        "not",
        ("lost-update",),
        frozenset({"update-atomic", "cursor-stability"}),
    ),
    (
        "friendly-boundary-test / G-single-realtime",
        "not",
        ("G-single-realtime",),
        frozenset({"strong-snapshot-isolation"}),
    ),
    ("all-implied-anomalies-test", "present", ("G-SI",), frozenset({"G-SI"})),
    (
        "all-impossible-models-test",
        "stronger",
        ("strong-session-serializable",),
        frozenset({"strong-session-serializable", _SS}),
    ),
]
# friendly-boundary-test's also-not sets: the models ruled out beside the weakest (`not`)
_CV_RC = {"consistent-view", "cursor-stability", "forward-consistent-view", "monotonic-view"}
_CV_RC |= {"monotonic-atomic-view", "monotonic-snapshot-read", "repeatable-read"}
_CV_RC |= {"update-serializable", "read-atomic", "update-atomic", "causal-cerone", "prefix"}
_CV_RC |= {"parallel-snapshot-isolation", "snapshot-isolation", "serializable", _SS}
_CV_RC |= {"strong-read-committed", "strong-session-read-committed", "strong-snapshot-isolation"}
_CV_RC |= {"strong-session-serializable", "strong-session-snapshot-isolation"}
_INTERNAL = {"causal-cerone", "parallel-snapshot-isolation", "prefix", "update-atomic"}
_INTERNAL |= {"serializable", "snapshot-isolation", _SS, "strong-session-serializable"}
_INTERNAL |= {"strong-session-snapshot-isolation", "strong-snapshot-isolation"}
_G_SINGLE = {"snapshot-isolation", "serializable", _SS, "strong-session-snapshot-isolation"}
_G_SINGLE |= {"strong-snapshot-isolation", "strong-session-serializable"}
_G_SINGLE |= {"forward-consistent-view", "update-serializable"}
ELLE_ALSO_NOT: dict[str, frozenset[str]] = {
    "friendly-boundary-test / empty": frozenset(),
    "friendly-boundary-test / cyclic-versions": frozenset(
        _CV_RC | {"read-committed", "strong-read-uncommitted", "strong-session-read-uncommitted"}
    ),
    "friendly-boundary-test / internal": frozenset(_INTERNAL),
    "friendly-boundary-test / G1a": frozenset(_CV_RC),
    "friendly-boundary-test / G-single": frozenset(_G_SINGLE),
    "friendly-boundary-test / internal and G2": frozenset(_INTERNAL),
    "friendly-boundary-test / G-single-realtime": frozenset({_SS}),
}


def _lattice(function: str, argument: tuple[str, ...]) -> frozenset[str]:
    models = [consistency.canonical(m) or m for m in argument]
    if function == "weakest":
        return frozenset(consistency.weakest(models))
    if function == "strongest":
        return frozenset(consistency.strongest(models))
    if function == "forbidden":
        return frozenset(consistency.forbidden(models[0]))
    if function == "stronger":
        return frozenset(consistency.stronger(models[0]))
    if function == "present":
        return frozenset(consistency.present(argument))
    out = consistency.impossible(argument)
    return frozenset(consistency.weakest(out) if function == "not" else out)


@pytest.mark.parametrize("case", ELLE_LATTICE, ids=[c[0] for c in ELLE_LATTICE])
def test_the_lattice_answers_elles_lattice_tests(
    case: tuple[str, str, tuple[str, ...], frozenset[str]],
) -> None:
    name, function, argument, expected = case
    assert _lattice(function, argument) == expected, name
    if name in ELLE_ALSO_NOT:
        out = consistency.impossible(argument)
        assert out - set(consistency.weakest(out)) == ELLE_ALSO_NOT[name], name

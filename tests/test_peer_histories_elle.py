"""The list-append checker (traces/history/list_append.py) against the test histories of Jepsen's
Elle, the reference checker (github.com/jepsen-io/elle, test/elle/list_append_test.clj; Alvaro and
Kingsbury, "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020).

Each history of that file that Elle checks for a verdict or an anomaly set was translated by hand
into meshcheck's events, with Elle's verdict, anomaly names and options beside it
(tests/data/peers/elle_list_append.json; docs/peers.md says what was translated and skipped).
Every case is checked here: where Elle says invalid, meshcheck must find an anomaly, and each of
Elle's anomalies that has a meshcheck name (`NAMES`) must be among meshcheck's; where Elle says
valid, meshcheck must hold. Where they differ, the case is in `DIFFERENCES` with the reason, and
a difference that goes away must leave the list too."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from meshcheck.traces.history import events, list_append

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
    "G-nonadjacent": "G2",  # two or more rw edges, none adjacent: meshcheck's G2
    "G-nonadjacent-item": "G2",
    "G2": "G2",
    "G2-item": "G2",
    "G-single-item-realtime": "G-single-realtime",
    "G-nonadjacent-item-realtime": "G2-realtime",
    "G2-item-realtime": "G2-realtime",
    "internal": "internal",
    "future-read": "internal",  # a read showing the transaction's own later append
    # a committed append right after a failed one in the version order: the read that shows
    # that order reads the failed transaction's value
    "dirty-update": "G1a",
    "incompatible-order": "incompatible-order",
    "duplicate-elements": "duplicate-elements",
    "lost-update": None,  # Elle reports the G2-item beside it, compared
    "G-single-item-process": None,
    "G-nonadjacent-item-process": None,
    "G1c-process": None,
    "empty-transaction-graph": None,
}

# Elle's searches that the test runs alone, not a whole check: only the kinds they look for are
# compared (a history written to show an internal read may read values nobody appended).
SCOPES: dict[str, frozenset[str]] = {
    "(g1a-cases history)": frozenset({"G1a"}),
    "(g1b-cases history)": frozenset({"G1b"}),
    "(internal-cases history)": frozenset({"internal"}),
}

_WEAKER = "Elle checks {what} alone; meshcheck checks serializability, which {this} breaks"
_PROCESS = (
    "Elle's strong session SI orders each process's transactions; meshcheck has no process-order "
    "edges: the history is serializable (strict-serializable's rt edges find it: "
    "test_process_order_cycles_are_realtime_cycles)"
)

# (test, options) -> why Elle's verdict and meshcheck's differ. A reason starting "BUG:" marks
# meshcheck passing a history that is not serializable: none so far.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("checker-test / G0", "{:consistency-models nil, :anomalies [:G2]}"): _WEAKER.format(
        what="for G2 (which does not include G0)", this="the write cycle G0"
    ),
    ("checker-test / G1a", "{:consistency-models [:read-uncommitted]}"): (
        "read uncommitted allows G1a and Elle's graph has no edge: unknown "
        "(empty-transaction-graph); meshcheck checks serializability: the read of the failed "
        "append is G1a"
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
    ("checker-test / G2", "{:consistency-models [:read-committed]}"): _WEAKER.format(
        what="read committed", this="the G2 (write skew)"
    ),
    ("repeatable-read-test", "{:consistency-models [:read-committed]}"): _WEAKER.format(
        what="read committed", this="the G2 (write skew)"
    ),
    (
        "checker-test / Strong Session SI violation",
        "{:consistency-models [:strong-session-snapshot-isolation]}",
    ): _PROCESS,
    (
        "checker-test / G-nonadjacent-process",
        "{:consistency-models [:strong-session-snapshot-isolation]}",
    ): _PROCESS,
    ("wr-process-test", "{:consistency-models [:strong-session-snapshot-isolation]}"): _PROCESS,
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
    """Strict serializability where Elle's options ask for it, or for a realtime anomaly, or
    give no model (Elle's default is strict-serializable: list_append.clj, `check`)."""
    strict = "strict-serializable" in options or "realtime" in options or options == "{}"
    return STRICT if strict else SERIAL


def run_meshcheck(
    case: Mapping[str, Any], consistency: str | None = None
) -> tuple[bool | str, set[str]]:
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
    """How meshcheck's verdict differs from Elle's, or None when they agree."""
    verdict, kinds = run_meshcheck(case)
    elle_valid = case["elle"]["valid"]
    scope = SCOPES.get(case["options"])
    if scope is not None and verdict != NOTHING:
        kinds &= scope
        verdict = not kinds
    expected = {k for a in case["elle"]["anomalies"] if (k := NAMES[a]) is not None}
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

"""The ITF writer encodes each distinct value once and the reader parses each repeated state line
once (traces/itf.py); the text and the traces are the ones the plain writer and reader
(tests/itf_reference.py) give, on seeded simulator runs of every protocol and on every stored trace.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from bench.bench_trace import PROTOCOLS
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.traces import itf
from meshcheck.traces.itf import BigInt
from meshcheck.traces.itf import Map
from meshcheck.traces.itf import Tup
from tests import itf_reference

ROOT = Path(__file__).resolve().parent.parent
STORED = sorted((ROOT / "traces").rglob("*.itf.json"))


def _check(trace: Trace) -> str:
    text = itf.dumps(trace)
    assert text == itf_reference.dumps(trace)
    assert itf._parse_states_shared(text) is not None  # the shared reading was the one used
    back = itf.loads(text)
    assert back == itf_reference.loads(text) == trace
    assert itf.dumps(back) == text
    return text


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_itf_sharing_simulator_traces(protocol: str) -> None:
    sim, go = PROTOCOLS[protocol](3, True, 0.05)
    go()
    trace = sim.trace()
    assert len(trace.steps) > 10
    _check(trace)


def _same_as_reference(paths: list[Path]) -> None:
    for path in paths:
        text = path.read_text()
        trace = itf.loads(text)
        assert trace == itf_reference.loads(text), path
        assert itf.dumps(trace) == itf_reference.dumps(trace), path


def test_itf_sharing_stored_corpus_one_per_folder() -> None:
    """The smallest stored trace of each folder of traces/ (each protocol's values, and the
    counterexamples' and findings' own): the whole corpus, 14 MB that the plain reader takes
    about 20 s for, is the slow tier's."""
    folders: dict[Path, Path] = {}
    for path in STORED:
        kept = folders.get(path.parent)
        if kept is None or path.stat().st_size < kept.stat().st_size:
            folders[path.parent] = path
    assert len(folders) >= 9
    _same_as_reference(sorted(folders.values()))


@pytest.mark.slow
def test_itf_sharing_stored_corpus() -> None:
    assert len(STORED) > 20
    _same_as_reference(STORED)


def _trace(*states: FrozenDict) -> Trace:
    steps = [
        Step(s, "Init" if i == 0 else "Next", FrozenDict(), FrozenDict())
        for i, s in enumerate(states)
    ]
    return Trace(vars=tuple(states[0]), steps=tuple(steps))


def test_itf_sharing_keeps_each_values_own_encoding() -> None:
    """Values equal across states but written differently (True and 1, a Tup and a tuple, a Map
    and a record, a BigInt and an int) keep their own text: the writer shares work by identity,
    never by equality; and a set that changes a little is in canonical order."""
    recs = [FrozenDict({"a": k, "b": (k, "x")}) for k in range(30)]
    states = [
        FrozenDict({"s": frozenset([1]), "t": (1, 2), "m": FrozenDict({"a": 1}), "n": 5, "r": frozenset(recs[:20])}),
        FrozenDict({"s": frozenset([True]), "t": Tup((1, 2)), "m": Map({"a": 1}), "n": BigInt(5), "r": frozenset(recs[5:25])}),
        FrozenDict({"s": frozenset([1]), "t": (1, 2), "m": FrozenDict({"a": 1}), "n": 5, "r": frozenset(recs[3:30])}),
    ]  # fmt: skip
    text = _check(_trace(*states))
    assert '"s": {"#set": [true]}' in text and '"t": {"#tup": [1, 2]}' in text
    assert '"m": {"#map": [["a", 1]]}' in text and '"n": {"#bigint": "5"}' in text


def test_itf_sharing_shares_unchanged_values_when_read() -> None:
    big = tuple(range(200))
    trace = _trace(
        FrozenDict({"x": big, "y": 0}),
        FrozenDict({"x": big, "y": 1}),
        FrozenDict({"x": big, "y": 2}),
    )
    back = itf.loads(itf.dumps(trace))
    assert back == trace
    assert back.steps[0].state["x"] is back.steps[2].state["x"]


def test_itf_sharing_reads_other_layouts_as_any_json() -> None:
    """A document laid out otherwise (pretty-printed with nested lines at a state variable's
    indentation, or with an escaped NUL) is read by the plain parse, to the same trace."""
    trace = _trace(
        FrozenDict({"x": FrozenDict({"a": 1, "b": "\x00q"}), "y": 0}),
        FrozenDict({"x": FrozenDict({"a": 2, "b": "z"}), "y": 1}),
    )
    import json

    doc = json.loads(itf.dumps(trace))
    pretty = json.dumps(
        {"vars": doc["vars"], "states": [{"x": s["x"]} | {"y": s["y"]} for s in doc["states"]]},
        indent=2,
    )
    # a value's nested key on a line of its own at a state variable's indentation
    nested = '{"vars": ["x", "y"], "states": [{"x": {\n      "a": 2,\n      "b": "z"}, "y": 1}]}'
    assert itf._parse_states_shared(itf.dumps(trace)) is None  # the escaped NUL
    assert itf._parse_states_shared(nested) is None
    assert itf.loads(pretty).steps[1].state == trace.steps[1].state
    assert itf.loads(nested).steps[0].state == trace.steps[1].state
    bad = itf.dumps(attrs.evolve(trace, steps=trace.steps[:1])).replace('"y": 0', '"y": 0.5')
    with pytest.raises(Exception, match=r"states\[0\]\.y.*not an integer"):
        itf.loads(bad)

"""The regression corpus under traces/hybrid/, replayed against the implementation (stored.py)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from meshcheck.impl.base.errors import TraceFormatError
from meshcheck.impl.hybrid.mutants import BUGS
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hybrid.stored import (
    corpus,
    expected_kill,
    replay_on_impl,
    stored_traces,
)
from meshcheck.traces import itf

TRACES = corpus()


def test_the_corpus_has_a_trace_for_every_mutant() -> None:
    assert TRACES, "traces/hybrid/ is empty: meshcheck mutants threat --save traces"
    assert sorted(next(iter(expected_kill(p))) for p in TRACES) == sorted(BUGS)


@pytest.mark.parametrize("path", TRACES, ids=[p.name for p in TRACES])
def test_the_implementation_follows_every_stored_trace(path: Path) -> None:
    trace = itf.read(path)
    assert replay_on_impl(trace, frozenset(), where=str(path)) == len(trace.steps) - 1


@pytest.mark.parametrize("path", TRACES, ids=[p.name for p in TRACES])
def test_each_stored_trace_still_catches_its_mutant(path: Path) -> None:
    """A trace that stops catching its bug no longer guards against it: renew it."""
    with pytest.raises(CheckFailed) as failed:
        replay_on_impl(itf.read(path), expected_kill(path), where=str(path))
    assert failed.value.steps == len(itf.read(path).steps) - 1  # at its last step, as recorded


def test_the_check_replays_the_whole_corpus() -> None:
    stored_traces(frozenset())


def test_a_trace_that_is_not_a_spec_path_is_a_format_error() -> None:
    path = max(TRACES, key=lambda p: len(itf.read(p).steps))
    trace = itf.read(path)
    steps = list(trace.steps)
    steps[1], steps[-1] = steps[-1], steps[1]  # the last step first: not a step from Init
    broken = attrs.evolve(trace, steps=tuple(steps))
    with pytest.raises(TraceFormatError, match=r"states\[1\].*does not lead here"):
        replay_on_impl(broken, frozenset(), where=str(path))

"""Stored traces replayed against the implementation: the regression corpus under traces/raft/.

Each file is a spec path that once showed a bug: the shrunk counterexample of a lockstep run
against a mutant (`meshcheck mutants raft --save` writes them). Every step of it is a step of
specs/Raft.tla (`meshcheck verify` replays it on the spec), so the correct implementation must follow
it to the end, and the mutant named in its `#meta.bugs` must still diverge on it: a replay that
stops catching its mutant means the implementation or the spec moved, and the trace must be renewed.

The replay is property_tests/harness.py's, through this protocol's `Follower`.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import settings as Settings

from meshcheck.impl.base.trace import Trace
from meshcheck.property_tests.harness import expected_kill
from meshcheck.property_tests.raft.harness import HARNESS
from meshcheck.property_tests.raft.lockstep import Follower

__all__ = ["Follower", "corpus", "expected_kill", "replay_on_impl", "stored_traces"]


def corpus() -> list[Path]:
    """The Raft stored traces, in a stable order."""
    return HARNESS.corpus()


def replay_on_impl(trace: Trace, bugs: frozenset[str], *, where: str = "trace") -> int:
    """Make the implementation (with `bugs`) follow `trace`; the number of steps it followed.
    CheckFailed when it diverges; TraceFormatError when the trace is not a path of the spec.
    (`Follower` is read from this module when called: property_tests/replay.py swaps it to watch.)"""
    return HARNESS.replay_on_impl(trace, bugs, where=where, follower=Follower)


def stored_traces(bugs: frozenset[str], settings: Settings | None = None) -> None:
    """The check: every stored trace, followed by the implementation with `bugs`."""
    HARNESS.stored_traces(bugs, settings)

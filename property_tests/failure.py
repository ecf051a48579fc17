"""What a property check raises when it finds a bug: the failure, and how long its counterexample is.

Every check of the property tests (lockstep, free runs, trace validation, stored-trace replay) raises
`CheckFailed`, an AssertionError (so pytest and Hypothesis treat it as a test failure, and Hypothesis
shrinks it) that also says how many steps the counterexample has. Hypothesis re-raises the failure
of the minimal example it shrank to, so after a run `steps` is the shrunk length: the number
`meshcheck mutants` reports. `trace`, when the check has one, is the counterexample in the spec's
vocabulary, ready to be written as ITF; once it is written (property_tests/record.py), `replay` is
the one command that replays it, and the failure's last line says it.

`violated` is what failed, the property's kind and name (meshcheck/violated.py), which the trace
also says (`#meta.property`, wherever it is then written from): the message
starts with it ("invariant ElectionSafety violated: ..."), so that no report, however it cuts
the rest (the schedule of a free run, the step), loses it. A check that does not say it is read
from its message ("violates X", "X violated"), as the kind "property"; a bound of meshcheck's own
checks by its name where a problem's words start ("Storm: ...", "t=4066: RestartCatchUp: ...").
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import attrs

from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.violated import LIVENESS_BOUND
from meshcheck.violated import PROPERTY
from meshcheck.violated import STORM
from meshcheck.violated import WAIT_BOUNDS
from meshcheck.violated import Violated
from meshcheck.violated import lead

# how a check's message names a property when the check does not say it: "violates A, B",
# "breaks A, B" (a lockstep step), "A violated", "(A)" at its end (a liveness bound's name), and
# "A: what" at its start (a property's own words), but for an exception's name ("KeyError: ...")
_NAMED = (
    re.compile(r"\bviolates ([A-Z]\w*(?:, [A-Z]\w*)*)"),
    re.compile(r"\bbreaks ([A-Z][a-z]\w*[A-Z]\w*(?:, [A-Z]\w*)*)"),
    re.compile(r"\b([A-Z][a-z]\w*[A-Z]\w*(?:, [A-Z]\w*)*) violated\b"),
    re.compile(r"\(([A-Z][a-z]\w*[A-Z]\w*)\)"),
    re.compile(r"^([A-Z][a-z]\w*[A-Z]\w*(?<!Error)(?<!Exception)(?<!Warning)): "),
)

# a bound of meshcheck's own checks (meshcheck/violated.py), named where a problem's words start
_BOUNDS = re.compile(rf"(?:^|: )({'|'.join((STORM, *WAIT_BOUNDS))})\b")
_BOUND_KINDS = {STORM: "property", **dict.fromkeys(WAIT_BOUNDS, LIVENESS_BOUND)}

# the lists `first_failure()` callers are collecting into, innermost last
_WATCHING: list[list[CheckFailed]] = []


class CheckFailed(AssertionError):
    """A property check found a bug."""

    def __init__(
        self,
        message: str,
        *,
        steps: int,
        trace: Trace | None = None,
        violated: Violated | None = None,
    ) -> None:
        self.violated = violated if violated is not None else named_in(message)
        if violated is not None or not _names_itself(self.violated, message):
            message = lead(self.violated, message)
        super().__init__(message)
        self.message = message
        self.steps = steps
        if trace is not None and self.violated is not None and PROPERTY not in trace.meta:
            # the counterexample names what it shows, wherever it is written from
            named = FrozenDict({**trace.meta, PROPERTY: self.violated.name})
            trace = attrs.evolve(trace, meta=named)
        self.trace = trace
        self.replay: str | None = None
        self.recheck: str | None = None
        if _WATCHING and not _WATCHING[-1]:
            _WATCHING[-1].append(self)

    def add_replay(self, command: str) -> None:
        """Say how to replay the written counterexample: a note, printed after the message (and
        after Hypothesis's own notes, the falsifying example), so the failure ends with it."""
        self.replay = command
        self.add_note(f"replay: {command}")

    def add_recheck(self, command: str) -> None:
        """Say how to re-check the client history a failed client-history check wrote
        (property_tests/histories.py, record.write_history): a note, as `add_replay`'s."""
        self.recheck = command
        self.add_note(f"re-check the client history: {command}")


def _names_itself(violated: Violated | None, message: str) -> bool:
    """A check's own "X: what" names its property already: it is kept as the check wrote it."""
    return violated is not None and message.startswith(f"{violated.name}: ")


def named_in(message: str) -> Violated | None:
    """The property a check's message names (see the module doc), or None."""
    bound = _BOUNDS.search(message)
    if bound:
        return Violated(_BOUND_KINDS[bound.group(1)], bound.group(1))
    for pattern in _NAMED:
        found = pattern.search(message)
        if found:
            return Violated("property", found.group(1))
    return None


@contextlib.contextmanager
def first_failure() -> Iterator[list[CheckFailed]]:
    """Collect the first `CheckFailed` made while the block runs, into the list it yields: the
    unshrunk counterexample, for a run cut off (a campaign's deadline) while Hypothesis was still
    shrinking it, which would otherwise lose the bug it had found."""
    seen: list[CheckFailed] = []
    _WATCHING.append(seen)
    try:
        yield seen
    finally:
        _WATCHING.remove(seen)

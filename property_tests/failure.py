"""What a property check raises when it finds a bug: the failure, and how long its counterexample is.

Every check of the property tests (lockstep, free runs, trace validation, stored-trace replay) raises
`CheckFailed`, an AssertionError (so pytest and Hypothesis treat it as a test failure, and Hypothesis
shrinks it) that also says how many steps the counterexample has. Hypothesis re-raises the failure
of the minimal example it shrank to, so after a run `steps` is the shrunk length: the number
`meshcheck mutants` reports. `trace`, when the check has one, is the counterexample in the spec's
vocabulary, ready to be written as ITF.
"""

from __future__ import annotations

from traces.model import Trace


class CheckFailed(AssertionError):
    """A property check found a bug."""

    def __init__(self, message: str, *, steps: int, trace: Trace | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.steps = steps
        self.trace = trace

"""What a run exercised, and the one judgement of a run that exercised (almost) nothing: VACUOUS.

A run whose checks all held has shown something only if it did something: a free run under
faults in which the cluster committed one write of 82, or a cluster test whose nemesis never
struck, holds every property vacuously, and a plain pass would say the protocol was checked where
it was not. So every run that can say so gives its `Exercise` (the client's writes attempted and
those committed, the faults planned and those carried out), and `vacuous` judges it by one rule,
stated here and in docs/vacuous-runs.md:

- committed: fewer than `LEAST_COMMITTED` writes committed (answered ok), or fewer than
  `LEAST_SHARE` of those attempted;
- faults: some planned, and fewer than `FAULT_SHARE` of them carried out; `strict` (`cluster
  test --strict`): a fault that struck more than a second after its planned time
  (meshcheck/cluster/fault_account.py `LATE`) is not counted carried out, for a plan kept late
  is not the plan the run printed.

A run so judged is counted apart, as `vacuous`, by every summary that counts passes: `meshcheck
verify`'s test rows and overview (a test all of whose runs were vacuous), campaigns (a check all
of whose free runs were), `meshcheck mutants` (a check a mutant survived having exercised
nothing) and `cluster test --system`. It is never a plain pass, and never a failure either:
nothing it checked broke.

The harness notes each judged simulated run (`note`) where whoever ran it reads them (`take`), as
property_tests/saturation.py notes its runs: a test's runs, judged, go into its JUnit report
(meshcheck/exercise_pytest.py), a campaign task's into its result, a mutant's check's into its
attempt.
"""

from __future__ import annotations

import attrs

from meshcheck import words

VACUOUS = "vacuous"  # the verdict word, in every table and report that counts it
PROPERTY = "vacuous-runs"  # a test's judged runs in its JUnit report (`tally`)
LEAST_COMMITTED = 5  # writes committed: fewer is vacuous
LEAST_SHARE = 0.1  # of the writes attempted, committed: less is vacuous
FAULT_SHARE = 0.5  # of the faults planned, carried out: less is vacuous


@attrs.frozen
class Exercise:
    """What one run exercised: the client's writes `attempted` and `committed` (answered ok), the
    faults `planned` and those `struck` (carried out). A run that plans no fault has planned 0."""

    attempted: int
    committed: int
    planned: int = 0
    struck: int = 0
    # what is counted, and what the counted ones did: a free run's client writes, committed; a
    # real cluster's operations (of every kind its workload makes), ok
    noun: str = "write"
    verb: str = "committed"
    late: int = 0  # of the faults struck, those late (fault_account.py): not carried out if strict

    def done(self) -> str:
        """ "3 of 82 writes committed"."""
        return f"{self.committed} of {words.count(self.attempted, self.noun)} {self.verb}"

    def line(self) -> str:
        """ "3 of 82 writes committed, 4 of 4 faults carried out"."""
        said = self.done()
        if self.planned:
            said += f", {self.struck} of {words.count(self.planned, 'fault')} carried out"
            if self.late:
                said += f" ({self.late} late)"
        return said


def vacuous(exercise: Exercise, strict: bool = False) -> str | None:
    """Why a run exercised too little to count as a pass ("3 of 82 writes committed (fewer than
    5, or under 10%)"); None when it exercised enough. `strict`: the late faults are not counted
    carried out (the module's docstring)."""
    why: list[str] = []
    e = exercise
    if e.committed < LEAST_COMMITTED or e.committed < LEAST_SHARE * e.attempted:
        why.append(f"{e.done()} (fewer than {LEAST_COMMITTED}, or under {LEAST_SHARE:.0%})")
    carried = max(0, e.struck - e.late) if strict else e.struck
    if e.planned and carried < FAULT_SHARE * e.planned:
        on_time = " on time" if strict and e.late else ""
        why.append(
            f"{carried} of {words.count(e.planned, 'fault')} planned carried out{on_time} (under "
            f"{FAULT_SHARE:.0%})"
        )
    return "; ".join(why) or None


# -- the runs judged, for whoever ran them (meshcheck/exercise_pytest.py, campaigns, mutants) ----

_noted: list[str | None] = []


def note(exercise: Exercise) -> str | None:
    """Judge a run and keep the judgement for the test that ran it; returns it (`vacuous`)."""
    why = vacuous(exercise)
    _noted.append(why)
    return why


def take() -> list[str | None]:
    """The judgements noted since the last take (None: a run that exercised enough), forgotten."""
    taken = list(_noted)
    _noted.clear()
    return taken


def tally(judged: list[str | None]) -> str:
    """A test's judged runs as its report keeps them: "vacuous/runs: the first reason" ("2/10: 3
    of 82 writes committed ..."), "" when it judged none."""
    if not judged:
        return ""
    reasons = [w for w in judged if w is not None]
    head = f"{len(reasons)}/{len(judged)}"
    return f"{head}: {reasons[0]}" if reasons else head


def read(kept: str) -> tuple[bool, str]:
    """A test's `tally` read back: whether every run it judged was vacuous (then the test is
    counted as VACUOUS, not as a pass), and what its report says of them ("" when none was):
    "every one of 4 runs vacuous: 3 of 82 writes committed ...", "2 of 10 runs vacuous: ..."."""
    head, _, reason = kept.partition(": ")
    some, _, runs = head.partition("/")
    if not (some.isdigit() and runs.isdigit()) or int(some) == 0:
        return False, ""
    every = int(some) >= int(runs)
    if every:
        return True, f"every one of {words.count(int(runs), 'run')} {VACUOUS}: {reason}"
    return False, f"{some} of {words.count(int(runs), 'run')} {VACUOUS}: {reason}"

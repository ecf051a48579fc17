"""A pytest plugin for the mutation campaign (mutation/run.py passes it with `-p`): the `ci`
Hypothesis profile (property_tests/profiles.py) without its shrink and explain phases.

Both phases run only after a test has failed, so they cannot turn a surviving mutant into a killed
one or back: the examples generated, their number and length, and the derandomized seed stay
those of `ci`. What they cost is time on every killed mutant (a lockstep counterexample can take
hundreds of runs to shrink), and a mutant needs to fail, not to fail minimally.
"""

from __future__ import annotations

from hypothesis import Phase
from hypothesis import settings

# Imported (and so registered) before the conftest loads the profile it names.
from meshcheck.property_tests import profiles

settings.register_profile(
    "ci",
    settings.get_profile("ci"),
    phases=[phase for phase in Phase if phase not in (Phase.shrink, Phase.explain)],
)
assert profiles.HYPOTHESIS["quick"] == "ci"

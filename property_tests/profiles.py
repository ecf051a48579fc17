"""Hypothesis profiles for the property tests, by name, and the meshcheck profile each serves.

ci      `make test`: enough examples to exercise every spec action, fast on 2 cores; derandomized,
        so CI is reproducible (a failure seen once is seen again)
dev     `make verify` and `meshcheck mutants` (the default profile): more and longer programs,
        a new random sample each run
deep    long runs before a release: many more examples and steps

`MESHCHECK_HYPOTHESIS` picks one for pytest (property_tests/conftest.py); `meshcheck verify
--profile` and `meshcheck mutants --profile` map quick/default/deep to ci/dev/deep (HYPOTHESIS).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

HYPOTHESIS = {"quick": "ci", "default": "dev", "deep": "deep"}

_SLOW = [HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=_SLOW,
)
settings.register_profile(
    "dev", max_examples=200, stateful_step_count=60, deadline=None, suppress_health_check=_SLOW
)
settings.register_profile(
    "deep", max_examples=2000, stateful_step_count=120, deadline=None, suppress_health_check=_SLOW
)


def load_from_env() -> str:
    """Load the profile MESHCHECK_HYPOTHESIS names (default ci); its name."""
    name = os.environ.get("MESHCHECK_HYPOTHESIS", "ci")
    settings.load_profile(name)
    return name

"""Hypothesis profiles for the property tests, chosen by MESHCHECK_HYPOTHESIS (default: ci).

ci      what `make test` runs: enough examples to kill every mutant, fast on 2 cores
dev     what `make verify` runs: more examples and longer programs
deep    long runs before a release: many more examples, no deadline
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW = [HealthCheck.too_slow]

settings.register_profile(
    "ci", max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=_SLOW
)
settings.register_profile(
    "dev", max_examples=200, stateful_step_count=60, deadline=None, suppress_health_check=_SLOW
)
settings.register_profile(
    "deep", max_examples=2000, stateful_step_count=120, deadline=None, suppress_health_check=_SLOW
)
settings.load_profile(os.environ.get("MESHCHECK_HYPOTHESIS", "ci"))

"""Hypothesis profiles for the property tests, by name, and the meshcheck profile each serves.

ci      `make test` and `meshcheck verify --profile quick`: enough examples to exercise every
        spec action, fast on 2 cores
dev     `make verify` and `meshcheck mutants` (the default profile): more and longer programs
deep    long runs before a release: many more examples and steps

Every profile is derandomized: the same code and the same profile try the same examples, so a
verdict belongs to the code, not to the draw (each check's seed is a hash of its test function,
Hypothesis's `derandomize`, which also leaves the example database out). Searching with fresh
seeds is exploration: `meshcheck verify --explore` (a seed drawn and printed) or `--seed S` (one
given) sets MESHCHECK_SEED, and `load_from_env` then loads the profile randomized with that seed
for every Hypothesis run of the process (`hypothesis.core.global_force_seed`, pytest's
`--hypothesis-seed`, which reaches the Hypothesis runs a check starts inside a test too);
`meshcheck campaign` draws a seed per task. Regression is deterministic, search is a campaign.

`MESHCHECK_HYPOTHESIS` picks one for pytest (property_tests/conftest.py); `meshcheck verify
--profile` and `meshcheck mutants --profile` map quick/default/deep to ci/dev/deep (HYPOTHESIS).
"""

from __future__ import annotations

import os

import hypothesis.core
from hypothesis import HealthCheck, settings

from meshcheck.impl.base.errors import ConfigError

HYPOTHESIS = {"quick": "ci", "default": "dev", "deep": "deep"}
SEED_ENV = "MESHCHECK_SEED"  # a whole number: explore with this seed instead of derandomizing

_SLOW = [HealthCheck.too_slow]
_COMMON = settings(deadline=None, derandomize=True, suppress_health_check=_SLOW)

settings.register_profile("ci", _COMMON, max_examples=60, stateful_step_count=40)
settings.register_profile("dev", _COMMON, max_examples=200, stateful_step_count=60)
settings.register_profile("deep", _COMMON, max_examples=2000, stateful_step_count=120)


def seed_from_env() -> int | None:
    """The exploration seed MESHCHECK_SEED names (None: derandomized runs); ConfigError (exit 2)
    for a value that is not a whole number."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{SEED_ENV}: expected a whole number, got {text!r}") from None


def load_from_env() -> str:
    """Load the profile MESHCHECK_HYPOTHESIS names (default ci), randomized with MESHCHECK_SEED's
    seed when it is set; the profile's name."""
    name = os.environ.get("MESHCHECK_HYPOTHESIS", "ci")
    seed = seed_from_env()
    if seed is None:
        hypothesis.core.global_force_seed = None
        settings.load_profile(name)
        return name
    explore = f"{name}-seed-{seed}"
    settings.register_profile(explore, settings.get_profile(name), derandomize=False, database=None)
    settings.load_profile(explore)
    hypothesis.core.global_force_seed = seed  # type: ignore[assignment]  # typed as None only
    return name

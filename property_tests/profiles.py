"""Hypothesis profiles for the property tests, by name, and the meshcheck profile each serves.

fast    `make verify` (`meshcheck verify --profile fast`): the few examples of a 3-minute gate, on
        the property tests marked `fast` only (docs/reference/profiles.md)
ci      `make test` and `meshcheck verify --profile quick`: enough examples to exercise every
        spec action, fast on 2 cores
dev     `make verify-full` and `meshcheck mutants` (the default profile): more and longer programs
deep    long runs before a release: many more examples and steps

`dev` stops a run early once its coverage has stopped growing (the saturation stop,
property_tests/saturation.py: `SATURATION` below), its `max_examples` the upper bound; `ci` and
`deep` run every example of their budget.

Every profile is derandomized: the same code and the same profile try the same examples, so a
verdict belongs to the code, not to the draw (each check's seed is a hash of its test function,
Hypothesis's `derandomize`, which also leaves the example database out). Searching with fresh
seeds is exploration: `meshcheck verify --explore` (a seed drawn and printed) or `--seed S` (one
given) sets MESHCHECK_SEED, and `load_from_env` then loads the profile randomized with that seed
for every Hypothesis run of the process (`hypothesis.core.global_force_seed`, pytest's
`--hypothesis-seed`, which reaches the Hypothesis runs a check starts inside a test too);
`meshcheck campaign` draws a seed per task. Regression is deterministic, search is a campaign.

`MESHCHECK_HYPOTHESIS` picks one for pytest (property_tests/conftest.py); `meshcheck verify
--profile` and `meshcheck mutants --profile` map fast/quick/default/deep to fast/ci/dev/deep
(HYPOTHESIS).
"""

from __future__ import annotations

import os

import hypothesis.core
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings

from meshcheck.impl.base.errors import ConfigError
from meshcheck.property_tests import saturation
from meshcheck.property_tests.saturation import Saturation

HYPOTHESIS = {"fast": "fast", "quick": "ci", "default": "dev", "deep": "deep"}
SEED_ENV = "MESHCHECK_SEED"  # a whole number: explore with this seed instead of derandomizing

_SLOW = [HealthCheck.too_slow]
_COMMON = settings(deadline=None, derandomize=True, suppress_health_check=_SLOW)

# A test's handful of fixed examples, no shrinking: the tests that want a mutant killed in a few
# runs (property_tests/raft/test_free_runs.py, property_tests/pbft/test_free_runs.py: each says
# why a dozen is enough for its mutants).
FEW = settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    report_multiple_bugs=False,
    phases=(Phase.generate,),
)

settings.register_profile("fast", _COMMON, max_examples=20, stateful_step_count=40)
settings.register_profile("ci", _COMMON, max_examples=60, stateful_step_count=40)
settings.register_profile("dev", _COMMON, max_examples=200, stateful_step_count=60)
settings.register_profile("deep", _COMMON, max_examples=2000, stateful_step_count=120)

# Hypothesis profile -> its saturation stop. dev: a run stops once a quarter of its budget in a row
# (50 of 200 examples, at least 10) reached no new action or rare condition; budgets under 40 (a
# free-run check's small share) and runs that do not shrink (a test's fixed examples that must kill
# a mutant, `meshcheck mutants`) run whole. ci (`make test`) and deep keep every example. Measured
# in docs/verify-cost.md.
SATURATION: dict[str, Saturation] = {"dev": Saturation(share=0.25, least=10, least_budget=40)}


def use_saturation(name: str) -> None:
    """The saturation stop of Hypothesis profile `name` (none for a profile without one) for
    this process's runs from now on."""
    saturation.configure(SATURATION.get(name))


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
    seed when it is set, with its saturation stop; the profile's name."""
    name = os.environ.get("MESHCHECK_HYPOTHESIS", "ci")
    use_saturation(name)
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

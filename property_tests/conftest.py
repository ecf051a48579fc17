"""pytest loads the Hypothesis profile MESHCHECK_HYPOTHESIS names (property_tests/profiles.py)."""

from __future__ import annotations

from property_tests.profiles import load_from_env

load_from_env()

"""What the certificate tests of PBFT, HotStuff and the hybrid layer share: the settings their
properties (property_tests/*/certificates.py) run under when a test drives one itself, and a
property's type."""

from __future__ import annotations

from collections.abc import Callable

import hypothesis

# one derandomized example: a property's own examples are its EXAMPLES, set by the property
SETTINGS = hypothesis.settings(derandomize=True, database=None, deadline=None, max_examples=1)

# a certificate property: the mutants switched on, the settings
Property = Callable[[frozenset[str], hypothesis.settings], None]

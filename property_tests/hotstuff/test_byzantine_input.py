"""Honest HotStuff replicas and the client survive anything r4 sends in its own name
(property_tests/byzantine_input.py)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.property_tests import byzantine_input
from meshcheck.property_tests.hotstuff.byzantine_input import TARGET

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_honest_nodes_survive_any_message_a_byzantine_replica_sends() -> None:
    byzantine_input.check(TARGET, settings())

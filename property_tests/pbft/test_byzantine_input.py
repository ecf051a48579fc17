"""Honest PBFT replicas and clients survive anything r4 signs (property_tests/byzantine_input.py)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.property_tests import byzantine_input
from meshcheck.property_tests.pbft.byzantine_input import TARGET

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_honest_nodes_survive_any_message_a_byzantine_replica_signs() -> None:
    byzantine_input.check(TARGET, settings())

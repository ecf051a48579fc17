"""Gossip members survive anything n4 sends them (property_tests/byzantine_input.py; gossip is
crash-fault only: the messages go unsigned)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from meshcheck.property_tests import byzantine_input
from meshcheck.property_tests.gossip.byzantine_input import TARGET

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)


def test_honest_nodes_survive_any_message_a_faulty_member_sends() -> None:
    byzantine_input.check(TARGET, settings())

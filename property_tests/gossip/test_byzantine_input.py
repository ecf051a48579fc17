"""Gossip members survive anything n4 sends them (property_tests/byzantine_input.py; gossip is
crash-fault only: the messages go unsigned)."""

from __future__ import annotations

from hypothesis import settings

from meshcheck.property_tests import byzantine_input
from meshcheck.property_tests.gossip.byzantine_input import TARGET


def test_honest_nodes_survive_any_message_a_faulty_member_sends() -> None:
    byzantine_input.check(TARGET, settings())

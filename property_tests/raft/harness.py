"""The raft harness: what the shared harness (property_tests/harness.py) takes as its parameter for
this protocol (the object its `Protocol.harness` names)."""

from __future__ import annotations

from meshcheck.property_tests.harness import Harness
from meshcheck.property_tests.raft.free_runs import STORM
from meshcheck.property_tests.raft.lockstep import RAFT

HARNESS = Harness("raft", (RAFT,), storm=STORM)

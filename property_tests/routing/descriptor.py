"""Routing by operation type as meshcheck knows it: specs/Routing.tla (the three layers as black
boxes and the threat level), the manager (impl/manager), its mutants, the spec mutants of the same
names (specs/mutants/routing.py), and its checks (a scenario and free runs of the three layers
together).

Declared in pyproject.toml as the entry point `routing` of the group `meshcheck.protocols`; the
commands find it through meshcheck/registry.py: `verify` runs its models (tlc rows), its property
tests (tests rows) and its mutants (a mutants row). The action table is Routing.tla's `Next`.
"""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.descriptor import models
from meshcheck.protocol import Action

ROUTING = in_tree(
    "routing",
    "operations routed by type to PBFT, the hybrid dispatcher or gossip",
    models("Routing", deep=False),
    actions=(
        Action("Submit", ("o", "t"), "client", "o is submitted with type t"),
        Action("Route", ("o",), "protocol", "the manager routes o by its type"),
        Action("DecideBFT", ("o",), "protocol", "a BFT quorum decides o"),
        Action("DecideRaft", ("o",), "protocol", "a Raft majority decides o"),
        Action("GossipWrite", ("o",), "protocol", "the gossip store takes o, not agreed"),
        Action("Refuse", ("o",), "protocol", "o's unknown type is refused, its submitter told"),
        Action("Reject", ("o",), "protocol", "o's epoch ended without it: answered rejected"),
        Action("LevelChange", ("l",), "environment", "the threat level moves to l"),
    ),
    bugs="meshcheck.impl.manager.mutants:BUGS",
    coverage=False,
)

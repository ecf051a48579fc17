"""impl/raft/config.py: each validation rule at its boundary (the last value accepted, the first
refused) with the whole message, and the derived peers and quorum."""

from __future__ import annotations

import re
from typing import Any

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.raft import mutants
from meshcheck.impl.raft.config import RaftConfig

SERVERS = ("n1", "n2", "n3")


def test_the_boundaries_that_are_accepted() -> None:
    c = RaftConfig("n2", ["n3", "n1", "n2"], election_timeout=(2, 2), heartbeat_interval=1)
    assert c.servers == SERVERS and c.peers == ("n1", "n3") and c.quorum == 2
    assert RaftConfig("n1", ["n1"]).quorum == 1
    assert RaftConfig("n1", [*SERVERS, "n4"]).quorum == 3
    c = RaftConfig(
        "n1", SERVERS, snapshot_interval=1, max_entries=1, bugs=[mutants.FORGET_VOTED_FOR]
    )
    assert c.bugs == frozenset({mutants.FORGET_VOTED_FOR})
    defaults = RaftConfig("n1", SERVERS)
    assert defaults.election_timeout == (150, 300) and defaults.heartbeat_interval == 50
    assert defaults.snapshot_interval == 10_000 and defaults.max_entries is None
    assert defaults.bugs == frozenset()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "n9"}, "node n9 is not one of the servers ['n1', 'n2', 'n3']"),
        ({"servers": ["n1", "n1", "n2"]}, "servers must be distinct: ['n1', 'n1', 'n2']"),
        (
            {"election_timeout": (0, 5)},
            "election_timeout must be a range 1 <= lo <= hi, not (0, 5)",
        ),
        (
            {"election_timeout": (6, 5)},
            "election_timeout must be a range 1 <= lo <= hi, not (6, 5)",
        ),
        (
            {"election_timeout": (5, 9), "heartbeat_interval": 5},
            "heartbeat_interval (5) must be at least 1 and below the election timeout (5), or "
            "followers start elections against a live leader",
        ),
        (  # lo = 1 is a range; it is the heartbeat that cannot fit below it
            {"election_timeout": (1, 3), "heartbeat_interval": 1},
            "heartbeat_interval (1) must be at least 1 and below the election timeout (1), or "
            "followers start elections against a live leader",
        ),
        (
            {"heartbeat_interval": 0},
            "heartbeat_interval (0) must be at least 1 and below the election timeout (150), or "
            "followers start elections against a live leader",
        ),
        ({"snapshot_interval": 0}, "snapshot_interval and max_entries must be at least 1"),
        ({"max_entries": 0}, "snapshot_interval and max_entries must be at least 1"),
        (
            {"bugs": ["zeta", "alpha"]},
            f"unknown Raft mutant alpha, zeta (known: {', '.join(mutants.BUGS)})",
        ),
        (
            {"bugs": "forget_voted_for"},
            "bugs must be a set of mutant names, not the string 'forget_voted_for'",
        ),
    ],
)
def test_each_rule_refuses_with_its_whole_message(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"id": "n1", "servers": SERVERS, **kwargs}
    with pytest.raises(ImplError, match=f"^{re.escape(message)}$"):
        RaftConfig(**args)

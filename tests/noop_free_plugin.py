"""A Raft plug-in whose new leader appends no no-op entry (Raft section 8 left out), registered at
run time by the tests of the directed scenarios, coverage and log validation: the reference core
(impl/raft, `RaftConfig.leader_noop=False`) driven only through the adapter contract, as
tests/adapter_example.py drives it. A leader of this kind commits an entry of an earlier term only
once a client write of its own term commits after it (specs/Raft.tla, `LeaderNoOp = FALSE`)."""

from __future__ import annotations

import attrs

from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from tests import adapter_example

NAME = "raft-nonoop"


class NoNoOpDriver(adapter_example.CoreDriver):
    """impl/raft behind the contract, its leader appending no no-op on election."""

    def __init__(
        self,
        node_id: str,
        servers: tuple[str, ...],
        bugs: frozenset[str],
        timeout: tuple[int, int] = (150, 300),
    ) -> None:
        super().__init__(node_id, servers, bugs, timeout)
        self.config = attrs.evolve(self.config, leader_noop=False)


BUGS = adapter_example.BUGS
CHECKS = adapter_example.checks_with(NoNoOpDriver)
TARGET = adapter_example.target_with(NoNoOpDriver, NAME)

NONOOP = Protocol(
    name=NAME,
    title="impl/raft without the leader's no-op, through the adapter contract",
    models=Models(spec="Raft"),
    bugs="tests.noop_free_plugin:BUGS",
    checks="tests.noop_free_plugin:CHECKS",
    directed="tests.noop_free_plugin:TARGET",
)

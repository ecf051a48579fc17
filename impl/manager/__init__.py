"""Routing by operation type across the three layers: critical operations to PBFT, coordination to
the hybrid dispatcher (so that it escalates from Raft to BFT with the threat level), status to
gossip; an unknown type refused.

- routing.py: `OpType`, the routing table `ROUTES`, `Answer`, `UnknownOperationType`;
- manager.py: `Manager`, the entry point (`submit(op_type, data) -> Answer`) over the simulated
  layers, one seed for all, and `log_value` (an operation's data as the layers take it);
- mutants.py: the routing mistakes as switches (BUGS).

specs/Routing.tla is the routing as TLC checks it (specs/Routing.md).
"""

from meshcheck.impl.manager.manager import Manager
from meshcheck.impl.manager.manager import Refused
from meshcheck.impl.manager.manager import log_value
from meshcheck.impl.manager.mutants import BUGS
from meshcheck.impl.manager.routing import ROUTES
from meshcheck.impl.manager.routing import Answer
from meshcheck.impl.manager.routing import How
from meshcheck.impl.manager.routing import Layer
from meshcheck.impl.manager.routing import NoAnswer
from meshcheck.impl.manager.routing import OpType
from meshcheck.impl.manager.routing import UnknownOperationType
from meshcheck.impl.manager.routing import op_type
from meshcheck.impl.manager.routing import route

__all__ = [
    "BUGS",
    "ROUTES",
    "Answer",
    "How",
    "Layer",
    "Manager",
    "NoAnswer",
    "OpType",
    "Refused",
    "UnknownOperationType",
    "log_value",
    "op_type",
    "route",
]

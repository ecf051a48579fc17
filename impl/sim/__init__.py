"""The deterministic, fault-injecting simulator shared by every protocol (Raft, PBFT, the hybrid).

A protocol plugs in through `Plugin` (impl/sim/protocol.py); its nodes are sans-IO cores that take the
events of `impl.base.events` and return the effects of `impl.base.effects`.
"""

from meshcheck.impl.base.effects import (
    Apply,
    CancelTimer,
    Effect,
    Invoke,
    Persist,
    Put,
    Reply,
    Send,
    SetTimer,
    Splice,
    Write,
    check_effects,
)
from meshcheck.impl.base.events import ClientRead, ClientRequest, Deliver, Restart, Tick
from meshcheck.impl.base.node import Node, Workload
from meshcheck.impl.sim.checker import AppliedEntry
from meshcheck.impl.sim.config import (
    CALM,
    Faults,
    MessageFaults,
    Phase,
    Phases,
    SimConfig,
)
from meshcheck.impl.sim.history import WORKLOAD, Anomaly, ClientOp, HistoryRecorder
from meshcheck.impl.sim.network import Envelope, Network
from meshcheck.impl.sim.protocol import Plugin, Segment
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.impl.sim.storage import Durable

__all__ = [
    "CALM",
    "WORKLOAD",
    "Anomaly",
    "AppliedEntry",
    "Apply",
    "CancelTimer",
    "ClientOp",
    "ClientRead",
    "ClientRequest",
    "Deliver",
    "Durable",
    "Effect",
    "Envelope",
    "Faults",
    "HistoryRecorder",
    "Invoke",
    "MessageFaults",
    "Network",
    "Node",
    "Persist",
    "Phase",
    "Phases",
    "Plugin",
    "Put",
    "Reply",
    "Restart",
    "Segment",
    "Send",
    "SetTimer",
    "SimConfig",
    "Simulator",
    "Splice",
    "Tick",
    "Workload",
    "Write",
    "check_effects",
]

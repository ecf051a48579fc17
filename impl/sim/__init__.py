"""The deterministic, fault-injecting simulator shared by every protocol (Raft now, PBFT later).

A protocol plugs in through `Plugin` (impl/sim/protocol.py); its nodes are sans-IO cores that take the
events of `impl.sim.events` and return the effects of `impl.sim.effects`.
"""

from .config import Faults, SimConfig, Workload
from .effects import (
    Apply,
    CancelTimer,
    Effect,
    Persist,
    Put,
    Reply,
    Send,
    SetTimer,
    Splice,
    Write,
    check_effects,
)
from .events import ClientRead, ClientRequest, Deliver, Restart, Tick
from .network import Envelope, Network
from .protocol import Node, Plugin, Segment
from .simulator import Simulator
from .storage import Durable

__all__ = [
    "Apply",
    "CancelTimer",
    "ClientRead",
    "ClientRequest",
    "Deliver",
    "Durable",
    "Effect",
    "Envelope",
    "Faults",
    "Network",
    "Node",
    "Persist",
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

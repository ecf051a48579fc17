"""The deterministic, fault-injecting simulator shared by every protocol (Raft, PBFT, the hybrid).

A protocol plugs in through `Plugin` (impl/sim/protocol.py); its nodes are sans-IO cores that take the
events of `impl.base.events` and return the effects of `impl.base.effects`.
"""

from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Invoke
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.effects import check_effects
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.node import Node
from meshcheck.impl.base.node import Workload
from meshcheck.impl.sim.checker import AppliedEntry
from meshcheck.impl.sim.config import CALM
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import MessageFaults
from meshcheck.impl.sim.config import Phase
from meshcheck.impl.sim.config import Phases
from meshcheck.impl.sim.config import SimConfig
from meshcheck.impl.sim.history import WORKLOAD
from meshcheck.impl.sim.history import Anomaly
from meshcheck.impl.sim.history import ClientOp
from meshcheck.impl.sim.history import HistoryRecorder
from meshcheck.impl.sim.network import Envelope
from meshcheck.impl.sim.network import Network
from meshcheck.impl.sim.protocol import Plugin
from meshcheck.impl.sim.protocol import Segment
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

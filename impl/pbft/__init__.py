"""PBFT (Castro and Liskov, OSDI 1999): a sans-IO replica and client with Ed25519-signed messages,
its refinement mapping onto specs/PBFT.tla, its mutants, and its plug-in for the simulator."""

from meshcheck.impl.pbft.actions import ACTIONS
from meshcheck.impl.pbft.client import Client, ClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.evidence import AuditLog, Evidence, proves
from meshcheck.impl.pbft.log import MessageLog
from meshcheck.impl.pbft.messages import (
    NOOP,
    Batch,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedProof,
    PrePrepare,
    Reply,
    Request,
    Signed,
    Status,
    ViewChange,
    batch_digest,
    history_digest,
)
from meshcheck.impl.pbft.mutants import BUGS
from meshcheck.impl.pbft.refinement import VARIABLES, History, abstract_state, message_record
from meshcheck.impl.pbft.replica import (
    BATCH,
    CHANGING,
    NORMAL,
    PROGRESS,
    STATUS,
    VIEW_CHANGE,
    Replica,
)
from meshcheck.impl.pbft.simulation import PbftPlugin, pbft_cluster

__all__ = [
    "ACTIONS",
    "BATCH",
    "BUGS",
    "CHANGING",
    "NOOP",
    "NORMAL",
    "PROGRESS",
    "STATUS",
    "VARIABLES",
    "VIEW_CHANGE",
    "AuditLog",
    "Batch",
    "Checkpoint",
    "Client",
    "ClientConfig",
    "Commit",
    "Evidence",
    "History",
    "KeyRing",
    "MessageLog",
    "NewView",
    "PbftConfig",
    "PbftPlugin",
    "PrePrepare",
    "Prepare",
    "PreparedProof",
    "Replica",
    "Reply",
    "Request",
    "Signed",
    "Status",
    "ViewChange",
    "abstract_state",
    "batch_digest",
    "history_digest",
    "message_record",
    "pbft_cluster",
    "proves",
]

"""PBFT (Castro and Liskov, OSDI 1999): a sans-IO replica and client with Ed25519-signed messages,
its refinement mapping onto specs/PBFT.tla, its mutants, and its plug-in for the simulator."""

from .actions import ACTIONS, ActionMark
from .client import Client, ClientConfig
from .config import PbftConfig
from .crypto import KeyRing
from .evidence import AuditLog, Evidence, proves
from .log import MessageLog
from .messages import (
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
from .mutants import BUGS
from .refinement import VARIABLES, History, abstract_state, message_record
from .replica import BATCH, CHANGING, NORMAL, PROGRESS, STATUS, VIEW_CHANGE, Replica
from .simulation import PbftPlugin, pbft_cluster

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
    "ActionMark",
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

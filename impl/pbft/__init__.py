"""PBFT (Castro and Liskov, OSDI 1999): a sans-IO replica and client with Ed25519-signed messages,
its refinement mapping onto specs/PBFT.tla, its mutants, and its plug-in for the simulator."""

from meshcheck.impl.pbft.actions import ACTIONS
from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.client import ClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.evidence import AuditLog
from meshcheck.impl.pbft.evidence import Evidence
from meshcheck.impl.pbft.evidence import proves
from meshcheck.impl.pbft.log import MessageLog
from meshcheck.impl.pbft.messages import NOOP
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import history_digest
from meshcheck.impl.pbft.mutants import BUGS
from meshcheck.impl.pbft.refinement import VARIABLES
from meshcheck.impl.pbft.refinement import History
from meshcheck.impl.pbft.refinement import abstract_state
from meshcheck.impl.pbft.refinement import message_record
from meshcheck.impl.pbft.replica import BATCH
from meshcheck.impl.pbft.replica import CHANGING
from meshcheck.impl.pbft.replica import NORMAL
from meshcheck.impl.pbft.replica import PROGRESS
from meshcheck.impl.pbft.replica import STATUS
from meshcheck.impl.pbft.replica import VIEW_CHANGE
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.pbft.simulation import PbftPlugin
from meshcheck.impl.pbft.simulation import pbft_cluster

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

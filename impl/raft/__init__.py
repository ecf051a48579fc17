"""The sans-IO Raft node (Raft paper and Ongaro's thesis), its refinement mapping onto specs/Raft.tla,
its mutants, and its plug-in for the simulator."""

from .config import RaftConfig
from .log import RaftLog
from .messages import (
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    InstallSnapshotRequest,
    InstallSnapshotResponse,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    Snapshot,
)
from .mutants import BUGS
from .node import ELECTION, HEARTBEAT, READ, READ_NEXT, SNAPSHOT, RaftNode, Replicate
from .refinement import VARIABLES, Budget, History, abstract_state, message_record
from .roles import CANDIDATE, FOLLOWER, LEADER, TRANSITIONS, Role
from .simulation import RaftPlugin, raft_cluster

__all__ = [
    "BUGS",
    "CANDIDATE",
    "ELECTION",
    "FOLLOWER",
    "HEARTBEAT",
    "LEADER",
    "READ",
    "READ_NEXT",
    "SNAPSHOT",
    "TRANSITIONS",
    "VARIABLES",
    "AppendEntriesRequest",
    "AppendEntriesResponse",
    "Budget",
    "Entry",
    "History",
    "InstallSnapshotRequest",
    "InstallSnapshotResponse",
    "Message",
    "RaftConfig",
    "RaftLog",
    "RaftNode",
    "RaftPlugin",
    "Replicate",
    "RequestVoteRequest",
    "RequestVoteResponse",
    "Role",
    "Snapshot",
    "abstract_state",
    "message_record",
    "raft_cluster",
]

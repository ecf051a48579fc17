"""The sans-IO Raft node (Raft paper and Ongaro's thesis), its refinement mapping onto specs/Raft.tla,
its mutants, and its plug-in for the simulator."""

from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.log import RaftLog
from meshcheck.impl.raft.messages import (
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    InstallSnapshotRequest,
    InstallSnapshotResponse,
    Message,
    PreVoteRequest,
    PreVoteResponse,
    RequestVoteRequest,
    RequestVoteResponse,
    Snapshot,
)
from meshcheck.impl.raft.mutants import BUGS
from meshcheck.impl.raft.node import (
    ELECTION,
    HEARTBEAT,
    READ,
    READ_NEXT,
    SNAPSHOT,
    RaftNode,
    Replicate,
)
from meshcheck.impl.raft.refinement import (
    VARIABLES,
    Budget,
    History,
    abstract_state,
    message_record,
)
from meshcheck.impl.raft.roles import CANDIDATE, FOLLOWER, LEADER, PRE_CANDIDATE, TRANSITIONS, Role
from meshcheck.impl.raft.simulation import RaftPlugin, raft_cluster

__all__ = [
    "BUGS",
    "CANDIDATE",
    "ELECTION",
    "FOLLOWER",
    "HEARTBEAT",
    "LEADER",
    "PRE_CANDIDATE",
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
    "PreVoteRequest",
    "PreVoteResponse",
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

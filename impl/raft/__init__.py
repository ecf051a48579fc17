"""The sans-IO Raft node (Raft paper and Ongaro's thesis), its refinement mapping onto specs/Raft.tla,
its mutants, and its plug-in for the simulator."""

from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.log import RaftLog
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import InstallSnapshotRequest
from meshcheck.impl.raft.messages import InstallSnapshotResponse
from meshcheck.impl.raft.messages import Message
from meshcheck.impl.raft.messages import PreVoteRequest
from meshcheck.impl.raft.messages import PreVoteResponse
from meshcheck.impl.raft.messages import RequestVoteRequest
from meshcheck.impl.raft.messages import RequestVoteResponse
from meshcheck.impl.raft.messages import Snapshot
from meshcheck.impl.raft.mutants import BUGS
from meshcheck.impl.raft.node import ELECTION
from meshcheck.impl.raft.node import HEARTBEAT
from meshcheck.impl.raft.node import READ
from meshcheck.impl.raft.node import READ_NEXT
from meshcheck.impl.raft.node import SNAPSHOT
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.node import Replicate
from meshcheck.impl.raft.refinement import VARIABLES
from meshcheck.impl.raft.refinement import Budget
from meshcheck.impl.raft.refinement import History
from meshcheck.impl.raft.refinement import abstract_state
from meshcheck.impl.raft.refinement import message_record
from meshcheck.impl.raft.roles import CANDIDATE
from meshcheck.impl.raft.roles import FOLLOWER
from meshcheck.impl.raft.roles import LEADER
from meshcheck.impl.raft.roles import PRE_CANDIDATE
from meshcheck.impl.raft.roles import TRANSITIONS
from meshcheck.impl.raft.roles import Role
from meshcheck.impl.raft.simulation import RaftPlugin
from meshcheck.impl.raft.simulation import raft_cluster

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

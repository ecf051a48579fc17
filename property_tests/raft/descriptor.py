"""Raft as meshcheck knows it: specs/Raft.tla, impl/raft, its mutants, checks, proofs and corpus.

Declared in pyproject.toml as the entry point `raft` of the group `meshcheck.protocols`; the
commands find it through meshcheck/registry.py. The action table is Raft.tla's `Next`.
"""

from __future__ import annotations

from meshcheck.property_tests.descriptor import in_tree
from meshcheck.property_tests.descriptor import models
from meshcheck.protocol import Action
from meshcheck.protocol import Models

_SERVER = ("i",)
_PAIR = ("i", "j")

RAFT = in_tree(
    "raft",
    "Raft: elections, log replication, snapshots, ReadIndex reads",
    # CommitIndexMonotonic and MatchIndexMonotonic, without the SYMMETRY the main models reduce by
    # (action properties are unsound under it: specs/Raft.md)
    models("Raft", every=("Raft_transitions",)),
    # the same spec with LeaderNoOp = FALSE: the paper's basic algorithm, without the new
    # leader's no-op, which many libraries run (its safety models; liveness assumes the no-op)
    extra_models=(
        Models(
            spec="Raft", quick="Raft_nonoop_quick", default="Raft_nonoop_quick", deep="Raft_nonoop"
        ),
        # the same spec with PreVote = TRUE: an election timeout starts a pre-election first
        # (Ongaro's thesis 9.6, etcd-io/raft's PreVote); one small model, in every safety profile
        Models(
            spec="Raft",
            quick="Raft_prevote_quick",
            default="Raft_prevote_quick",
            deep="Raft_prevote_quick",
        ),
    ),
    actions=(
        Action("Timeout", _SERVER, "protocol", "server i times out and starts an election"),
        Action("PreVoteTimeout", _SERVER, "protocol", "i times out and starts a pre-election"),
        Action("ClientRequest", ("i", "v"), "client", "a client sends value v to leader i"),
        Action("AppendEntries", _PAIR, "protocol", "leader i sends j entries or a heartbeat"),
        Action("InstallSnapshot", _PAIR, "protocol", "leader i sends j its snapshot"),
        Action("TakeSnapshot", _SERVER, "protocol", "i folds its committed prefix into a snapshot"),
        Action("Restart", _SERVER, "fault", "i crashes and restarts with what was on disk"),
        Action("ClientRead", _SERVER, "client", "leader i registers a ReadIndex read"),
        Action("CompleteRead", _SERVER, "protocol", "leader i serves a read a quorum confirmed"),
        Action("HandleRequestVoteRequest", _PAIR, "protocol", "i answers j's vote request"),
        Action("HandleRequestVoteResponse", _PAIR, "protocol", "i counts j's vote"),
        Action("HandlePreVoteRequest", _PAIR, "protocol", "i answers j's pre-vote request"),
        Action("HandlePreVoteResponse", _PAIR, "protocol", "i counts j's pre-vote"),
        Action("HandleAppendEntriesRequest", _PAIR, "protocol", "i takes j's entries"),
        Action("HandleAppendEntriesResponse", _PAIR, "protocol", "leader i reads j's answer"),
        Action("HandleInstallSnapshotRequest", _PAIR, "protocol", "i installs j's snapshot"),
        Action("HandleInstallSnapshotResponse", _PAIR, "protocol", "leader i reads j's answer"),
        Action("DropMessage", (), "fault", "the network loses a message"),
        Action("DuplicateMessage", (), "fault", "the network delivers a message twice"),
    ),
    proofs="meshcheck.models.raft:prove",
    hints="meshcheck.traces.hints:RAFT",
    directed=True,
    # its NDJSON logs validated with full and partial state, broken ones caught (docs/logs.md)
    log_checks=("meshcheck.verify_logs:REFERENCE_LOGS",),
)

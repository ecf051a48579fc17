"""Raft's log entries and messages (Raft paper Figure 2; InstallSnapshot: section 7).

The fields are the spec's message fields without the `m` prefix (`term` is `mterm`, `prev_log_index`
is `mprevLogIndex`, ...); `impl/raft/refinement.py` turns a message into the spec's record. Fields the
spec does not have (the snapshot's bytes, the read round) are the implementation's own.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs


@attrs.frozen
class Entry:
    """One log entry: the term it was created in, and the client's value (or the leader's no-op)."""

    term: int
    value: Any


@attrs.frozen
class Snapshot:
    """A compacted log prefix (section 7): the last entry it replaces, and the state machine's bytes."""

    index: int
    term: int
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


@attrs.frozen
class RequestVoteRequest:
    source: str
    dest: str
    term: int
    last_log_term: int
    last_log_index: int


@attrs.frozen
class RequestVoteResponse:
    source: str
    dest: str
    term: int
    vote_granted: bool


@attrs.frozen
class AppendEntriesRequest:
    source: str
    dest: str
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    commit_index: int
    read_round: int = 0  # ReadIndex: the leader's heartbeat round when it sent this (thesis 6.4)


@attrs.frozen
class AppendEntriesResponse:
    source: str
    dest: str
    term: int
    success: bool
    match_index: int
    read_round: int = 0  # echoes the request's: acknowledges leadership for reads of that round


@attrs.frozen
class InstallSnapshotRequest:
    source: str
    dest: str
    term: int
    last_included_index: int
    last_included_term: int
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


@attrs.frozen
class InstallSnapshotResponse:
    source: str
    dest: str
    term: int
    match_index: int


Message: TypeAlias = (
    RequestVoteRequest
    | RequestVoteResponse
    | AppendEntriesRequest
    | AppendEntriesResponse
    | InstallSnapshotRequest
    | InstallSnapshotResponse
)

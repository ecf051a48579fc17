"""Raft's log entries and messages (Raft paper Figure 2; InstallSnapshot: section 7).

The fields are the spec's message fields without the `m` prefix (`term` is `mterm`, `prev_log_index`
is `mprevLogIndex`, ...); `impl/raft/refinement.py` turns a message into the spec's record. Fields the
spec does not have (the snapshot's bytes, the read round) are the implementation's own.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from typing import TypeAlias

import attrs

from meshcheck.impl.base.values import FrozenDict


@attrs.frozen(cache_hash=True)  # hashed on every mapping of a log or a message (entry_record)
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
class PreVoteRequest:
    """Pre-vote (Ongaro's thesis, section 9.6): would `dest` vote for `source` in `term` (one past
    the sender's own term, which it has not started)?"""

    source: str
    dest: str
    term: int
    last_log_term: int
    last_log_index: int


@attrs.frozen
class PreVoteResponse:
    """`term` echoes the request's, so that the pre-candidate counts only answers to the
    pre-election it is running; the receiver's term is not in it (no term rule for pre-votes)."""

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
    # Fast backup (Raft paper, end of section 5.3): a rejection of the current leader carries the
    # term of the follower's entry at prev_log_index and the first index it stores for that term,
    # or, when it has no entry there, term 0 and the index just past its log. Otherwise both 0.
    conflict_term: int = 0
    conflict_index: int = 0


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
    | PreVoteRequest
    | PreVoteResponse
    | AppendEntriesRequest
    | AppendEntriesResponse
    | InstallSnapshotRequest
    | InstallSnapshotResponse
)


# -- the spec's records of entries and messages (specs/Raft.tla), for the Action effects and the
# refinement mapping


# Globals that keep no node's state (property_tests/restarts.py, core purity): `entry_record` is a
# memo of a pure function (an entry's spec record).
PURE_GLOBALS = ("entry_record",)


@lru_cache(maxsize=65536)
def entry_record(entry: Entry) -> FrozenDict:
    """[term |-> t, value |-> v]"""
    return FrozenDict({"term": entry.term, "value": entry.value})


def message_record(m: Message) -> FrozenDict:
    """The message as the spec's record: its fields with the `m` prefix, and `mtype`."""
    fields: dict[str, object] = {"mtype": type(m).__name__, "mterm": m.term}
    if isinstance(m, RequestVoteRequest | PreVoteRequest):
        fields |= {"mlastLogTerm": m.last_log_term, "mlastLogIndex": m.last_log_index}
    elif isinstance(m, RequestVoteResponse | PreVoteResponse):
        fields |= {"mvoteGranted": m.vote_granted}
    elif isinstance(m, AppendEntriesRequest):
        fields |= {
            "mprevLogIndex": m.prev_log_index,
            "mprevLogTerm": m.prev_log_term,
            "mentries": tuple(map(entry_record, m.entries)),
            "mcommitIndex": m.commit_index,
            "mreadSeq": m.read_round,
        }
    elif isinstance(m, AppendEntriesResponse):
        fields |= {
            "msuccess": m.success,
            "mmatchIndex": m.match_index,
            "mreadSeq": m.read_round,
            "mconflictTerm": m.conflict_term,
            "mconflictIndex": m.conflict_index,
        }
    elif isinstance(m, InstallSnapshotRequest):
        fields |= {
            "mlastIncludedIndex": m.last_included_index,
            "mlastIncludedTerm": m.last_included_term,
        }
    elif isinstance(m, InstallSnapshotResponse):
        fields |= {"mmatchIndex": m.match_index}
    fields |= {"msource": m.source, "mdest": m.dest}
    return FrozenDict(fields)

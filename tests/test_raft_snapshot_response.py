"""A leader's handling of InstallSnapshotResponse (Raft paper section 7, Figure 13; specs/Raft.tla's
HandleInstallSnapshotResponse): a response of an earlier term is dropped, and a current one moves
the follower's matchIndex and nextIndex forward only."""

from __future__ import annotations

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.raft import AppendEntriesRequest
from meshcheck.impl.raft import InstallSnapshotRequest
from meshcheck.impl.raft import InstallSnapshotResponse
from meshcheck.impl.raft.node import HARD
from meshcheck.impl.raft.node import LOG
from tests.test_raft_impl import Box
from tests.test_raft_impl import log_of
from tests.test_raft_impl import sent


def leader() -> Box:
    box = Box(disk={HARD: (1, None), LOG: log_of(1, 1, 1)})
    box.elect()  # term 2, the no-op at index 4
    assert box.node.term == 2 and box.node.match_index["s2"] == 0
    return box


def test_a_response_of_an_earlier_term_changes_nothing() -> None:
    box = leader()
    next_before = dict(box.node.next_index)
    assert box.deliver(InstallSnapshotResponse("s2", "s1", 1, 3)) == []
    assert box.node.match_index["s2"] == 0 and box.node.next_index == next_before


def test_a_current_response_moves_match_and_next_forward_only() -> None:
    box = leader()
    box.deliver(InstallSnapshotResponse("s2", "s1", 2, 1))
    assert box.node.match_index["s2"] == 1 and box.node.next_index["s2"] == 4
    box.deliver(InstallSnapshotResponse("s2", "s1", 2, 4))
    assert box.node.match_index["s2"] == 4 and box.node.next_index["s2"] == 5
    box.deliver(InstallSnapshotResponse("s2", "s1", 2, 2))  # a late duplicate: no step back
    assert box.node.match_index["s2"] == 4 and box.node.next_index["s2"] == 5
    assert box.deliver(InstallSnapshotResponse("s3", "s1", 2, 0)) == []  # matches nothing
    assert box.node.match_index["s3"] == 0


def test_a_stale_snapshot_is_refused_with_the_current_term_and_no_match() -> None:
    """Figure 13: reply immediately if term < currentTerm; the reply names its sender, carries the
    term that deposes the old leader, and matches nothing (0)."""
    box = Box("s2", disk={HARD: (3, None), LOG: log_of(1, 2)})
    effects = box.deliver(InstallSnapshotRequest("s1", "s2", 2, 5, 2, b"{}"))
    assert sent(effects) == [InstallSnapshotResponse("s2", "s1", 3, 0)]
    assert box.node.log.snapshot_index == 0 and box.node.log.last_index == 2


def test_a_current_response_sends_what_follows_the_snapshot_when_nothing_is_in_flight() -> None:
    """Section 7: once the follower holds the snapshot, the leader goes on with AppendEntries from
    nextIndex, if it has entries past it and nothing unacknowledged is in flight to that follower
    (one batch at a time: impl/raft/node.py `_idle`)."""
    box = leader()  # the no-op (index 4) is in flight to s2 and s3
    box.step(ClientRequest("w", 7))  # index 5: held back, a batch is in flight to both
    assert box.node.log.last_index == 5
    # s3 is still waiting on its batch (up to 4): a snapshot response of match 3 sends nothing
    assert sent(box.deliver(InstallSnapshotResponse("s3", "s1", 2, 3))) == []
    # s2 acknowledges up to 4 by snapshot: idle, and entry 5 follows
    (follow_up,) = sent(box.deliver(InstallSnapshotResponse("s2", "s1", 2, 4)))
    assert isinstance(follow_up, AppendEntriesRequest) and follow_up.dest == "s2"
    assert (follow_up.prev_log_index, [e.value for e in follow_up.entries]) == (4, ["w"])


def test_a_current_response_sends_nothing_when_the_follower_has_everything() -> None:
    box = leader()
    # s2 holds up to the last index (4) by snapshot: nothing to send, not even an empty AppendEntries
    assert sent(box.deliver(InstallSnapshotResponse("s2", "s1", 2, 4))) == []
    assert box.node.next_index["s2"] == 5

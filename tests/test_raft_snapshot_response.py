"""A leader's handling of InstallSnapshotResponse (Raft paper section 7, Figure 13; specs/Raft.tla's
HandleInstallSnapshotResponse): a response of an earlier term is dropped, and a current one moves
the follower's matchIndex and nextIndex forward only."""

from __future__ import annotations

from meshcheck.impl.raft import InstallSnapshotRequest, InstallSnapshotResponse
from meshcheck.impl.raft.node import HARD, LOG
from tests.test_raft_impl import Box, log_of, sent


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

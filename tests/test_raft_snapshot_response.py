"""A leader's handling of InstallSnapshotResponse (Raft paper section 7, Figure 13; specs/Raft.tla's
HandleInstallSnapshotResponse): a response of an earlier term is dropped, and a current one moves
the follower's matchIndex and nextIndex forward only."""

from __future__ import annotations

from meshcheck.impl.raft import InstallSnapshotResponse
from meshcheck.impl.raft.node import HARD, LOG
from tests.test_raft_impl import Box, log_of


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

"""Raft's rare conditions (meshcheck/coverage.py), read off Raft.tla's variables: the same function
for a lockstep step (TLC's states) and a free run's step (the refinement's abstract state).

- conflict_truncated: a follower takes an AppendEntries whose entries conflict with its own after
  prevLogIndex and deletes its suffix (Figure 2, receiver rule 3): needs two leaders whose logs
  took different suffixes;
- stale_snapshot: an InstallSnapshot arrives whose last included index is at or below the
  receiver's commitIndex (section 7: a delayed snapshot, nothing to install);
- stale_leader_read: a leader registers or serves a ReadIndex read while another server already
  has a higher term (thesis section 6.4: the read must fail its quorum round, or be confirmed
  before the leader was deposed);
- two_leaders: two servers lead at once, in different terms (the older one not yet told).

The situations of the directed scenarios (property_tests/directed/library.py), so that the report
says whether free runs and lockstep reach them by chance:

- older_entry_on_majority: a server wins an election while an entry of an older term that it
  lacks, not committed, is stored on a majority (the Raft paper's Figure 8 (d));
- success_answer_lost: the network loses a follower's successful AppendEntries answer;
- stale_success_answer: a leader takes a successful answer whose match is below what it already
  knows of that follower (reordered or duplicated);
- restart_after_vote: a server restarts having voted in its term for a candidate still running;
- deposed_with_uncommitted: a leader steps down holding entries past its commitIndex;
- far_behind_rejection: a leader takes a rejection from a follower whose log differs from its own
  at ten or more indexes (missing or conflicting: several step-backs to come).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.coverage import CoverageSpec
from meshcheck.coverage import Rare

LEADER = "Leader"

CONDITIONS = (
    Rare("conflict_truncated", "a follower deletes a conflicting suffix after prevLogIndex"),
    Rare("stale_snapshot", "an InstallSnapshot at or below the receiver's commitIndex arrives"),
    Rare("stale_leader_read", "a deposed leader registers or serves a read"),
    Rare("two_leaders", "two leaders at once, in different terms"),
    Rare("older_entry_on_majority", "a leader elected lacking an older entry on a majority"),
    Rare("success_answer_lost", "a follower's successful AppendEntries answer is lost"),
    Rare("stale_success_answer", "a leader takes a success below the follower's known match"),
    Rare("restart_after_vote", "a server restarts having voted for a running candidate"),
    Rare("deposed_with_uncommitted", "a leader steps down holding uncommitted entries"),
    Rare("far_behind_rejection", "a leader is rejected by a follower 10+ entries apart"),
)
FAR = 10  # indexes at which two logs differ for a follower to count as far behind


def _entry(state: Mapping[str, Any], i: Any, index: int) -> Any:
    si = state["snapshotIndex"][i]
    log = state["log"][i]
    return log[index - si - 1] if si < index <= si + len(log) else None


def detect(
    before: Mapping[str, Any], action: str, params: Mapping[str, Any], after: Mapping[str, Any]
) -> Iterable[str]:
    found = []
    if action == "HandleAppendEntriesRequest":
        i = params["i"]
        last = before["snapshotIndex"][i] + len(before["log"][i])
        start = max(before["snapshotIndex"][i], after["snapshotIndex"][i]) + 1
        if any(_entry(before, i, k) != _entry(after, i, k) for k in range(start, last + 1)):
            found.append("conflict_truncated")
    elif action == "HandleInstallSnapshotRequest":
        i = params["i"]
        gone = _bag(before["messages"]) - _bag(after["messages"])
        if any(
            isinstance(m, Mapping)
            and m.get("mtype") == "InstallSnapshotRequest"
            and m.get("mdest") == i
            and m["mlastIncludedIndex"] <= before["commitIndex"][i]
            for m in gone
        ):
            found.append("stale_snapshot")
    elif action in ("ClientRead", "CompleteRead"):
        i = params["i"]
        term = before["currentTerm"]
        if before["role"][i] == LEADER and any(t > term[i] for t in term.values()):
            found.append("stale_leader_read")
    leaders = {after["currentTerm"][s] for s, r in after["role"].items() if r == LEADER}
    if len(leaders) > 1:
        found.append("two_leaders")
    found.extend(_scenario_conditions(before, action, params, after))
    return found


def _scenario_conditions(
    before: Mapping[str, Any], action: str, params: Mapping[str, Any], after: Mapping[str, Any]
) -> list[str]:
    """The directed scenarios' situations a step shows (the module's docstring)."""
    found = []
    i = params.get("i")
    role = before["role"]
    deposed = i is not None and role.get(i) == LEADER and after["role"][i] != LEADER
    if deposed and _last(before, i) > before["commitIndex"][i]:
        found.append("deposed_with_uncommitted")
    elected = i is not None and role.get(i) != LEADER and after["role"].get(i) == LEADER
    if elected and _older_on_majority(after, i):
        found.append("older_entry_on_majority")
    if action == "Restart" and i is not None:
        voted = before["votedFor"][i]
        term = before["currentTerm"][i]
        if voted in role and role[voted] == "Candidate" and before["currentTerm"][voted] == term:
            found.append("restart_after_vote")
    gone = _bag(before["messages"]) - _bag(after["messages"])
    answers = [
        m for m in gone if isinstance(m, Mapping) and m.get("mtype") == "AppendEntriesResponse"
    ]
    if action == "DropMessage" and any(m["msuccess"] for m in answers):
        found.append("success_answer_lost")
    if action == "HandleAppendEntriesResponse" and i is not None:
        j = params["j"]
        for m in answers:
            if m["msuccess"] and m["mmatchIndex"] < before["matchIndex"][i][j]:
                found.append("stale_success_answer")
            if not m["msuccess"] and _apart(before, i, j) >= FAR:
                found.append("far_behind_rejection")
    return found


def _last(state: Mapping[str, Any], i: Any) -> int:
    last: int = state["snapshotIndex"][i] + len(state["log"][i])
    return last


def _apart(state: Mapping[str, Any], i: Any, j: Any) -> int:
    """The indexes at which j's log lacks or differs from i's entry."""
    return sum(
        _entry(state, j, k) != _entry(state, i, k)
        for k in range(state["snapshotIndex"][i] + 1, _last(state, i) + 1)
    )


def _older_on_majority(state: Mapping[str, Any], leader: Any) -> bool:
    """Figure 8 (d): some entry of a term below the new leader's, not committed, is on a
    majority of servers but not in the new leader's log at its index."""
    servers = list(state["role"])
    term = state["currentTerm"][leader]
    committed = len(state["committed"])
    top = max(_last(state, s) for s in servers)
    for k in range(committed + 1, top + 1):
        held = Counter(_entry(state, s, k) for s in servers)
        for entry, count in held.items():
            if (
                entry is not None
                and entry["term"] < term
                and count * 2 > len(servers)
                and _entry(state, leader, k) != entry
            ):
                return True
    return False


def _bag(messages: Any) -> Counter[Any]:
    return Counter(dict(messages)) if isinstance(messages, Mapping) else Counter()


def score(state: Mapping[str, Any]) -> float:
    """How far a state is from the common ones: distinct terms held, leaders at once, and servers
    whose logs disagree with another's at some index (conflicting suffixes)."""
    terms = len(set(state["currentTerm"].values()))
    leaders = sum(r == LEADER for r in state["role"].values())
    servers = list(state["log"])
    conflicts = 0
    for a in servers:
        for b in servers:
            if a < b:
                top = max(state["snapshotIndex"][s] + len(state["log"][s]) for s in (a, b))
                conflicts += any(
                    None not in (x := _entry(state, a, k), y := _entry(state, b, k)) and x != y
                    for k in range(1, top + 1)
                )
    return float(terms + 2 * max(0, leaders - 1) + 2 * conflicts)


COVERAGE = CoverageSpec(CONDITIONS, detect, score)

# Lockstep's prefixes (property_tests/lockstep.py): spec paths of Raft.tla under the lockstep model
# (property_tests/raft/models/Lockstep.cfg) that set up a rare condition, from which an example's
# random program continues. competing_leaders: s1 leads term 1 and appends v1 and v2 that nobody
# else has; s2, holding only the no-op s1 replicated to it, wins term 2 with s3's vote and sends s1
# its no-op of term 2. Two leaders at once, in terms 1 and 2, whose logs differ after index 1: when
# s2's AppendEntries reaches s1, s1 deletes a conflicting suffix (Figure 2, receiver rule 3), and a
# read s1 starts before is a stale leader's. The drops free room in the bag (MaxInFlight) for s2's
# election. delayed_snapshot: s1 leads term 1, commits its no-op with s2, folds it into a snapshot
# and sends s3 an InstallSnapshot that the network duplicates: the second copy to arrive is older
# than what s3 then holds (section 7: a stale snapshot, nothing to install), and on the way s3 and
# s1 take every snapshot action.
#
# Both start alike: s1 wins term 1 with s2's vote, a message is dropped, and s1's no-op reaches s2,
# whose answer s1 takes.
S1_LEADS_WITH_S2 = (
    "Timeout(i=s1)",
    "HandleRequestVoteRequest(i=s2, j=s1)",
    "HandleRequestVoteResponse(i=s1, j=s2)",
    "DropMessage",
    "AppendEntries(i=s1, j=s2)",
    "HandleAppendEntriesRequest(i=s2, j=s1)",
    "HandleAppendEntriesResponse(i=s1, j=s2)",
)
PREFIXES: dict[str, tuple[str, ...]] = {
    "competing_leaders": (
        *S1_LEADS_WITH_S2,
        "ClientRequest(i=s1, v=v1)",
        "ClientRequest(i=s1, v=v2)",
        "Timeout(i=s2)",
        "HandleRequestVoteRequest(i=s3, j=s2)",
        "HandleRequestVoteResponse(i=s2, j=s3)",
        "AppendEntries(i=s2, j=s1)",
    ),
    "delayed_snapshot": (
        *S1_LEADS_WITH_S2,
        "TakeSnapshot(i=s1)",
        "InstallSnapshot(i=s1, j=s3)",
        "DuplicateMessage",
    ),
}

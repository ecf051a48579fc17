"""The safety invariants of specs/Raft.tla, in Python, over one abstract state.

A free run records thousands of states; asking TLC about each one costs a JVM round trip per state, so
the free-run checks evaluate the invariants here instead. Each function means exactly what the
invariant of the same name in Raft.tla means, over the state the refinement mapping gives
(impl/raft/refinement.py: keys `VARIABLES`, values as impl/base/values.py), with the spec's log indexing:
`log[i]` holds only the entries AFTER i's snapshot, so the entry at absolute index k is
`log[i][k - snapshotIndex[i] - 1]` here (Python counts from 0).

`violated(state)` lists the spec names of the invariants that fail, in the spec's order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from meshcheck.impl.base.values import Value

LEADER = "Leader"


def _last_index(state: Mapping[str, Value], i: str) -> int:
    index: int = state["snapshotIndex"][i] + len(state["log"][i])
    return index


def _term_at(state: Mapping[str, Value], i: str, k: int) -> int:
    """TermAt(i, k), for snapshotIndex[i] <= k <= LastIndex(i)."""
    si: int = state["snapshotIndex"][i]
    term: int = state["snapshotTerm"][i] if k == si else state["log"][i][k - si - 1]["term"]
    return term


def _entry_at(state: Mapping[str, Value], i: str, k: int) -> Value:
    """EntryAt(i, k), for snapshotIndex[i] < k <= LastIndex(i)."""
    return state["log"][i][k - state["snapshotIndex"][i] - 1]


def election_safety(state: Mapping[str, Value]) -> bool:
    """ElectionSafety: at most one leader per term (section 5.2)."""
    terms = [state["currentTerm"][i] for i, role in state["role"].items() if role == LEADER]
    return len(terms) == len(set(terms))


def log_matching(state: Mapping[str, Value]) -> bool:
    """LogMatching: two logs with an entry of the same index and term agree on every entry up to it
    (section 5.3), compared where both still hold entries (after both snapshots).

    For a pair it suffices to look at the highest index k where the terms agree: if the logs agree up
    to it they agree up to every lower such index too, so one pass per pair, not one per index."""
    servers = sorted(state["log"])
    for a, i in enumerate(servers):
        for j in servers[a + 1 :]:
            lo = max(state["snapshotIndex"][i], state["snapshotIndex"][j]) + 1
            hi = min(_last_index(state, i), _last_index(state, j))
            top = next(
                (
                    k
                    for k in range(hi, lo - 1, -1)
                    if _term_at(state, i, k) == _term_at(state, j, k)
                ),
                None,
            )
            if top is not None and any(
                _entry_at(state, i, k) != _entry_at(state, j, k) for k in range(lo, top + 1)
            ):
                return False
    return True


def leader_completeness(state: Mapping[str, Value]) -> bool:
    """LeaderCompleteness: a leader of term T holds, at index k, every entry committed at k before T
    (or k is inside its snapshot, which holds committed entries only) (section 5.4)."""
    committed = state["committed"]
    for i, role in state["role"].items():
        if role != LEADER:
            continue
        term, si, last = state["currentTerm"][i], state["snapshotIndex"][i], _last_index(state, i)
        for k, record in enumerate(committed, 1):
            if record["term"] >= term:
                continue
            if k > last:
                return False
            if k > si and _entry_at(state, i, k) != record["entry"]:
                return False
    return True


def state_machine_safety(state: Mapping[str, Value]) -> bool:
    """StateMachineSafety: every server's committed entries, those in its snapshot included (checked
    through the snapshot's last term), are the ones ever committed at those indices (section 5.4.3).
    The conjuncts are evaluated in the spec's order, each guarding the next (as TLC's /\\ does)."""
    committed = state["committed"]
    for i in state["role"]:
        si, ci = state["snapshotIndex"][i], state["commitIndex"][i]
        if not (si <= ci <= _last_index(state, i) and ci <= len(committed)):
            return False
        if si > 0 and state["snapshotTerm"][i] != committed[si - 1]["entry"]["term"]:
            return False
        if any(_entry_at(state, i, k) != committed[k - 1]["entry"] for k in range(si + 1, ci + 1)):
            return False
    return True


def read_linearizable(state: Mapping[str, Value]) -> bool:
    """ReadLinearizable: a served read reflects every write committed before it was registered
    (linearizability of ReadIndex, thesis section 6.4)."""
    return all(
        not read["served"] or read["index"] >= state["readFloor"][i]
        for i, read in state["reads"].items()
    )


Invariant = Callable[[Mapping[str, Value]], bool]

# In the order Raft.tla states them, each with the variables it reads.
INVARIANTS: Mapping[str, Invariant] = {
    "ElectionSafety": election_safety,
    "LogMatching": log_matching,
    "LeaderCompleteness": leader_completeness,
    "StateMachineSafety": state_machine_safety,
    "ReadLinearizable": read_linearizable,
}
READS: Mapping[str, tuple[str, ...]] = {
    "ElectionSafety": ("role", "currentTerm"),
    "LogMatching": ("log", "snapshotIndex", "snapshotTerm"),
    "LeaderCompleteness": ("role", "currentTerm", "committed", "log", "snapshotIndex"),
    "StateMachineSafety": (
        "role",
        "snapshotIndex",
        "snapshotTerm",
        "commitIndex",
        "log",
        "committed",
    ),
    "ReadLinearizable": ("reads", "readFloor"),
}


def violated(state: Mapping[str, Value], safe: Mapping[str, Value] | None = None) -> list[str]:
    """The spec names of the safety invariants `state` violates (empty: none).

    `safe`, if given, is a state known to satisfy them all (the step before, in a trace): an invariant
    whose variables are the same there is not evaluated again. Cheap, as consecutive states of a trace
    share their unchanged values (equality stops at identical objects)."""
    return [
        name
        for name, holds in INVARIANTS.items()
        if not (safe is not None and all(safe[v] == state[v] for v in READS[name]))
        and not holds(state)
    ]

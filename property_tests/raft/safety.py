"""The safety invariants and action properties of specs/Raft.tla, in Python, over abstract states.

A free run records thousands of states; asking TLC about each one costs a JVM round trip per state, so
the free-run checks evaluate the invariants here instead. Each function means exactly what the
invariant of the same name in Raft.tla means, over the state the refinement mapping gives
(impl/raft/refinement.py: keys `VARIABLES`, values as impl/base/values.py), with the spec's log indexing:
`log[i]` holds only the entries AFTER i's snapshot, so the entry at absolute index k is
`log[i][k - snapshotIndex[i] - 1]` here (Python counts from 0).

`violated(state)` lists the spec names of the invariants that fail, in the spec's order; `broken(before,
after, action, params)` the action properties (CommitIndexMonotonic, MatchIndexMonotonic) one step
breaks, evaluated on every pair of consecutive states wherever `violated` runs on every state.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping

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


def match_index_bounded(state: Mapping[str, Value]) -> bool:
    """MatchIndexBounded: a leader knows no server to hold an entry past its own last index (Figure
    2, "Volatile state on leaders")."""
    return all(
        match <= _last_index(state, i)
        for i, role in state["role"].items()
        if role == LEADER
        for match in state["matchIndex"][i].values()
    )


def next_index_above_match(state: Mapping[str, Value]) -> bool:
    """NextIndexAboveMatch: the next entry a leader sends a server lies past what the server is
    known to hold (Figure 2: nextIndex starts at last log index + 1, matchIndex at 0)."""
    return all(
        state["nextIndex"][i][j] > match
        for i, role in state["role"].items()
        if role == LEADER
        for j, match in state["matchIndex"][i].items()
    )


Invariant = Callable[[Mapping[str, Value]], bool]

# In the order Raft.tla states them, each with the variables it reads.
INVARIANTS: Mapping[str, Invariant] = {
    "ElectionSafety": election_safety,
    "LogMatching": log_matching,
    "LeaderCompleteness": leader_completeness,
    "StateMachineSafety": state_machine_safety,
    "ReadLinearizable": read_linearizable,
    "MatchIndexBounded": match_index_bounded,
    "NextIndexAboveMatch": next_index_above_match,
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
    "MatchIndexBounded": ("role", "matchIndex", "log", "snapshotIndex"),
    "NextIndexAboveMatch": ("role", "nextIndex", "matchIndex"),
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


# -- action properties: what no single step may do ---------------------------------------------------

RESTART = "Restart"


def restarted(action: str | None, params: Mapping[str, Value]) -> frozenset[str]:
    """The servers a step restarts: `Restart(i)`'s i (the one step whose volatile state may go
    back), else none."""
    return frozenset({str(params["i"])}) if action == RESTART and "i" in params else frozenset()


def commit_index_monotonic(
    before: Mapping[str, Value], after: Mapping[str, Value], restarts: frozenset[str]
) -> bool:
    """CommitIndexMonotonic: no server's commitIndex decreases, except in its Restart (commitIndex
    is volatile, Figure 2: a restarted server falls back to its snapshot's index)."""
    old, new = before["commitIndex"], after["commitIndex"]
    return all(new[i] >= old[i] for i in new if i not in restarts and i in old)


def match_index_monotonic(
    before: Mapping[str, Value], after: Mapping[str, Value], restarts: frozenset[str]
) -> bool:
    """MatchIndexMonotonic: a server that leads before and after a step, in the same term, has no
    matchIndex[j] smaller after it (Figure 2: "increases monotonically"). A new leadership starts
    again from 0; a restart or step-down ends the leadership first, so needs no exception."""
    for i, role in after["role"].items():
        if role != LEADER or before["role"].get(i) != LEADER:
            continue
        if before["currentTerm"][i] != after["currentTerm"][i]:
            continue
        old, new = before["matchIndex"][i], after["matchIndex"][i]
        if any(new[j] < old[j] for j in new if j in old):
            return False
    return True


Transition = Callable[[Mapping[str, Value], Mapping[str, Value], frozenset[str]], bool]

# Raft.tla's action properties, in its order, each with the variables it reads.
TRANSITIONS: Mapping[str, Transition] = {
    "CommitIndexMonotonic": commit_index_monotonic,
    "MatchIndexMonotonic": match_index_monotonic,
}
TRANSITION_READS: Mapping[str, tuple[str, ...]] = {
    "CommitIndexMonotonic": ("commitIndex",),
    "MatchIndexMonotonic": ("role", "currentTerm", "matchIndex"),
}


def broken(
    before: Mapping[str, Value],
    after: Mapping[str, Value],
    action: str | None = None,
    params: Mapping[str, Value] | None = None,
    names: Mapping[str, Transition] = TRANSITIONS,
) -> list[str]:
    """The spec names of the action properties the step from `before` to `after` breaks (empty:
    none); `action` and `params` name the step (a Restart's server may lose volatile state). A
    property whose variables the step left alone is not evaluated. `names`: a subset, for an
    implementation that exposes only some of the variables (an adapter)."""
    restarts = restarted(action, params or {})
    return [
        name
        for name, holds in names.items()
        if not all(before[v] == after[v] for v in TRANSITION_READS[name])
        and not holds(before, after, restarts)
    ]

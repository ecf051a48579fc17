"""Known gossip bugs, each switchable without editing the core: `GossipConfig(bugs=frozenset({...}))`.

As for Raft and PBFT (impl/raft/mutants.py, impl/pbft/mutants.py): each switch turns on one
often-made mistake at the one place the correct rule lives (search impl/gossip for the constant's
name). property_tests/gossip/checks.py lists the checks that kill them; each one's shortest
counterexample is a stored free run in traces/gossip/.
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

MERGE_NOT_IDEMPOTENT = BUGS.declare(
    "merge_not_idempotent",
    "Merging an entry equal to the one held counts it as a new write and re-stamps it one "
    "version up: a duplicate push, or the same entry arriving by two paths, changes the state "
    "(merge(s, s) != s), and the node then holds a version nobody wrote.",
)

OLDER_OVERWRITES_NEWER = BUGS.declare(
    "older_overwrites_newer",
    "The merge takes the incoming entry whenever it differs from the one held, not only when "
    "its rank is higher: a late or duplicated push of an older version overwrites a newer one, "
    "and a node's version of a key goes backwards.",
)

DELTA_SKIPS_MISSING = BUGS.declare(
    "delta_skips_missing",
    "The answer to a pull sends only the keys the digest names at a lower rank and skips the "
    "keys the puller does not hold at all (delta without its 'key not in digest' half): a node "
    "that missed an entry's push (loss, a crash, a partition) never gets it.",
)

SILENT_AFTER_RESTART = BUGS.declare(
    "silent_after_restart",
    "A restarted node does not start its gossip timer again (nor pull to catch up): it still "
    "merges what it receives, but never pushes, pulls or heartbeats, so it never catches up on "
    "what it missed while down.",
)

PHI_WRONG_WINDOW = BUGS.declare(
    "phi_wrong_window",
    "The detector's window keeps the first `window` inter-arrival times and never slides: once "
    "it is full, phi is computed from stale arrivals, not the last `window` (Hayashibara et al. "
    "section 4: a sliding window), and the node suspects (or trusts) on the wrong model.",
)

SUSPICION_NEVER_CLEARED = BUGS.declare(
    "suspicion_never_cleared",
    "A heartbeat from a suspected peer does not clear the suspicion (no Trust): a peer once "
    "suspected, falsely or while it was down, stays suspected while it is up and heartbeating.",
)

BOOT_NOT_RAISED = BUGS.declare(
    "boot_not_raised",
    "A restarted node reloads its boot count and does not raise it: its heartbeats start "
    "again at (boot, 1), which its watchers already counted (their last is (boot, beat) of "
    "the old incarnation), so none is a heartbeat until its beat passes the old one. A "
    "member that crashed and came back stays suspected (and out of the fanout) for as many "
    "rounds as it had lived: the identity a restart must renew, kept as it was.",
)

WINDOW_KEPT_ACROSS_RESTART = BUGS.declare(
    "window_kept_across_restart",
    "A watcher that hears a new incarnation of a peer (a higher boot count) adds the arrival "
    "to the old incarnation's window: the gap of the peer's down time, many rounds long, "
    "becomes one of its inter-arrival times, the mean and deviation grow, and the next crash "
    "of the peer is suspected only many rounds later (phi's model is of one process's "
    "heartbeats: the new incarnation's start a new window). Found by the restart scenario "
    "(property_tests/gossip/restart.py), fixed in impl/gossip/node.py `_heard`.",
)

EVICTION_NEVER_LIFTED = BUGS.declare(
    "eviction_never_lifted",
    "A peer evicted from the fanout choice (suspected for `evict_after` ticks) stays out of it "
    "when it is heard again: the heartbeat clears the suspicion (Trust) but not the eviction. "
    "After a partition longer than the eviction threshold heals, without a restart, the live "
    "member is trusted again and never chosen again by its watchers: they push to it and beat "
    "it no more, and it is reached only by the others' choices and its own pulls (the free "
    "runs converge all the same). Found by the rejoin scenario "
    "(property_tests/gossip/rejoin.py: MemberChosenAgain).",
)

READ_REFUSED_WHILE_SUSPECTING = BUGS.declare(
    "read_refused_while_suspecting",
    "A node that suspects a peer answers status reads 'node down' (it takes itself for the "
    "cut-off side, a consensus reflex): a live member refuses the reads an available store "
    "promises it serves, for as long as a crashed or cut-off peer stays suspected. The free "
    "runs' read check looked at answered reads only, and took the error for a fault; "
    "NoWrongRefusal (property_tests/gossip/refusals.py) tells the refusal from an allowed one.",
)

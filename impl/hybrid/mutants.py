"""Known mistakes of the hybrid layer, each switchable without editing the code:
`HybridConfig(bugs=frozenset({...}))` (as impl/raft/mutants.py and impl/pbft/mutants.py do it).

The names are the contract's (the TLA+ spec and the Z3 model carry textual mutants of the same
names), so one kill matrix covers the spec, the proofs and this implementation. Search impl/hybrid
for a constant's name to find the one place the correct rule lives.
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

SWITCH_DROPS_LAST_RAFT_TERM = BUGS.declare(
    "switch_drops_last_raft_term",
    "The new epoch starts from the state machine as it was when the last Raft term of the old "
    "epoch began, not from the state after the switch entry: operations committed in that term "
    "are missing after the switch (NoCommittedOpLost fails).",
)

DEESCALATE_CRITICAL_TO_NONE = BUGS.declare(
    "deescalate_critical_to_none",
    "Once the quiet period and the dwell have passed, Critical drops straight to None instead of "
    "one level at a time (the action property 'one level at a time' fails, and a cluster that "
    "saw an equivocation returns to Raft with no time at High to catch a second attack).",
)

SWITCH_ON_OWN_EVIDENCE = BUGS.declare(
    "switch_on_own_evidence",
    "A node switches to the next epoch as soon as its own detector sees evidence that its own "
    "view of the threat state would raise to a BFT level, at a position of its own, not at the "
    "committed switch entry every honest node applies: it records a protocol for an epoch the "
    "committed history does not give it (AgreedProtocolPerEpoch fails), and the others never "
    "follow it there.",
)

EQUIVOCATION_IS_LOW = BUGS.declare(
    "equivocation_is_low",
    "An equivocation counts as a timing anomaly (level Low) instead of demanding Critical: a "
    "primary or leader caught signing two conflicting messages leaves the cluster on Raft.",
)

FOLLOW_CAUGHT_APPEND = BUGS.declare(
    "follow_caught_append",
    "A Raft follower reports a leader's AppendEntries that carries a tampered entry (or a second "
    "entry for an index and term) but still takes it into its log: a Byzantine leader that "
    "tampers with an op on its way to one follower only makes that follower skip the op at an "
    "index where the others applied it, and two honest nodes close the epoch with different "
    "histories (NoCommittedOpLost fails). An implementation mutant: Hybrid.tla has one agreed "
    "chain per epoch, which this rule is what keeps true under a Byzantine Raft leader.",
)

TIMING_FROM_RECEIPT = BUGS.declare(
    "timing_from_receipt",
    "A Raft follower reports a timing anomaly against a leader whose AppendEntries *arrive* "
    "more than timing_bound apart, not only against one that signed two consecutive "
    "heartbeats that far apart: message loss, partitions and delays make such gaps of an "
    "honest leader's heartbeats, and an all-honest cluster accuses its own leader and raises "
    "its level (NoFalseAccusation fails; property_tests/hybrid/no_false_accusation.py). An "
    "implementation mutant: Hybrid.tla lets no node report anything when none is Byzantine.",
)

REAPPEND_CHECKS_INDEX_ONLY = BUGS.declare(
    "reappend_checks_index_only",
    "A Raft leader remembers the index it appended each entry at, and appends a retried entry "
    "again only once its log no longer reaches that index, taking a log that long for one that "
    "still holds the entry: it never looks at the term there (Log Matching: an entry is its "
    "index and its term). A leader that steps down with an op uncommitted, has its copy "
    "overwritten by the next leader's entries and leads again in the same epoch never appends "
    "the op again, and the client's retries, which all come to it, never commit it "
    "(InFlightResolved fails; property_tests/hybrid/leader_reelected.py). An implementation "
    "mutant: Hybrid.tla's OrderOp has no leaders, and a crash forgets the table, so a leader "
    "that restarts (property_tests/hybrid/leader_restart.py) appends the op again.",
)

# -- certificates, counted by distinct eligible signers (docs/certificates.md) --
REPORTS_COUNTED_NOT_REPORTERS = BUGS.declare(
    "reports_counted_not_reporters",
    "Bad-signature and timing reports in the window are counted by record, not by distinct "
    "reporter: one Byzantine node that reports the same (or any) bad signature f+1 times, "
    "at f+1 clock readings, reaches sig_high alone and switches the cluster to BFT on no "
    "honest node's evidence (LevelJustifiedByEvidence; ThreatLevel.tla counts reporters).",
)

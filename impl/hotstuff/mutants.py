"""Known HotStuff bugs, each switchable without editing the core: `HotStuffConfig(bugs=...)`.

Each switch turns on one mistake at the one place the correct rule lives (search impl/hotstuff for
the constant's name). The first six are the bugs the
docs/hotstuff.md names, by the names specs/mutants/hotstuff.py
gives its spec mutants; property_tests/hotstuff/checks.py lists the checks that kill them, and each
one's shortest counterexample is a stored free run in traces/hotstuff/ (written by
property_tests/hotstuff/save.py).
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

LOCK_NOT_UPDATED = BUGS.declare(
    "lock_not_updated",
    "Voting for b* never moves the lock to b*'s grandparent (Algorithm 4's update: "
    "b_lock <- b'): a replica stays locked on genesis and votes for blocks that conflict with "
    "a two-chain it voted for (the spec's LockCoversVotes).",
)

COMMIT_ON_TWO_CHAIN = BUGS.declare(
    "commit_on_two_chain",
    "A replica commits the head of a two-chain of consecutive views (b* 's grandparent) "
    "instead of a three-chain's (its great-grandparent): a block a quorum has not locked on is "
    "executed, and a later QC may conflict with it.",
)

QC_OF_2F_VOTES = BUGS.declare(
    "qc_of_2f_votes",
    "A QC is formed, and accepted on receipt, with 2f votes instead of 2f+1: two QCs of one "
    "view need not share an honest voter (Lemma 1 fails).",
)

VOTE_TWICE_IN_VIEW = BUGS.declare(
    "vote_twice_in_view",
    "The vote guard compares the block's view with the last voted view by >= instead of >: a "
    "replica votes for two blocks of one view (an equivocating leader's two proposals).",
)

SAFE_NODE_WITHOUT_LIVENESS_CLAUSE = BUGS.declare(
    "safe_node_without_liveness_clause",
    "safeNode keeps only its safety clause (extends the locked block): a replica locked on a "
    "block a higher QC does not extend refuses every block built on that QC, forever "
    "(a liveness bug: the spec's Vote is enabled and the replica does not take it).",
)

SAFE_NODE_WITHOUT_SAFETY_CLAUSE = BUGS.declare(
    "safe_node_without_safety_clause",
    "safeNode keeps only its liveness clause, justify.view > lock.view, as the spec mutant "
    "does: a block whose parent is the locked block is refused (its justify is in the lock's "
    "view), from the first block on genesis on: nothing is ever certified or committed, "
    "vacuously safe (specs/HotStuff.md, 'The safe-node rule's safety clause'); TLC kills "
    "the spec mutant on the liveness model. DiemBFT's rule compares "
    "with >=, and with >= the liveness clause alone is safeNode exactly (a block that extends "
    "the lock has a parent at or above it), an equivalent mutant not in this catalogue.",
)

PROPOSE_FROM_LOWER_QC = BUGS.declare(
    "propose_from_lower_qc",
    "A new leader with 2f+1 NEW-VIEWs proposes on its own highest QC, ignoring a higher QC "
    "the NEW-VIEWs carry (Algorithm 3: the highest of them): replicas locked above it refuse "
    "the block, and the view can produce no QC.",
)

CLIENT_TIMESTAMP_RESET = BUGS.declare(
    "client_timestamp_reset",
    "A restarted client counts its request timestamps from 0 again (its clock is persisted "
    "and not reloaded): its next request carries the (client, timestamp) of one the "
    "replicas executed, and they take it for that one: it is never executed, and the "
    "client, retrying it, is never answered (before the replica fix, impl/hotstuff/replica.py "
    "`_on_request`, each replica answered it with the old request's result, and f+1 such "
    "answers made the client accept an operation that never ran). Killed by the restart "
    "scenario (property_tests/hotstuff/restart.py).",
)

VERIFIED_CACHE_ON_CLASS = BUGS.declare(
    "verified_cache_on_class",
    "The replica's cache of what it checked the signatures of (QCs, votes, proposals, client "
    "requests) is one set on the class, shared by every replica of the process to save the "
    "checks, not one per replica object: it outlives a crash, and a replica restarted (or "
    "built again with other keys: the hybrid layer runs each HotStuff epoch under its own key "
    "ring, impl/hybrid/entries.py `Keys.hotstuff`) trusts a QC or a request because some "
    "other replica, under some other keys, once checked it. The same run stepped by fresh "
    "replicas checks everything again (core purity, property_tests/restarts.py).",
)

# -- certificates, counted by distinct eligible signers (docs/certificates.md) --
QC_COUNTS_VOTES = BUGS.declare(
    "qc_counts_votes",
    "A QC received is checked vote by vote and then counted by its votes, not its distinct "
    "voters (section 4: 2f+1 votes of distinct replicas): a Byzantine leader or NEW-VIEW "
    "sender repeats one good vote and certifies a block fewer than 2f+1 replicas voted "
    "for. The leader's own QCs are formed by voter (a map), so only a Byzantine replica's "
    "QC shows it: the fuzzer's grown certificates and the certificate property kill it.",
)

# -- the lock: its view never decreases (specs/HotStuff.tla, LockMonotonic) --
LOCK_MOVES_DOWN = BUGS.declare(
    "lock_moves_down",
    "Voting for b* sets the lock to b*'s grandparent b' as it is, not only when b' is higher "
    "than the locked block (Algorithm 4's update: 'if b'.height > b_lock.height then "
    "b_lock <- b''). A replica that votes, by safeNode's liveness clause, for a block on a "
    "fork whose two-chain is lower than its lock replaces its locked QC by a lower one and "
    "then votes for blocks that conflict with the two-chain it locked on (LockMonotonic; the "
    "spec mutant of the same name).",
)

# -- the pacemaker's back-off (section 4: "exponential back-off") --
BACKOFF_RESET_ON_VOTE = BUGS.declare(
    "backoff_reset_on_vote",
    "The view timer's back-off goes back to its base whenever the replica votes, not only "
    "when it commits: a vote taken for progress. When every message takes longer than the "
    "base timer, the timer after each vote runs out before the next view's proposal comes, "
    "every other view is lost, and chained HotStuff, which commits on a three-chain of "
    "consecutive views, never commits again, though the back-off made each view it timed "
    "out of long enough; with messages faster than the base timer nothing shows it. This "
    "was the pacemaker (which set it back as a new leader proposed, too) until liveness "
    "under slow links found it (property_tests/hotstuff/free_runs.py; traces/"
    "counterexamples/hotstuff/backoff_reset_on_vote.itf.json).",
)

# the pacemaker after a heal: the back-off back at its base once commits resume
BACKOFF_NOT_RESET_ON_COMMIT = BUGS.declare(
    "backoff_not_reset_on_commit",
    "A commit does not set the view timer's back-off back to its base (section 4: the "
    "back-off is for views that fail; progress ends it): the doublings of a storm, and "
    "of every view a faulty leader wastes after it, stay. Once the faults are over the "
    "group commits again, as soon as a correct run does, so the liveness bound after "
    "healing (the first commit) cannot see it; but every later view whose leader is "
    "silent now waits out the capped timer, 16 base timeouts, where a correct pacemaker "
    "waits one or two: the pacemaker resumes its pace after a heal 6 to 8 times later. "
    "Killed by RecoveryWithinBound (property_tests/recovery.py).",
)

# -- the client believes f+1 replicas, never one (Yin et al., section 4.1;
# property_tests/hotstuff/client_replies.py) --
CLIENT_REPLY_SRC_NOT_CHECKED = BUGS.declare(
    "client_reply_src_not_checked",
    "The client counts a reply for the replica the reply names (its src), not for the "
    "sender of the link it came on (a reply carries no signature: the channel authenticates "
    "its sender, impl/hotstuff/fuzz.py LINK_AUTHENTICATED). One faulty replica sends a wrong "
    "result in its own name and in f others', and the client accepts it on f+1 'replicas'. "
    "Killed by the client-replies property (property_tests/hotstuff/client_replies.py).",
)

CLIENT_REPLY_RESULT_NOT_MATCHED = BUGS.declare(
    "client_reply_result_not_matched",
    "The client counts the replies to a request whatever result each names, and accepts "
    "the result of the f+1-th (section 4.1: f+1 matching responses): one faulty replica "
    "whose wrong result comes after f correct replies decides the answer. Nothing in the "
    "replicas changes, and HotStuff.tla has no client: killed by the client-replies property "
    "(property_tests/hotstuff/client_replies.py).",
)

CLIENT_COUNTS_DUPLICATE_REPLIES = BUGS.declare(
    "client_counts_duplicate_replies",
    "The client counts replies, not the distinct replicas that sent them: one faulty replica "
    "that sends its wrong result f+1 times makes f+1 'matching replies' (a correct replica's "
    "reply that the network duplicates, or sent again for a retry, only tells the truth "
    "twice, so no run without a liar shows it). Killed by the client-replies property "
    "(property_tests/hotstuff/client_replies.py).",
)

CLIENT_FIRST_REPLY_DECIDES = BUGS.declare(
    "client_first_reply_decides",
    "The client takes the first reply to a request as the result to confirm and counts only "
    "the replies that agree with it (section 4.1 counts f+1 matching responses, whichever "
    "result they match on). One faulty replica whose wrong result comes first makes the "
    "client ignore every correct reply: the request is never answered, though the group "
    "executed it (its retries bring the same replies again). Nothing is unsafe: killed by the "
    "client-replies property (property_tests/hotstuff/client_replies.py: the client accepts "
    "less than the f+1 rule allows, and LatencyUnderOneLiar's bound).",
)

"""Known PBFT bugs, each switchable without editing the core: `PbftConfig(bugs=frozenset({...}))`.

As for Raft (impl/raft/mutants.py): each switch turns on one real or often-made mistake at the one
place the correct rule lives (search impl/pbft for the constant's name). The spec (specs/PBFT.tla)
has textual mutants of the same names, so a mutant that the spec's checks kill and the
implementation's checks miss is a hole in the toolkit.
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

QUORUM_2F_PLUS_1_AT_ANY_N = BUGS.declare(
    "quorum_2f_plus_1_at_any_n",
    "The quorum is 2f+1 whatever the number of replicas: the paper's figure for n = 3f+1, right "
    "at 4 and 7 replicas, wrong at 5, 6, 8, 9 (OSDI 1999 section 3 assumes n = 3f+1; for other "
    "n a quorum is ceil((n+f+1)/2)). Two quorums of 3 among 5 share one replica, which may be "
    "the faulty one: an equivocating primary gets two requests committed at one sequence number.",
)

PREPARES_2F_AT_ANY_N = BUGS.declare(
    "prepares_2f_at_any_n",
    "The log takes a request as prepared on 2f matching prepares of backups, the paper's figure "
    "written into the count (OSDI 1999 section 4.2 assumes n = 3f+1), whatever the number of "
    "replicas: right at 4, 7 and 10 replicas, where a quorum less the primary is 2f, one short "
    "at 5, 6, 8 and 9. The threshold the configuration states (log.prepares_needed) stays "
    "right, so the brute force of the thresholds at every n cannot see it, nor can any check "
    "of 4 or 7 replicas. A replica commits on a certificate too small, and carries it into "
    "its view-change messages, which every replica that checks them refuses and holds "
    "against the honest sender (bad_view_change): killed by the free runs of a drawn "
    "cluster size.",
)

PREPARE_QUORUM_2F = BUGS.declare(
    "prepare_quorum_2f",
    "A replica counts itself prepared on 2f replicas (the pre-prepare and 2f-1 prepares) instead "
    "of 2f+1 (OSDI 1999 section 4.2: the pre-prepare and 2f prepares). Two quorums of 2f need "
    "not share a correct replica, so an equivocating primary gets two requests prepared at one "
    "sequence number in one view (and the view change may carry either).",
)

NEW_VIEW_IGNORES_PREPARED = BUGS.declare(
    "new_view_ignores_prepared",
    "The new primary builds O without the prepared certificates of the view-change messages "
    "(section 4.4): it re-proposes other requests (or none) at sequence numbers where a request "
    "was prepared, maybe committed, in the old view. Backups recompute O with the same rule, so "
    "they accept it, and two replicas execute different requests at one sequence number.",
)

COMMIT_WITHOUT_COMMIT_PHASE = BUGS.declare(
    "commit_without_commit_phase",
    "A replica executes as soon as it is prepared, without waiting for 2f+1 commits (section "
    "4.2: committed-local needs them). Prepared at one replica does not survive a view change "
    "(fewer than f+1 correct replicas may know it), so the next view may put another request "
    "at that sequence number.",
)

PREPREPARE_FROM_NON_PRIMARY = BUGS.declare(
    "preprepare_from_non_primary",
    "A backup accepts a pre-prepare signed by a replica that is not the primary of its view "
    "(section 4.2: 'it is signed by the primary'), and records no evidence of it. Any faulty "
    "replica can then assign sequence numbers, and two of them assign one number twice.",
)

SIGNATURES_NOT_CHECKED = BUGS.declare(
    "signatures_not_checked",
    "Signatures are not verified on receipt (section 2: the adversary cannot forge "
    "signatures, but only if they are checked): a faulty replica can send messages in a "
    "correct replica's name, and a single one makes a whole quorum.",
)

CHECKPOINT_STABLE_ON_F_PLUS_1 = BUGS.declare(
    "checkpoint_stable_on_f_plus_1",
    "A checkpoint becomes stable on f+1 matching checkpoint messages instead of 2f+1 (section "
    "4.3). One correct replica among them still vouches for the state, but the proof no longer "
    "shows that f+1 correct replicas hold it: a replica garbage-collects the log (its prepared "
    "certificates, the messages laggards need) on a checkpoint that a single correct replica "
    "reached, a view change's min-s can rest on it, and should that replica fail the state is "
    "gone. With one faulty replica more than f, a forged state becomes stable.",
)

CHECKPOINT_STATE_BLAMES_SIGNER = BUGS.declare(
    "checkpoint_state_blames_signer",
    "A checkpoint whose state does not match its signed digest is held against its signer, "
    "and the changed copy's vote keeps the true copy (and its state) out. The state is not "
    "signed (section 4.3: only the digest is), so a Byzantine replica that relays an honest "
    "replica's checkpoint with another state gets the honest one blamed (enough such "
    "reports quarantine it) and keeps a lagging replica from its state transfer. Found by "
    "the message fuzzer; fixed in replica._on_checkpoint.",
)

RELAYED_BATCH_NOT_CHECKED = BUGS.declare(
    "relayed_batch_not_checked",
    "A backup takes a pre-prepare without checking that its batch hashes to the signed digest "
    "(section 4.2: the requests travel beside the signed pre-prepare). A Byzantine replica "
    "that relays the primary's pre-prepare with another batch makes the backup prepare the "
    "digest but execute the batch it was given, or blame the primary for a forged request it "
    "never sent.",
)

VIEW_CHANGE_BLAMES_SIGNER = BUGS.declare(
    "view_change_blames_signer",
    "A view-change or new-view message whose prepared certificates (or O) hold a pre-prepare "
    "whose batch is not the one its digest names is evidence against its signer "
    "(bad_view_change, bad_new_view: self-proving, quarantine at once). No signature covers "
    "those batches (a batch travels beside its signed digest, section 4.2, inside a "
    "view-change message too), so a Byzantine replica that relays an honest replica's "
    "view-change message with another batch gets the honest one quarantined by every "
    "replica it reaches, and the record 'proves' it to anyone. Found by the message "
    "fuzzer; fixed in replica._intact and evidence.proves (viewchange.relayed_intact).",
)

EXECUTE_AGAIN = BUGS.declare(
    "execute_again",
    "A replica executes a request again when it is ordered again at a second sequence "
    "number: the table of executed requests (section 4.1: the last reply sent to each client, "
    "by timestamp) is skipped at execution. A faulty primary may put any request its client "
    "signed into a batch (a client's retry, after a view change), and the spec executes a "
    "re-proposed request at its new number; only the table keeps its operation from taking "
    "effect twice. The spec has no state machine, so no spec mutant: the client-history "
    "checks kill it, at the end of a lockstep path where the model's Byzantine primary "
    "orders a request twice, and in the free runs of property_tests/pbft/retry.py.",
)

CLIENT_TIMESTAMP_RESET = BUGS.declare(
    "client_timestamp_reset",
    "A restarted client reloads the requests it sent and the results it accepted, but counts "
    "its timestamps from 0 again (section 4.1: a client's timestamps are totally ordered, so "
    "that a replica tells a new request from a retry by them). Its next request carries the "
    "timestamp of one the group executed: the replicas take it for that one, executed, and "
    "the new operation is never executed; the client, which retries it for ever, is never "
    "answered (before the replica fix, impl/pbft/replica.py `_on_request`, it was answered "
    "with the old request's result). Killed by the client-restart scenario "
    "(property_tests/pbft/client_restart.py).",
)

# -- certificates, counted by distinct eligible signers (docs/certificates.md) --
PREPARED_COUNTS_PRIMARY = BUGS.declare(
    "prepared_counts_primary",
    "A prepared certificate carried in a view-change message counts the primary's prepare "
    "among its 2f (section 4.2: the pre-prepare is the primary's vote, and prepares come "
    "from backups). A primary that also signs a prepare, with f-1 others, makes a "
    "certificate that only 2f replicas stand behind: a Byzantine primary and one backup "
    "at n = 4 carry a request into the next view that no quorum prepared. Only a faulty "
    "primary signs such a prepare, so no honest run shows it: the certificate property "
    "(property_tests/pbft/certificates.py) kills it.",
)

# -- the replica's view and stable checkpoint (low watermark) never go back (specs/PBFT.tla's
# action properties) --
STALE_NEW_VIEW_ACCEPTED = BUGS.declare(
    "stale_new_view_accepted",
    "A backup turns away a new-view message only when it is for the view it is in, working "
    "normally, not when it is for an earlier view (section 4.4: it accepts one for a later "
    "view, or for the view it is changing to). A new-view message that comes late, delayed "
    "or sent again, takes a replica that moved on back to the earlier view, whose primary "
    "the group gave up on (ViewMonotonic).",
)

STABLE_CHECKPOINT_MOVES_BACK = BUGS.declare(
    "stable_checkpoint_moves_back",
    "A replica takes a new view's checkpoint min-s as its stable checkpoint whenever it "
    "differs from its own, not only when it is higher (the spec's AdoptCheckpoint keeps the "
    "larger). A replica whose checkpoint became stable after the view-change messages that "
    "justify the new view were sent moves its low watermark back below a log it discarded "
    "(section 4.3: the log at and below a stable checkpoint is garbage), and accepts again "
    "sequence numbers it executed (StableCheckpointMonotonic).",
)

# -- the view-change timeout's back-off (section 4.5.2) --
VIEW_CHANGE_TIMEOUT_RESET_ON_NEW_VIEW = BUGS.declare(
    "view_change_timeout_reset_on_new_view",
    "A replica's view-change timeout starts from its base again whenever it enters a new "
    "view (NewView, AcceptNewView), not only once it executes a request: section 4.5.2 "
    "doubles the wait with each view change until a request the replica had not executed "
    "runs in the new view, and this takes a view installed for progress. When messages "
    "take longer than the base timeout, each new view's request timers expire before a "
    "request can commit, the next view change starts from the base again, and nothing is "
    "ever executed; with messages faster than the base timeout nothing shows it. Killed by "
    "liveness under slow links (property_tests/pbft/free_runs.py).",
)

# -- catching up: how fast a replica that fell behind does (section 4.3; TOCS 2002 section
# 5.3.2, state transfer) --
LAGGING_REPLICA_WAITS_FOR_VIEW_CHANGE = BUGS.declare(
    "lagging_replica_waits_for_view_change",
    "A replica answers a peer's status (TOCS 2002 section 5.2: tell the peers how far this "
    "replica got, and they send what it lacks) with the messages of its view above what the "
    "peer executed, and not with its checkpoints above the peer's stable one, which carry "
    "the state (section 4.3). A replica that lost the checkpoint messages during the faults "
    "and fell behind the group's stable checkpoint, whose log the others collected, gets "
    "no state transfer: it catches up at the next checkpoint, if the group executes that "
    "far, or when a view change's checkpoint min-s carries it along (AcceptNewView). The "
    "group commits without it, so no view change comes: nothing is unsafe, the client's "
    "probe is answered within the liveness bound, and the status answer is no spec "
    "action, so lockstep cannot see it. Killed by CatchUpByStateTransfer "
    "(property_tests/recovery.py): the protocol promises the state transfer within a few "
    "status rounds of the heal.",
)

# -- the client believes f+1 replicas, never one (section 4.1;
# property_tests/pbft/client_replies.py) --
CLIENT_VIEW_FROM_ONE_REPLY = BUGS.declare(
    "client_view_from_one_reply",
    "The client takes the highest view any one reply names as the view the group is in, and "
    "sends its next requests to that view's primary (section 4.1: a client learns the view "
    "from the replies; only f+1 of them vouch for it). One replica that names a view one "
    "higher than the truth sends the client to a backup, which holds the request and, when "
    "its request timer expires, starts a view change nobody needed; the request waits for the "
    "client's timeout and its retry to every replica. Nothing is unsafe and the spec has no "
    "view at the client: killed by the client-replies property (property_tests/pbft/"
    "client_replies.py: the client's primary against the view f+1 replies vouch for, and the "
    "latency bound under one lying replica).",
)

CLIENT_ACCEPTS_ON_F_REPLIES = BUGS.declare(
    "client_accepts_on_f_replies",
    "The client accepts a result on f matching replies instead of f+1 (section 4.1: f+1, so "
    "that one of them is correct). At f = 1 a single replica's reply is accepted: a replica "
    "that lies about the result, or is simply first, decides what the client is told. Killed "
    "by the client-replies property (property_tests/pbft/client_replies.py).",
)

CLIENT_REPLY_SIGNATURE_NOT_CHECKED = BUGS.declare(
    "client_reply_signature_not_checked",
    "The client does not verify a reply's signature (section 4.1: the client checks that each "
    "reply is signed by the replica it names): one faulty replica sends a wrong result in its "
    "own name and in f other replicas' names, under its own key, and the client accepts it "
    "on f+1 'replicas'. The replicas' SIGNATURES_NOT_CHECKED leaves the client's check in "
    "place. Killed by the client-replies property (property_tests/pbft/client_replies.py).",
)

CLIENT_REPLY_REQUEST_NOT_MATCHED = BUGS.declare(
    "client_reply_request_not_matched",
    "The client counts a reply toward the sequence number and result it names, whatever "
    "request (timestamp) it names (section 4.1: the client matches the reply's timestamp "
    "with its request's). A faulty replica's reply that names the client's earlier request "
    "with the sequence number and result of its current one is counted with an honest reply "
    "to the current one, and the client answers the earlier request with the current one's "
    "result (or the current one on too few replies). Killed by the client-replies property "
    "(property_tests/pbft/client_replies.py).",
)

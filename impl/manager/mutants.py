"""Known routing mistakes of the manager, each switchable without editing the code:
`Manager(bugs=frozenset({...}))` (as impl/raft/mutants.py, impl/pbft/mutants.py and
impl/hybrid/mutants.py do it).

Each switch turns on one mistake at the one place the correct rule lives (search impl/manager for
the constant's name). specs/mutants/routing.py has spec mutants of the same names, so one kill
matrix covers the spec and this implementation.
"""

from __future__ import annotations

from meshcheck.impl.base.bugs import Bugs

BUGS = Bugs()

CRITICAL_TO_RAFT_AT_NONE = BUGS.declare(
    "critical_to_raft_at_none",
    "While the threat level is None the manager sends a critical operation to the hybrid "
    "dispatcher, which runs Raft then ('nothing is attacking us, Raft is cheaper'): a model "
    "update or security decision is decided by a Raft majority, which one Byzantine node can "
    "subvert, instead of a BFT quorum (CriticalOnlyByBFT fails).",
)

STATUS_COUNTED_COMMITTED = BUGS.declare(
    "status_counted_committed",
    "A status write is answered as agreed and counted as committed: the gossip node took it "
    "locally, nothing agreed on it, and a reader elsewhere may not see it for a while "
    "(StatusNeverAgreed fails).",
)

UNKNOWN_TO_GOSSIP = BUGS.declare(
    "unknown_to_gossip",
    "An operation of a type the manager does not know is not refused but sent to gossip, the "
    "'cheapest' layer: the submitter is told it was written, though no layer was meant to "
    "take it, and a critical operation whose type was misspelled is never agreed "
    "(UnknownRefused fails).",
)

REJECTED_COUNTED_AS_AGREED = BUGS.declare(
    "rejected_counted_as_agreed",
    "The manager reads the hybrid dispatcher's answer as agreed whenever one came, without "
    "looking at its status: a coordination operation rejected because its epoch ended at a "
    "switch (it took effect nowhere) is reported as decided, by the protocol of that epoch "
    "(AgreedMeansDecided fails). An engineer's mistake the other three do not cover: it "
    "needs a switch while an operation is in flight.",
)

STATUS_NODE_DOWN_KEPT = BUGS.declare(
    "status_node_down_kept",
    "The manager writes status to one gossip node, the first, and keeps what it once saw of "
    "it: after finding that node down, it answers every status write 'node down' (no answer), "
    "though any live member takes a status write at once, and though the node came back long "
    "ago. An error accepted as a fault: the routing invariants and the layers' checks read a "
    "status write without an answer as the gossip layer's loss (NoWrongRefusal fails, in the "
    "refusals scenario and in a free run whose calm writes status after such a crash).",
)

REPLY_OF_ANOTHER_REQUEST = BUGS.declare(
    "reply_of_another_request",
    "A critical operation takes the first reply its PBFT client accepts, whatever request it "
    "answers: after an operation had no answer within the bound (NoAnswer, still pending in "
    "the PBFT layer, whose client keeps sending it), the next critical operation is answered "
    "with that earlier operation's result, and each one after it with its predecessor's. Every "
    "layer's own check holds (PBFT executed both requests, once each, in one order) and so do "
    "the routing invariants (the answer names a request PBFT executed at its sequence number): "
    "only the answers held to the operations they answer see it (ManagerAnswers).",
)

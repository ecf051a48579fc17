"""Byzantine replicas in the PBFT simulation: behaviours, the node that applies them, twins,
Hypothesis strategies that choose them, and the safety checks their runs are held to.

A Byzantine replica is an honest core (it holds the replica's real key) whose effects a list of
behaviours rewrites (behaviours.py: Silent, Equivocate, TamperDigest, ForgeSignature,
MissingSignature, Replay, HidePrepared, Twins, Usurp, Vouch, Repeat; fuzz.py: Fuzz, mutations of
anything it holds, and AlterUnsigned, what others signed relayed with an unsigned part changed;
replies.py: LieToClient, LyingReplies and FuzzReplies, lies in what it replies to clients).
`pbft_cluster(byzantine=byzantine_wrappers(...))` runs them; `byzantine_strategy(n, f)` draws
them; `SafetyMonitor` checks Agreement and Validity after every event. The issue's claim, tested in tests/test_pbft_byzantine.py: with at most f
Byzantine replicas the checks never fail, and with f + 1 they can.
"""

from meshcheck.impl.pbft.byzantine.behaviours import (
    BEHAVIOURS,
    FORGERIES,
    AnyBehaviour,
    Equivocate,
    ForgeSignature,
    HidePrepared,
    MissingSignature,
    Repeat,
    Replay,
    Silent,
    TamperDigest,
    Twins,
    Usurp,
    Vouch,
)
from meshcheck.impl.pbft.byzantine.checks import SafetyMonitor, Violation
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.byzantine.fuzz import AlterUnsigned, Fuzz, forged_part
from meshcheck.impl.pbft.byzantine.node import (
    ByzantineReplica,
    Wrapper,
    byzantine_wrappers,
    corrupt,
)
from meshcheck.impl.pbft.byzantine.replies import (
    LIES,
    FuzzReplies,
    LieToClient,
    LyingReplies,
)
from meshcheck.impl.pbft.byzantine.strategies import (
    Assignment,
    behaviour_strategy,
    byzantine_strategy,
    replica_ids,
)

__all__ = [
    "BEHAVIOURS",
    "FORGERIES",
    "LIES",
    "AlterUnsigned",
    "AnyBehaviour",
    "Assignment",
    "ByzantineReplica",
    "Context",
    "Equivocate",
    "ForgeSignature",
    "Fuzz",
    "FuzzReplies",
    "HidePrepared",
    "LieToClient",
    "LyingReplies",
    "MissingSignature",
    "Repeat",
    "Replay",
    "SafetyMonitor",
    "Silent",
    "TamperDigest",
    "Twins",
    "Usurp",
    "Violation",
    "Vouch",
    "Wrapper",
    "behaviour_strategy",
    "byzantine_strategy",
    "byzantine_wrappers",
    "corrupt",
    "forged_part",
    "replica_ids",
]

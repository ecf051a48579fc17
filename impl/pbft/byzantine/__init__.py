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

from meshcheck.impl.pbft.byzantine.behaviours import BEHAVIOURS
from meshcheck.impl.pbft.byzantine.behaviours import FORGERIES
from meshcheck.impl.pbft.byzantine.behaviours import AnyBehaviour
from meshcheck.impl.pbft.byzantine.behaviours import Equivocate
from meshcheck.impl.pbft.byzantine.behaviours import ForgeSignature
from meshcheck.impl.pbft.byzantine.behaviours import HidePrepared
from meshcheck.impl.pbft.byzantine.behaviours import MissingSignature
from meshcheck.impl.pbft.byzantine.behaviours import Repeat
from meshcheck.impl.pbft.byzantine.behaviours import Replay
from meshcheck.impl.pbft.byzantine.behaviours import Silent
from meshcheck.impl.pbft.byzantine.behaviours import TamperDigest
from meshcheck.impl.pbft.byzantine.behaviours import Twins
from meshcheck.impl.pbft.byzantine.behaviours import Usurp
from meshcheck.impl.pbft.byzantine.behaviours import Vouch
from meshcheck.impl.pbft.byzantine.checks import SafetyMonitor
from meshcheck.impl.pbft.byzantine.checks import Violation
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.byzantine.fuzz import AlterUnsigned
from meshcheck.impl.pbft.byzantine.fuzz import Fuzz
from meshcheck.impl.pbft.byzantine.fuzz import forged_part
from meshcheck.impl.pbft.byzantine.node import ByzantineReplica
from meshcheck.impl.pbft.byzantine.node import Wrapper
from meshcheck.impl.pbft.byzantine.node import byzantine_wrappers
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.pbft.byzantine.replies import LIES
from meshcheck.impl.pbft.byzantine.replies import FuzzReplies
from meshcheck.impl.pbft.byzantine.replies import LieToClient
from meshcheck.impl.pbft.byzantine.replies import LyingReplies
from meshcheck.impl.pbft.byzantine.strategies import Assignment
from meshcheck.impl.pbft.byzantine.strategies import behaviour_strategy
from meshcheck.impl.pbft.byzantine.strategies import byzantine_strategy
from meshcheck.impl.pbft.byzantine.strategies import replica_ids

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

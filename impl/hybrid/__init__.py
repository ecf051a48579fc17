"""The hybrid layer: the threat-level machine and the dispatcher that moves a cluster between Raft and
PBFT at epoch boundaries without losing a committed operation.

- levels.py: the level table and transition function (shared with the spec and the Z3 model);
- threat.py: `ThreatModel`, the replicated threat state (evidence intake, counting, the clock);
- entries.py, proofs.py: what is replicated and sent, who signs it, how evidence is checked;
- machine.py: `HybridMachine`, the replicated state each epoch's instance drives, and the switch;
- instance.py, node.py: `HybridNode`, the sans-IO node running one Raft or PBFT instance per epoch;
- simulation.py, refinement.py: the simulator plugin, `hybrid_cluster`, the mapping onto Hybrid.tla;
- consensus.py: `HybridConsensus`, the facade (`propose`, `current_protocol`, `threat_level`,
  `metrics`); byzantine.py: Byzantine behaviours; mutants.py: the four bug switches.
"""

from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.consensus import Decision
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import Counts
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import Thresholds
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import HybridState
from meshcheck.impl.hybrid.mutants import BUGS
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.simulation import HybridPlugin
from meshcheck.impl.hybrid.simulation import hybrid_cluster
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel

__all__ = [
    "BFT",
    "BUGS",
    "RAFT",
    "Counts",
    "Decision",
    "Evidence",
    "HybridConfig",
    "HybridConsensus",
    "HybridMachine",
    "HybridNode",
    "HybridPlugin",
    "HybridState",
    "Level",
    "ThreatModel",
    "Thresholds",
    "hybrid_cluster",
]

"""The hybrid layer's rare conditions (meshcheck/coverage.py), reported by the cores (probes,
impl/base/probes.py): the hybrid free runs do not record a trace (the monitor checks the nodes
themselves), so each is seen where it happens, in lockstep and in free runs alike.

- switch_with_op_in_flight: a node switches protocol while a client's op it holds is neither
  committed nor answered: the op must be answered "not committed" or proposed in the new epoch,
  never lost or applied twice;
- escalation_with_op_in_flight: of those, a switch from a Raft epoch to a BFT one (the threat level
  raised by Byzantine evidence) while a client's op submitted in Raft is not yet committed: the
  op must be carried into the BFT epoch or answered "not committed", and never applied twice
  (property_tests/hybrid/escalation.py sets it up);
- deescalation: the threat level drops (one level, after a quiet period and a dwell);
- op_reappended_after_overwrite: a Raft leader appends again a client's op it appended in an
  earlier term of the same epoch, whose copy there the leader in between overwrote (it stepped
  down, not crashed, and leads again): the op must commit, the client's retries all coming to it
  (property_tests/hybrid/leader_reelected.py sets it up).
"""

from __future__ import annotations

from meshcheck.coverage import CoverageSpec
from meshcheck.coverage import Rare

CONDITIONS = (
    Rare("switch_with_op_in_flight", "a switch while an op is in flight", "probe"),
    Rare(
        "escalation_with_op_in_flight",
        "a switch from Raft to BFT while an op is in flight",
        "probe",
    ),
    Rare("deescalation", "the threat level drops a level", "probe"),
    Rare(
        "op_reappended_after_overwrite",
        "a leader leading again in an epoch appends an op its earlier copy of was overwritten",
        "probe",
    ),
)

COVERAGE = CoverageSpec(CONDITIONS)

"""Hypothesis property tests of impl/raft: lockstep against specs/Raft.tla, free runs under faults,
liveness after healing, and trace validation."""

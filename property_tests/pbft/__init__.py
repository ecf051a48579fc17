"""Hypothesis property tests of impl/pbft: lockstep against specs/PBFT.tla, free runs under faults
and Byzantine replicas, liveness after stabilisation, trace validation, and the stored traces."""

"""Hypothesis property tests of impl/hybrid: lockstep of the threat state against
specs/ThreatLevel.tla and of the epochs and the switch against specs/Hybrid.tla, free runs of the
simulated cluster with Byzantine behaviour switched on and off mid-stream, trace validation of those
runs against Hybrid.tla, and the stored traces."""

"""Two-phase commit as a protocol added from outside meshcheck's folders: its spec (TwoPhase.tla),
sans-IO cores (core.py), simulator plug-in and refinement (simulation.py), harness glue and checks
(harness.py) and descriptor (descriptor.py); tests/test_toy_protocol.py registers it as a plug-in."""

"""The reference implementation: sans-IO protocol cores and the deterministic simulator."""

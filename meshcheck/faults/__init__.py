"""Faults of a machine's disk, for any system under test: a filesystem that loses what was not
fsynced when the harness cuts the power (lazy_tree.py, the model; lazyfs.py, the FUSE mount), and
corruption of a stopped node's files (corrupt.py). docs/faults.md describes both and their limits."""

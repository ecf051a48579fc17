"""meshcheck: TLA+ specs, Z3 models and a reference implementation, checked against each other.

The package holds the command line and the orchestration of `meshcheck verify`; the bridge to TLC lives
in `specs.tlc`, the trace format in `traces`, the implementation in `impl`, the proofs in `models`.
"""

__version__ = "0.1.0"

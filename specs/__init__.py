"""The TLA+ specs of meshcheck (`*.tla`, `*.cfg` beside this file) and the bridge to TLC (`specs.tlc`)."""

from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parent

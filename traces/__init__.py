"""Traces in ITF (the Informal Trace Format of Apalache and Quint), their inspector, and the corpus of
stored counterexamples under `traces/counterexamples/`."""

from pathlib import Path

TRACE_DIR = Path(__file__).resolve().parent
COUNTEREXAMPLE_DIR = TRACE_DIR / "counterexamples"

"""Logs of a run, one JSON object per line per step, from any implementation, and their validation
against a spec with partial state (docs/logs.md)."""

from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.format import dumps
from meshcheck.traces.logs.format import loads
from meshcheck.traces.logs.format import merge
from meshcheck.traces.logs.format import read
from meshcheck.traces.logs.format import write
from meshcheck.traces.logs.validate import Diagnosis
from meshcheck.traces.logs.validate import Verdict
from meshcheck.traces.logs.validate import validate

__all__ = [
    "Diagnosis",
    "LogFormatError",
    "LogRecord",
    "Verdict",
    "dumps",
    "loads",
    "merge",
    "read",
    "validate",
    "write",
]

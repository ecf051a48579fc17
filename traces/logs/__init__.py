"""Logs of a run, one JSON object per line per step, from any implementation, and their validation
against a spec with partial state (docs/logs.md)."""

from meshcheck.traces.logs.format import LogFormatError, LogRecord, dumps, loads, merge, read, write
from meshcheck.traces.logs.validate import Diagnosis, Verdict, validate

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

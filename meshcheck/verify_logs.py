"""`meshcheck verify`'s rows of the implementations' NDJSON logs (docs/logs.md), each validated
against its spec: the reference Raft's, and PySyncObj's through its adapter. Each is a TraceCheck
that its protocol's descriptor names in `log_checks` (property_tests/raft/descriptor.py,
property_tests/pysyncobj/descriptor.py), so that the command finds it as data, by the registry,
and `--protocol` keeps it with its protocol. The row names are those of the reports of earlier
runs."""

from __future__ import annotations

from pathlib import Path

from meshcheck.verify_rows import Row
from meshcheck.verify_rows import TraceCheck

LOG_ROW = "NDJSON validation of the reference implementation's logs"


def log_row(profile: str) -> Row:
    """The reference Raft's logs in the NDJSON format (docs/logs.md), validated against the spec
    with full and with partial state, and broken ones caught (meshcheck/validate_cmd.py)."""
    from meshcheck.validate_cmd import check_reference_logs

    outcome = check_reference_logs(profile)
    result = "pass" if outcome.ok else "FAIL"
    return Row("traces", LOG_ROW, result, outcome.steps, "steps", outcome.seconds, outcome.detail)


def _reference_logs(root: Path, profile: str, seed: int | None) -> Row:
    return log_row(profile)


# the Ref the reference Raft's descriptor names: "meshcheck.verify_logs:REFERENCE_LOGS"; in every
# profile, the fast one's too (docs/reference/profiles.md)
REFERENCE_LOGS = TraceCheck(LOG_ROW, _reference_logs, fast=True)


PYSYNCOBJ_LOG_ROW = "NDJSON validation of PySyncObj's logs"


def pysyncobj_log_row(profile: str) -> Row:
    """PySyncObj's free runs written as NDJSON logs (impl/adapters/pysyncobj.py) and validated
    against RaftPipelined.tla (Raft with pipelined AppendEntries, a rejection's step back and
    CheckQuorum, as PySyncObj); an injected double vote must be rejected
    (property_tests/pysyncobj/validation.py). Calm runs and runs with drops, crashes and
    partitions on FIFO links (a leader's step-down after leaderFallbackTimeout is
    RaftPipelined.tla's CheckQuorumStepDown; docs/pysyncobj.md)."""
    from meshcheck.property_tests.pysyncobj.validation import check_logs

    ok, records, seconds, detail = check_logs(5 if profile == "ci" else 20)
    return Row(
        "traces", PYSYNCOBJ_LOG_ROW, "pass" if ok else "FAIL", records, "steps", seconds, detail
    )


def _pysyncobj_logs(root: Path, profile: str, seed: int | None) -> Row:
    return pysyncobj_log_row(profile)


# the Ref PySyncObj's descriptor names: "meshcheck.verify_logs:PYSYNCOBJ_LOGS"; not in the fast
# profile (13 s of the gate's 3 minutes, docs/verify-cost.md; `make test` validates the logs too)
PYSYNCOBJ_LOGS = TraceCheck(PYSYNCOBJ_LOG_ROW, _pysyncobj_logs)

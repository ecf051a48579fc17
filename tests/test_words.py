"""meshcheck/words.py: a count says its noun in the singular for one ("1 operation"), and every
command's output counts through it (no "1 operations")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from meshcheck import words
from meshcheck.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_one_is_singular_and_the_rest_plural() -> None:
    assert words.count(1, "operation") == "1 operation"
    assert words.count(0, "operation") == "0 operations"
    assert words.count(2, "entry") == "2 entries"
    assert words.count(1, "entry") == "1 entry"
    assert words.count(1_234, "step", commas=True) == "1,234 steps"
    assert words.count(3, "datum", "data") == "3 data"


def test_a_log_of_one_record_is_one_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`meshcheck validate` said "1 of 1 steps" (and "1 messages never received dropped")."""
    record = {
        "run": "r1",
        "node": "s1",
        "clock": 1,
        "action": "Timeout",
        "params": {"i": "s1"},
        "state": {"currentTerm": 1, "votedFor": "s1", "role": "Candidate"},
    }
    log = tmp_path / "s1.ndjson"
    log.write_text(json.dumps(record) + "\n")
    assert main(["validate", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: 1 of 1 step explained in "), out
    # as words: "181 steps/s" holds "1 steps" too
    assert not re.search(r"(?<![\d,.])1 (messages|steps)\b", out), out


# f-strings of meshcheck's own code that put a noun's plural after something counted: each must go
# through words.count. These name a string, not a count, before the plural.
NOT_COUNTS = {
    "{model.config.name} records",
    "{args.protocol} runs",
    "{file.name} runs",  # a system's name, and the verb
    "{kind.value} operations",
    "{typed} operations",
    "{kind} checks",
    "{n} replicas are",
    "{self.name} records",  # a model's name, and the verb
    "{'--quick' if args.quick else 'full'} runs",
}
NOUNS = (
    "operations|messages|steps|states|tests|mutants|records|entries|examples|nodes|checks|tasks|"
    "failures|writes|reads|events|obligations|runs|clients|replicas|faults|findings|samples|"
    "acquisitions|batches|histories"
)
COUNTED = re.compile(r"\{[^{}!]+\} (?:" + NOUNS + r")\b(?: are)?")


def test_every_count_in_the_commands_goes_through_the_helper() -> None:
    found = []
    for path in sorted((ROOT / "meshcheck").rglob("*.py")):
        where = str(path.relative_to(ROOT))
        if path.is_symlink() or "property_tests" in where:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if 'f"' not in line and "f'" not in line:
                continue
            for hit in COUNTED.findall(line):
                if hit not in NOT_COUNTS:
                    found.append(f"{where}:{n}: {hit}")
    assert not found, "\n".join(found)

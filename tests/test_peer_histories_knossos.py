"""The linearizability checker against the test histories of Jepsen's Knossos, the reference
linearizability checker (github.com/jepsen-io/knossos at 9b2c79e, v0.3.16-SNAPSHOT).

Knossos's test/knossos/linear_test.clj and core_test.clj check every history under
data/<model>/good (valid) and data/<model>/bad (invalid). A selection of them, read with
meshcheck's EDN reader and written as meshcheck's JSON lines (tests/data/peers/knossos/, each
with its source file in manifest.json): every cas-register history of data/cas-register/bad but
rethink-fail.edn (the larger original of rethink-fail-smaller.edn), the small ones of
data/cas-register/good and three of its hundred memstress3 runs (all hundred were checked once,
2026-11-28: 100 linearizable), and data/mutex/bad/etcd.edn. Knossos's valid must be meshcheck's
exit 0 and its invalid exit 1, but for the differences of semantics in `DIFFERENCES`, each with
its reason (docs/peers.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.traces.history import checker
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.models import Mutex

DATA = Path(__file__).resolve().parent / "data" / "peers" / "knossos"
CASES = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
EXIT = {"valid": 0, "invalid": 1}
# meshcheck's exit where it differs from Knossos's verdict, and why
DIFFERENCES: dict[str, tuple[int, str]] = {
    "data/cas-register/good/mongodb-v0-ack-rollback-.edn": (
        2,
        "no client operation at all: meshcheck says there is nothing to check (exit 2), as for "
        "every model, where Knossos calls the empty history valid",
    ),
    "data/cas-register/good/mongodb-v0-ack-rollback-9.edn": (
        2,
        "every operation failed: nothing took effect, nothing to check (exit 2)",
    ),
    "data/cas-register/good/mongodb-v0-ack-rollback-10.edn": (
        2,
        "every operation failed or is a read that never returned: nothing to check (exit 2)",
    ),
    "data/cas-register/good/mongodb-v0-ack-rollback-11.edn": (
        2,
        "every operation failed: nothing to check (exit 2)",
    ),
}


def test_every_translated_history_is_in_the_manifest() -> None:
    assert {c["file"] for c in CASES} == {p.name for p in DATA.glob("*.jsonl")}
    assert set(DIFFERENCES) <= {c["source"] for c in CASES}


REGISTERS = [c for c in CASES if c["model"] == "cas-register"]
LOCKS = [c for c in CASES if c["model"] == "mutex"]


@pytest.mark.parametrize("case", REGISTERS, ids=[c["source"] for c in REGISTERS])
def test_knossos_verdict(case: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / case["file"]
    code = main(["history", "check", str(path), "--model", case["model"]])
    said = capsys.readouterr()
    expected = DIFFERENCES.get(case["source"], (EXIT[case["knossos"]], ""))[0]
    assert code == expected, (case, said.out, said.err)


@pytest.mark.parametrize("case", LOCKS, ids=[c["source"] for c in LOCKS])
def test_knossos_verdict_on_a_lock_without_leases(case: dict[str, str]) -> None:
    """Knossos's mutex histories name no lease: the mutex model takes each such operation as the
    one anonymous holder's (knossos.model/mutex: held or free). Before, a lease of None read as a
    free lock, and this history of two holders at once passed. The verdict, not the command: the
    smallest window of a history whose operations all go together takes minutes to search."""
    ops = jepsen.read(DATA / case["file"], Mutex())
    verdict = checker.check(ops, Mutex(), 30).verdict
    assert verdict == {"valid": "linearizable", "invalid": "not linearizable"}[case["knossos"]]

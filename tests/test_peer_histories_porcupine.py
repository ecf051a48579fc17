"""The linearizability checker against the test histories of Porcupine, Anish Athalye's
linearizability checker in Go (github.com/anishathalye/porcupine at 55508eb, 2026-06-26).

Porcupine's porcupine_test.go checks 102 Jepsen etcd runs of a cas-register
(test_data/jepsen/etcd_NNN.log, TestEtcdJepsenNNN, each with its expected verdict), logs of a
key/value store's get, put and append (test_data/kv/, TestKv*), and histories it builds
inline for a register, a set and a nondeterministic register. tests/data/peers/porcupine/ holds
them as meshcheck's JSON lines, translated as data by translate.py there (its docstring says how
each kind maps), each with its source and Porcupine's verdict in manifest.json. Porcupine's valid
must be meshcheck's exit 0 and its invalid exit 1, but for the differences in `DIFFERENCES`, each
with its reason (docs/peers.md). The four slowest etcd runs (0.3 to 1.4 s each, most of it finding
the smallest failing window) are in the slow tier; the other 110 histories take about 2 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshcheck.cli import main

DATA = Path(__file__).resolve().parent / "data" / "peers" / "porcupine"
CASES = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
EXIT = {"valid": 0, "invalid": 1}
_NO_APPEND = (
    2,
    "Porcupine's kvModel is a string per key with get, put and append (append concatenates); "
    "meshcheck's kv model is a cas-register per key (read, write, cas) and has no append, so it "
    "refuses the history. With a scratch append model (not in the repository) meshcheck's search "
    "agrees on all six kv logs (docs/peers.md)",
    'field "f": expected cas, read or write for the kv model',
)
_NO_SET = (
    2,
    "Jepsen's set as Porcupine's test writes it (add, and a read returning the whole set): "
    "meshcheck has no set model",
    "invalid choice: 'set'",
)
# meshcheck's exit where it differs from Porcupine's verdict, why, and what meshcheck says on stderr
DIFFERENCES: dict[str, tuple[int, str, str]] = {
    "porcupine_test.go TestCheckNoPartitions": (
        2,
        "the empty history: meshcheck says there is nothing to check (exit 2), as for every "
        "model, where Porcupine calls it linearizable",
        "nothing to check",
    ),
    "test_data/kv/c01-ok.txt TestKv1ClientOk": _NO_APPEND,
    "test_data/kv/c01-bad.txt TestKv1ClientBad": _NO_APPEND,
    **{f"porcupine_test.go TestSetModel (history {n})": _NO_SET for n in range(1, 5)},
    "porcupine_test.go TestNondeterministicRegisterModel (TestNondeterministicRegisterModelWithHash "
    "repeats it)": (
        2,
        "a nondeterministic model (put-any writes any subset of its values; get-any reads some of "
        "those held, get-all all of them): meshcheck's models are single registers, maps of them, "
        "the rsm store and a lock",
        "invalid choice: 'nondeterministic-register'",
    ),
}
# over 0.2 s each (etcd_057 1.4 s, etcd_099 0.8 s, etcd_040 0.4 s, etcd_002 0.3 s): slow tier
SLOW = {"etcd-002.jsonl", "etcd-040.jsonl", "etcd-057.jsonl", "etcd-099.jsonl"}


def test_every_translated_history_is_in_the_manifest() -> None:
    assert {c["file"] for c in CASES} == {p.name for p in DATA.glob("*.jsonl")}
    assert set(DIFFERENCES) <= {c["source"] for c in CASES}
    assert {c["file"] for c in CASES} >= SLOW


def _params() -> list[object]:
    return [
        pytest.param(c, id=c["file"], marks=[pytest.mark.slow] if c["file"] in SLOW else [])
        for c in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_porcupine_verdict(case: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / case["file"]
    try:
        code = main(["history", "check", str(path), "--model", case["model"]])
    except SystemExit as exc:  # the command line refused the model's name
        code = exc.code if isinstance(exc.code, int) else 2
    said = capsys.readouterr()
    expected, _, says = DIFFERENCES.get(case["source"], (EXIT[case["porcupine"]], "", ""))
    assert code == expected, (case, said.out, said.err)
    assert says in said.err, (case, said.err)

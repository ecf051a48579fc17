"""Hand-made adversarial histories for every model of `meshcheck history check` (issue 21): for
each model, valid-but-tricky histories that must hold (pending writes that took effect late,
failed operations that must not count, reads concurrent with writes, a lease lingering within
--clock-bound, tokens given out of order to concurrent acquires) and subtly invalid ones that must
fail (a message delivered before its publish was invoked, a revision repeated, a key absent then
present again on one lease, a smaller token accepted after a larger, holders overlapping only
through a pending acquire, Elle's G-single against G2, a committed nil read after an append).

The histories are data, tests/data/adversarial/<model>/*.jsonl, each named in its model's
index.toml with the exit it must get (0 holds, 1 violated), the anomalies its verdict line names
(none for a linearizability model) and why. They run through the command's entry point, as a user
runs them; mutation/checkers.toml's section "adversarial sets" lists mutants they kill.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.traces.history import checkers
from meshcheck.traces.history import models

DATA = Path(__file__).resolve().parent / "data" / "adversarial"
MODELS = sorted([*models.MODELS, *checkers.CHECKERS])
# the checkers judged by a model of the transactional lattice
TRANSACTIONAL = ("list-append", "rw-register")
# each model's set must hold at least this many histories of each kind (pass, fail)
LEAST = 4


def _index(model: str) -> list[dict[str, Any]]:
    path = DATA / model / "index.toml"
    cases: list[dict[str, Any]] = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
    return cases


CASES = [(m, c) for m in MODELS if (DATA / m).is_dir() for c in _index(m)]


def _kinds(verdict: str) -> list[str]:
    """The anomalies a verdict line names: `...): G2 (1), G-single-realtime (1)` -> both; those
    counted as allowed (inside the parentheses) are not among them."""
    _, sep, named = verdict.rpartition("): ")
    return sorted(set(re.findall(r"([\w-]+) \(\d+\)", named))) if sep else []


def test_every_model_has_a_set_of_each_kind() -> None:
    """A model added to the command without its adversarial set fails here."""
    for model in MODELS:
        cases = _index(model)
        for expect in (0, 1):
            n = sum(1 for c in cases if c["expect"] == expect)
            assert n >= LEAST, f"{model}: {n} histories expecting exit {expect}, want {LEAST}"
        assert all(c["why"].strip() for c in cases), model
    assert {p.name for p in DATA.iterdir() if p.is_dir()} == set(MODELS)


def test_every_history_is_in_its_index() -> None:
    for model in MODELS:
        named = [c["file"] for c in _index(model)]
        assert len(named) == len(set(named)), model
        assert set(named) == {p.name for p in (DATA / model).glob("*.jsonl")}, model


@pytest.mark.parametrize(
    ("model", "case"), CASES, ids=[f"{m}/{c['file'].removesuffix('.jsonl')}" for m, c in CASES]
)
def test_adversarial_verdict(
    model: str, case: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["history", "check", str(DATA / model / case["file"]), "--model", model]
    if "clock_bound" in case:
        args += ["--clock-bound", str(case["clock_bound"])]
    if "consistency" in case:
        args += ["--consistency", case["consistency"]]
    code = main(args)
    said = capsys.readouterr()
    assert code == case["expect"], (case["why"], said.out, said.err)
    verdict = said.out.splitlines()[0]
    if (code == 1 and model in checkers.CHECKERS) or model in TRANSACTIONAL:
        # a transactional model may hold with anomalies it allows: named all the same
        assert _kinds(verdict) == sorted(case["anomalies"]), (case["why"], said.out)
    elif code == 1:
        named = case.get("consistency", "linearizable")
        assert f": not {named} (" in verdict and not case["anomalies"], said.out

"""`meshcheck validate --spec PBFT`: the logs of PBFT replicas run as processes, validated against
specs/PBFT.tla (traces/logs/validate.py: the fitted model, the inferred client requests; the
runtime's side: impl/runtime/pbft_log.py).

tests/data/logs/pbft-run.ndjson is a real run's: four replicas as processes (`meshcheck cluster
test --protocol pbft --nodes 4 --time 3 --seed 5 --clients 2 --nemesis kill`, the primary killed at
0.5 s), its four logs merged and cut at Lamport clock 187 (a prefix of every log up to one clock is
a consistent cut: each receive's send is in it). It holds a view change, a new view, executions
and the first stable checkpoint. Each test below breaks it the way a faulty replica would and
expects the record that shows it to be named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.impl.base.values import FrozenDict
from meshcheck.traces.logs import LogRecord
from meshcheck.traces.logs import merge
from meshcheck.traces.logs import read
from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.validate import SPARE
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import fit_pbft
from meshcheck.traces.logs.validate import model_text
from meshcheck.traces.logs.validate import stepper_for
from meshcheck.traces.logs.validate import validation_model

DATA = Path(__file__).parent / "data" / "logs"
RUN = DATA / "pbft-run.ndjson"


@pytest.fixture(scope="module")
def records() -> list[LogRecord]:
    return merge([read(RUN)])


@pytest.fixture(scope="module")
def validator(records: list[LogRecord], tmp_path_factory: pytest.TempPathFactory) -> Validator:
    model = tmp_path_factory.mktemp("pbft") / "PBFT.cfg"
    model.write_text(model_text("PBFT", records, validation_model("PBFT"), {}), encoding="utf-8")
    return Validator(stepper_for("PBFT", str(model)))


def first(records: list[LogRecord], where: Callable[[LogRecord], bool], after: int = 0) -> int:
    return next(k for k, r in enumerate(records) if k >= after and where(r))


def changed(r: LogRecord, **state: Any) -> LogRecord:
    return attrs.evolve(r, state=FrozenDict({**r.state, **state}))


def test_the_run_of_processes_is_a_behaviour_of_the_spec(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--spec", "PBFT", str(RUN)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: 360 of 360 steps")
    # the client's requests are no replica's step: each is inferred before its pre-prepare
    assert "implied steps inferred" in out


def test_the_run_validates_with_ten_views_and_more(capsys: pytest.CaptureFixture[str]) -> None:
    """A run whose replicas reach view 9 is fitted MaxView 10: PrimaryOf then has eleven elements,
    which the Stepper once could not apply (specs/tlc/stepper.py `_load`, FP64 initialized after
    TLC had indexed the function): every such run was "unknown" at its first record. Eleven is
    the fewest elements TLC indexes, so MaxView 10 is the run that once failed; a larger MaxView
    only adds action instances to build (MaxView 25: twice the set-up and the steps)."""
    assert main(["validate", "--spec", "PBFT", "--set", "MaxView=10", str(RUN)]) == 0
    assert capsys.readouterr().out.startswith("valid: 360 of 360 steps")


def test_the_model_is_fitted_to_the_logs(records: list[LogRecord]) -> None:
    fitted = fit_pbft(records, {"Window": 40, "CheckpointEvery": 20})
    batches = {r.params["r"] for r in records if r.action == "PrePrepare"}
    assert fitted["Requests"] == "{" + ", ".join(f'"{b}"' for b in sorted({*batches, SPARE})) + "}"
    assert fitted["MaxView"] == "2"  # the run's view 1, and one more for a change under way
    top = max(r.params["n"] for r in records if "n" in r.params)
    assert int(fitted["MaxSeq"]) >= top + 40 and int(fitted["MaxSeq"]) % 20 == 0
    with pytest.raises(LogFormatError, match="Window and CheckpointEvery"):
        fit_pbft(records, {})


def _invalid_at(validator: Validator, broken: list[LogRecord], at: int) -> str:
    verdict = validator.run(broken, budget=120)
    assert verdict.verdict == "invalid", verdict.render()
    assert verdict.diagnosis is not None
    assert verdict.steps == at, verdict.render()
    return verdict.render()


def test_a_prepare_of_a_number_nobody_pre_prepared_is_no_step(
    validator: Validator, records: list[LogRecord]
) -> None:
    k = first(records, lambda r: r.action == "Prepare")
    bad = attrs.evolve(records[k], params=FrozenDict({**records[k].params, "n": 30}))
    _invalid_at(validator, [*records[:k], bad, *records[k + 1 :]], k)


def test_a_commit_without_its_prepares_is_no_step(
    validator: Validator, records: list[LogRecord]
) -> None:
    # the first commit of a number, moved before the prepares it rests on (the clocks stay in
    # order: the merge is what a replica that committed early would have logged)
    k = first(records, lambda r: r.action == "Commit")
    n = records[k].params["n"]
    p = first(records, lambda r: r.action == "Prepare" and r.params["n"] == n)
    moved = attrs.evolve(records[k], clock=records[p].clock)
    broken = [*records[:p], moved, *(r for j, r in enumerate(records[p:], p) if j != k)]
    assert "Commit" in _invalid_at(validator, broken, p)


def test_a_replica_that_commits_twice_is_no_step(
    validator: Validator, records: list[LogRecord]
) -> None:
    k = first(records, lambda r: r.action == "Commit")
    _invalid_at(validator, [*records[: k + 1], records[k], *records[k + 1 :]], k + 1)


def test_an_execution_that_skips_a_request_is_caught_at_the_checkpoint(
    validator: Validator, records: list[LogRecord]
) -> None:
    k = first(records, lambda r: r.action == "Execute" and "executed" in r.state)
    executed = records[k].state["executed"]
    wrong = (*executed[:3], executed[4], executed[3], *executed[5:])
    out = _invalid_at(validator, [*records[:k], changed(records[k], executed=wrong)], k)
    assert "executed" in out


def test_a_view_that_goes_back_is_no_step(validator: Validator, records: list[LogRecord]) -> None:
    k = first(records, lambda r: r.action == "Prepare" and r.state["view"] == 1)
    _invalid_at(validator, [*records[:k], changed(records[k], view=0), *records[k + 1 :]], k)


def test_a_stable_checkpoint_without_its_proof_is_no_step(
    validator: Validator, records: list[LogRecord]
) -> None:
    # the first stable checkpoint, taken before any replica executed its number
    k = first(records, lambda r: r.action == "StableCheckpoint")
    e = first(records, lambda r: r.action == "Execute")
    early = attrs.evolve(records[k], clock=records[e].clock)
    broken = [*records[:e], early, *(r for j, r in enumerate(records[e:], e) if j != k)]
    _invalid_at(validator, broken, e)


def test_a_node_the_model_does_not_have_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "r9.ndjson"
    lines = RUN.read_text(encoding="utf-8").splitlines()
    log.write_text(lines[0].replace('"r2"', '"r9"') + "\n", encoding="utf-8")
    assert main(["validate", "--spec", "PBFT", str(log)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'r9' is not a server of the model" in err
    # seven replicas: r9 is still none of them
    assert main(["validate", "--spec", "PBFT", "--set", "N=7", str(log)]) == 2
    assert "r1, r2, r3, r4, r5, r6, r7" in capsys.readouterr().err

"""A stream run judged by what the system promises (meshcheck/traces/history/stream_models.py,
meshcheck/systems/promises.py `streams`): the models as data, hand-made stream histories that
hold one model and break a stronger one, the run's rows (run.py `_stream`), and NATS's file
stating its promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster.checks import INFORMATION
from meshcheck.cluster.checks import PROMISE
from meshcheck.cluster.checks import Verdict
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems import promises
from meshcheck.systems import stream_history
from meshcheck.systems.run import _stream
from meshcheck.systems.system_file import load
from meshcheck.traces.history import stream_models
from meshcheck.traces.history.history import Op

KNOWN = Path(__file__).resolve().parent.parent / "meshcheck" / "systems" / "known"


def _op(process: str, f: str, value: object, output: object, call: float) -> Op:
    return Op(process, f, value, output, call, call + 0.1, "ok", None, int(call * 10))


WHOLE = [
    _op("c1", "publish", "m1", None, 0.0),
    _op("c2", "publish", "m2", None, 1.0),
    _op("c1", "consume", None, ("m1", "m2"), 2.0),
    _op("c1", "ack", ("m1", "m2"), None, 3.0),
    _op("n1", "read", None, ("m1", "m2"), 4.0),
    _op("n2", "read", None, ("m1", "m2"), 4.0),
]
# c1 given m1 again (its ack lost): at-least-once, not exactly-once
REDELIVERED = [*WHOLE[:3], _op("c1", "consume", None, ("m1",), 2.5), *WHOLE[3:]]
# c1 saw m2 before m1, the read-backs m1 before m2: no one order, nothing twice
SWAPPED = [*WHOLE[:2], _op("c1", "consume", None, ("m2", "m1"), 2.0), *WHOLE[3:]]
# m2 acknowledged, missing from n2's read-back
LOST = [*WHOLE[:5], _op("n2", "read", None, ("m1",), 4.0)]


def _judged(ops: list[Op], promised: str, tmp_path: Path) -> dict[str, Verdict]:
    path = tmp_path / "history.jsonl"
    path.write_text(stream_history.dumps(ops), encoding="utf-8")
    return {v.check: v for v in promises.streams(path, promised)[0]}


def test_the_models_and_what_each_implies() -> None:
    assert stream_models.NAMES == (
        "total-order", "ordered-at-least-once", "exactly-once", "at-least-once",
    )  # fmt: skip
    assert stream_models.stronger("at-least-once") == [
        "total-order", "ordered-at-least-once", "exactly-once",
    ]  # fmt: skip
    assert stream_models.stronger("exactly-once") == ["total-order"]
    assert stream_models.stronger("ordered-at-least-once") == ["total-order"]
    assert stream_models.stronger("total-order") == []
    assert not stream_models.implies("exactly-once", "ordered-at-least-once")
    for name in stream_models.NAMES:  # every model forbids losing an acknowledged publish
        assert not stream_models.holds(name, {"lost"})
    assert promises.models("stream") == list(stream_models.NAMES)
    assert promises.canonical("stream", "linearizable") is None


def test_a_redelivery_holds_at_least_once_and_breaks_total_order(tmp_path: Path) -> None:
    weak = _judged(REDELIVERED, "at-least-once", tmp_path)
    promised = weak["at-least-once (promised)"]
    assert (promised.holds, promised.role) == (True, PROMISE), promised
    assert {c: (v.holds, v.role) for c, v in weak.items() if c != promised.check} == {
        "total-order": (False, INFORMATION),
        "ordered-at-least-once": (True, INFORMATION),
        "exactly-once": (False, INFORMATION),
    }
    assert "duplicate" in weak["total-order"].detail
    strong = _judged(REDELIVERED, "total-order", tmp_path)
    assert list(strong) == ["total-order (promised)"]
    assert strong["total-order (promised)"].holds is False
    assert "duplicate" in strong["total-order (promised)"].detail


def test_two_orders_hold_exactly_once_and_break_the_ordered_models(tmp_path: Path) -> None:
    judged = _judged(SWAPPED, "exactly-once", tmp_path)
    assert judged["exactly-once (promised)"].holds is True
    assert judged["total-order"].holds is False and "order" in judged["total-order"].detail
    assert _judged(SWAPPED, "ordered-at-least-once", tmp_path)[
        "ordered-at-least-once (promised)"
    ].holds is False  # fmt: skip


def test_a_lost_publish_breaks_every_promise(tmp_path: Path) -> None:
    for name in stream_models.NAMES:
        verdict = _judged(LOST, name, tmp_path)[f"{name} (promised)"]
        assert verdict.holds is False and "lost" in verdict.detail, (name, verdict)
    assert all(v.holds is True for v in _judged(WHOLE, "total-order", tmp_path).values())


def test_a_runs_rows_judge_the_promise_and_show_the_stronger(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(stream_history.dumps(REDELIVERED), encoding="utf-8")
    rows = _stream(path, "at-least-once")
    assert [(v.check, v.holds, v.judged) for v in rows] == [
        ("total-order", False, False),
        ("ordered-at-least-once", True, False),
        ("exactly-once", False, False),
        ("at-least-once (promised)", True, True),
    ]
    assert not (tmp_path / "anomaly.txt").exists()  # the promise holds
    assert "duplicate" in (tmp_path / "consistency.txt").read_text(encoding="utf-8")
    # the checker's own model promised: its row kept, mirrored as the promise's
    rows = _stream(path, stream_models.DEFAULT)
    assert [(v.check, v.holds, v.judged) for v in rows] == [
        (stream_history.CHECK, True, True),
        ("total-order", False, False),
        ("ordered-at-least-once (promised)", True, True),
    ]
    assert [(v.check, v.holds) for v in _stream(path, "")] == [(stream_history.CHECK, True)]
    rows = _stream(path, "total-order")
    assert [(v.check, v.holds, v.judged) for v in rows] == [("total-order (promised)", False, True)]
    assert "duplicate" in (tmp_path / "anomaly.txt").read_text(encoding="utf-8")


def test_nats_states_its_promise_and_a_model_of_no_lattice_is_one_line(tmp_path: Path) -> None:
    nats = load(KNOWN / "nats.toml")
    assert nats.promise_for("stream", "linearizable") == "ordered-at-least-once"
    with pytest.raises(MeshcheckError, match="the models are total-order, ordered-at-least-once"):
        load(KNOWN / "nats.toml", sets=("promises.stream=linearizable",))
    weaker = load(KNOWN / "nats.toml", sets=("promises.stream=at-least-once",))
    assert weaker.promise_for("stream", "linearizable") == "at-least-once"


def test_the_replay_judges_the_promise_as_the_run_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`history check --model stream --consistency MODEL`, the replay of a run whose promise is
    not the checker's own model: the same verdict as the run's promise row."""
    path = tmp_path / "history.jsonl"
    path.write_text(stream_history.dumps(REDELIVERED), encoding="utf-8")
    assert stream_history.replay_command(tmp_path, "at-least-once").endswith(
        "--model stream --consistency at-least-once"
    )
    assert stream_history.replay_command(tmp_path, stream_models.DEFAULT).endswith("--model stream")
    check = ["history", "check", str(path), "--model", "stream"]
    assert main([*check, "--consistency", "at-least-once"]) == 0
    assert "holds: at-least-once" in capsys.readouterr().out
    assert main([*check, "--consistency", "total-order"]) == 1
    assert "duplicate (1)" in capsys.readouterr().out
    assert main(check) == 0  # the checker's own model: duplicates allowed
    capsys.readouterr()
    assert main([*check, "--consistency", "linearizable"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "meshcheck: --consistency linearizable: not a model for stream; expected one of "
        "total-order, ordered-at-least-once, exactly-once, at-least-once"
    ]

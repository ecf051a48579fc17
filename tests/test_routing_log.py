"""The manager's routing log (meshcheck/cluster/routing_log.py) validated against Routing.tla
through RoutingLogs.tla (`meshcheck validate --spec Routing`): a stored log of a real run accepted,
a corrupted copy rejected at the record it breaks, and each routing mutant of impl/manager/mutants.py
rejected on the log the router writes when the manager's own code (impl/manager/routing.py) routes
with the mutant switched on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster import routing_log
from meshcheck.cluster.routed import KNOWN
from meshcheck.cluster.routed import Routed
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import REJECTED
from meshcheck.impl.manager import mutants
from meshcheck.impl.manager.routing import Layer
from meshcheck.impl.manager.routing import UnknownOperationType
from meshcheck.impl.manager.routing import hybrid_agreed
from meshcheck.impl.manager.routing import op_type
from meshcheck.impl.manager.routing import route
from meshcheck.impl.manager.routing import status_agreed
from meshcheck.traces.logs import format as logformat
from meshcheck.traces.logs.routing import fit_routing

DATA = Path(__file__).parent / "data" / "logs"
STORED = DATA / "routing-run.ndjson"


def routed_as(
    bugs: frozenset[str], k: int, given: str, level: str, status: str = COMMITTED
) -> Routed:
    """Operation k as the router takes it (routed.py `Router._one`): the manager's own code, with
    `bugs`, reads the type and picks the layer; the hybrid dispatcher answers with `status` from a
    Raft epoch at levels below High, a BFT one above."""
    try:
        kind = op_type(given, bugs)
    except UnknownOperationType:
        return Routed(k, given, "unknown", "", "refused", "", "", 0.0, 0.0)
    layer = route(kind, level, bugs)
    typed = kind.value if given in KNOWN else "unknown"
    if layer is Layer.PBFT:
        return Routed(k, given, typed, "pbft", "agreed", "bft", level, 0.0, 0.1)
    if layer is Layer.GOSSIP:
        answer = "agreed" if status_agreed(bugs) else "gossiped"
        return Routed(k, given, typed, "gossip", answer, "gossip", level, 0.0, 0.1)
    committed = status == COMMITTED
    how = ("bft" if level in ("High", "Critical") else "raft") if committed else ""
    answer = "agreed" if hybrid_agreed(status, bugs) else "rejected"
    return Routed(k, given, typed, "hybrid", answer, how, level, 0.0, 0.1, 1, committed)


# every type at None, a misspelling, a coordination operation rejected at a switch, escalation
SCRIPT = [
    ("critical", "None", COMMITTED),
    ("coordination", "None", COMMITTED),
    ("status", "None", COMMITTED),
    ("critcal", "None", COMMITTED),
    ("coordination", "Low", REJECTED),
    ("coordination", "Critical", COMMITTED),
    ("critical", "Medium", COMMITTED),
]


def _log(tmp_path: Path, bugs: frozenset[str]) -> Path:
    out = tmp_path / "routing.ndjson"
    ops = [routed_as(bugs, k, *step) for k, step in enumerate(SCRIPT, start=1)]
    routing_log.write(ops, out, "seed-1")
    return out


def test_the_stored_routing_log_of_a_cluster_run_is_valid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--spec", "Routing", str(STORED)]) == 0
    assert capsys.readouterr().out.startswith("valid:")


def test_a_corrupted_routing_log_is_rejected_at_the_record_it_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = STORED.read_text(encoding="utf-8").splitlines()
    # the first status write the manager answered: told "agreed" instead of "gossiped"
    at = next(k for k, line in enumerate(lines) if '"told": "gossiped"' in line)
    lines[at] = lines[at].replace('"told": "gossiped"', '"told": "agreed"')
    bad = tmp_path / "corrupted.ndjson"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["validate", "--spec", "Routing", str(bad)]) == 1
    out = capsys.readouterr().out
    # the verdict starts with the file and line at fault (meshcheck validate's first line)
    assert out.startswith(f"invalid at {bad}:{at + 1}: explained up to line {at}")
    assert f"corrupted.ndjson:{at + 1}: GossipWrite" in out
    assert "told[manager]: logged agreed, spec gossiped" in out


def _validate(log: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`meshcheck validate --spec Routing LOG`: its exit code and output (the model fitted)."""
    code = main(["validate", "--spec", "Routing", str(log)])
    return code, capsys.readouterr().out


def test_the_correct_managers_log_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _validate(_log(tmp_path, frozenset()), capsys)
    assert code == 0, out
    assert out.startswith("valid:")


@pytest.mark.parametrize(
    ("bug", "shows"),
    [
        # a critical operation decided by the hybrid dispatcher's Raft epoch at level None
        (mutants.CRITICAL_TO_RAFT_AT_NONE, "DecideRaft(o=o1) is no step"),
        # a status write answered as agreed
        (mutants.STATUS_COUNTED_COMMITTED, "told[manager]: logged agreed, spec gossiped"),
        # a misspelt type routed to gossip instead of refused
        (mutants.UNKNOWN_TO_GOSSIP, "Route(o=o4) is no step"),
        # an operation its epoch ended without, answered as agreed
        (mutants.REJECTED_COUNTED_AS_AGREED, "told[manager]: logged agreed, spec rejected"),
    ],
)
def test_each_routing_mutant_is_rejected_by_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bug: str, shows: str
) -> None:
    code, out = _validate(_log(tmp_path, frozenset({bug})), capsys)
    assert code == 1, out
    assert out.startswith("invalid at ")
    assert shows in out


def test_the_log_fits_ops_epochs_and_changes() -> None:
    records = logformat.read(STORED)
    fitted = fit_routing(records, {})
    changes = [r for r in records if r.action == "LevelChange"]
    assert fitted["MaxChanges"] == str(len(changes))
    assert int(fitted["MaxEpoch"]) >= 1
    assert fitted["Ops"].count('"o') == len({r.params["o"] for r in records if "o" in r.params})


def test_a_level_moves_up_at_once_and_down_one_level_at_a_time() -> None:
    assert routing_log.path("None", "Critical") == ["Critical"]
    assert routing_log.path("Critical", "Low") == ["High", "Medium", "Low"]
    assert routing_log.path("Low", "Low") == []


def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ndjson"
    shutil.copy(STORED, bad)
    bad.write_text(bad.read_text(encoding="utf-8").replace('"manager"', '"router"', 1))
    assert main(["validate", "--spec", "Routing", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'router' is not a server" in err

"""The isolation-level control (meshcheck/systems/levels.py, levels_run.py) without a server: the
shipped PostgreSQL levels file is Hermitage's table; hand-made histories with a known anomaly
each (read skew, write skew, a non-repeatable read inside one transaction) are searched by the real
checkers and judged at each level as Hermitage says; the command's runs stood in for by a fake
`cluster test` that writes such a history, so its exit status and its lines are the ones a
forbidden anomaly, an allowed one never seen, or a run not judged give. Each test well under a
second."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems import levels as lv
from meshcheck.systems import levels_run

PG = lv.HERE / "postgresql.toml"

Event = tuple[int, str, list[list[Any]]]


def _write(path: Path, events: list[Event]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"process": p, "f": "txn", "type": t, "value": v}) for p, t, v in events]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# read skew (G-single): T1 appends to x and y; T2, beside it, reads T1's x and the y before it
READ_SKEW: list[Event] = [
    (0, "invoke", [["append", "x", 1], ["append", "y", 2]]),
    (1, "invoke", [["r", "x", None], ["r", "y", None]]),
    (0, "ok", [["append", "x", 1], ["append", "y", 2]]),
    (1, "ok", [["r", "x", [1]], ["r", "y", []]]),
    (2, "invoke", [["r", "x", None], ["r", "y", None]]),
    (2, "ok", [["r", "x", [1]], ["r", "y", [2]]]),
]
# write skew (G2 on keys, Hermitage's G2-item): each reads the key the other appends to, empty
WRITE_SKEW: list[Event] = [
    (0, "invoke", [["r", "x", None], ["append", "y", 1]]),
    (1, "invoke", [["r", "y", None], ["append", "x", 2]]),
    (0, "ok", [["r", "x", []], ["append", "y", 1]]),
    (1, "ok", [["r", "y", []], ["append", "x", 2]]),
    (2, "invoke", [["r", "x", None], ["r", "y", None]]),
    (2, "ok", [["r", "x", [2]], ["r", "y", [1]]]),
]
# a non-repeatable read inside one transaction: T2 reads x twice, T1's append between; internal
# (its reads disagree) and, as Adya has it, a G-single (T2 read x before T1 appended, and after)
FUZZY: list[Event] = [
    (1, "invoke", [["r", "x", None], ["r", "x", None]]),
    (0, "invoke", [["append", "x", 1]]),
    (0, "ok", [["append", "x", 1]]),
    (1, "ok", [["r", "x", []], ["r", "x", [1]]]),
]
# nothing wrong: one transaction after the other
SERIAL: list[Event] = [
    (0, "invoke", [["append", "x", 1]]),
    (0, "ok", [["append", "x", 1]]),
    (1, "invoke", [["r", "x", None]]),
    (1, "ok", [["r", "x", [1]]]),
]


def _levels() -> dict[str, lv.Level]:
    return {level.name: level for level in lv.load(PG).levels}


def test_the_postgresql_file_is_hermitages_table() -> None:
    found = lv.load(PG)
    assert found.system == "postgresql" and found.setting == "client.isolation"
    levels = _levels()
    assert list(levels) == ["read-committed", "repeatable-read", "serializable"]
    # Hermitage's README: read committed prevents G0 .. OTV, repeatable read is snapshot
    # isolation (all but G2-item and G2), serializable prevents every one
    assert levels["read-committed"].allows == ("PMP", "P4", "G-single", "G2-item", "G2")
    assert levels["repeatable-read"].allows == ("G2-item", "G2")
    assert levels["repeatable-read"].model == "snapshot-isolation"
    assert levels["serializable"].allows == ()


@pytest.mark.parametrize(
    ("events", "kinds"),
    [
        (READ_SKEW, {"G-single"}),
        (WRITE_SKEW, {"G2"}),
        (FUZZY, {"internal", "G-single"}),
        (SERIAL, set()),
    ],
    ids=["read-skew", "write-skew", "fuzzy", "serial"],
)
def test_the_checker_finds_each_histories_anomaly(
    tmp_path: Path, events: list[Event], kinds: set[str]
) -> None:
    found = lv.anomalies("list-append", _write(tmp_path / "history.jsonl", events))
    assert set(found) == kinds, found


@pytest.mark.parametrize(
    ("anomaly", "forbidden_at"),
    [
        ("G0", {"read-committed", "repeatable-read", "serializable"}),
        ("G1c", {"read-committed", "repeatable-read", "serializable"}),
        ("G-single", {"repeatable-read", "serializable"}),
        ("internal", {"repeatable-read", "serializable"}),  # by the lattice: no Hermitage column
        ("G2", {"serializable"}),
        ("G-nonadjacent", {"repeatable-read", "serializable"}),  # snapshot isolation rules it out
        ("G2-realtime", set()),  # real time: none of these levels promises it
    ],
)
def test_each_anomaly_is_forbidden_where_hermitage_or_the_lattice_says(
    anomaly: str, forbidden_at: set[str]
) -> None:
    said = {name for name, level in _levels().items() if level.forbidden(anomaly)}
    assert said == forbidden_at


def test_a_level_says_how_often_each_allowed_anomaly_was_seen_and_which_never() -> None:
    rc = _levels()["read-committed"]
    runs = (
        lv.Run(rc.name, "list-append", Path("a"), {"G-single": 3, "internal": 1}),
        lv.Run(rc.name, "list-append", Path("b"), {}, code=1),
        lv.Run(rc.name, "rw-register", Path("c"), {}, judged=False, why="no transaction committed"),
    )
    judged = lv.Judged(rc, runs)
    assert judged.holds and not judged.shown
    assert judged.never_seen() == ["G2-item"]
    assert judged.cell("G-single") == "— 1/2" and judged.cell("G0") == "✓ 0/2"
    assert judged.cell("PMP") == "— n/a"
    text = "\n".join(judged.lines())
    assert "G-single allowed, seen in 1 of 2 runs (list-append 1/2)" in text
    assert "G2-item allowed, seen in 0 of 2 runs (list-append 0/2)" in text
    assert "not shown: G2-item allowed, never seen" in text
    assert "internal allowed by read-committed" in text
    assert (
        "own checks failed or were undecided in 1 of 2 runs (each run's test.txt says which): list-append b"
        in text
    )
    assert "not judged: rw-register c: no transaction committed" in text


def test_a_forbidden_anomaly_breaks_the_level_and_none_judged_is_no_pass() -> None:
    levels = _levels()
    rr = lv.Judged(
        levels["repeatable-read"],
        (lv.Run("repeatable-read", "list-append", Path("r1"), {"G-single": 1, "G2": 2}),),
    )
    assert not rr.holds
    assert "FORBIDDEN ANOMALY FOUND in 1 run: G-single (list-append, r1)" in rr.lines()[0]
    empty = lv.Judged(levels["serializable"], ())
    assert not empty.holds and "NOT JUDGED" in empty.lines()[0]


def _fake(by_level: dict[str, list[Event]], codes: dict[str, int] | None = None) -> Any:
    """A `cluster test` stood in for: the history of the level its --set names written to --out."""
    argvs: list[list[str]] = []

    def run_test(argv: list[str]) -> int:
        argvs.append(argv)
        level = next(a.split("=", 1)[1] for a in argv if a.startswith("client.isolation="))
        out = Path(argv[argv.index("--out") + 1])
        _write(out / "history.jsonl", by_level[level])
        return (codes or {}).get(level, 0)

    run_test.argvs = argvs  # type: ignore[attr-defined]
    return run_test


def _run(tmp_path: Path, run_test: Any, workloads: tuple[str, ...] = ("list-append",)) -> int:
    return levels_run.run(
        run_test, "postgresql", "", [], workloads, 2, ["--time", "1"], tmp_path, lambda _: None
    )


def test_the_control_passes_when_each_level_shows_what_it_allows_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = [
        [[f, "z" if k == "x" else "w", v] for f, k, v in value] for _, _, value in WRITE_SKEW
    ]
    skew_both = READ_SKEW + [
        (p + 10, t, v) for (p, t, _), v in zip(WRITE_SKEW, renamed, strict=True)
    ]
    fake = _fake(
        {"read-committed": skew_both, "repeatable-read": WRITE_SKEW, "serializable": SERIAL}
    )
    assert _run(tmp_path, fake) == 0
    printed = capsys.readouterr().out
    assert printed.endswith("levels: every level as Hermitage tabulates it\n"), printed
    assert "G2-item allowed, seen in 2 of 2 runs (list-append 2/2)" in printed
    assert (tmp_path / "levels.txt").read_text(encoding="utf-8") == printed
    # each run at its level, the level's model promised, no faults
    argv = fake.argvs[2]
    assert "client.isolation=repeatable-read" in argv
    assert "promises.list-append=snapshot-isolation" in argv
    assert argv[argv.index("--nemesis") + 1] == "none"


def test_a_forbidden_anomaly_fails_the_control(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _fake(
        {"read-committed": READ_SKEW, "repeatable-read": FUZZY, "serializable": WRITE_SKEW}
    )
    assert _run(tmp_path, fake) == 1
    printed = capsys.readouterr().out
    assert "repeatable-read (snapshot isolation; promised snapshot-isolation): FORBIDDEN" in printed
    assert "serializable (serializable; promised serializable): FORBIDDEN" in printed
    assert "levels: repeatable-read, serializable NOT as Hermitage says" in printed


def test_an_allowed_anomaly_never_seen_is_said_and_is_no_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _fake({"read-committed": READ_SKEW, "repeatable-read": SERIAL, "serializable": SERIAL})
    assert _run(tmp_path, fake) == 1
    printed = capsys.readouterr().out
    assert "read-committed (monotonic atomic view; promised read-committed): none" in printed
    assert "not shown: G2-item allowed, never seen" in printed
    assert "NOT SHOWN at read-committed, repeatable-read" in printed


def test_a_run_that_failed_is_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = _fake(
        {"read-committed": WRITE_SKEW, "repeatable-read": WRITE_SKEW, "serializable": SERIAL},
        codes={"serializable": 130},
    )
    assert _run(tmp_path, fake) == 1
    printed = capsys.readouterr().out
    assert "serializable (serializable; promised serializable): NOT JUDGED" in printed
    assert "not judged: list-append list-append-1: cluster test exited 130" in printed


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--system", "etcd"], "--system etcd: no levels file (meshcheck ships: postgresql)"),
        (
            ["--system", "postgresql", "--level", "snapshot"],
            "--level snapshot: postgresql.toml has",
        ),
        (["--system", "postgresql", "--workload", "registers"], "--workload registers: choose"),
        (["--system", "postgresql", "--runs", "0"], "--runs"),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "levels", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('system = "x"\nsetting = "s"\nsource = "y"\n', "levels: expected a table of levels"),
        (
            'system = "x"\nsetting = "s"\nsource = "y"\n[levels.a]\ncalled = "c"\n'
            'model = "snapshot"\nprevents = []\nallows = []\n',
            "model: 'snapshot' is none of",
        ),
        (
            'system = "x"\nsetting = "s"\nsource = "y"\n[levels.a]\ncalled = "c"\n'
            'model = "serializable"\nprevents = ["G0"]\nallows = []\n',
            "prevents and allows name each of Hermitage's columns once",
        ),
        (
            'system = "x"\nsetting = "s"\nsource = "y"\nextra = 1\n[levels.a]\n',
            "extra: unknown key",
        ),
    ],
)
def test_a_bad_levels_file_is_one_line(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        lv.load(path)
    assert said in str(e.value) and "\n" not in str(e.value)

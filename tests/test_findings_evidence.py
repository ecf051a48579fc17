"""Every finding's evidence folder (docs/findings/*/replay.txt) replays to the verdict the page
gives it: a history kept as evidence that no longer says what docs/findings.md says of it is a
wrong finding, whichever changed, the checker or the file."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from meshcheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = ROOT / "docs" / "findings"
# the verdict docs/findings.md gives each folder's history: 1 violated, 0 holds
VERDICTS = {
    "etcd-clock-lease": 1,
    "etcd-power-all": 1,
    "etcd-power-all-cas": 1,
    "etcd-power-all-fenced-lock": 1,
    "etcd-power-all-list-append": 1,
    "etcd-power-journal-cas": 0,  # the journal durability model: nothing acknowledged lost
    "zookeeper-power-journal": 0,
    "nats-power-journal": 1,
    # re-judged by the promise (docs/systems.md, Promises): the stale reads each kept
    "zookeeper-plain-reads-cut": 0,  # plain reads: sequential consistency holds
    "etcd-serializable-partition": 0,  # serializable reads: monotonic reads hold
    # MariaDB Galera Cluster 10.11 (docs/findings.md): judged by the promise, repeatable read
    "galera-lost-update-one-node": 1,  # G-single on one node (innodb_snapshot_isolation OFF)
    "galera-lost-update-two-nodes": 1,  # G-single across two nodes
    "galera-rw-register-write-skew": 1,  # G2 alone: snapshot isolation still possible
    "galera-stale-read": 1,  # strict serializable: G-single-realtime (serializable holds)
    "galera-kills-flush0": 1,  # 21 acknowledged appends lost, incompatible orders
    "galera-kills-flush2": 1,  # G-single; every acknowledged append kept
    "galera-power-flush2": 1,  # a power failure of every node at FLUSH=2: 6 appends lost
    "galera-power-strict": 1,  # strict durability, FLUSH=1: the cluster began anew, 497 lost
}


def test_every_folder_with_a_replay_has_its_verdict_here() -> None:
    assert {p.parent.name for p in FINDINGS.glob("*/replay.txt")} == set(VERDICTS)


@pytest.mark.parametrize("folder", sorted(VERDICTS))
def test_the_replay_gives_the_pages_verdict(
    folder: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    words = shlex.split((FINDINGS / folder / "replay.txt").read_text(encoding="utf-8"))
    assert words[:3] == ["meshcheck", "history", "check"]
    assert words[3] == f"docs/findings/{folder}/history.jsonl"
    monkeypatch.chdir(ROOT)
    assert main(words[1:]) == VERDICTS[folder], capsys.readouterr().out


# what docs/findings.md says each kept Galera history shows, beyond the exit code
GALERA = {
    "galera-lost-update-one-node": (
        "G-cursor (1), G-single (2)",
        "ruled out: cursor-stability",
        "0 lost",
    ),
    "galera-lost-update-two-nodes": (
        "T63 read la/2 without 66",
        "appended 72 right after T58's 66",
    ),
    "galera-rw-register-write-skew": (
        "ruled out: repeatable-read",
        "not decided: snapshot-isolation",
        "0 lost",
    ),
    "galera-stale-read": ("serializable but not strict serializable", "5 lost"),
    "galera-kills-flush0": ("incompatible-order", "21 lost"),
    "galera-kills-flush2": ("G-single", "702 acknowledged, 0 lost"),
    "galera-power-flush2": ("incompatible-order", "238 acknowledged, 6 lost"),
    "galera-power-strict": ("incompatible-order", "979 acknowledged, 497 lost"),
}


@pytest.mark.parametrize("folder", sorted(GALERA))
def test_the_galera_replays_say_what_the_page_says(
    folder: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    words = shlex.split((FINDINGS / folder / "replay.txt").read_text(encoding="utf-8"))
    monkeypatch.chdir(ROOT)
    main(words[1:])
    said = capsys.readouterr().out
    assert all(part in said for part in GALERA[folder]), said

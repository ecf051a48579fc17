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

"""The host's order within one step (impl/runtime/host.py): the node's log lines of a step are
written right after the step's state record and before its fsync, so that a kill -9 keeps both
or neither. Either order of the two alone lost one of them with a replica killed at the wrong
moment, and the restarted replica's next line was no step of PBFT.tla: a line written first
outlived a stable checkpoint's write still being encoded, and a line written after the fsync was
lost with a replica killed during it (found by a `make verify --explore` run's cluster row and
the cluster runs of its seed, docs/cluster.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.runtime import disk as disk_module
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.disk import whole_records
from meshcheck.impl.runtime.host import Host
from meshcheck.impl.runtime.nodelog import NodeLog
from meshcheck.impl.runtime.protocols import protocol

CODEC = protocol("pbft").codec()


class Checkpointing:
    """A core whose every step is one logged action and one write, in the order cores return
    them (the action first: impl/pbft/actions.py `lead`)."""

    def __init__(self) -> None:
        self.stable = 0

    def step(self, event: Any) -> list[Effect]:
        self.stable += 20
        return [
            Action("StableCheckpoint", FrozenDict({"n": self.stable})),
            Persist((Put("stable", self.stable),)),
        ]


def lines_of(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def records_of(path: Path) -> int:
    return len(whole_records(path.read_bytes(), CODEC)[0])


class Watched(Disk):
    """A disk that notes what the file and the node's log hold when the host's `written` runs,
    and what the log holds before and after the whole write."""

    def __init__(self, path: Path, log: Path) -> None:
        super().__init__(path, CODEC)
        self.log_path = log
        self.seen: list[tuple[str, int, int]] = []  # (when, records, log lines)

    def persist(self, writes: Any, written: Callable[[], None] | None = None) -> None:
        def noted() -> None:
            self.seen.append(("written", records_of(self.path), lines_of(self.log_path)))
            if written is not None:
                written()

        self.seen.append(("before", records_of(self.path), lines_of(self.log_path)))
        super().persist(writes, noted)
        self.seen.append(("after", records_of(self.path), lines_of(self.log_path)))


def test_a_steps_log_line_is_written_between_its_record_and_the_fsync(tmp_path: Path) -> None:
    log = NodeLog(tmp_path / "node.ndjson", "run", "r1", lambda c, a, n: {"stable": c.stable})
    disk = Watched(tmp_path / "state.wal", log.path)
    disk.load()
    host = Host("r1", Checkpointing(), CODEC, disk, {}, log=log)
    for _ in range(2):
        host._step(Tick("t"))
    log.close()
    disk.close()
    # (when, records in the file, lines in the log): the record first, then its line, each step
    assert disk.seen == [
        ("before", 0, 0), ("written", 1, 0), ("after", 1, 1),
        ("before", 1, 1), ("written", 2, 1), ("after", 2, 2),
    ]  # fmt: skip
    lines = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [line["state"]["stable"] for line in lines] == [20, 40]
    assert Disk(tmp_path / "state.wal", CODEC).load()["stable"] == 40


def test_the_disk_runs_written_after_the_record_and_before_the_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    monkeypatch.setattr(disk_module.os, "fsync", fsync)
    disk = Disk(tmp_path / "state.wal", CODEC)
    disk.load()
    calls.clear()  # a first boot's fsyncs of the file's folders, before any record
    disk.persist((Put("k", 1),), lambda: calls.append(f"written with {records_of(disk.path)}"))
    disk.close()
    assert calls == ["written with 1", "fsync"]

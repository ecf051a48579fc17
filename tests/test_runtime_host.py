"""The host's order within one step (impl/runtime/host.py): the step's state is on disk before the
node's log claims the step and before its messages leave. A log line written first is a step a
kill -9 can take back: the restarted node comes back from older state than its log's last line
says, and the log's next line is no step of the spec (a PBFT replica's stable checkpoint, logged
at 160 and back at 140, found by a `make verify --explore` run's cluster row)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshcheck.impl.base.effects import Action, Effect, Persist, Put
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.host import Host
from meshcheck.impl.runtime.nodelog import NodeLog
from meshcheck.impl.runtime.protocols import protocol


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


class Watched(Disk):
    """A disk that notes, at each write, how many lines the node's log holds."""

    def __init__(self, path: Path, log: Path) -> None:
        super().__init__(path, protocol("pbft").codec())
        self.log_path = log
        self.lines_at_write: list[int] = []

    def persist(self, writes: Any) -> None:
        text = self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""
        self.lines_at_write.append(len(text.splitlines()))
        super().persist(writes)


def test_a_steps_log_line_comes_after_its_write(tmp_path: Path) -> None:
    core = Checkpointing()
    log = NodeLog(tmp_path / "node.ndjson", "run", "r1", lambda c, a: {"stable": c.stable})
    disk = Watched(tmp_path / "state.wal", log.path)
    disk.load()
    host = Host("r1", core, protocol("pbft").codec(), disk, {}, log=log)
    for _ in range(3):
        host._step(Tick("t"))
    log.close()
    disk.close()
    assert disk.lines_at_write == [0, 1, 2]  # each write before its own step's line
    lines = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [line["state"]["stable"] for line in lines] == [20, 40, 60]
    again = Disk(tmp_path / "state.wal", protocol("pbft").codec())
    assert again.load()["stable"] == 60  # what the last line claims is on disk

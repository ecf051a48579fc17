"""The manager's routing log: what the router of `meshcheck cluster test --protocol manager`
(routed.py) did, as one NDJSON log in specs/Routing.tla's vocabulary (the format of
traces/logs/format.py, one node: the manager), validated by `meshcheck validate --spec Routing`
through specs/RoutingLogs.tla (docs/logs.md, "The manager's routing log").

The log is written from the router's operations (`Routed`) once the run has ended, each operation
as one stretch of records in the order the router took them (its id):

- `LevelChange(l)` records first, when the threat level the router read off the hybrid nodes when
  it routed (their samples: routed.py `level_of`) is not where the log left it: up at once, down
  one level at a time (Routing.tla's LevelChange, ThreatLevel.tla);
- `Submit(o, t)` with the type the manager read ("unknown" for one it does not know), `Route(o)`
  when the router sent it to a layer;
- then what the submitter was told: `Refuse(o)`; `DecideBFT(o)` for PBFT's "agreed";
  `GossipWrite(o)` for gossip's answer; for the hybrid dispatcher, `DecideRaft(o)` or
  `DecideBFT(o)` by the protocol of the epoch that committed it, or, for an answer from an epoch
  that ended without it, a LevelChange to the other protocol (the switch that ended the epoch)
  and `Reject(o)`. An operation whose outcome is not known (a timeout, a layer's refusal to
  answer) stays routed, as Routing.tla allows.

Every record gives `level` after its step, and each answering one `told` at the manager: what the
submitter was told ("agreed", "gossiped", "refused", "rejected").

One stretch per operation is a linearization, not the interleaving in time: Routing.tla's layers
are black boxes, and an operation's steps touch only its own variables and the level. The level
the router reads is a sample, so it may lag the dispatcher: for a coordination operation the log
takes the level to the protocol of the epoch that committed it before routing it (the hybrid
layer's own logs, validated against Hybrid.tla, judge which epoch committed what). The log's
epochs are the spec's count of protocol switches, not the dispatcher's epoch numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Protocol

LEVELS = ("None", "Low", "Medium", "High", "Critical")  # Routing.tla's Levels, by rank
BFT_LEVELS = frozenset({"High", "Critical"})


class RoutedOp(Protocol):
    """What the log needs of one of the router's operations (routed.py `Routed`)."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def layer(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def how(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def committed(self) -> bool: ...


def protocol(level: str) -> str:
    return "bft" if level in BFT_LEVELS else "raft"


def path(start: str, end: str) -> list[str]:
    """The levels a LevelChange takes from `start` to `end`: up at once, down one at a time."""
    a, b = LEVELS.index(start), LEVELS.index(end)
    if b >= a:
        return [end] if b > a else []
    return list(LEVELS[b:a][::-1])


def toward(level: str, wanted: str) -> str:
    """The nearest level to `level` whose protocol is `wanted`."""
    if protocol(level) == wanted:
        return level
    return "High" if wanted == "bft" else "Medium"


def steps(routed: Sequence[RoutedOp]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(action, params, state after) of each record, in order."""
    level = "None"

    def move(to: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        nonlocal level
        for step in path(level, to):
            level = step
            yield "LevelChange", {"l": step}, {"level": level}

    for r in sorted(routed, key=lambda r: r.id):
        o = f"o{r.id}"
        if r.layer:
            at = r.level if r.level in LEVELS else level
            if r.layer == "hybrid" and r.committed and r.how in ("raft", "bft"):
                at = toward(at, r.how)
            yield from move(at)
        yield "Submit", {"o": o, "t": r.type}, {"level": level}
        if not r.layer:
            if r.answer == "refused":
                yield "Refuse", {"o": o}, {"level": level, "told": "refused"}
            continue
        yield "Route", {"o": o}, {"level": level}
        told = {"level": level, "told": r.answer}
        if r.layer == "pbft" and r.answer == "agreed":
            yield "DecideBFT", {"o": o}, told
        elif r.layer == "gossip" and r.answer in ("gossiped", "agreed"):
            yield "GossipWrite", {"o": o}, told
        elif r.layer == "hybrid" and r.committed and r.how in ("raft", "bft"):
            yield ("DecideBFT" if r.how == "bft" else "DecideRaft"), {"o": o}, told
        elif r.layer == "hybrid" and not r.committed and r.answer in ("rejected", "agreed"):
            yield from move(toward(level, "raft" if protocol(level) == "bft" else "bft"))
            yield "Reject", {"o": o}, {"level": level, "told": r.answer}


def write(routed: Sequence[RoutedOp], file: Path, run: str) -> int:
    """The routing log of `routed` at `file`; the number of records."""
    head = {"run": run, "node": "manager"}
    lines = [
        json.dumps({**head, "clock": k, "action": action, "params": params, "state": state})
        for k, (action, params, state) in enumerate(steps(routed), start=1)
    ]
    file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)

"""The refinement mapping: a HotStuff cluster as specs/HotStuff.tla's variables.

A block is its chain from genesis in the spec: the tuple of `[view |-> v, cmd |-> c]` records of
its ancestors and itself (genesis the empty tuple). The spec names a block's command and the
implementation batches requests: every command maps to `CMD` ("a", the one command of the spec's
models), so a validation model has `Cmds = {"a"}`; two blocks of one view with one parent and
different batches (only a Byzantine leader makes those) map to one spec block.

- `msgs`: every Proposal, Vote and NEW-VIEW an honest replica sent (the simulator's plug-in notes
  them per action: a spec record per message, `sent_records`);
- `view`, `lastVoted`, `highQC` (the block of the replica's highest QC), `locked`: the replica's,
  after the action (`Replica.snapshots`);
- `committed`: every non-empty prefix of every committed head.

Byzantine replicas keep the spec's initial values (TypeOK asks that), and none of their messages is
in `msgs` (the spec admits them through `SentVote` and `SentProposal`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.growth import Msgs
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.replica import Snapshot

VARIABLES: tuple[str, ...] = ("msgs", "view", "lastVoted", "highQC", "locked", "committed")
CMD = "a"
GENESIS_CHAIN: tuple[Value, ...] = ()


class Chains:
    """Blocks as the spec's chains, each built once from its parent's (`lookup` finds a block by
    hash among the replicas' stores)."""

    def __init__(self, lookup: Callable[[bytes], Block]) -> None:
        self.lookup = lookup
        self._chains: dict[bytes, tuple[Value, ...]] = {GENESIS.hash: GENESIS_CHAIN}
        self._prefixes: dict[bytes, frozenset[Value]] = {GENESIS.hash: frozenset()}
        self._committed: dict[tuple[bytes, ...], frozenset[Value]] = {(): frozenset()}

    def chain(self, h: bytes) -> tuple[Value, ...]:
        found = self._chains.get(h)
        if found is not None:
            return found
        todo = []
        while h not in self._chains:
            block = self.lookup(h)
            todo.append(block)
            h = block.parent
        chain = self._chains[h]
        for block in reversed(todo):
            chain = (*chain, FrozenDict({"view": block.view, "cmd": CMD}))
            self._chains[block.hash] = chain
        return chain

    def prefixes(self, h: bytes) -> frozenset[Value]:
        """Every non-empty prefix of h's chain."""
        found = self._prefixes.get(h)
        if found is not None:
            return found
        block = self.lookup(h)
        found = self.prefixes(block.parent) | {self.chain(h)}
        self._prefixes[h] = found
        return found

    def committed(self, heads: tuple[bytes, ...]) -> frozenset[Value]:
        found = self._committed.get(heads)
        if found is None:
            found = frozenset().union(*(self.prefixes(h) for h in heads))
            self._committed[heads] = found
        return found


def sent_records(message: Any, sender: str, chains: Chains) -> tuple[Value, ...]:
    """The spec's records of a message an honest replica sent (none for what the spec omits)."""
    record: dict[str, Value]
    if isinstance(message, Proposal):
        record = {"type": "Proposal", "block": chains.chain(message.block.hash), "src": sender}
    elif isinstance(message, Vote):
        record = {"type": "Vote", "block": chains.chain(message.block), "src": sender}
    elif isinstance(message, NewView):
        record = {
            "type": "NewView",
            "view": message.view,
            "qc": chains.chain(message.qc.block),
            "src": sender,
        }
    else:
        return ()
    return (FrozenDict(record),)


def message_record(message: Any) -> Value:
    """A message as a record for the network bag and the trace's display."""
    if isinstance(message, Proposal):
        b = message.block
        return FrozenDict(
            {"type": "Proposal", "view": b.view, "block": b.hash[:4].hex(), "src": b.proposer}
        )
    if isinstance(message, Vote):
        return FrozenDict(
            {
                "type": "Vote",
                "view": message.view,
                "block": message.block[:4].hex(),
                "src": message.voter,
            }
        )
    if isinstance(message, NewView):
        return FrozenDict(
            {"type": "NewView", "view": message.view, "qc": message.qc.view, "src": message.src}
        )
    fields = {"type": type(message).__name__}
    for name in ("client", "timestamp", "src"):
        if hasattr(message, name):
            fields[name] = getattr(message, name)
    if hasattr(message, "request"):
        fields["client"] = message.request.client
        fields["timestamp"] = message.request.timestamp
    return FrozenDict(fields)


class History(Msgs):
    """Every record honest replicas sent (the spec's msgs), frozen only when it grew."""


INITIAL = Snapshot(1, 0, GENESIS.hash, GENESIS.hash, ())


def abstract_state(
    snapshots: Mapping[str, Snapshot],
    replicas: Iterable[str],
    honest: frozenset[str],
    history: History,
    chains: Chains,
) -> FrozenDict:
    """The spec's variables, from each honest replica's state after the last action."""
    rs = tuple(replicas)
    state = {r: snapshots.get(r, INITIAL) if r in honest else INITIAL for r in rs}
    return FrozenDict(
        {
            "msgs": history.msgs(),
            "view": FrozenDict({r: s.view for r, s in state.items()}),
            "lastVoted": FrozenDict({r: s.last_voted for r, s in state.items()}),
            "highQC": FrozenDict({r: chains.chain(s.high_qc) for r, s in state.items()}),
            "locked": FrozenDict({r: chains.chain(s.locked) for r, s in state.items()}),
            "committed": FrozenDict({r: chains.committed(s.commits) for r, s in state.items()}),
        }
    )

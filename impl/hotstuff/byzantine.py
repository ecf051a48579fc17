"""Byzantine HotStuff replicas: simple behaviours over an honest core, in their own names only
(they hold only their own private key).

A `ByzantineReplica` runs the honest `Replica` and changes what it sends, by behaviour:

- `silent`: sends nothing at all (a crashed replica that never restarts; at N = 4 it leads every
  fourth view, so chained HotStuff commits nothing: specs/HotStuff.md, "Liveness");
- `equivocate`: as the leader of a view it proposes two blocks: its honest one to half of the
  replicas, and to the other half a block of the same view on a lower QC (the QC its parent's
  block carries: a fork below the highest QC), or with another batch when there is no lower one;
- `vote_all`: votes for every valid proposal it receives, whatever its lock and whether it voted
  in that view already (votes for conflicting blocks);
- `withhold`: never sends a vote.

With at most f of them the honest replicas stay safe (specs/HotStuff.tla: a Byzantine replica may
send any message in its own name); with f+1 that vote for everything and equivocate, two QCs of one
view form (property_tests/hotstuff/test_free_runs.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meshcheck.impl.base.effects import Effect, Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hotstuff.messages import Block, Proposal, Vote, proposal_bytes, vote_bytes
from meshcheck.impl.hotstuff.replica import Replica

BEHAVIOURS = ("silent", "equivocate", "vote_all", "withhold")


class ByzantineReplica:
    def __init__(self, inner: Replica, behaviours: Iterable[str]) -> None:
        self.inner = inner
        self.id = inner.id
        self.behaviours = frozenset(behaviours)
        unknown = self.behaviours - set(BEHAVIOURS)
        if unknown:
            raise ValueError(f"unknown Byzantine behaviours: {sorted(unknown)}")
        self._signer = inner.keys.signer(inner.id)
        self._voted: set[bytes] = set()

    def __repr__(self) -> str:
        return f"<Byzantine {self.id} {sorted(self.behaviours)}>"

    def step(self, event: Any) -> list[Effect]:
        effects = self.inner.step(event)
        if "silent" in self.behaviours:
            return [e for e in effects if not isinstance(e, Send)]
        out: list[Effect] = []
        config = self.inner.config
        for e in effects:
            if isinstance(e, Send) and isinstance(e.message, Vote):
                if "withhold" in self.behaviours:
                    continue
                self._voted.add(e.message.block)
            if (
                isinstance(e, Send)
                and isinstance(e.message, Proposal)
                and "equivocate" in self.behaviours
                and config.replicas.index(e.dest) % 2 == 1
            ):
                other = self._other(e.message.block)
                if other is not None:
                    out.append(Send(e.dest, other))
                    continue
            out.append(e)
        if (
            "vote_all" in self.behaviours
            and "withhold" not in self.behaviours
            and isinstance(event, Deliver)
            and isinstance(event.message, Proposal)
        ):
            b = event.message.block
            if b.hash not in self._voted and self.inner._valid_proposal(event.message):
                self._voted.add(b.hash)
                signature = self._signer.sign(vote_bytes(b.hash, b.view))
                out.append(
                    Send(config.leader(b.view + 1), Vote(b.hash, b.view, self.id, signature))
                )
        return out

    def _other(self, b: Block) -> Proposal | None:
        """A second block of b's view: on the QC b's parent carries (a lower QC), else b's parent
        with no batch."""
        parent = self.inner.blocks.get(b.parent)
        if parent is not None and parent.justify is not None:
            c = Block(parent.justify.block, b.view, parent.justify, b.proposer, b.batch)
        elif b.batch:
            c = Block(b.parent, b.view, b.justify, b.proposer, ())
        else:
            return None
        self.inner.blocks.setdefault(c.hash, c)  # so it can answer fetches for it
        return Proposal(c, self._signer.sign(proposal_bytes(c)))

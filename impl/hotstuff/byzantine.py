"""Byzantine HotStuff replicas: simple behaviours over an honest core, in their own names only
(they hold only their own private key).

A `ByzantineReplica` runs the honest `Replica` and changes what it sends, by behaviour:

- `silent`: sends nothing at all (a crashed replica that never restarts; at N = 4 it leads every
  fourth view, so chained HotStuff commits nothing: specs/HotStuff.md, "Liveness");
- `equivocate`: as the leader of a view it proposes two blocks: its honest one to the replicas of
  even index, and to those of odd index a block of the same view on a lower QC (a fork below the
  locks of the replicas that voted for the honest chain), or with another batch when there is no
  lower one; the replica of index 1 gets both, the other block first;
- `vote_all`: votes for every valid proposal it receives or makes, whatever its lock and whether
  it voted in that view already (votes for conflicting blocks);
- `withhold`: never sends a vote;
- `fuzz`: on a share of its steps, what it sends is changed at random positions and signed again
  in its name, and a mutation of a message it holds goes to a random peer, signed again or under
  the signatures it had (impl/hotstuff/fuzz.py, the ByzzFuzz line);
- `grow` (with `fuzz`): fuzzing that also, on half of its fuzzed steps, sends a held proposal or
  NEW-VIEW whose QC is grown by one vote: a vote repeated, its own added, a vote of another view
  or block (mutation.grow; docs/certificates.md);
- the lies to clients (impl/hotstuff/replies.py, `REPLY_BEHAVIOURS`): `lie_result`,
  `lie_timestamp`, `lie_src`, `lie_client`, `lie_duplicate`, `lying_replies` (all at once) and
  `fuzz_replies`: its replies rewritten, nothing else.

With at most f of them the honest replicas stay safe (specs/HotStuff.tla: a Byzantine replica may
send any message in its own name); with f+1 that vote for everything and equivocate, two QCs of one
view form (property_tests/hotstuff/test_free_runs.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hotstuff.fuzz import Fuzzer
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import BLOCKS
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.replies import REPLY_BEHAVIOURS
from meshcheck.impl.hotstuff.replies import Mouth

BEHAVIOURS = ("silent", "equivocate", "vote_all", "withhold", "fuzz", "grow", *REPLY_BEHAVIOURS)


class ByzantineReplica:
    def __init__(
        self,
        inner: Replica,
        behaviours: Iterable[str],
        made: list[Block] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.id = inner.id
        self.behaviours = frozenset(behaviours)
        unknown = self.behaviours - set(BEHAVIOURS)
        if unknown:
            raise ValueError(f"unknown Byzantine behaviours: {sorted(unknown)}")
        self._signer = inner.keys.signer(inner.id)
        self._voted: set[bytes] = set()
        self._votes: dict[tuple[bytes, int], dict[str, bytes]] = {}  # every valid vote it got
        # the blocks it made up besides its honest core's (kept across crashes by the host)
        self._made: list[Block] = made if made is not None else []
        self.fuzzer: Fuzzer | None = None
        self.lies = [REPLY_BEHAVIOURS[b] for b in sorted(self.behaviours & REPLY_BEHAVIOURS.keys())]
        config = inner.config
        if rng is None and (self.lies or "fuzz" in self.behaviours):
            rng = random.Random(f"{inner.keys.seed}:{self.id}")
        self.mouth: Mouth | None = None
        if self.lies:
            assert rng is not None
            self.mouth = Mouth(self.id, config.replicas, config.clients, self._signer, rng)
        if "grow" in self.behaviours and "fuzz" not in self.behaviours:
            raise ValueError("the Byzantine behaviour 'grow' is a kind of fuzzing: give 'fuzz' too")
        if "fuzz" in self.behaviours:
            assert rng is not None
            self.fuzzer = Fuzzer(
                self.id,
                self._signer,
                (*config.replicas, *config.clients),
                rng,
                grow=0.5 if "grow" in self.behaviours else 0.0,
            )

    def __repr__(self) -> str:
        return f"<Byzantine {self.id} {sorted(self.behaviours)}>"

    def step(self, event: Any) -> list[Effect]:
        out = self._step(event)
        if self.mouth is not None:
            if isinstance(event, Deliver):
                self.mouth.hear(event.message)
            for lie in self.lies:
                out = lie.act(self.mouth, out)
        if self.fuzzer is None:
            return out
        if isinstance(event, Deliver):
            self.fuzzer.hold(event.message)
        sends = [(e.dest, e.message) for e in out if isinstance(e, Send)]
        others = [e for e in out if not isinstance(e, Send)]
        return [*others, *(Send(d, m) for d, m in self.fuzzer.mutate(sends))]

    def _step(self, event: Any) -> list[Effect]:
        late: Proposal | None = None
        if isinstance(event, Deliver) and isinstance(event.message, Vote):
            v = event.message
            if self.inner.keys.verify(v.voter, v.signature, vote_bytes(v.block, v.view)):
                voters = self._votes.setdefault((v.block, v.view), {})
                voters[v.voter] = v.signature
                late = self._late_fork(v.block, v.view, voters)
        if isinstance(event, Restart):  # the blocks it made up and never stored come back too
            stored = tuple(event.persisted.get(BLOCKS, ()))
            persisted = {**event.persisted, BLOCKS: (*self._made, *stored)}
            effects = self.inner.step(Restart(persisted, now=event.now))
            self.inner._stored = len(stored)
        else:
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
                    self._vote_for(other.block, out)
                    if config.replicas.index(e.dest) != 1:
                        continue  # the second replica gets both blocks, the other block first
            out.append(e)
        if (
            "vote_all" in self.behaviours
            and "withhold" not in self.behaviours
            and isinstance(event, Deliver)
            and isinstance(event.message, Proposal)
        ) and self.inner._valid_proposal(event.message):
            self._vote_for(event.message.block, out)
        if late is not None:
            out.extend(self._to_odd(late))
        return out

    def _late_fork(self, h: bytes, view: int, voters: dict[str, bytes]) -> Proposal | None:
        """With `equivocate`: the votes for a second block of a view it proposed after reached a
        quorum (f+1 colluders make that possible): a block of its view on that QC too."""
        inner = self.inner
        quorum = inner.config.quorum
        if (
            "equivocate" not in self.behaviours
            or len(voters) != quorum
            or inner.config.leader(view + 1) != self.id
            or view + 1 not in inner.proposed
            or h not in inner.blocks
            or inner.high_qc.view != view
            or inner.high_qc.block == h
        ):
            return None
        qc = QC(h, view, tuple(sorted(voters.items())))
        c = Block(h, view + 1, qc, self.id, ())
        self._made.append(c)
        inner.blocks.setdefault(c.hash, c)
        return Proposal(c, self._signer.sign(proposal_bytes(c)))

    def _to_odd(self, p: Proposal) -> list[Effect]:
        out: list[Effect] = []
        for k, r in enumerate(self.inner.config.replicas):
            if k % 2 == 1:
                out.append(Send(r, p))
        self._vote_for(p.block, out)
        return out

    def _vote_for(self, b: Block, out: list[Effect]) -> None:
        """With `vote_all`: a vote for b, once, to the next leader."""
        if "vote_all" not in self.behaviours or "withhold" in self.behaviours:
            return
        if b.hash in self._voted:
            return
        self._voted.add(b.hash)
        signature = self._signer.sign(vote_bytes(b.hash, b.view))
        leader = self.inner.config.leader(b.view + 1)
        out.append(Send(leader, Vote(b.hash, b.view, self.id, signature)))

    def _other(self, b: Block) -> Proposal | None:
        """A second block of b's view: on a second QC of b's justify's view when it holds the
        votes for one (it can form it only with f+1 colluders: Lemma 1), else on the QC b's
        grandparent carries (two views below b's justify: a fork under the lock of the replicas
        that voted for b's parent), else on the QC b's parent carries, else b's parent with no
        batch."""
        blocks = self.inner.blocks
        assert b.justify is not None
        quorum = self.inner.config.quorum
        for (h, view), voters in self._votes.items():  # a second QC of the justify's view
            if (
                view == b.justify.view
                and h != b.justify.block
                and h in blocks
                and len(voters) >= quorum
            ):
                qc = QC(h, view, tuple(sorted(voters.items()))[:quorum])
                c = Block(h, b.view, qc, b.proposer, b.batch)
                self._made.append(c)
                self.inner.blocks.setdefault(c.hash, c)
                return Proposal(c, self._signer.sign(proposal_bytes(c)))
        parent = blocks.get(b.parent)
        grand = blocks.get(parent.parent) if parent is not None and parent.view else None
        if grand is not None and grand.justify is not None:
            c = Block(grand.justify.block, b.view, grand.justify, b.proposer, b.batch)
        elif parent is not None and parent.justify is not None:
            c = Block(parent.justify.block, b.view, parent.justify, b.proposer, b.batch)
        elif b.batch:
            c = Block(b.parent, b.view, b.justify, b.proposer, ())
        else:
            return None
        self._made.append(c)
        self.inner.blocks.setdefault(c.hash, c)  # so it can answer fetches for it
        return Proposal(c, self._signer.sign(proposal_bytes(c)))

"""HotStuff's side of the message fuzzer (impl/base/mutation.py): who signed each message, how a
Byzantine replica signs a changed message in its own name, which fields no signature covers and
why, and which messages are valid messages of their signers.

`Fuzzer` is the state of the `fuzz` behaviour (impl/hotstuff/byzantine.py): on a share of its steps
a Byzantine replica replaces what its honest core sends by mutations signed again in its name, and
sends a mutation of a message it holds (received or sent) to a random peer or the client, either
under the signatures it had (a relayed message altered) or signed again as its own (Winter,
Abeyratne, Saarinen, Oh: "Randomized Testing of Byzantine Fault Tolerant Algorithms", OOPSLA
2023). With at most f of them, the honest replicas stay safe and reject every forgery
(property_tests/hotstuff/oracle.py).

With `grow` (the behaviour of that name), on half of its fuzzed steps it also sends a held
proposal or NEW-VIEW whose QC it grew by one vote (impl/base/mutation.py `grow`, through
`HotStuffSigning.certificates` and `claim_vote`): a vote repeated, its own, one over another view or
block; added or in place of one (docs/certificates.md).

HotStuff's signatures (impl/hotstuff/messages.py): a proposal is its leader's signature over the
block's hash; a vote is its voter's signature over (block, view); a QC is 2f+1 such votes; a
request is its client's. A NEW-VIEW, a reply and the block-fetching messages carry no signature:
the network authenticates their sender (the replica drops a NEW-VIEW whose `src` is not the link's
sender), and fetched blocks are checked against the hashes that named them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base import mutation
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.crypto import Signer
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import BlockRequest
from meshcheck.impl.hotstuff.messages import BlockResponse
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes

# (type, field) -> why its signer's signature may leave the field out
UNSIGNED_FIELDS: Final[Mapping[tuple[type, str], str]] = {
    (Block, "justify"): (
        "the block's hash covers the justify's block (its parent) but not its view or votes: "
        "the votes sign (block, view) themselves, and a receiver checks them "
        "(Replica.valid_qc) and that the QC certifies the parent (Replica._valid_proposal)"
    ),
    (QC, "votes"): (
        "a set of votes each signed on its own: any 2f+1 distinct valid ones make the QC, in any "
        "order (Replica.valid_qc checks each, and that the voters are distinct)"
    ),
}

# (type, field) -> the values inside carry signatures of their own, which must be checked
SIGNED_PARTS: Final[Mapping[tuple[type, str], str]] = {
    (Block, "justify"): "Replica.valid_qc verifies each vote of the QC",
    (Block, "batch"): "Replica._valid_request verifies each request's client signature",
    (NewView, "qc"): "Replica.valid_qc verifies each vote of the QC",
}


def _bytes(x: Any) -> bool:
    return isinstance(x, bytes)


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _str(x: Any) -> bool:
    return isinstance(x, str)


def _request(r: Any) -> bool:
    return (
        isinstance(r, SignedRequest)
        and _bytes(r.signature)
        and _str(r.request.client)
        and _int(r.request.timestamp)
    )


def _qc(q: Any) -> bool:
    return (
        isinstance(q, QC)
        and _bytes(q.block)
        and _int(q.view)
        and isinstance(q.votes, tuple)
        and all(
            isinstance(v, tuple) and len(v) == 2 and _str(v[0]) and _bytes(v[1]) for v in q.votes
        )
    )


def _block(b: Any) -> bool:
    return (
        isinstance(b, Block)
        and _bytes(b.parent)
        and _int(b.view)
        and (b.justify is None or _qc(b.justify))
        and _str(b.proposer)
        and isinstance(b.batch, tuple)
        and all(_request(r) for r in b.batch)
    )


def well_typed(m: Any) -> bool:
    """Whether `m` is a message the wire format can carry: each field of the type messages.py
    declares (a view an int, a hash bytes, a batch of signed requests). What is not would not
    parse at the receiver; the fuzzer sends only what is (HotStuff.tla's Byzantine replicas send
    any well-typed message)."""
    if isinstance(m, Proposal):
        return _block(m.block) and _bytes(m.signature)
    if isinstance(m, Vote):
        return _bytes(m.block) and _int(m.view) and _str(m.voter) and _bytes(m.signature)
    if isinstance(m, NewView):
        return _int(m.view) and _qc(m.qc) and _str(m.src)
    if isinstance(m, SignedRequest):
        return _request(m)
    if isinstance(m, ReplyMsg):
        return _str(m.client) and _int(m.timestamp) and _str(m.src)
    if isinstance(m, BlockRequest):
        return _bytes(m.hash)
    if isinstance(m, BlockResponse):
        return isinstance(m.blocks, tuple) and all(_block(b) for b in m.blocks)
    return False


# messages no signature covers: the link authenticates their sender
LINK_AUTHENTICATED: Final = (NewView, ReplyMsg)


def signer_of(message: Any) -> str | None:
    """Who a message says made it (a block's proposer, a vote's voter, a request's client, an
    unsigned message's `src`); None for block fetching."""
    if isinstance(message, Proposal):
        return message.block.proposer
    if isinstance(message, Vote):
        return message.voter
    if isinstance(message, SignedRequest):
        return message.request.client
    if isinstance(message, LINK_AUTHENTICATED):
        return message.src
    return None


def qc_problem(qc: QC, keys: KeyRing, replicas: tuple[str, ...], quorum: int) -> str | None:
    """Why qc is not a QC (None: 2f+1 distinct replicas' valid votes, or genesis's)."""
    if qc == GENESIS_QC:
        return None
    data = vote_bytes(qc.block, qc.view)
    voters = [v for v, _ in qc.votes]
    if len(set(voters)) != len(voters):
        return f"a QC of view {qc.view} with a voter twice"
    for voter, signature in qc.votes:
        if voter not in replicas or not keys.verify(voter, signature, data):
            return f"a QC of view {qc.view} with a vote {voter!r} did not sign"
    if len(voters) < quorum or qc.view < 1:
        return f"a QC of view {qc.view} with {len(voters)} votes"
    return None


def forged_part(
    message: Any, source: str, keys: KeyRing, replicas: tuple[str, ...], quorum: int
) -> str | None:
    """Why `message`, delivered by `source`, is not a valid message of its signers (None: every
    signature inside checks and an unsigned message's `src` is its sender). The oracle's own
    judgement, independent of the replica's checks."""
    if isinstance(message, Proposal):
        b = message.block
        if not keys.verify(b.proposer, message.signature, proposal_bytes(b)):
            return f"a proposal of view {b.view} that {b.proposer!r} did not sign"
        if b.justify is None:
            return f"a proposal of view {b.view} without a justify"
        why = qc_problem(b.justify, keys, replicas, quorum)
        if why is not None:
            return f"a proposal of view {b.view} on {why}"
        for r in b.batch:
            if not keys.verify(r.request.client, r.signature, request_bytes(r.request)):
                return f"a proposal of view {b.view} with a request its client did not sign"
        return None
    if isinstance(message, Vote):
        if not keys.verify(
            message.voter, message.signature, vote_bytes(message.block, message.view)
        ):
            return f"a vote of view {message.view} that {message.voter!r} did not sign"
        return None
    if isinstance(message, SignedRequest):
        req = message.request
        if not keys.verify(req.client, message.signature, request_bytes(req)):
            return f"a request that {req.client!r} did not sign"
        return None
    if isinstance(message, NewView):
        if message.src != source:
            return f"a NEW-VIEW in {message.src!r}'s name sent by {source}"
        why = qc_problem(message.qc, keys, replicas, quorum)
        return None if why is None else f"a NEW-VIEW for view {message.view} with {why}"
    return None  # replies and block fetching: checked where used


class HotStuffSigning:
    """mutation.Signing for a Byzantine replica `me`: a changed proposal is made its own by naming
    it the proposer (the block's hash is computed again) and signing it; a vote by naming it the
    voter; an unsigned message by naming it the sender. A client's request cannot be claimed."""

    def __init__(self, me: str, signer: Signer) -> None:
        self.me = me
        self._signer = signer

    def signer(self, message: Any) -> str | None:
        return signer_of(message)

    def signed_part(self, message: Any) -> mutation.Path:
        return ("block",) if isinstance(message, Proposal) else ()

    def unsigned(self, value: Any) -> frozenset[str]:
        return frozenset(f for (cls, f) in UNSIGNED_FIELDS if isinstance(value, cls))

    # -- certificates (mutation.grow): a QC's votes, in a proposal's justify or a NEW-VIEW --

    def certificates(self, message: Any) -> list[mutation.Path]:
        if isinstance(message, Proposal) and isinstance(message.block.justify, QC):
            return [("block", "justify", "votes")]
        if isinstance(message, NewView) and isinstance(message.qc, QC):
            return [("qc", "votes")]
        return []

    def vote_signer(self, vote: Any) -> str | None:
        return vote[0] if isinstance(vote, tuple) and vote and isinstance(vote[0], str) else None

    def claim_vote(
        self, message: Any, path: mutation.Path, vote: Any, rng: random.Random | None
    ) -> Any | None:
        """A vote `(me, signature)` over the QC's (block, view), or with `rng` over another
        view or block: a vote of another statement, which no QC of this one may count."""
        qc = mutation.get(message, path[:-1])
        if not isinstance(qc, QC):
            return None
        block, view = qc.block, qc.view
        if rng is not None:
            other = mutation.restate(QC(block, view, ()), rng)
            block, view = other.block, other.view
        try:
            return (self.me, self._signer.sign(vote_bytes(block, view)))
        except (TypeError, ValueError, OverflowError):
            return None

    def claim(self, message: Any) -> Any | None:
        try:
            if isinstance(message, Proposal):
                b = attrs.evolve(message.block, proposer=self.me)
                return Proposal(b, self._signer.sign(proposal_bytes(b)))
            if isinstance(message, Vote):
                v = attrs.evolve(message, voter=self.me)
                return attrs.evolve(v, signature=self._signer.sign(vote_bytes(v.block, v.view)))
            if isinstance(message, LINK_AUTHENTICATED):
                return attrs.evolve(message, src=self.me)
        except (TypeError, ValueError, AttributeError, OverflowError):
            return None  # a body no encoding covers (a view out of range): nothing can sign it
        return None


class Fuzzer:
    """A Byzantine replica's fuzzing: `share` of its steps, each message its core sends replaced by
    a mutation in its name, and `burst` mutations of held messages to random peers; `sent` lists
    what it sent (the last 200), for the tests."""

    def __init__(
        self,
        me: str,
        signer: Signer,
        dests: tuple[str, ...],
        rng: random.Random,
        *,
        share: float = 0.3,
        burst: int = 1,
        resign: float = 0.5,
        aim: float = 0.5,
        grow: float = 0.0,
    ) -> None:
        self.signing = HotStuffSigning(me, signer)
        self.grow = grow  # chance, on a fuzzed step, of one more send: a held QC grown
        self.dests = tuple(d for d in dests if d != me)
        self.rng = rng
        self.donors = mutation.Donors(rng)
        self.held: list[Any] = []
        self.share, self.burst, self.resign, self.aim = share, burst, resign, aim
        self.sent: list[mutation.Fuzzed] = []
        self.ill_typed = 0  # mutations dropped: no wire format carries them

    def _fuzz(self, held: list[Any], dests: list[str], resign: float, aim: float) -> Any:
        try:
            fuzzed = mutation.fuzz(
                held, dests, self.rng, self.donors, self.signing, resign=resign, aim=aim
            )
        except (TypeError, ValueError, AttributeError, OverflowError):
            return None  # a value no message of that type can hold
        if fuzzed is not None and not well_typed(fuzzed.message):
            self.ill_typed += 1
            return None
        if fuzzed is not None:
            self.sent.append(fuzzed)
        return fuzzed

    def _grow(self) -> mutation.Fuzzed | None:
        """A held proposal or NEW-VIEW with its QC grown by one vote (mutation.grow)."""
        try:
            fuzzed = mutation.grow(self.held, list(self.dests), self.rng, self.donors, self.signing)
        except (TypeError, ValueError, AttributeError, OverflowError):
            return None
        if fuzzed is None or not well_typed(fuzzed.message):
            return None
        self.sent.append(fuzzed)
        return fuzzed

    def hold(self, message: Any) -> None:
        if isinstance(message, BlockResponse) or message is None:
            return  # long chains of blocks: their blocks come in proposals too
        if len(self.held) < 64:
            self.held.append(message)
        else:
            self.held[self.rng.randrange(64)] = message
        if self.rng.random() < 0.3:
            self.donors.add(message, depth=6)

    def mutate(self, own: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """What to send instead of `own` (destination, message) pairs, plus the burst."""
        for _, m in own:
            self.hold(m)
        if not self.held or self.rng.random() >= self.share:
            return own
        out = []
        for dest, m in own:
            fuzzed = self._fuzz([m], [dest], 1.0, self.aim)
            out.append((dest, fuzzed.message if fuzzed is not None else m))
        for _ in range(self.burst):
            fuzzed = self._fuzz(self.held, list(self.dests), self.resign, self.aim)
            if fuzzed is not None:
                out.append((fuzzed.dest, fuzzed.message))
        if self.grow and self.rng.random() < self.grow:  # no draw at all without it
            grown = self._grow()
            if grown is not None:
                out.append((grown.dest, grown.message))
        del self.sent[:-200]
        return out

"""Chained HotStuff's blocks, QCs and messages (Yin et al., PODC 2019, sections 5 and 6).

A `Block` is the paper's node: its parent's hash, the view it was proposed in (its height:
section 5 fills views without a QC with dummy nodes, so a direct parent is one view lower), its
justify QC (chained HotStuff: the QC for its parent, `createLeaf(genericQC.node, cmd,
genericQC)`), its proposer and a batch of signed client requests. Its hash covers all of these but
the justify's signatures (a QC certifies `parent`, which the hash covers, and the QC's votes sign
its view).

A `QC` is a block's hash, its view and 2f+1 distinct replicas' signatures over
`vote_bytes(block, view)`: the vote's signature binds both, so neither can be changed in transit.

Messages, named as the spec's records (specs/HotStuff.md): `Proposal` (a block signed by the
leader of its view), `Vote` (signed by the voter, sent to the leader of the next view),
`NewView` (a replica timed out into `view` and sends that view's leader its highest QC; the QC's
signatures make it unforgeable, and the network authenticates its sender). Besides the spec's
vocabulary: the client's `SignedRequest`, a replica's `ReplyMsg`, and block fetching
(`BlockRequest`, `BlockResponse`), by which a replica that missed proposals gets the ancestors a
proposal, a vote or a NEW-VIEW names, each checked against the hash that named it.
"""

from __future__ import annotations

from typing import Any
from typing import Final
from typing import TypeAlias
from typing import get_args

import attrs

from meshcheck.impl.base.shape import mismatch
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff.crypto import sha256


def _hex(data: object) -> str:
    # a Byzantine sender's message may hold anything where bytes belong: it prints as it is
    return f"<{data[:4].hex()}>" if isinstance(data, bytes) else repr(data)


@attrs.frozen(cache_hash=True)
class Request:
    """Client `client`'s request number `timestamp`, asking for operation `op`."""

    client: str
    timestamp: int
    op: Value


@attrs.frozen(cache_hash=True)
class SignedRequest:
    request: Request
    signature: bytes = attrs.field(repr=_hex)

    @property
    def key(self) -> tuple[str, int]:
        return (self.request.client, self.request.timestamp)


def request_bytes(r: Request) -> bytes:
    return f"request|{r.client}|{r.timestamp}|{r.op!r}".encode()


@attrs.frozen(cache_hash=True)
class QC:
    """A quorum certificate: 2f+1 votes `(voter, signature)` for `block` of `view`, sorted by
    voter. Genesis's QC has view 0 and no votes."""

    block: bytes = attrs.field(repr=_hex)
    view: int
    votes: tuple[tuple[str, bytes], ...] = attrs.field(default=(), repr=False)


# the views 8 signed bytes hold: what a vote's signature and a block's hash encode
VIEWS: Final = range(-(1 << 63), 1 << 63)


def vote_bytes(block: bytes, view: int) -> bytes:
    # signed: the same bytes for every view a correct replica uses, and a negative view from a
    # Byzantine one encodes instead of raising (one outside VIEWS is refused as malformed first)
    return b"vote|" + view.to_bytes(8, "big", signed=True) + block


@attrs.frozen(cache_hash=True)
class Block:
    parent: bytes = attrs.field(repr=_hex)
    view: int
    justify: QC | None
    proposer: str
    batch: tuple[SignedRequest, ...] = ()
    hash: bytes = attrs.field(init=False, repr=_hex, eq=False)

    def __attrs_post_init__(self) -> None:
        justify = self.justify.block if self.justify is not None else b""
        body = b"|".join(
            (
                b"block",
                self.parent,
                self.view.to_bytes(8, "big", signed=True),
                self.proposer.encode(),
                justify,
                *(sha256(request_bytes(r.request) + r.signature) for r in self.batch),
            )
        )
        object.__setattr__(self, "hash", sha256(body))


GENESIS = Block(b"", 0, None, "")
GENESIS_QC = QC(GENESIS.hash, 0)


def proposal_bytes(block: Block) -> bytes:
    return b"proposal|" + block.hash


@attrs.frozen(cache_hash=True)
class Proposal:
    """The leader of `block.view` proposes `block` (its signature over `proposal_bytes`)."""

    block: Block
    signature: bytes = attrs.field(repr=_hex)


@attrs.frozen(cache_hash=True)
class Vote:
    """`voter` votes for `block` of `view` (its signature over `vote_bytes(block, view)`)."""

    block: bytes = attrs.field(repr=_hex)
    view: int
    voter: str
    signature: bytes = attrs.field(repr=_hex)


@attrs.frozen(cache_hash=True)
class NewView:
    """`src` timed out into `view`; `qc` is its highest QC."""

    view: int
    qc: QC
    src: str


@attrs.frozen(cache_hash=True)
class ReplyMsg:
    """Replica `src` executed the client's request `timestamp` with `result`."""

    client: str
    timestamp: int
    result: Value
    src: str


@attrs.frozen(cache_hash=True)
class BlockRequest:
    """Send me the block with this hash and its ancestors."""

    hash: bytes = attrs.field(repr=_hex)


@attrs.frozen(cache_hash=True)
class BlockResponse:
    """A block and its ancestors, newest first (at most `FETCH_DEPTH` of them)."""

    blocks: tuple[Block, ...]


FETCH_DEPTH = 64

# what replicas and clients receive from one another (the client: replies only)
Message: TypeAlias = (
    Proposal | Vote | NewView | SignedRequest | ReplyMsg | BlockRequest | BlockResponse
)
_MESSAGES: Final = get_args(Message)


def malformed(value: Any) -> str | None:
    """Why `value`, received from another node, is not one of HotStuff's messages with every field
    of the type its class declares, all the way down (impl/base/shape.py: a block's justify QC and
    its votes, its batch's requests), or cannot be hashed; None: it is a message. A signature covers
    whatever its signer put in the fields, and a NEW-VIEW or a block response none at all: a
    Byzantine replica sends a string for a view, None for a block, a list for a request's operation
    as readily as a real message, and a replica that read it as what its class says (compared its
    view with a number, hashed it into the set of checked messages) would fail in its step. No
    honest node sends such a value. A request's operation and a reply's result are their client's
    business (`Value`: any value that can be hashed)."""
    # the message's own class first (every replica runs this on every message it receives)
    why = mismatch(value, type(value) if type(value) in _MESSAGES else Message)
    if why is not None:
        return why
    try:
        hash(value)
    except TypeError:
        return f"a {type(value).__name__} holding a value that cannot be hashed"
    if any(view not in VIEWS for view in _views(value)):
        # a vote for view 2**63 raised OverflowError in every replica it reached (its signature
        # checked over `vote_bytes`): no eight bytes hold that view, so no one signed it
        return f"a {type(value).__name__} with a view outside 64 bits"
    return None


def _views(m: Any) -> list[int]:
    """The views a well-formed message names: its own, its blocks' and their QCs'."""
    if isinstance(m, Vote):
        return [m.view]
    if isinstance(m, NewView):
        return [m.view, m.qc.view]
    blocks = (
        [m.block] if isinstance(m, Proposal) else m.blocks if isinstance(m, BlockResponse) else []
    )
    return [v for b in blocks for v in (b.view, b.justify.view if b.justify else 0)]

"""PBFT's side of the message fuzzer (impl/base/mutation.py): what is signed, by whom, how a Byzantine
replica signs a changed message in its own name, and which messages are valid messages of their
signers.

`Fuzz` is a behaviour like those of behaviours.py: on a share of its steps a Byzantine replica sends
mutations of messages it holds (its own, those it received, those it relays) to random peers and
clients, each changed at a few random positions (views, sequence numbers, digests, votes and
certificates shrunk, grown or swapped), then sent under the signatures it had (a relayed message
altered) or signed again as its own (Winter et al., "Randomized Testing of Byzantine Fault
Tolerant Algorithms", OOPSLA 2023: the ByzzFuzz line).

With `grow` set, a fuzzing replica also sends, on that share of its fuzzed steps, a held view
change or new view whose certificate it grew by one vote (impl/base/mutation.py `grow`, through
`certificates` and `PbftSigning.claim_vote`): a prepare repeated, its own (the primary's, where
only backups count), a second of a signer, one of another view, sequence number or digest; signed
again as its own message (docs/certificates.md).

What the signatures do not cover is declared here with the reason it is safe
(`UNSIGNED_FIELDS`), and so are the fields that carry messages with signatures of their own
(`SIGNED_PARTS`): tests/test_pbft_fuzz.py checks every reason against the receiver, and fails if a
message type of messages.py is added without being classified.

`forged_part(m, verify)` is the oracle: the first part of `m` that is not what its signer signed (a
signature that does not check, a body that names another signer, a pre-prepare whose batch is not
the one its digest names), or None for a valid message of its signers. Fields checked only where
they are used (a checkpoint's state) are not looked into.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base import mutation
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest

# (message type, field) -> why leaving the field out of the signed bytes is safe
UNSIGNED_FIELDS: Final[Mapping[tuple[type, str], str]] = {
    (PrePrepare, "batch"): (
        "the requests travel beside the signed digest (OSDI 1999 section 4.2): every receiver "
        "checks that the batch hashes to the digest before it takes the pre-prepare "
        "(replica._on_pre_prepare, viewchange.check_prepared, viewchange.check_new_view)"
    ),
    (Checkpoint, "history"): (
        "the state travels beside the signed state digest (section 4.3): a replica checks it "
        "against the digest before a state transfer installs it (replica._on_checkpoint, "
        "replica._can_adopt), and a mismatch proves nothing against the signer"
    ),
}

# (message type, field) -> the messages inside carry signatures of their own, which the outer
# signature covers but does not replace: each must be checked wherever the field is used
SIGNED_PARTS: Final[Mapping[tuple[type, str], str]] = {
    (PrePrepare, "batch"): "each request is signed by its client (replica._valid_request)",
    (PreparedProof, "pre_prepare"): "viewchange.check_prepared verifies it",
    (PreparedProof, "prepares"): "viewchange.check_prepared verifies each",
    (ViewChange, "ckpt_proof"): "viewchange.check_view_change verifies each checkpoint",
    (ViewChange, "prepared"): "viewchange.check_view_change checks each certificate",
    (NewView, "view_changes"): "viewchange.check_new_view verifies each view-change message",
    (NewView, "pre_prepares"): "viewchange.check_new_view verifies each pre-prepare",
}

# fields the oracle does not look inside: a checkpoint's state is checked where it is used, not on
# receipt; a request's operation is the client's payload, signed by the client as a whole (what it
# holds, e.g. the hybrid layer's evidence with the forged messages it proves, is the service's)
CHECKED_AT_USE: Final = frozenset({(Checkpoint, "history"), (Request, "operation")})

Verify = Callable[[Signed[Any]], bool]


def claimed_signer(body: Any) -> str | None:
    """Who a body says signed it: a request's client, any other message's `src`."""
    if isinstance(body, Request):
        return body.client
    src = getattr(body, "src", None)
    return src if isinstance(src, str) else None


def signed_parts(value: Any) -> Iterator[Signed[Any]]:
    """Every signed message inside `value` (itself included), outermost first, not looking into
    fields checked only where they are used."""
    stack = [value]
    while stack:
        here = stack.pop()
        if isinstance(here, Signed):
            yield here
        if isinstance(here, tuple | list):
            stack.extend(reversed(here))
        elif attrs.has(type(here)) and not isinstance(here, type):
            stack.extend(
                reversed(
                    [
                        getattr(here, f.name)
                        for f in attrs.fields(type(here))
                        if (type(here), f.name) not in CHECKED_AT_USE
                    ]
                )
            )


def forged_part(message: Any, verify: Verify) -> str | None:
    """Why `message` is not a valid message of its signers (None: every signature inside checks,
    every body names its signer, every pre-prepare's batch is the one its digest names)."""
    if not isinstance(message, Signed):
        return f"an unsigned {type(message).__name__}"
    for part in signed_parts(message):
        name = type(part.body).__name__
        try:
            ok = claimed_signer(part.body) == part.signer and verify(part)
        except TypeError:
            ok = False
        if not ok:
            return f"a {name} that {part.signer} did not sign"
        body = part.body
        if isinstance(body, PrePrepare) and batch_digest(body.batch) != body.digest:
            return f"a {name} whose batch is not the one its digest names"
    return None


def certificates(message: Any) -> list[mutation.Path]:
    """Where a message holds sets of signed messages counted as a quorum: a view change's
    stable-checkpoint proof and the prepares of each prepared certificate it carries, a new view's
    view changes (mutation.grow grows them)."""
    if not isinstance(message, Signed):
        return []
    body = message.body
    if isinstance(body, ViewChange):
        found: list[mutation.Path] = [("body", "ckpt_proof")]
        claims = body.prepared if isinstance(body.prepared, tuple) else ()
        for k, proof in enumerate(claims):
            if isinstance(proof, PreparedProof):
                found.append(("body", "prepared", k, "prepares"))
        return found
    if isinstance(body, NewView):
        return [("body", "view_changes")]
    return []


class PbftSigning:
    """mutation.Signing for a Byzantine replica: a changed message is claimed by setting its `src`
    to the replica and signing it with the replica's key (a client's request cannot be claimed)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.me = ctx.id

    def signer(self, message: Any) -> str | None:
        return message.signer if isinstance(message, Signed) else None

    def unsigned(self, value: Any) -> frozenset[str]:
        return frozenset(f for (cls, f) in UNSIGNED_FIELDS if isinstance(value, cls))

    def signed_part(self, message: Any) -> mutation.Path:
        return ("body",) if isinstance(message, Signed) else ()

    # -- certificates (mutation.grow) --

    def certificates(self, message: Any) -> list[mutation.Path]:
        return certificates(message)

    def vote_signer(self, vote: Any) -> str | None:
        return vote.signer if isinstance(vote, Signed) else None

    def claim_vote(
        self, message: Any, path: mutation.Path, vote: Any, rng: random.Random | None
    ) -> Any | None:
        if not isinstance(vote, Signed) or not attrs.has(type(vote.body)):
            return None
        body = vote.body if rng is None else mutation.restate(vote.body, rng)
        return self.claim(Signed(body, vote.signer, vote.signature))

    def claim(self, message: Any) -> Any | None:
        if not isinstance(message, Signed) or isinstance(message.body, Request):
            return None
        body = message.body
        if attrs.has(type(body)) and "src" in attrs.fields_dict(type(body)):
            body = attrs.evolve(body, src=self.me)
        try:
            return self.ctx.sign(body)
        except TypeError:  # a body no encoding covers: nothing can sign it
            return None


def _donors(ctx: Context, owner: object) -> mutation.Donors:
    """The values a behaviour's mutations draw from (kept in its memory), fed a few messages the
    replica has heard."""
    donors: mutation.Donors | None = ctx.memory.get((owner, "donors"))
    if donors is None:
        donors = ctx.memory[(owner, "donors")] = mutation.Donors(ctx.rng)
    for _ in range(min(3, len(ctx.heard))):
        donors.add(ctx.heard[ctx.rng.randrange(len(ctx.heard))], depth=6)
    return donors


@attrs.frozen
class Fuzz(mutation.FuzzRates):
    """On each step, with probability `share`: each message the core sends is replaced by a mutation
    of itself, and `burst` more mutations of messages it holds (received, sent, relayed) go to
    random peers and clients; a mutation is signed again in the replica's name with probability
    `resign` (always when it was its own), else it keeps the signatures it had. `Fuzz.sent(ctx)`
    lists what it sent, for the tests."""

    def __attrs_post_init__(self) -> None:
        if self.burst < 0:
            raise ImplError(f"Fuzz.burst must not be negative, not {self.burst}")

    def _donors(self, ctx: Context) -> mutation.Donors:
        return _donors(ctx, self)

    @staticmethod
    def sent(ctx: Context) -> list[mutation.Fuzzed]:
        found: list[mutation.Fuzzed] = ctx.memory.setdefault("fuzz sent", [])
        return found

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        if not ctx.heard or not ctx.chance(self.share):
            return effects
        donors = self._donors(ctx)
        signing = PbftSigning(ctx)
        log = self.sent(ctx)
        out: list[Effect] = []
        for e in effects:
            if isinstance(e, Send) and ctx.mine(e.message):
                fuzzed = mutation.fuzz([e.message], [e.dest], ctx.rng, donors, signing, resign=1.0)
                if fuzzed is not None:
                    log.append(fuzzed)
                    e = Send(fuzzed.dest, fuzzed.message)
            out.append(e)
        others = [r for r in (*ctx.replicas, *ctx.clients) if r != ctx.id]
        for _ in range(self.burst):
            fuzzed = mutation.fuzz(
                ctx.heard, others, ctx.rng, donors, signing, resign=self.resign, aim=self.aim
            )
            if fuzzed is not None:
                log.append(fuzzed)
                out.append(Send(fuzzed.dest, fuzzed.message))
        if self.grow and ctx.chance(self.grow):  # no draw at all without it
            try:
                fuzzed = mutation.grow(ctx.heard, others, ctx.rng, donors, signing)
            except (TypeError, ValueError, AttributeError, OverflowError):
                fuzzed = None
            if fuzzed is not None:
                log.append(fuzzed)
                out.append(Send(fuzzed.dest, fuzzed.message))
        del log[:-200]
        return out


@attrs.frozen
class AlterUnsigned:
    """Relays each message another replica signed that has a part no signature covers
    (`UNSIGNED_FIELDS`: the batch beside a pre-prepare, a checkpoint's state, the batches inside a
    view change's certificates and a new view's O), as soon as it receives it, to every other peer,
    with one such part changed and the signatures it had (mutation.fuzz aimed there, never signed
    again). Nothing another replica signed is forged by it, so a correct replica checks each such
    part where it uses it and holds its signer to nothing (section 4.2: the requests travel beside
    the signed pre-prepare; section 4.3: only a checkpoint's digest is signed). The fuzzer does
    this on a share of its steps to one held message at a time; this does it to every message
    that can carry it, at the moment a correct replica first sees the true one, which a run of
    seconds on real processes needs to meet the bugs of that class."""

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        message = getattr(ctx.event, "message", None)
        if (
            not isinstance(message, Signed)
            or message.signer == ctx.id
            or message.signer not in ctx.replicas
        ):
            return effects
        signing = PbftSigning(ctx)
        if not mutation.unsigned_positions(message, signing):
            return effects
        donors = _donors(ctx, self)
        out = list(effects)
        for peer in ctx.peers:
            if peer == message.signer:
                continue
            fuzzed = mutation.fuzz([message], [peer], ctx.rng, donors, signing, resign=0.0, aim=1.0)
            if fuzzed is not None and fuzzed.how != "replayed":
                out.append(Send(peer, fuzzed.message))
        return out

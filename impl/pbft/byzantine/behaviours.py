"""What a Byzantine replica does to the effects of the honest core it wraps: one frozen value each.

A behaviour is a pure description (an attrs-frozen value, so Hypothesis can draw, print and shrink
it); its `act(ctx, effects)` rewrites the effects one step of the honest core produced. Whatever it
sends in the replica's name it signs with the replica's own key (`Context.sign`): a Byzantine
replica can say anything as itself and nothing as anyone else (Castro and Liskov, OSDI 1999,
section 2). Every random choice comes from `Context.rng`, the generator the simulator gave the node,
so a run stays a function of its seed. What a behaviour must remember between steps it keeps in
`Context.memory` under its own value (context.py).

Twins is a behaviour too, but it changes the shape of the node (two cores), so node.py handles it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import Final
from typing import Literal
from typing import Protocol

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.node import probability
from meshcheck.impl.pbft.byzantine.certificates import byzantine_quorum
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.byzantine.context import Slot
from meshcheck.impl.pbft.byzantine.fuzz import Fuzz
from meshcheck.impl.pbft.byzantine.replies import FuzzReplies
from meshcheck.impl.pbft.byzantine.replies import LieToClient
from meshcheck.impl.pbft.byzantine.replies import LyingReplies
from meshcheck.impl.pbft.crypto import SIGNATURE_BYTES
from meshcheck.impl.pbft.crypto import sha256
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import signing_bytes


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ImplError(f"{attribute.name} must be at least 1, not {value}")


def _names(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)


def _ids(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


class Behaviour(Protocol):
    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]: ...


def _rewrite(
    effects: list[Effect], change: Callable[[Send], Send | None], ctx: Context
) -> list[Effect]:
    """Apply `change` to every send of a message this replica signed (None: the send is dropped)."""
    out: list[Effect] = []
    for e in effects:
        if isinstance(e, Send) and ctx.mine(e.message):
            changed = change(e)
            if changed is not None:
                out.append(changed)
        else:
            out.append(e)
    return out


@attrs.frozen
class Silent:
    """Sends nothing: every send of the core is dropped (with `share` < 1, each with that
    probability: a replica that talks now and then). The core still runs, so a silent primary is
    a primary that never pre-prepares, which the backups must replace (section 4.4)."""

    share: float = attrs.field(default=1.0, validator=probability)

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        return [e for e in effects if not (isinstance(e, Send) and ctx.chance(self.share))]


@attrs.frozen
class Equivocate:
    """Signs conflicting messages for one sequence number (section 4.2's reason for the prepare
    phase). As the primary: for each pre-prepare of one request, the peers in `group` (None: a
    random non-empty proper subset of the peers, drawn per sequence number) get a pre-prepare of
    another client request it has heard at the same view and sequence number (a batch of several
    gets its requests in reverse order; with no other request known it tells the truth), and its
    commits for that slot reach them translated to their version; pre-prepares re-sent later are
    translated the same way. As a backup: it sends a prepare and a commit for every version of a
    slot it hears from the primary of that view, whatever its core accepted, to every peer
    (which lets two colluding equivocators reach two quorums)."""

    group: frozenset[str] | None = attrs.field(default=None, converter=_names)

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        plans: dict[Slot, tuple[Signed[PrePrepare], frozenset[str]] | None] = ctx.memory.setdefault(
            self, {}
        )
        out: list[Effect] = []
        for e in effects:
            body = e.message.body if isinstance(e, Send) and ctx.mine(e.message) else None
            if isinstance(e, Send) and isinstance(body, PrePrepare | Commit):
                slot = (body.view, body.seq)
                if isinstance(body, PrePrepare) and body.batch and slot not in plans:
                    plans[slot] = self._plan(ctx, body)
                plan = plans.get(slot)
                if plan is not None and e.dest in plan[1]:
                    other = plan[0]
                    if isinstance(body, PrePrepare):
                        e = Send(e.dest, other)
                    elif body.digest != other.body.digest:
                        e = Send(e.dest, ctx.sign(attrs.evolve(body, digest=other.body.digest)))
            out.append(e)
        out.extend(self._vote_for_every_version(ctx))
        for slot in [s for s in plans if s[1] <= ctx.core.stable]:
            del plans[slot]
        return out

    def _plan(
        self, ctx: Context, pp: PrePrepare
    ) -> tuple[Signed[PrePrepare], frozenset[str]] | None:
        other: Batch
        if len(pp.batch) > 1:
            other = tuple(reversed(pp.batch))
        else:
            held = {r.body for r in pp.batch}
            known = [ctx.requests[k] for k in sorted(ctx.requests)]
            choices = [r for r in known if r.body not in held]
            if not choices:
                return None
            other = (ctx.rng.choice(choices),)
        group = self.group
        if group is None:
            peers = list(ctx.peers)
            ctx.rng.shuffle(peers)
            group = frozenset(peers[: ctx.rng.randint(1, len(peers) - 1)])
        lie = ctx.sign(attrs.evolve(pp, batch=other, digest=batch_digest(other)))
        return lie, group

    def _vote_for_every_version(self, ctx: Context) -> list[Effect]:
        voted: set[tuple[int, int, bytes]] = ctx.memory.setdefault((self, "voted"), set())
        ctx.forget_below(ctx.core.stable)
        out: list[Effect] = []
        for (view, seq), versions in ctx.stories.items():
            if view < ctx.core.view or ctx.core.config.primary(view) == ctx.id:
                continue
            for digest, pp in versions.items():
                if (view, seq, digest) in voted or pp.signer != ctx.core.config.primary(view):
                    continue
                voted.add((view, seq, digest))
                for body in (Prepare(view, seq, digest, ctx.id), Commit(view, seq, digest, ctx.id)):
                    m = ctx.sign(body)
                    out.extend(Send(peer, m) for peer in ctx.peers)
        return out


def tampered(digest: bytes) -> bytes:
    return sha256(b"meshcheck-pbft tampered" + digest)


@attrs.frozen
class TamperDigest:
    """Changes the digest in its pre-prepares, prepares, commits and checkpoints (each with
    probability `share`) and signs the result: a validly signed message about a batch or state no
    one has. A backup drops a pre-prepare whose batch does not match its digest (section 4.2), a vote
    for an unknown digest joins no quorum, and a checkpoint's state that does not match its digest
    is evidence (`bad_state`) when a replica needs it for a state transfer."""

    share: float = attrs.field(default=1.0, validator=probability)

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        def change(e: Send) -> Send:
            body = e.message.body
            if isinstance(body, PrePrepare | Prepare | Commit | Checkpoint) and ctx.chance(
                self.share
            ):
                return Send(e.dest, ctx.sign(attrs.evolve(body, digest=tampered(body.digest))))
            return e

        return _rewrite(effects, change, ctx)


FORGERIES: Final = ("garbage", "wrong_key", "impersonate")


@attrs.frozen
class ForgeSignature:
    """Sends its messages (each with probability `share`) with a signature that does not check:
    `garbage` (64 random bytes), `wrong_key` (a real Ed25519 signature by a key that is no one's),
    or `impersonate` (the message rewritten to come from another replica, signed with its own key:
    all it can do, since it does not hold the other's key). An honest replica rejects the message and
    records `bad_signature` evidence against the sender of the link, which costs it reputation
    until it is quarantined (evidence.py)."""

    how: Literal["garbage", "wrong_key", "impersonate"] = "garbage"
    share: float = attrs.field(default=1.0, validator=probability)

    def __attrs_post_init__(self) -> None:
        if self.how not in FORGERIES:
            raise ImplError(f"ForgeSignature.how must be one of {FORGERIES}, not {self.how!r}")

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        def change(e: Send) -> Send:
            if not ctx.chance(self.share):
                return e
            body = e.message.body
            if self.how == "garbage":
                return Send(e.dest, Signed(body, ctx.id, ctx.rng.randbytes(SIGNATURE_BYTES)))
            if self.how == "wrong_key":
                key = Ed25519PrivateKey.from_private_bytes(ctx.rng.randbytes(32))
                return Send(e.dest, Signed(body, ctx.id, key.sign(signing_bytes(body))))
            victims = [r for r in ctx.replicas if r != ctx.id]
            victim = ctx.rng.choice(victims)
            if attrs.has(type(body)) and "src" in attrs.fields_dict(type(body)):
                body = attrs.evolve(body, src=victim)
            return Send(e.dest, Signed(body, victim, ctx.core.sign(body).signature))

        return _rewrite(effects, change, ctx)


@attrs.frozen
class MissingSignature:
    """Sends its messages (each with probability `share`) without a signature: an empty one, or
    with `bare` the body with no signed envelope at all. Rejected and recorded as `bad_signature`
    evidence against the sender, like a forged one."""

    bare: bool = False
    share: float = attrs.field(default=1.0, validator=probability)

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        def change(e: Send) -> Send:
            if not ctx.chance(self.share):
                return e
            body = e.message.body
            return Send(e.dest, body if self.bare else Signed(body, ctx.id, b""))

        return _rewrite(effects, change, ctx)


@attrs.frozen
class Replay:
    """When one of its timers fires, with probability `share`, sends `burst` messages it received
    or sent earlier (validly signed by whoever signed them: a replay needs no key) to random nodes.
    Old pre-prepares, votes, checkpoints, view changes, status messages and replies: an honest
    replica must see that they are stale or already counted (one vote per replica and slot,
    section 4.2) and change nothing. Replays follow its clock, not what it hears: replaying on every
    message would feed on the answers the replays provoke (an old status message draws a batch of
    them) and flood the simulation without end."""

    share: float = attrs.field(default=0.3, validator=probability)
    burst: int = 2

    def __attrs_post_init__(self) -> None:
        if self.burst < 1:
            raise ImplError(f"Replay.burst must be at least 1, not {self.burst}")

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        if not isinstance(ctx.event, Tick) or not ctx.heard or not ctx.chance(self.share):
            return effects
        others = [r for r in (*ctx.replicas, *ctx.clients) if r != ctx.id]
        out = list(effects)
        for _ in range(self.burst):
            m = ctx.heard[ctx.rng.randrange(len(ctx.heard))]
            out.append(Send(ctx.rng.choice(others), m))
        return out


@attrs.frozen
class HidePrepared:
    """Its view-change messages leave out prepared certificates (each kept with probability
    `keep`; 0: all hidden) and are signed again: the view change must not lose a request that
    committed, because any 2f+1 view-change messages include one from an honest replica that
    prepared it (section 4.4). A subset of true claims is indistinguishable from the truth, so no
    evidence results."""

    keep: float = attrs.field(default=0.0, validator=probability)

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        lies: dict[Signed[Any], Signed[Any]] = ctx.memory.setdefault(self, {})

        def change(e: Send) -> Send:
            m = e.message
            if not isinstance(m.body, ViewChange):
                return e
            if m not in lies:
                kept = tuple(p for p in m.body.prepared if ctx.chance(self.keep))
                lies[m] = ctx.sign(attrs.evolve(m.body, prepared=kept))
            return Send(e.dest, lies[m])

        return _rewrite(effects, change, ctx)


@attrs.frozen
class Twins:
    """Two honest cores hold this replica's id and key; twin A talks to the replicas in `a`, twin B
    to the other replicas, both to those in `shared` and to every client. A message from a replica
    in `a` reaches twin A only, one from a replica outside `a` and `shared` twin B only, one from
    `shared` or a client both; each twin's sends reach its own side. Each twin alone is correct:
    together they are one replica signing two histories (Bano et al., "Twins: BFT Systems Made
    Robust", OPODIS 2021). The node (node.py) builds the second core and routes; the other
    behaviours of the replica apply to each twin."""

    a: frozenset[str] = attrs.field(converter=_ids)
    shared: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)

    def __attrs_post_init__(self) -> None:
        if self.a & self.shared:
            raise ImplError(f"Twins: {sorted(self.a & self.shared)} are both in a and shared")

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        return effects  # the routing is the node's (node.py)


@attrs.frozen
class Usurp:
    """Acts as the primary of a view it does not lead: whenever the primary of its view pre-prepares
    a sequence number, it pre-prepares the next one itself, a batch of the newest client request it
    has heard, in its own name, and sends it to every peer with its prepare and commit of it, ahead
    of the primary's own pre-prepare for that number. A backup accepts a pre-prepare only from the
    primary of its view (section 4.2) and holds one that is not as evidence (`wrong_primary`); a
    backup that takes it prepares and commits a number no primary assigned, and one assigned
    twice once the primary's own comes."""

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        event, core = ctx.event, ctx.core
        message = getattr(event, "message", None)
        if (
            not isinstance(message, Signed)
            or not isinstance(message.body, PrePrepare)
            or message.body.view != core.view
            or message.signer != core.config.primary(core.view)
            or core.config.primary(core.view) == ctx.id
            or not ctx.requests
        ):
            return effects
        view, seq = core.view, message.body.seq + 1
        done: set[Slot] = ctx.memory.setdefault(self, set())
        if (view, seq) in done:
            return effects
        done.add((view, seq))
        batch: Batch = (ctx.requests[max(ctx.requests, key=lambda k: (k[1], k[0]))],)
        digest = batch_digest(batch)
        out = list(effects)
        for body in (
            PrePrepare(view, seq, digest, ctx.id, batch),
            Prepare(view, seq, digest, ctx.id),
            Commit(view, seq, digest, ctx.id),
        ):
            m = ctx.sign(body)
            out.extend(Send(peer, m) for peer in ctx.peers)
        return out


@attrs.frozen
class Vouch:
    """Vouches for its own pre-prepares: each prepared certificate of a view it led that its
    view-change messages carry holds its own prepare of the pre-prepare, signed for the purpose,
    in place of a backup's, and one backup short of the 2f the certificate needs; the message is
    signed again. A prepared certificate is the primary's pre-prepare and 2f prepares of distinct
    backups (section 4.2: the pre-prepare is the primary's vote, prepares come from backups), so
    a replica that counts the primary's prepare takes into the view change a request only 2f
    replicas stand behind; one that counts right refuses the message and holds it against its
    signer (`bad_view_change`). To bring the view change about, it orders `lead` sequence numbers
    in each view it leads, and then up to one past a checkpoint (a view change carries only the
    certificates above the stable checkpoint, section 4.4), and no more (None: it never stops),
    and at once asks for the next view itself: its view-change message, built from its core's
    state as the core would build it, reaches the next primary before the backups' request timers
    expire (section 4.5.2), so it is among the first 2f+1 that primary holds. It asks as soon as
    another replica asks for the next view too, for the same reason, where its core would wait
    for f+1 of them."""

    lead: int | None = 20

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        memory: tuple[dict[Signed[Any], Signed[Any]], dict[int, set[int]], set[int]]
        memory = ctx.memory.setdefault(self, ({}, {}, set()))
        lies, ordered, asked = memory
        stalled: list[int] = []
        needed = byzantine_quorum(ctx.replicas) - 1  # prepares of distinct backups
        every = ctx.core.config.checkpoint_every

        def vouched(proof: PreparedProof) -> PreparedProof:
            pp = proof.pre_prepare
            if pp.signer != ctx.id:
                return proof
            backups: dict[str, Signed[Prepare]] = {}
            for p in proof.prepares:
                if p.signer != ctx.id:
                    backups.setdefault(p.signer, p)
            kept = tuple(backups.values())[: needed - 1]
            body = pp.body
            own = ctx.sign(Prepare(body.view, body.seq, body.digest, ctx.id))
            return PreparedProof(pp, (own, *kept))

        def change(e: Send) -> Send | None:
            m = e.message
            if isinstance(m.body, PrePrepare) and self.lead is not None:
                seqs = ordered.setdefault(m.body.view, set())
                past = max(seqs, default=0)  # stall past a checkpoint, to leave a certificate
                if m.body.seq not in seqs and len(seqs) >= self.lead and past % every:
                    stalled.append(m.body.view)
                    return None  # it stalls: the view must change
                seqs.add(m.body.seq)
                return e
            if not isinstance(m.body, ViewChange):
                return e
            return Send(e.dest, lie(m))

        def lie(m: Signed[Any]) -> Signed[Any]:
            if m not in lies:
                proofs = tuple(vouched(p) for p in m.body.prepared)
                lies[m] = (
                    m
                    if proofs == m.body.prepared
                    else ctx.sign(attrs.evolve(m.body, prepared=proofs))
                )
            return lies[m]

        out = _rewrite(effects, change, ctx)
        core = ctx.core
        wanted = {view + 1 for view in stalled}
        heard = getattr(ctx.event, "message", None)
        if (
            isinstance(heard, Signed)
            and isinstance(heard.body, ViewChange)
            and heard.signer != ctx.id
            and heard.body.view == core.view + 1
        ):
            wanted.add(heard.body.view)  # another asked first: be among the first 2f+1 too
        for view in sorted(wanted - asked):
            asked.add(view)
            certificates = core.log.certificates
            claims = tuple(certificates[n] for n in sorted(certificates) if n > core.stable)
            body = ViewChange(
                view, core.stable, core.stable_digest, core.stable_proof, claims, ctx.id
            )
            ask = lie(ctx.sign(body))
            out.extend(Send(peer, ask) for peer in ctx.peers)
        return out


@attrs.frozen
class Repeat:
    """As the primary, orders again what it ordered before: every `every`-th sequence number it
    pre-prepares carries, ahead of the new batch, the requests it pre-prepared `back` numbers
    earlier, signed by their clients as they were (a faulty primary may put any request its client
    signed into a batch, section 4.2). A replica keeps the last reply to each request (section
    4.1) and does not execute one again; one that does applies an old write over newer ones, and
    the clients read what they had overwritten. The lie is the primary's alone: its own core
    keeps the batch it meant, so it cannot commit those numbers and catches up by state transfer."""

    every: int = attrs.field(default=3, validator=_positive)
    back: int = attrs.field(default=2, validator=_positive)

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        memory: tuple[dict[int, Batch], dict[Slot, Signed[Any]]]
        memory = ctx.memory.setdefault(self, ({}, {}))
        ordered, lies = memory

        def change(e: Send) -> Send:
            m = e.message
            if not isinstance(m.body, PrePrepare):
                return e
            body, slot = m.body, (m.body.view, m.body.seq)
            if slot not in lies:
                old = ordered.get(body.seq - self.back) if body.seq % self.every == 0 else None
                ordered.setdefault(body.seq, body.batch)
                batch = (*(r for r in old or () if r not in body.batch), *body.batch)
                lies[slot] = (
                    m
                    if batch == body.batch
                    else ctx.sign(attrs.evolve(body, digest=batch_digest(batch), batch=batch))
                )
            return Send(e.dest, lies[slot])

        return _rewrite(effects, change, ctx)


BEHAVIOURS: Final = (
    Silent,
    Equivocate,
    TamperDigest,
    ForgeSignature,
    MissingSignature,
    Replay,
    HidePrepared,
    Twins,
    Usurp,
    Vouch,
    Repeat,
    LieToClient,
    LyingReplies,
    FuzzReplies,
)
AnyBehaviour = (
    Fuzz
    | Silent
    | Equivocate
    | TamperDigest
    | ForgeSignature
    | MissingSignature
    | Replay
    | HidePrepared
    | Twins
    | Usurp
    | Vouch
    | Repeat
    | LieToClient
    | LyingReplies
    | FuzzReplies
)

"""Byzantine HotStuff replicas that lie to clients: what a replica sends in its replies.

A HotStuff reply (impl/hotstuff/messages.py `ReplyMsg`: client, timestamp, result, src) carries no
signature: the link authenticates its sender, as a NEW-VIEW's (impl/hotstuff/fuzz.py,
`LINK_AUTHENTICATED`). The client sends each request to every replica and accepts a result once
f+1 distinct replicas, each the sender of the link its reply came on, replied the same result for
that request (impl/hotstuff/client.py `_on_reply`; Yin et al., PODC 2019, section 4.1: the client
waits for f+1 responses, one of which is then a correct replica's). The behaviours of
impl/hotstuff/byzantine.py aim at what replicas tell one another; these are the single replica a
client must not believe:

- `LieToClient("result")`: a result the replica did not compute (its peers disagree);
- `LieToClient("timestamp")`: the reply names another request of the client (the one before this
  one, else the next), with this one's result: a client that counts replies across its requests
  answers the wrong one;
- `LieToClient("src")`: a wrong result in its own name and, on its own link, in every other
  replica's (`src` set to each peer): a client that counts the replica a reply names instead of
  the link's sender accepts it on f+1 "replicas";
- `LieToClient("client")`: each reply goes to the other clients instead, named for each (a result
  of another client's request under the receiving client's name and the same timestamp); with no
  other client the reply goes nowhere (a replica that withholds its replies);
- `LieToClient("duplicate")`: a wrong result sent `copies` times: a client that counts replies,
  not replicas, accepts it from one;
- `LyingReplies`: the lies together, which is what issue 25 item 1 names: a wrong result (and, with
  `timestamp`, the client's other request) in its own name and each peer's, each sent `copies`
  times;
- `FuzzReplies`: each reply changed at random positions (client, timestamp, result, sender) by the
  message fuzzer (impl/base/mutation.py), sent in its own name, or with probability 1 - `resign`
  under another replica's.

The lies are the replica's alone: its core is honest and proposes, votes and executes as any
replica does, so a correct client's latency is the honest group's
(property_tests/hotstuff/client_replies.py). A `ByzantineReplica` takes them by the names of
`REPLY_BEHAVIOURS` (impl/hotstuff/byzantine.py), each with one `Mouth`: its state across steps.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final
from typing import Literal

import attrs

from meshcheck.impl.base import mutation
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import probability
from meshcheck.impl.hotstuff.crypto import Signer
from meshcheck.impl.hotstuff.fuzz import HotStuffSigning
from meshcheck.impl.hotstuff.fuzz import well_typed
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import SignedRequest

Lie = Literal["result", "timestamp", "src", "client", "duplicate"]
LIES: Final[tuple[Lie, ...]] = ("result", "timestamp", "src", "client", "duplicate")


def _lie(_inst: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LIES:
        raise ImplError(f"unknown lie to clients {value!r} (known: {', '.join(LIES)})")


def _copies(_inst: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ImplError(f"copies must be at least 1, not {value}")


def lied(result: Any) -> Any:
    """A result no correct replica computed (the service's values are never such a pair)."""
    return ("lie", result)


class Mouth:
    """What a lying replica keeps across its steps: who it is, its peers and the clients, its
    random generator, the values it heard (the fuzzer's donors) and the fuzzed replies it sent."""

    def __init__(
        self,
        me: str,
        replicas: Sequence[str],
        clients: Sequence[str],
        signer: Signer,
        rng: random.Random,
    ) -> None:
        self.me = me
        self.peers = tuple(r for r in replicas if r != me)
        self.clients = tuple(clients)
        self.signing = HotStuffSigning(me, signer)
        self.rng = rng
        self.donors = mutation.Donors(rng)
        self.sent: list[mutation.Fuzzed] = []  # FuzzReplies' last 200

    def chance(self, p: float) -> bool:
        """True with probability p; no draw at all at 1 (a run without shares keeps its draws)."""
        return p >= 1.0 or self.rng.random() < p

    def hear(self, message: Any) -> None:
        """A client's request it received: its client and timestamp are donors for the fuzzer."""
        if isinstance(message, SignedRequest):
            self.donors.add(message.request, depth=1)


def _replies(mouth: Mouth, effects: Sequence[Effect]) -> list[tuple[int, Send, ReplyMsg]]:
    """The replies among `effects` that its honest core sends in its own name."""
    return [
        (k, e, e.message)
        for k, e in enumerate(effects)
        if isinstance(e, Send) and isinstance(e.message, ReplyMsg) and e.message.src == mouth.me
    ]


def _other_timestamp(timestamp: int) -> int:
    """The client's request before this one, else the next one."""
    return timestamp - 1 if timestamp > 1 else timestamp + 1


@attrs.frozen
class LieToClient:
    """Each reply this replica sends a client (with `share` < 1, each with that probability) lies
    about `field` (the module's docstring lists the lies)."""

    field: Lie = attrs.field(validator=_lie)
    share: float = attrs.field(default=1.0, validator=probability)
    copies: int = attrs.field(default=3, validator=_copies)  # how often "duplicate" sends it

    def act(self, mouth: Mouth, effects: Sequence[Effect]) -> list[Effect]:
        out: list[list[Effect]] = [[e] for e in effects]
        for k, e, reply in _replies(mouth, effects):
            if not mouth.chance(self.share):
                continue
            false = attrs.evolve(reply, result=lied(reply.result))
            if self.field == "result":
                out[k] = [Send(e.dest, false)]
            elif self.field == "timestamp":
                other = attrs.evolve(reply, timestamp=_other_timestamp(reply.timestamp))
                out[k] = [Send(e.dest, other)]
            elif self.field == "src":
                names = (mouth.me, *mouth.peers)
                out[k] = [Send(e.dest, attrs.evolve(false, src=name)) for name in names]
            elif self.field == "client":
                others = [c for c in mouth.clients if c != e.dest]
                out[k] = [Send(c, attrs.evolve(reply, client=c)) for c in others]
            else:
                out[k] = [Send(e.dest, false)] * self.copies
        return [e for sends in out for e in sends]


@attrs.frozen
class LyingReplies:
    """Each reply this replica sends a client (with `share` < 1, each with that probability) lies
    at once about its result (`lied`) and, with `timestamp`, the request it answers, and is sent
    in the replica's own name and in each peer's, each `copies` times: a reply that agrees with no
    correct replica's on anything a client counts, from one replica that claims to be many."""

    share: float = attrs.field(default=1.0, validator=probability)
    timestamp: bool = False
    copies: int = attrs.field(default=2, validator=_copies)

    def act(self, mouth: Mouth, effects: Sequence[Effect]) -> list[Effect]:
        out: list[list[Effect]] = [[e] for e in effects]
        for k, e, reply in _replies(mouth, effects):
            if not mouth.chance(self.share):
                continue
            stamp = _other_timestamp(reply.timestamp) if self.timestamp else reply.timestamp
            false = attrs.evolve(reply, result=lied(reply.result), timestamp=stamp)
            names = (mouth.me, *mouth.peers) * self.copies
            out[k] = [Send(e.dest, attrs.evolve(false, src=name)) for name in names]
        return [e for sends in out for e in sends]


@attrs.frozen
class FuzzReplies:
    """Each reply this replica sends (with `share` < 1, each with that probability) is replaced by
    a mutation of itself (impl/base/mutation.py `fuzz`: a field or two changed, from values the
    replica has heard), in its own name, or with probability 1 - `resign` in a peer's (the
    unsigned reply's counterpart of a relayed message under the signature it had)."""

    share: float = attrs.field(default=1.0, validator=probability)
    resign: float = attrs.field(default=0.5, validator=probability)

    def act(self, mouth: Mouth, effects: Sequence[Effect]) -> list[Effect]:
        replies = _replies(mouth, effects)
        out = list(effects)
        for k, e, reply in replies:
            mouth.donors.add(reply)
            if not mouth.chance(self.share):
                continue
            fuzzed = self._fuzz(mouth, reply, e.dest)
            if fuzzed is None:
                continue
            message = fuzzed.message
            if mouth.peers and not mouth.chance(self.resign):
                message = attrs.evolve(message, src=mouth.rng.choice(mouth.peers))
            mouth.sent.append(
                attrs.evolve(fuzzed, message=message, resigned=message.src == mouth.me)
            )
            out[k] = Send(e.dest, message)
        del mouth.sent[:-200]
        return out

    @staticmethod
    def _fuzz(mouth: Mouth, reply: ReplyMsg, dest: str) -> mutation.Fuzzed | None:
        try:
            fuzzed = mutation.fuzz([reply], [dest], mouth.rng, mouth.donors, mouth.signing)
        except (TypeError, ValueError, AttributeError, OverflowError):
            return None  # a value no reply can hold (one that cannot be hashed)
        if fuzzed is None or not isinstance(fuzzed.message, ReplyMsg):
            return None
        return fuzzed if well_typed(fuzzed.message) else None


ReplyBehaviour = LieToClient | LyingReplies | FuzzReplies

# the names a ByzantineReplica (impl/hotstuff/byzantine.py) and the free runs take them by
REPLY_BEHAVIOURS: Final[Mapping[str, ReplyBehaviour]] = {
    **{f"lie_{lie}": LieToClient(lie) for lie in LIES},
    "lying_replies": LyingReplies(),
    "fuzz_replies": FuzzReplies(),
}

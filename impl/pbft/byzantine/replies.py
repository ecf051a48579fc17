"""Byzantine replicas that lie to clients: what a replica sends in its replies (Castro and Liskov,
OSDI 1999, section 4.1: <REPLY, v, t, c, i, r>, signed by replica i).

The other behaviours (behaviours.py, fuzz.py) aim at what replicas tell one another. A client
trusts no single reply: it accepts a result once f+1 distinct replicas sent matching ones (one of
them is correct) and follows the view f+1 of them reached (impl/pbft/client.py `_on_reply`,
`primary`). These behaviours are the single replica it must not believe:

- `LieToClient("view")`: every reply names a view `by` higher than the replica's (a client that
  followed it would send its next request to a backup, whose request timer then starts a view
  change nobody needed: section 4.4);
- `LieToClient("result")`: a result that is not the one the replica computed (its peers disagree);
- `LieToClient("timestamp")`: the reply names another request of the client (the one it sent
  before, else the next timestamp), with this request's sequence number and result: a client that
  counts replies by (sequence number, result) whatever request they name answers the wrong one;
- `LieToClient("signature")`: a wrong result in every replica's name, its own signed, the peers'
  under its own key (a bad signature: it holds no other key, section 2);
- `LyingReplies`: the lies together in one reply, which is what issue 25 item 1 names: a view `by`
  higher and a result its peers do not give, and with `timestamp` the client's other request; a
  client must neither count that reply towards any result nor follow its view;
- `FuzzReplies`: each reply changed at random positions (view, sequence number, request, result,
  sender) by the message fuzzer (impl/base/mutation.py), signed again as its own or left under the
  signature it had.

The lies are the replica's alone: its core is honest and orders requests as any replica does, so a
correct client's latency is the honest group's (property_tests/pbft/client_replies.py). The free
runs draw them among the other behaviours (strategies.py `behaviour_strategy`), so their client's
history is checked with up to f liars beside it, and a cluster of processes hosts them by name
(impl/runtime/hosted/pbft.py: `lie_view`, ..., `lying_replies`, `fuzz_replies`).
"""

from __future__ import annotations

from typing import Any
from typing import Final
from typing import Literal

import attrs

from meshcheck.impl.base import mutation
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import probability
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.byzantine.fuzz import PbftSigning
from meshcheck.impl.pbft.byzantine.fuzz import _donors
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed

Lie = Literal["view", "result", "timestamp", "signature"]
LIES: Final[tuple[Lie, ...]] = ("view", "result", "timestamp", "signature")


def _lie(_inst: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LIES:
        raise ImplError(f"unknown lie to clients {value!r} (known: {', '.join(LIES)})")


def lied(result: Any) -> Any:
    """A result no correct replica computed (the service's values are never such a pair)."""
    return ("lie", result)


def _replies(ctx: Context, effects: list[Effect]) -> list[tuple[int, Send, Reply]]:
    return [
        (k, e, e.message.body)
        for k, e in enumerate(effects)
        if isinstance(e, Send) and ctx.mine(e.message) and isinstance(e.message.body, Reply)
    ]


@attrs.frozen
class LieToClient:
    """Each reply this replica sends a client (with `share` < 1, each with that probability) lies
    about `field` (the module's docstring lists the lies)."""

    field: Lie = attrs.field(validator=_lie)
    share: float = attrs.field(default=1.0, validator=probability)
    by: int = 1  # how far a lie about the view goes

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        out = list(effects)
        extra: list[Effect] = []
        for k, e, reply in _replies(ctx, effects):
            if not ctx.chance(self.share):
                continue
            if self.field == "view":
                out[k] = Send(e.dest, ctx.sign(attrs.evolve(reply, view=reply.view + self.by)))
            elif self.field == "result":
                out[k] = Send(e.dest, ctx.sign(attrs.evolve(reply, result=lied(reply.result))))
            elif self.field == "timestamp":
                other = self._other_request(ctx, reply.request)
                out[k] = Send(e.dest, ctx.sign(attrs.evolve(reply, request=other)))
            else:
                false = attrs.evolve(reply, result=lied(reply.result))
                out[k] = Send(e.dest, ctx.sign(false))
                for peer in ctx.peers:
                    forged = attrs.evolve(false, src=peer)
                    extra.append(Send(e.dest, Signed(forged, peer, ctx.sign(forged).signature)))
        return [*out, *extra]

    @staticmethod
    def _other_request(ctx: Context, request: Request) -> Request:
        """The client's request before this one, as the replica heard it; else this one under the
        next timestamp (a request the client has not sent)."""
        earlier = ctx.requests.get((request.client, request.timestamp - 1))
        if earlier is not None:
            return earlier.body
        return attrs.evolve(request, timestamp=request.timestamp + 1)


@attrs.frozen
class LyingReplies:
    """Each reply this replica sends a client (with `share` < 1, each with that probability) lies
    at once about its view (`by` higher), its result (`lied`) and, with `timestamp`, the request it
    answers (`LieToClient._other_request`), signed once in the replica's name: a valid reply that
    agrees with no correct replica's on anything the client counts."""

    share: float = attrs.field(default=1.0, validator=probability)
    by: int = 1
    timestamp: bool = False

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        out = list(effects)
        for k, e, reply in _replies(ctx, effects):
            if not ctx.chance(self.share):
                continue
            request = (
                LieToClient._other_request(ctx, reply.request) if self.timestamp else reply.request
            )
            false = attrs.evolve(
                reply, view=reply.view + self.by, result=lied(reply.result), request=request
            )
            out[k] = Send(e.dest, ctx.sign(false))
        return out


@attrs.frozen
class FuzzReplies:
    """Each reply this replica sends (with `share` < 1, each with that probability) is replaced by
    a mutation of itself (impl/base/mutation.py `fuzz`: a field or two changed, from values the
    replica has heard), signed again in its name with probability `resign`, else sent under the
    signature the true reply had. `FuzzReplies.sent(ctx)` lists what it sent, for the tests."""

    share: float = attrs.field(default=1.0, validator=probability)
    resign: float = attrs.field(default=0.5, validator=probability)

    @staticmethod
    def sent(ctx: Context) -> list[mutation.Fuzzed]:
        found: list[mutation.Fuzzed] = ctx.memory.setdefault("fuzz replies sent", [])
        return found

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        replies = _replies(ctx, effects)
        if not replies:
            return effects
        signing = PbftSigning(ctx)
        donors = _donors(ctx, self)
        log = self.sent(ctx)
        out = list(effects)
        for k, e, _ in replies:
            if not ctx.chance(self.share):
                continue
            true = e.message
            fuzzed = mutation.fuzz([true], [e.dest], ctx.rng, donors, signing, resign=1.0)
            if fuzzed is None:
                continue
            message = fuzzed.message
            if isinstance(message, Signed) and not ctx.chance(self.resign):
                message = Signed(message.body, message.signer, true.signature)  # a bad signature
            log.append(attrs.evolve(fuzzed, message=message, resigned=message is fuzzed.message))
            out[k] = Send(e.dest, message)
        del log[:-200]
        return out

"""The hybrid layer's side of the message fuzzer (impl/base/mutation.py): what is signed, by whom,
and how a Byzantine hybrid node signs a changed message in its own name.

`Fuzz` is a behaviour of impl/hybrid/byzantine.py's kind: the node remembers what it receives and
sends (sealed Raft messages and proposals, PBFT messages on the wire), and on a share of its steps
sends mutations of them (ByzzFuzz: Winter et al., OOPSLA 2023): epochs, terms, indices, entries,
evidence and PBFT fields changed, sets shrunk, grown or swapped, messages replayed to other nodes.
A mutation keeps the signatures it had (a relayed message altered) or is sealed again by the node
(a sealed body with `src` and the Raft message's `source` set to it; a PBFT message signed again
with the node's key of the wire's epoch). For its PBFT cores, `impl.pbft.byzantine.fuzz.Fuzz`
(through `HybridNode.pbft_wrapper`).

Who signs what (entries.py): a seal covers the whole `RaftPayload` or `Proposal`; entries carry
their own signatures (a client's op, a clock reading, an evidence record: each signature field is
the signature itself, left out of what it signs); a `PbftWire`'s epoch is covered by no signature,
but the PBFT message inside is signed with that epoch's keys, so in another epoch it verifies for
no one (`UNSIGNED_FIELDS`, each reason checked in tests/test_hybrid_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from meshcheck.impl.base import mutation
from meshcheck.impl.base.effects import Effect, Send
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hybrid.entries import (
    ClientOp,
    ClockEntry,
    Keys,
    PbftWire,
    Proposal,
    RaftPayload,
    epoch_of,
)
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft.messages import Signed, signing_bytes

if TYPE_CHECKING:
    from meshcheck.impl.hybrid.node import HybridNode

# (type, field) -> why the field may be left out of every signature
UNSIGNED_FIELDS: Final[Mapping[tuple[type, str], str]] = {
    (ClientOp, "signature"): "the client's signature itself, over every other field (Keys.op_ok)",
    (
        ClockEntry,
        "signature",
    ): "the node's signature itself, over every other field (Keys.clock_ok)",
    (Evidence, "signature"): (
        "the reporter's signature itself, over every other field (Keys.evidence_signed)"
    ),
    (PbftWire, "epoch"): (
        "the PBFT message inside is signed with the keys of its epoch (Keys.epoch): delivered to "
        "another epoch's instance its signature checks for no one there"
    ),
}

# the types whose values carry a signature of their own, and the check of it
SELF_SIGNED: Final = (ClientOp, ClockEntry, Evidence)
SEALED: Final = (RaftPayload, Proposal)


def sealed(message: Any) -> bool:
    return isinstance(message, Signed) and isinstance(message.body, SEALED)


class HybridSigning:
    """mutation.Signing for a Byzantine hybrid node (see the module doc)."""

    def __init__(self, node: HybridNode) -> None:
        self.node = node
        self.me = node.id

    def signer(self, message: Any) -> str | None:
        if isinstance(message, PbftWire):
            return self.signer(message.message)
        return message.signer if isinstance(message, Signed) else None

    def unsigned(self, value: Any) -> frozenset[str]:
        return frozenset(f for (cls, f) in UNSIGNED_FIELDS if isinstance(value, cls))

    def signed_part(self, message: Any) -> mutation.Path:
        if isinstance(message, PbftWire) and isinstance(message.message, Signed):
            return ("message", "body")
        return ("body",) if isinstance(message, Signed) else ()

    def claim(self, message: Any) -> Any | None:
        keys: Keys = self.node.keys
        try:
            if sealed(message):
                body = attrs.evolve(message.body, src=self.me)
                inner: Any = getattr(body, "message", None)
                if attrs.has(type(inner)) and "source" in attrs.fields_dict(type(inner)):
                    body = attrs.evolve(body, message=attrs.evolve(inner, source=self.me))
                epoch = body.epoch if isinstance(body.epoch, int) and body.epoch > 0 else 1
                return keys.seal(epoch, self.me, body)
            if isinstance(message, PbftWire) and isinstance(message.message, Signed):
                inner_body = message.message.body
                if attrs.has(type(inner_body)) and "src" in attrs.fields_dict(type(inner_body)):
                    inner_body = attrs.evolve(inner_body, src=self.me)
                    epoch = message.epoch if message.epoch > 0 else 1
                    ring = keys.epoch(epoch)
                    signature = ring.signer(self.me).sign(signing_bytes(inner_body))
                    return attrs.evolve(message, message=Signed(inner_body, self.me, signature))
        except (TypeError, ValueError, KeyError):  # a body nothing can encode: cannot be signed
            return None
        return None


def _share(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ImplError(f"{attribute.name} must be a probability in [0, 1], not {value}")


_HELD: Final = 400  # messages a fuzzing node keeps to draw from


@attrs.frozen
class Fuzz:
    """With probability `share` per step: each sealed message or PBFT wire the node sends is
    replaced by a mutation of itself (sealed again by the node), and `burst` mutations of messages
    it holds go to random other nodes, sealed again with probability `resign`."""

    share: float = attrs.field(default=0.3, validator=_share)
    burst: int = 1
    resign: float = attrs.field(default=0.5, validator=_share)
    aim: float = attrs.field(default=0.5, validator=_share)  # relays changed where no signature is

    def _memory(self, node: HybridNode) -> tuple[list[Any], mutation.Donors]:
        held: list[Any] = node.memory.setdefault((self, "held"), [])
        donors: mutation.Donors = node.memory.setdefault(
            (self, "donors"), mutation.Donors(node.rng)
        )
        return held, donors

    def _remember(self, node: HybridNode, message: Any) -> None:
        if not (sealed(message) or isinstance(message, PbftWire)):
            return
        held, donors = self._memory(node)
        held.append(message)
        if len(held) > _HELD:
            del held[: _HELD // 2]
        if node.rng.random() < 0.2:
            donors.add(message, depth=8)

    def before(self, node: HybridNode, event: Any) -> bool:
        if isinstance(event, Deliver):
            self._remember(node, event.message)
        return True

    @staticmethod
    def sent(node: HybridNode) -> list[mutation.Fuzzed]:
        found: list[mutation.Fuzzed] = node.memory.setdefault("fuzz sent", [])
        return found

    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        for e in effects:
            if isinstance(e, Send):
                self._remember(node, e.message)
        held, donors = self._memory(node)
        if not held or node.rng.random() >= self.share:
            return effects
        signing = HybridSigning(node)
        log = self.sent(node)
        out: list[Effect] = []
        for e in effects:
            if isinstance(e, Send) and (sealed(e.message) or isinstance(e.message, PbftWire)):
                fuzzed = mutation.fuzz([e.message], [e.dest], node.rng, donors, signing, resign=1.0)
                if fuzzed is not None:
                    log.append(fuzzed)
                    e = Send(fuzzed.dest, fuzzed.message)
            out.append(e)
        for _ in range(self.burst):
            fuzzed = mutation.fuzz(
                held, node.config.peers, node.rng, donors, signing, resign=self.resign, aim=self.aim
            )
            if fuzzed is not None:
                log.append(fuzzed)
                out.append(Send(fuzzed.dest, fuzzed.message))
        del log[:-200]
        return out


def seal_ok(keys: Keys, message: Any) -> bool:
    """Whether a sealed message's seal is its sender's, for the epoch it names."""
    epoch = epoch_of(message)
    return isinstance(epoch, int) and sealed(message) and keys.sealed_ok(epoch, message)

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

With `grow` set, the node also sends held PBFT wires whose certificates it grew by one vote
(impl/base/mutation.py `grow`; `HybridSigning.certificates`, `claim_vote`: a vote in its name is
signed with its key of the wire's epoch; docs/certificates.md).

Who signs what (entries.py): a seal covers the whole `RaftPayload` or `Proposal`; entries carry
their own signatures (a client's op, a clock reading, an evidence record: each signature field is
the signature itself, left out of what it signs); a `PbftWire`'s or `HotStuffWire`'s epoch is
covered by no signature, but the BFT message inside is signed with that epoch's keys, so in another
epoch it verifies for no one (`UNSIGNED_FIELDS`, each reason checked in tests/test_hybrid_fuzz.py).

Threat model: the one of specs/Hybrid.md ("Byzantine nodes") and of byzantine.py's behaviours. In
Raft mode the design trusts a leader's entries at an index a follower does not hold yet until
there is evidence: each follower checks only what it was told itself, so a leader that tells two
followers different validly signed entries there is caught by neither, and closing that needs
commit certificates in Raft, which this design does not have. The spec abstracts that case away
(Byzantine nodes do not give honest nodes different chains), and `EquivocateRaft` lies only at an
index the follower already acknowledged, where its detector catches the lie. The fuzzer leaves
out exactly that case and keeps every other mutation: an AppendEntries sealed in the node's own
name (its own, changed, or another's, claimed) that puts at some index an entry other than the
one that term's log holds there (`Ledger`: what its honest core sent and the leader's
AppendEntries it received, per epoch and term, and the core's log while it leads that term; an
index of which it knows nothing is fresh to everyone) is not sent, unless the follower it goes to
acknowledged that index to the node in that term and the entry keeps the held entry's term (then
the follower's detector catches it, or, restarted and with its detector's memory gone, Raft keeps
the held entry, Log Matching). A message any receiver catches as tampering is always sent. The
free run of seed 25 (property_tests/hybrid/test_fuzz.py; seed 8271 found it) shows what the
excluded case breaks:
with `Fuzz(fresh_equivocation=True)` the checks report NoCommittedOpLost.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.base import mutation
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import epoch_of
from meshcheck.impl.hybrid.proofs import appended
from meshcheck.impl.hybrid.proofs import carried
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft.byzantine import fuzz as pbft_fuzz
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import AppendEntriesResponse
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.raft.roles import LEADER

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
    (HotStuffWire, "epoch"): (
        "the HotStuff message inside is signed with the keys of its epoch (Keys.hotstuff), or, a "
        "fetched block, checked against a hash such signatures name: in another epoch's instance "
        "its signature checks for no one"
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

    # -- certificates (mutation.grow): those of the PBFT messages on the wire --

    def certificates(self, message: Any) -> list[mutation.Path]:
        if not isinstance(message, PbftWire):
            return []
        return [("message", *path) for path in pbft_fuzz.certificates(message.message)]

    def vote_signer(self, vote: Any) -> str | None:
        return vote.signer if isinstance(vote, Signed) else None

    def claim_vote(
        self, message: Any, path: mutation.Path, vote: Any, rng: random.Random | None
    ) -> Any | None:
        """A PBFT vote in the node's name, signed with its key of the wire's epoch."""
        if not (isinstance(message, PbftWire) and isinstance(vote, Signed)):
            return None
        body = vote.body if rng is None else mutation.restate(vote.body, rng)
        if not (attrs.has(type(body)) and "src" in attrs.fields_dict(type(body))):
            return None
        try:
            body = attrs.evolve(body, src=self.me)
            ring = self.node.keys.epoch(message.epoch if message.epoch > 0 else 1)
            return Signed(body, self.me, ring.signer(self.me).sign(signing_bytes(body)))
        except (TypeError, ValueError, KeyError, OverflowError):
            return None

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


def _kind(message: Any) -> str:
    """The name of what a sealed message or PBFT wire carries (its Raft or PBFT message)."""
    inner = message.message if isinstance(message, PbftWire) else message
    body = inner.body if isinstance(inner, Signed) else inner
    return type(body.message if isinstance(body, RaftPayload) else body).__name__


_HELD: Final = 400  # messages a fuzzing node keeps to draw from


Statement = tuple[int, int]  # a Raft term's log in one epoch: (epoch, term)


class Ledger:
    """What a fuzzing node knows of each Raft term's log, and of who acknowledged it (the module
    doc's threat model): for (epoch, term), index -> the first entry it knows the term's leader
    put there (its own AppendEntries as they leave its honest core, and the sealed AppendEntries it
    receives), and for (epoch, term, follower) the highest index that follower acknowledged to it."""

    def __init__(self) -> None:
        self.truth: dict[Statement, dict[int, Any]] = {}
        self.acked: dict[tuple[int, int, str], int] = {}

    def learn(self, node: HybridNode, message: Any, *, received: bool) -> None:
        if not (sealed(message) and isinstance(message.body, RaftPayload)):
            return
        m = message.body.message
        epoch = message.body.epoch
        if received and not seal_ok(node.keys, message):
            return  # what no one can have sealed says nothing about a term's log
        if isinstance(m, AppendEntriesRequest):
            known = self.truth.setdefault((epoch, m.term), {})
            for index, entry in appended(message).items():
                known.setdefault(index, entry)
        elif isinstance(m, AppendEntriesResponse) and received and m.success and m.dest == node.id:
            key = (epoch, m.term, message.signer)
            self.acked[key] = max(self.acked.get(key, 0), m.match_index)

    def entry(self, node: HybridNode, epoch: int, term: int, index: int) -> Any | None:
        """The entry term `term`'s log holds at `index`, as far as the node knows (None: it
        knows of none)."""
        known = self.truth.get((epoch, term), {}).get(index)
        if known is not None:
            return known
        instance = node.instances.get(epoch)
        core = instance.core if instance is not None else None
        if not (isinstance(core, RaftNode) and core.role == LEADER and core.term == term):
            return None
        log = core.log
        return log.entry(index) if log.snapshot_index < index <= log.last_index else None

    def changed(self, node: HybridNode, message: Any) -> list[tuple[int, Any, Any | None]]:
        """(index, entry, the entry the term's log holds there or None) for every index at which
        `message`, an AppendEntries sealed in the node's name, puts another entry than its term's
        log; empty for any other message, and for one any receiver catches as tampering (an entry
        whose own signature fails, or no entry at all), which no receiver follows."""
        if not (sealed(message) and isinstance(message.body, RaftPayload)):
            return []
        m = message.body.message
        if not isinstance(m, AppendEntriesRequest) or message.signer != node.id:
            return []
        if any(not node.keys.entry_ok(v) for v in carried(message)):
            return []
        epoch = message.body.epoch
        found = []
        for index, entry in appended(message).items():
            if index < 1:
                continue  # before the first index: no log holds anything there
            truth = self.entry(node, epoch, m.term, index)
            if truth != entry:
                found.append((index, entry, truth))
        return found

    def fresh_equivocation(self, node: HybridNode, message: Any, dest: str) -> bool:
        """Whether `message`, sent to `dest`, puts another entry than its term's log at an index
        (`changed`) where `dest` cannot catch it: `dest` did not acknowledge that index to the
        node in that term, or the entry's term differs from the held one's (which a follower
        restarted since, its detector's memory empty, would take in place of the held entry)."""
        if not self.changed(node, message):
            return False
        epoch, term = message.body.epoch, message.body.message.term
        acked = self.acked.get((epoch, term, dest), 0)
        return not all(
            truth is not None
            and index <= acked
            and isinstance(entry, Entry)
            and entry.term == truth.term
            for index, entry, truth in self.changed(node, message)
        )


@attrs.frozen
class Fuzz(mutation.FuzzRates):
    """With probability `share` per step: each sealed message or PBFT wire the node sends is
    replaced by a mutation of itself (sealed again by the node), and `burst` mutations of messages
    it holds go to random other nodes, sealed again with probability `resign`. A mutation that is
    a fresh-index equivocation (`Ledger.fresh_equivocation`, the module doc) is not sent, unless
    `fresh_equivocation` is set (only to show the checks catch what it breaks)."""

    fresh_equivocation: bool = False

    def _memory(self, node: HybridNode) -> tuple[list[Any], mutation.Donors]:
        held: list[Any] = node.memory.setdefault((self, "held"), [])
        donors: mutation.Donors = node.memory.setdefault(
            (self, "donors"), mutation.Donors(node.rng)
        )
        return held, donors

    def ledger(self, node: HybridNode) -> Ledger:
        found: Ledger = node.memory.setdefault((self, "ledger"), Ledger())
        return found

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
            self.ledger(node).learn(node, event.message, received=True)
            self._remember(node, event.message)
        return True

    @staticmethod
    def sent(node: HybridNode) -> list[mutation.Fuzzed]:
        found: list[mutation.Fuzzed] = node.memory.setdefault("fuzz sent", [])
        return found

    @staticmethod
    def withheld(node: HybridNode) -> list[mutation.Fuzzed]:
        """The mutations not sent as fresh-index equivocations (the last 200)."""
        found: list[mutation.Fuzzed] = node.memory.setdefault("fuzz withheld", [])
        return found

    @staticmethod
    def counts(node: HybridNode) -> Counter[str]:
        """Per kind of mutation, how many the node sent or withheld (not trimmed): "sent X" for
        a changed message of inner type X (a PBFT wire's message, a seal's Raft message or
        proposal), "sent replay" for one unchanged, "sent equivocation" for an AppendEntries sent
        with an entry its term's log does not hold there (to a follower that catches it),
        "withheld" for the left-out case."""
        found: Counter[str] = node.memory.setdefault("fuzz counts", Counter())
        return found

    def _allowed(self, node: HybridNode, fuzzed: mutation.Fuzzed) -> bool:
        ledger = self.ledger(node)
        counts = self.counts(node)
        if not self.fresh_equivocation and ledger.fresh_equivocation(
            node, fuzzed.message, fuzzed.dest
        ):
            withheld = self.withheld(node)
            withheld.append(fuzzed)
            del withheld[:-200]
            counts["withheld"] += 1
            return False
        if fuzzed.how == "replayed":
            counts["sent replay"] += 1
            return True
        counts[f"sent {_kind(fuzzed.message)}"] += 1
        if ledger.changed(node, fuzzed.message):
            counts["sent equivocation"] += 1
        return True

    def act(self, node: HybridNode, effects: list[Effect]) -> list[Effect]:
        ledger = self.ledger(node)
        for e in effects:
            if isinstance(e, Send):
                ledger.learn(node, e.message, received=False)  # the honest core's statements
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
                if fuzzed is not None and self._allowed(node, fuzzed):
                    log.append(fuzzed)
                    e = Send(fuzzed.dest, fuzzed.message)
            out.append(e)
        for _ in range(self.burst):
            fuzzed = mutation.fuzz(
                held, node.config.peers, node.rng, donors, signing, resign=self.resign, aim=self.aim
            )
            if fuzzed is not None and self._allowed(node, fuzzed):
                log.append(fuzzed)
                out.append(Send(fuzzed.dest, fuzzed.message))
        if self.grow and node.rng.random() < self.grow:  # no draw at all without it
            try:
                fuzzed = mutation.grow(held, node.config.peers, node.rng, donors, signing)
            except (TypeError, ValueError, AttributeError, OverflowError):
                fuzzed = None
            if fuzzed is not None and self._allowed(node, fuzzed):
                log.append(fuzzed)
                out.append(Send(fuzzed.dest, fuzzed.message))
        del log[:-200]
        return out


def seal_ok(keys: Keys, message: Any) -> bool:
    """Whether a sealed message's seal is its sender's, for the epoch it names."""
    epoch = epoch_of(message)
    return isinstance(epoch, int) and sealed(message) and keys.sealed_ok(epoch, message)

"""What honest replicas must do with what Byzantine ones send them, checked after every step of a
free run (the simulator plug-in's `watchers`).

- Rejection: a message that is not a valid message of its signers (impl/pbft/byzantine/fuzz.py
  `forged_part`: a signature inside that does not check, a body naming another signer, a batch
  that is not the one its digest names) is not taken: after the step, no part of it that is
  forged is held by the replica (its log, certificates, view-change and new-view messages,
  pending requests, stable proof).
- Evidence where the protocol says so (impl/pbft/evidence.py): a message whose own signature does
  not check, or that is no signed message at all, is recorded as `bad_signature` against the
  link's sender (unless the replica already ignores that sender).
- No false accusation: an honest replica's audit log accuses Byzantine replicas only (a relayer
  that alters what a signature does not cover must not get an honest signer blamed).
- Certificates counted by their signers (docs/certificates.md): a view-change or new-view message
  whose every signature checks but whose certificates do not hold by the oracle's own count
  (impl/pbft/byzantine/certificates.py `certificate_problem`: a quorum less the primary of
  distinct backups' matching prepares per prepared certificate, a quorum of distinct replicas'
  matching checkpoints, a quorum of distinct view changes; the quorum is 2f+1 at n = 3f+1,
  ceil((n+f+1)/2) at any n: impl/base/quorum.py) is not kept. The fuzzer's
  grown certificates (impl/base/mutation.py `grow`) are what make such messages.

The oracle keeps its own signature checks (the replica's may be a mutant's).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.events import Deliver
from meshcheck.impl.pbft.byzantine.certificates import certificate_problem
from meshcheck.impl.pbft.byzantine.fuzz import claimed_signer
from meshcheck.impl.pbft.byzantine.fuzz import forged_part
from meshcheck.impl.pbft.byzantine.fuzz import signed_parts
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.evidence import BAD_SIGNATURE
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import Replica
from meshcheck.property_tests.read_marks import ReadMarks


def held(replica: Replica) -> Iterator[Any]:
    """Everything a replica keeps that came in a message (nested parts are inside these)."""
    log = replica.log
    yield from log.pre_prepares.values()
    for votes in (log.prepares, log.commits):
        for voters in votes.values():
            yield from voters.values()
    for digests in log.checkpoints.values():
        for signers in digests.values():
            yield from signers.values()
    yield from log.certificates.values()
    for senders in replica.view_changes.values():
        yield from senders.values()
    yield from replica.new_views.values()
    yield from replica.pending.values()
    yield from replica.stable_proof


class RejectionOracle:
    """After every step of an honest replica: the three rules of the module doc. `violation` is the
    first one broken (None: none so far)."""

    def __init__(self, keys: KeyRing, byzantine: Iterable[str]) -> None:
        self.keys = keys
        self.byzantine = frozenset(byzantine)
        self.violation: str | None = None
        self._verified: dict[Signed[Any], bool] = {}
        self._audited = ReadMarks()  # each replica's audit records judged so far
        self.checked = 0  # forged messages delivered to honest replicas and checked
        # replica -> id of a held item -> (the item, its signed parts)
        self._parts: dict[str, dict[int, tuple[Any, tuple[Signed[Any], ...]]]] = {}

    def verify(self, m: Signed[Any]) -> bool:
        known = self._verified.get(m)
        if known is None:
            try:
                known = self.keys.verify(m.signer, m.signature, signing_bytes(m.body))
            except TypeError:
                known = False
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[m] = known
        return known

    def __call__(self, node_id: str, event: Any, nodes: Mapping[str, Any]) -> None:
        node = nodes.get(node_id)
        if self.violation is not None or not isinstance(node, Replica):
            return  # Byzantine replicas (wrapped) and clients are not judged here
        self._accusations(node)
        if isinstance(event, Deliver) and event.source in self.byzantine:
            self._delivered(node, event.source, event.message)

    def _accusations(self, node: Replica) -> None:
        records = node.audit.records
        for record in self._audited.unread(node.id, node, records):
            if record.accused not in self.byzantine:
                self.violation = (
                    f"{node.id} accuses honest {record.accused} of {record.kind} ({record.detail})"
                )
                return
        self._audited.read(node.id, node, len(records))

    def _delivered(self, node: Replica, source: str, m: Any) -> None:
        try:
            why = forged_part(m, self.verify)
        except Exception:  # unhashable or otherwise broken: forged through and through
            why = "a message no one can have signed"
        if why is None:
            self._counted(node, source, m)
            return
        self.checked += 1
        ignored = node.audit.is_quarantined(source)
        outer_bad = not isinstance(m, Signed) or not (
            claimed_signer(m.body) == m.signer and self._outer_ok(m)
        )
        if outer_bad and not ignored:
            recorded = any(
                r.accused == source and r.kind == BAD_SIGNATURE and _same(r.messages, (m,))
                for r in node.audit.records
            )
            if not recorded:
                self.violation = (
                    f"{node.id} took {why} from {source} without recording it as {BAD_SIGNATURE}"
                )
                return
        if not isinstance(m, Signed):
            return
        forged = {id(p) for p in signed_parts(m) if forged_part(p, self.verify) is not None}
        for part in self._held_parts(node):
            if id(part) in forged:
                self.violation = (
                    f"{node.id} holds {type(part.body).__name__} from {part.signer} that "
                    f"{source} sent it: {why}"
                )
                return

    def _counted(self, node: Replica, source: str, m: Any) -> None:
        """A message of good signatures whose certificates fall short is not kept."""
        try:
            why = certificate_problem(m, node.config.replicas)
        except Exception:  # fields of no declared type: the replica's shape check refuses it
            why = "a certificate no one can count"
        if why is None:
            return
        kept: list[Signed[Any]] = [*node.new_views.values()]
        for senders in node.view_changes.values():
            kept.extend(senders.values())
        if any(k is m or _same(k, m) for k in kept):
            self.violation = f"{node.id} kept {type(m.body).__name__} from {source}: {why}"

    def _held_parts(self, node: Replica) -> Iterator[Signed[Any]]:
        """The signed parts of everything `node` holds. A replica keeps most of what it held at the
        last check, so each item's parts are listed once and kept beside the item: messages are
        frozen, so an item's parts never change, and the strong reference keeps any other object
        from taking its id while it is cached. Items no longer held leave the cache."""
        before = self._parts.get(node.id, {})
        now: dict[int, tuple[Any, tuple[Signed[Any], ...]]] = {}
        for kept in held(node):
            cached = before.get(id(kept)) or now.get(id(kept))
            if cached is None:
                cached = (kept, tuple(signed_parts(kept)))
            now[id(kept)] = cached
            yield from cached[1]
        self._parts[node.id] = now

    def _outer_ok(self, m: Signed[Any]) -> bool:
        try:
            return self.verify(m)
        except TypeError:
            return False


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return repr(a) == repr(b)

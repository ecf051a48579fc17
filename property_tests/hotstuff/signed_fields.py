"""Every signed HotStuff message, every field: a change must leave the message no valid message of its
signers (impl/hotstuff/fuzz.py `forged_part`), unless the field is declared unsigned with a reason
(`UNSIGNED_FIELDS`), and an honest receiver must reject whatever is forged, record a bad signature
against the link's sender and blame no honest replica (property_tests/hotstuff/oracle.py), whether
the changed message comes from its signer or is relayed by another replica. The cheap complement of
the message fuzzer, as PBFT's property_tests/pbft/signed_fields.py.

The gallery: a client request, r2's proposal of view 1 on genesis, r3's proposal of view 2 on the
QC of view 1 (r1, r2, r3's votes), r4's vote for it, r1's NEW-VIEW for view 3 carrying that QC.
The receiver is r4, the leader of view 3 (votes for view 2 and NEW-VIEWs for 3 go to it).
"""

from __future__ import annotations

import random
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base import mutation
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hotstuff import fuzz
from meshcheck.impl.hotstuff import messages
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Request
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hotstuff.oracle import RejectionOracle
from meshcheck.property_tests.signed_fields import changed_at

REPLICAS = ("r1", "r2", "r3", "r4")
KEYS = KeyRing(7, (*REPLICAS, "c1"))
RECEIVER = "r4"
SIGNED_TYPES: tuple[type, ...] = (Proposal, Vote, SignedRequest, NewView)


def _proposal(b: Block) -> Proposal:
    return Proposal(b, KEYS.signer(b.proposer).sign(messages.proposal_bytes(b)))


def _vote(voter: str, h: bytes, view: int) -> Vote:
    return Vote(h, view, voter, KEYS.signer(voter).sign(vote_bytes(h, view)))


def gallery() -> dict[type, Any]:
    reqs = [SignedRequest(Request("c1", t, f"op{t}"), b"") for t in (1, 2)]
    reqs = [
        attrs.evolve(r, signature=KEYS.signer("c1").sign(request_bytes(r.request))) for r in reqs
    ]
    b1 = Block(GENESIS.hash, 1, GENESIS_QC, "r2", (reqs[0],))
    votes = tuple(sorted((v, _vote(v, b1.hash, 1).signature) for v in ("r1", "r2", "r3")))
    qc1 = QC(b1.hash, 1, votes)
    b2 = Block(b1.hash, 2, qc1, "r3", (reqs[1],))
    return {
        SignedRequest: reqs[0],
        Proposal: _proposal(b2),
        Vote: _vote("r1", b2.hash, 2),
        NewView: NewView(3, qc1, "r1"),
    }


GALLERY = gallery()


def donors() -> mutation.Donors:
    found = mutation.Donors(random.Random(0))
    for m in GALLERY.values():
        found.add(m)
    found.add(_proposal(Block(GENESIS.hash, 1, GENESIS_QC, "r2")))
    return found


def receiver(bugs: frozenset[str]) -> Replica:
    replica = Replica(HotStuffConfig(RECEIVER, REPLICAS, bugs=bugs), KEYS)
    replica.step(Restart({}))
    return replica


def _fail(what: str) -> CheckFailed:
    return CheckFailed(what, steps=1)


def deliver(bugs: frozenset[str], source: str, m: Any) -> RejectionOracle:
    """`m` from Byzantine `source` to a fresh honest receiver, the oracle watching."""
    replica = receiver(bugs)
    oracle = RejectionOracle(KEYS, REPLICAS, frozenset({source}))
    replica.observers.append(oracle)
    replica.step(Deliver(source, m))
    return oracle


def check(kind: type, path: mutation.Path, rng: random.Random, bugs: frozenset[str]) -> None:
    """One position of one message changed: (coverage) unless the position is in a declared
    unsigned field, the changed message is no valid message of its signers; (rejection) its
    signer and another replica, each Byzantine, send it to the receiver: the oracle holds."""
    m = GALLERY[kind]
    changed = changed_at(
        m, path, rng, donors(), (TypeError, ValueError, AttributeError, OverflowError)
    )
    if changed is None:
        return
    new = changed[0]
    if not fuzz.well_typed(new) or new == m:
        return
    signer = fuzz.signer_of(m)
    assert signer is not None
    where = f"{kind.__name__}{mutation.describe(path)} changed ({changed[1]})"
    forged = fuzz.forged_part(new, signer, KEYS, REPLICAS, 3)
    unsigned = mutation.unsigned_field(m, path, fuzz.UNSIGNED_FIELDS)
    # a NEW-VIEW has no signature (the link authenticates it): only its QC's insides are signed
    link_only = kind is NewView and len(path) == 1
    if forged is None and unsigned is None and not link_only:
        raise _fail(f"{where} and {signer}'s signature still checks: the field is not signed")
    relayer = "r2" if signer != "r2" else "r3"
    for source in dict.fromkeys((fuzz.signer_of(new) or signer, signer, relayer)):
        if source == RECEIVER or source not in REPLICAS:
            continue
        oracle = deliver(bugs, source, new)
        if oracle.violation is not None:
            raise _fail(f"{where}, sent by {source}: {oracle.violation}")


def check_true_messages_taken(bugs: frozenset[str]) -> None:
    """The unchanged gallery is taken from its signers (else the cases prove nothing)."""
    for kind, m in GALLERY.items():
        signer = fuzz.signer_of(m) or ""
        replica = receiver(bugs)
        replica.step(Deliver(signer, m))
        if isinstance(m, Proposal):
            ok = m in replica._verified
        elif isinstance(m, Vote):
            ok = replica.votes.get((m.block, m.view), {}).get(m.voter) == m.signature
        elif isinstance(m, NewView):
            ok = replica.new_views.get(m.view, {}).get(m.src) == m.qc
        else:
            ok = m.key in replica.pending
        if not ok or replica.accusations:
            raise _fail(f"{kind.__name__}: the true message from {signer} is not taken cleanly")


def signed_fields(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The property (module doc) for the receiver with `bugs`: every position of every signed
    type once with a fixed generator, then Hypothesis's choices."""
    check_true_messages_taken(bugs)
    paths = {kind: list(mutation.positions(GALLERY[kind])) for kind in SIGNED_TYPES}
    for kind in SIGNED_TYPES:
        for k, path in enumerate(paths[kind]):
            check(kind, path, random.Random(k), bugs)

    @given(st.data(), st.randoms(use_true_random=False))
    @hypothesis.settings(settings, max_examples=max(20, settings.max_examples // 4))
    def every_field(data: st.DataObject, rng: random.Random) -> None:
        kind = data.draw(st.sampled_from(SIGNED_TYPES), label="type")
        check(kind, data.draw(st.sampled_from(paths[kind]), label="position"), rng, bugs)

    every_field()

"""PBFT's self-proving evidence checked from outside (impl/pbft/evidence.py `proves`, the reasons
of impl/pbft/viewchange.py) and how messages print: each test closes a gap the mutation campaign
found (mutation/run.py), a change of one line that no other fast test saw."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.pbft import NORMAL
from meshcheck.impl.pbft import VIEW_CHANGE
from meshcheck.impl.pbft import KeyRing
from meshcheck.impl.pbft import PreparedProof
from meshcheck.impl.pbft import ViewChange
from meshcheck.impl.pbft import proves
from meshcheck.impl.pbft.client import RETRY
from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.client import ClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import derive_private_key
from meshcheck.impl.pbft.crypto import sha256
from meshcheck.impl.pbft.evidence import BAD_SIGNATURE
from meshcheck.impl.pbft.evidence import BAD_STATE
from meshcheck.impl.pbft.evidence import BAD_VIEW_CHANGE
from meshcheck.impl.pbft.evidence import EQUIVOCATION
from meshcheck.impl.pbft.evidence import FORGED_REQUEST
from meshcheck.impl.pbft.evidence import MALFORMED
from meshcheck.impl.pbft.evidence import WRONG_PRIMARY
from meshcheck.impl.pbft.evidence import AuditLog
from meshcheck.impl.pbft.evidence import Evidence
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import encode
from meshcheck.impl.pbft.messages import malformed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.pbft.viewchange import check_new_view
from meshcheck.impl.pbft.viewchange import check_prepared
from meshcheck.impl.pbft.viewchange import check_view_change
from meshcheck.impl.pbft.viewchange import plan_new_view
from meshcheck.impl.pbft.viewchange import relayed_intact
from meshcheck.impl.sim import CancelTimer
from meshcheck.impl.sim import ClientRequest
from meshcheck.impl.sim import Deliver
from meshcheck.impl.sim import Persist
from meshcheck.impl.sim import Restart
from meshcheck.impl.sim import Send
from meshcheck.impl.sim import SetTimer
from meshcheck.impl.sim import Tick
from meshcheck.impl.sim.storage import Durable
from tests.pbft_messages import KEYS
from tests.pbft_messages import REPLICAS
from tests.pbft_messages import certificate
from tests.pbft_messages import changed_on_its_way
from tests.pbft_messages import checkpoint
from tests.pbft_messages import pre_prepare
from tests.pbft_messages import prepare
from tests.pbft_messages import request
from tests.pbft_messages import signed
from tests.pbft_messages import view_change
from tests.test_pbft_impl import Box
from tests.test_pbft_impl import equivocation


def test_a_bad_view_change_proves_its_signer_wrong_and_a_valid_one_proves_nothing() -> None:
    pp = pre_prepare(1, request("a"))
    thin = PreparedProof(pp, (prepare(pp, "r2"),))  # one prepare is not a certificate
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    box.deliver(view_change(1, "r4", thin))
    (record,) = box.node.audit.records
    assert (record.accused, record.kind) == ("r4", "bad_view_change")
    assert proves(record, box.config, box.node.verify)
    valid = attrs.evolve(record, messages=(view_change(1, "r4"),))
    assert not proves(valid, box.config, box.node.verify)


def test_two_conflicting_pre_prepares_prove_only_a_record_of_equivocation() -> None:
    box = Box("r2")
    _, _, record = equivocation(box)
    assert record.kind == "equivocation" and proves(record, box.config, box.node.verify)
    for kind in ("wrong_primary", "forged_request", "bad_view_change", "bad_new_view"):
        # the same two messages prove nothing of another kind
        assert not proves(attrs.evolve(record, kind=kind), box.config, box.node.verify)


def test_a_view_change_claim_that_is_not_a_certificate_is_named() -> None:
    box = Box("r3")
    pp = pre_prepare(1, request("a"))
    claim: object = prepare(pp, "r2")
    vc = signed("r4", ViewChange(1, 0, GENESIS, (), (claim,), "r4"))  # type: ignore[arg-type]
    assert check_view_change(vc, box.config, box.node.verify) == (
        "a prepared claim is not a certificate"
    )


def test_a_message_prints_its_signature_short_or_unsigned() -> None:
    m = request("a")
    assert f"signature=<{m.signature[:4].hex()}…>" in repr(m)
    assert "signature=<unsigned>" in repr(attrs.evolve(m, signature=b""))


def test_a_view_change_changed_on_its_way_is_noted_against_the_relayer() -> None:
    _, changed = changed_on_its_way(pre_prepare(1, request("a")))
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    box.deliver(changed, source="r1")
    (record,) = box.node.audit.records
    assert (record.accused, record.kind) == ("r1", "bad_signature")
    assert record.detail == "a batch inside changed on its way"


def test_the_encoding_signed_covers_every_item_of_a_sequence() -> None:
    # signing_bytes is injective: were a tuple's items left out, a relay could swap the requests
    # of a batch or the certificates of a view change under an unchanged signature
    assert encode((1, 2)) != encode((1, 3)) != encode((None, None))
    assert encode(("a",)) != encode((b"a",))
    # None and the booleans are values of their own, not nothing
    assert encode((None, "a")) != encode(("a", None))
    assert encode((True, "a")) != encode(("a", True)) != encode(("a", False))
    a, b = pre_prepare(1, request("a")), pre_prepare(1, request("b", 2))
    one, other = view_change(1, "r4", certificate(a)), view_change(1, "r4", certificate(b))
    assert signing_bytes(one.body) != signing_bytes(other.body)


def test_the_key_ring_keeps_its_seed() -> None:
    # the Byzantine replicas draw from it (impl/pbft/byzantine/node.py): a run's seed, not None
    ring = KeyRing(7, ("r1", "c1"))
    assert ring.seed == 7 and KeyRing(8, ("r1",)).seed == 8


# -- `proves` on every kind of record, with the near misses beside each (mutation campaign: each
# near miss is a change of one operator in `proves` that no run of the protocol produces, since an
# honest replica only writes records that hold; an operator or another replica reads any record)


def _record(kind: str, *messages: object, accused: str = "r1") -> Evidence:
    return Evidence("r3", accused, kind, tuple(messages), 7)


def _proves(record: Evidence) -> bool:
    box = Box("r3")
    return proves(record, box.config, box.node.verify)


def test_equivocation_is_two_pre_prepares_of_one_slot_with_two_digests() -> None:
    a, b = pre_prepare(1, request("a")), pre_prepare(1, request("b", 2))
    assert _proves(_record(EQUIVOCATION, a, b))
    assert not _proves(_record(EQUIVOCATION, a, pre_prepare(2, request("b", 2))))  # two slots
    assert not _proves(_record(EQUIVOCATION, a, a))  # one digest
    vote = signed("r1", Prepare(0, 1, b.body.digest, "r1"))  # a vote, not a proposal
    assert not _proves(_record(EQUIVOCATION, vote, a))
    assert not _proves(_record(EQUIVOCATION, a, vote))
    assert not _proves(_record(EQUIVOCATION, a))  # one message


def test_wrong_primary_is_a_proposal_signed_by_a_backup() -> None:
    assert _proves(_record(WRONG_PRIMARY, pre_prepare(1, request("a"), src="r2"), accused="r2"))
    assert not _proves(_record(WRONG_PRIMARY, pre_prepare(1, request("a"))))  # r1 is primary
    vote = prepare(pre_prepare(1, request("a")), "r2")  # signed by a backup, but not a proposal
    assert not _proves(_record(WRONG_PRIMARY, vote, accused="r2"))


def test_forged_request_is_a_proposal_carrying_a_request_its_client_did_not_sign() -> None:
    good = request("a")
    by_primary = signed("r1", Request("c1", 1, "a"))  # r1 signs a request in c1's name
    assert _proves(_record(FORGED_REQUEST, pre_prepare(1, by_primary)))
    assert not _proves(_record(FORGED_REQUEST, pre_prepare(1, good)))  # every request is c1's
    # a batch its digest does not name was changed after r1 signed: it proves nothing of r1
    pp = pre_prepare(1, good)
    swapped = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=(by_primary,)))
    assert not _proves(_record(FORGED_REQUEST, swapped))


def test_a_view_change_proves_nothing_under_another_kind_or_once_its_batch_was_changed() -> None:
    pp = pre_prepare(1, request("a"))
    thin = view_change(1, "r4", PreparedProof(pp, (prepare(pp, "r2"),)))
    assert _proves(_record(BAD_VIEW_CHANGE, thin, accused="r4"))
    for kind in (EQUIVOCATION, WRONG_PRIMARY, FORGED_REQUEST, BAD_STATE):
        assert not _proves(_record(kind, thin, accused="r4"))
    # a bad certificate whose pre-prepare's batch was changed on the way: its signer r4 did not
    # sign what the record holds
    other = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=(request("b", 2),)))
    changed = view_change(1, "r4", PreparedProof(other, (prepare(pp, "r2"),)))
    assert not _proves(_record(BAD_VIEW_CHANGE, changed, accused="r4"))


def test_the_audit_log_keeps_each_offence_once_with_its_time_and_detail() -> None:
    log = AuditLog(Box("r3").config)
    pp = pre_prepare(1, request("a"))
    first = log.report("r1", BAD_STATE, [pp], 12)
    assert first is not None and (first.time, first.detail) == (12, "")
    assert log.report("r1", BAD_STATE, [pp], 13) is None  # the same offence again
    assert log.records == [first]
    garbage = log.report("r2", BAD_STATE, [["not", "hashable"]], 14, "junk")
    assert garbage is not None and garbage.detail == "junk"
    assert log.report("r2", BAD_STATE, [["not", "hashable"]], 15) is None  # known by its text
    assert len(log.records) == 2


# -- a new-view message checked from outside (impl/pbft/viewchange.py `check_new_view`): each
# reason is named, since the reason is what the audit record and the operator see


def _new_view_parts() -> tuple[tuple[Signed[ViewChange], ...], Signed[PrePrepare]]:
    a = request("a")
    vcs = (
        view_change(1, "r2"),
        view_change(1, "r3", certificate(pre_prepare(1, a))),
        view_change(1, "r4"),
    )
    return vcs, signed("r2", PrePrepare(1, 1, batch_digest((a,)), "r2", (a,)))


def _why(nv: Signed[NewView]) -> object:
    box = Box("r3")
    return check_new_view(nv, box.config, box.node.verify)


def test_each_reason_a_new_view_is_refused_is_named() -> None:
    vcs, o = _new_view_parts()
    assert not isinstance(_why(signed("r2", NewView(1, vcs, (o,), "r2"))), str)  # a plan
    unsigned = attrs.evolve(vcs[0], signature=bytes(64))
    assert _why(signed("r2", NewView(1, (unsigned, *vcs[1:]), (o,), "r2"))) == (
        "a view-change message's signature is bad"
    )
    pp = pre_prepare(1, request("a"))
    thin = view_change(1, "r3", PreparedProof(pp, (prepare(pp, "r2"),)))  # not a certificate
    assert _why(signed("r2", NewView(1, (vcs[0], thin, vcs[2]), (o,), "r2"))) == (
        "a view-change message from r3 is not valid: too few prepares from distinct backups"
    )
    assert _why(signed("r2", NewView(1, (*vcs[:2], vcs[0]), (o,), "r2"))) == (
        "it does not carry view-change messages from 2f+1 distinct replicas"
    )
    # signed by the new primary r2, but naming r4 as its sender
    named_r4 = signed("r2", attrs.evolve(o.body, src="r4"))
    assert _why(signed("r2", NewView(1, vcs, (named_r4,), "r2"))) == (
        "one of its pre-prepares is not signed by the new primary"
    )
    assert _why(signed("r2", NewView(1, vcs, (), "r2"))) == (
        "its pre-prepares are not the O its view-change messages imply"
    )


def test_a_new_view_names_the_early_pre_prepare_it_replaces_and_re_queues_o() -> None:
    """A backup that accepts a new view records the new primary's early pre-prepare for the same
    number as equivocation (with what it was and when), and takes O's requests as pending until
    they execute."""
    vcs, o = _new_view_parts()
    x = request("x", 5)
    box = Box("r4")
    box.step(Tick(VIEW_CHANGE, now=40))
    box.deliver(signed("r2", PrePrepare(1, 1, batch_digest((x,)), "r2", (x,))))
    box.step(Deliver("r2", signed("r2", NewView(1, vcs, (o,), "r2")), now=55))
    (record,) = box.node.audit.records
    assert (record.kind, record.detail, record.time) == (
        "equivocation",
        "a new-view pre-prepare",
        55,
    )
    # O's request is pending until it executes, beside the early one's (not executed either)
    assert box.node.pending == {("c1", 1): o.body.batch[0], ("c1", 5): x}


def test_a_primary_restarted_knows_the_digest_it_proposed() -> None:
    box = Box("r1")
    box.deliver(request("a"))
    (pp,) = box.node.log.pre_prepares.values()
    box.restart()
    assert box.node.log.accepted[(0, 1)] == pp.body.digest


# -- what the signatures rest on: the keys and the signed encoding, checked in the test itself
# (the suite's key ring is built at import, where no test is credited with running it)


def test_a_replicas_key_is_derived_from_the_protocol_the_seed_and_the_holder() -> None:
    """The 32 secret bytes are SHA-256 of "meshcheck-pbft:<seed>:<holder>" (impl/base/ed25519.py):
    other seeds, holders or protocols (HotStuff's keys) give other keys."""
    key = derive_private_key(3, "r1")
    assert key.private_bytes_raw() == sha256(b"meshcheck-pbft:3:r1")
    assert derive_private_key(3, "r2").private_bytes_raw() != key.private_bytes_raw()
    assert derive_private_key(4, "r1").private_bytes_raw() != key.private_bytes_raw()
    ring = KeyRing(3, ("r1",))
    assert ring.knows("r1") and not ring.knows("r2")
    assert ring.verify("r1", key.sign(b"m"), b"m")


def test_a_set_is_signed_by_its_items_in_any_order_and_a_stranger_type_is_refused() -> None:
    # the format, tag by tag: one byte for None and the booleans, tag and length for the rest
    assert (encode(None), encode(True), encode(False)) == (b"N", b"T", b"F")
    two = (2).to_bytes(4, "big")
    assert (encode(12), encode("ab"), encode(b"ab")) == (
        b"i" + two + b"12",
        b"s" + two + b"ab",
        b"b" + two + b"ab",
    )
    body = Prepare(0, 1, b"d", "r2")
    assert encode(Signed(body, "r2", b"sig")) == (
        b"S" + signing_bytes(body) + encode("r2") + encode(b"sig")
    )
    assert encode(frozenset({"a"})) == b"f" + (1).to_bytes(4, "big") + encode("a")
    both = sorted([encode("a"), encode("b")])
    assert encode(frozenset({"b", "a"})) == b"f" + (2).to_bytes(4, "big") + b"".join(both)
    assert encode({"a", "b"}) == encode(frozenset({"a", "b"})) != encode(("a", "b"))
    assert encode(("x", frozenset({1}))) == b"t" + (2).to_bytes(4, "big") + encode("x") + (
        encode(frozenset({1}))
    )
    # a mapping (an impl/rsm operation is one) by its pairs, keys and values both, in any order
    ab = encode("a") + encode(1) + encode("b") + encode(2)
    assert encode(FrozenDict({"b": 2, "a": 1})) == b"d" + (2).to_bytes(4, "big") + ab
    assert encode(FrozenDict({"a": 1})) != encode(FrozenDict({"a": 2})) != encode({"c": 2})
    with pytest.raises(TypeError, match=r"^cannot encode object for signing: <object object"):
        encode(object())


def test_each_reason_a_prepared_certificate_is_refused_is_named() -> None:
    box = Box("r3")

    def why(proof: PreparedProof) -> str | None:
        return check_prepared(proof, box.config, box.node.verify)

    pp = pre_prepare(1, request("a"))
    votes = certificate(pp).prepares
    assert why(certificate(pp)) is None
    bad = attrs.evolve(pp, signature=bytes(64))
    assert why(PreparedProof(bad, votes)) == "a pre-prepare's signature is bad"
    # a backup's pre-prepare with 2f prepares is no certificate: view 0's primary is r1
    by_backup = pre_prepare(1, request("a"), src="r2")
    assert why(certificate(by_backup)) == "a pre-prepare of view 0 is not from its primary"
    other_batch = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=(request("b", 2),)))
    assert why(PreparedProof(other_batch, votes)) == (
        "a pre-prepare's batch does not match its digest"
    )
    by_primary = signed("r1", Request("c1", 1, "a"))  # r1 signs a request in c1's name
    assert why(certificate(pre_prepare(1, by_primary))) == (
        "a pre-prepare holds a request its client did not sign"
    )
    unsigned = (votes[0], attrs.evolve(votes[1], signature=bytes(64)))
    assert why(PreparedProof(pp, unsigned)) == "a prepare's signature is bad"
    other = pre_prepare(2, request("a"))
    assert why(PreparedProof(pp, (prepare(pp, "r2"), prepare(other, "r3")))) == (
        "a prepare does not match its pre-prepare"
    )


def test_a_view_change_whose_relayed_batch_cannot_even_be_hashed_is_not_intact() -> None:
    pp = pre_prepare(1, request("a"))
    junk = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=(object(),)))  # type: ignore[arg-type]
    vc = view_change(1, "r4", attrs.evolve(certificate(pp), pre_prepare=junk))
    assert relayed_intact(view_change(1, "r4", certificate(pp)))
    assert not relayed_intact(vc)
    # a new view that carries a vote among its view changes: nothing relayed was changed (what
    # it carries is check_new_view's to refuse)
    vcs, o = _new_view_parts()
    vote = prepare(pp, "r2")
    # a view change inside a new view whose certificate's batch was changed on the way
    cert = vcs[1].body.prepared[0]
    changed = attrs.evolve(
        cert,
        pre_prepare=attrs.evolve(
            cert.pre_prepare, body=attrs.evolve(cert.pre_prepare.body, batch=())
        ),
    )
    inner = attrs.evolve(vcs[1], body=attrs.evolve(vcs[1].body, prepared=(changed,)))
    assert not relayed_intact(signed("r2", NewView(1, (vcs[0], inner, vcs[2]), (o,), "r2")))
    # a claim that is no certificate at all is check_view_change's to refuse, not a changed batch
    odd = attrs.evolve(vcs[1], body=attrs.evolve(vcs[1].body, prepared=("junk",)))  # type: ignore[arg-type]
    assert relayed_intact(signed("r2", NewView(1, (vcs[0], odd, vcs[2]), (o,), "r2")))
    assert relayed_intact(odd)
    # a certificate whose pre-prepare is another kind of message: check_prepared's to refuse
    vote_cert = attrs.evolve(certificate(pp), pre_prepare=vote)  # type: ignore[arg-type]
    assert relayed_intact(view_change(1, "r4", vote_cert))
    assert relayed_intact(signed("r2", NewView(1, (vote, *vcs), (o,), "r2")))  # type: ignore[arg-type]


def test_more_reasons_a_new_view_or_view_change_is_refused() -> None:
    vcs, o = _new_view_parts()
    vote = prepare(pre_prepare(1, request("a")), "r2")
    assert _why(signed("r2", NewView(1, (vote, *vcs), (o,), "r2"))) == (  # type: ignore[arg-type]
        "it carries something else than view-change messages"
    )
    assert _why(signed("r2", NewView(1, vcs, (vote,), "r2"))) == (  # type: ignore[arg-type]
        "it carries something else than pre-prepares"
    )
    old_view = signed("r2", attrs.evolve(o.body, view=0))
    assert _why(signed("r2", NewView(1, vcs, (old_view,), "r2"))) == (
        "one of its pre-prepares has the wrong view or digest"
    )
    history = ((request("a"),),)
    vc = view_change(1, "r4", ckpt=history)
    stray = checkpoint(((request("b", 2),),), "r2")  # another history, at the same number
    body = attrs.evolve(vc.body, ckpt_proof=(stray, *vc.body.ckpt_proof[1:]))
    box = Box("r3")
    assert check_view_change(vc, box.config, box.node.verify) is None
    assert check_view_change(signed("r4", body), box.config, box.node.verify) == (
        "a checkpoint does not match the claimed stable checkpoint"
    )

    def why(body: ViewChange) -> str | None:
        return check_view_change(signed("r4", body), box.config, box.node.verify)

    proof = vc.body.ckpt_proof
    assert why(attrs.evolve(view_change(1, "r4").body, ckpt_digest=bytes(32))) == (
        "the initial checkpoint has the wrong digest"
    )
    unsigned = (attrs.evolve(proof[0], signature=bytes(64)), *proof[1:])
    assert why(attrs.evolve(vc.body, ckpt_proof=unsigned)) == "a checkpoint's signature is bad"
    assert why(attrs.evolve(vc.body, ckpt_proof=proof[:1])) == (
        "the stable checkpoint has too few proofs"
    )


def test_a_view_changes_claims_lie_above_its_checkpoint_one_per_number_in_earlier_views() -> None:
    """Section 4.4: P holds prepared certificates for numbers above the sender's stable checkpoint
    and within its window (h < n <= h + L), at most one per number, each prepared in a view
    before the one the message is for. Any other claim is out of place, whatever else holds."""
    box = Box("r3", checkpoint_every=2, window=4)
    history = ((request("a"),), (request("b", 2),))

    def why(*claims: PreparedProof, view: int = 2) -> str | None:
        vc = view_change(view, "r4", *claims, ckpt=history)
        return check_view_change(vc, box.config, box.node.verify)

    def cert(seq: int, view: int = 0, op: str = "c") -> PreparedProof:
        return certificate(pre_prepare(seq, request(op, 10 + seq), view=view))

    assert why(cert(3), cert(6), cert(4, view=1)) is None
    assert why(cert(2)) == "a prepared claim for 2 in view 0 is out of place"  # at h
    assert why(cert(7)) == "a prepared claim for 7 in view 0 is out of place"  # past h + L
    assert why(cert(3), cert(3, op="d")) == "a prepared claim for 3 in view 0 is out of place"
    assert why(cert(3, view=1), cert(3, view=0)) == (
        "a prepared claim for 3 in view 0 is out of place"
    )
    assert why(cert(3, view=2)) == "a prepared claim for 3 in view 2 is out of place"
    assert why(cert(3, view=1), view=1) == "a prepared claim for 3 in view 1 is out of place"


def test_a_late_view_change_is_not_judged_and_a_refused_one_says_why() -> None:
    """A view-change message for a view the replica is already in (normal operation) or has left
    is too late to matter: neither kept nor judged, so even an invalid one is no evidence. One
    for the next view that does not check is recorded against its signer with the reason."""
    pp = pre_prepare(1, request("a"))
    thin = PreparedProof(pp, (prepare(pp, "r2"),))  # one prepare: no certificate
    vcs, o = _new_view_parts()
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    box.deliver(signed("r2", NewView(1, vcs, (o,), "r2")))
    assert (box.node.view, box.node.status) == (1, NORMAL)
    box.deliver(view_change(1, "r4", thin))
    box.deliver(view_change(1, "r1"))
    box.deliver(view_change(0, "r1"))
    assert box.node.audit.records == [] and box.node.view_changes == {}
    box.deliver(view_change(2, "r4", thin))
    assert [(r.accused, r.kind, r.detail) for r in box.node.audit.records] == [
        ("r4", BAD_VIEW_CHANGE, "too few prepares from distinct backups")
    ]


def test_a_view_change_cancels_the_timers_of_the_requests_a_backup_waits_for() -> None:
    """Section 4.4: the request timers of a view are its own; a backup leaving the view stops
    them (the new view's primary is given its own time)."""
    box = Box("r2")
    box.deliver(request("a"))
    box.deliver(request("b", 2))
    effects = box.step(Tick(VIEW_CHANGE))
    cancelled = [e.timer for e in effects if isinstance(e, CancelTimer)]
    assert {"request c1 1", "request c1 2"} <= set(cancelled)


def test_garbage_that_cannot_be_hashed_is_kept_once_per_text() -> None:
    log = AuditLog(Box("r3").config)
    assert log.report("r2", BAD_STATE, [["x"]], 1) is not None
    assert log.report("r2", BAD_STATE, [["y"]], 2) is not None  # other garbage: another offence
    assert log.report("r2", BAD_STATE, [["x"]], 3) is None
    assert len(log.records) == 2


def test_a_replica_refuses_what_nobody_can_have_signed() -> None:
    node = Box("r3").node
    assert not node.verify(Signed(["a list"], "r1", bytes(64)))
    odd = Signed(Request("c1", 1, object()), "c1", bytes(64))  # an operation nothing can encode
    assert node.verify(odd) is False
    assert node.verify(odd) is False  # the second time from memory
    assert node.verify(request("a"))


def test_a_replica_and_a_client_name_a_step_out_of_order_or_of_the_wrong_kind() -> None:
    replica = Replica(PbftConfig("r2", REPLICAS), KEYS)
    with pytest.raises(
        RuntimeError, match=r"^r2: step\(Tick\(timer='view-change'\)\) before Restart: "
    ):
        replica.step(Tick(VIEW_CHANGE))
    replica.step(Restart({}))
    with pytest.raises(TypeError, match=r"^r2: not a PBFT replica event: 'junk'$"):
        replica.step("junk")
    client = Client(ClientConfig("c1", REPLICAS, timeout=500), KEYS)
    with pytest.raises(RuntimeError, match=r"^c1: step\(Tick\(timer='retry'\)\) before Restart$"):
        client.step(Tick(RETRY))
    client.step(Restart({}))
    with pytest.raises(TypeError, match=r"^c1: not a PBFT client event: 'junk'$"):
        client.step("junk")
    assert client.step(Tick("a timer it never set")) == []


def test_a_client_restarted_with_a_request_outstanding_retries_it() -> None:
    disk = Durable()
    client = Client(ClientConfig("c1", REPLICAS, timeout=500), KEYS)
    client.step(Restart({}))
    for e in client.step(ClientRequest("a")):
        if isinstance(e, Persist):
            disk.apply(e.writes)
    again = Client(ClientConfig("c1", REPLICAS, timeout=500), KEYS)
    effects = again.step(Restart(disk.view()))
    assert [(e.timer, e.after) for e in effects if isinstance(e, SetTimer)] == [(RETRY, 500)]
    # a new request does not push that retry back: its timer is already set; and it takes the
    # next timestamp, not a's again (which the replicas would answer with a's result)
    effects = again.step(ClientRequest("b"))
    assert not [e for e in effects if isinstance(e, SetTimer)]
    assert {e.message.body.timestamp for e in effects if isinstance(e, Send)} == {2}
    sends = again.step(Tick(RETRY))
    assert {e.dest for e in sends if isinstance(e, Send)} == set(REPLICAS)  # to every replica


def test_a_refused_new_view_is_recorded_with_its_reason_against_who_is_to_blame() -> None:
    """What the audit log says of a new-view message it refuses: a backup's, against its signer
    with the view it is not the primary of; one whose contents do not check, against its signer
    with `check_new_view`'s reason; one whose batch was changed on the way, against the replica
    that relayed it (impl/pbft/viewchange.py `relayed_intact`), never its signer."""
    vcs, o = _new_view_parts()
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    box.deliver(signed("r4", NewView(1, vcs, (o,), "r4")))
    box.deliver(signed("r2", NewView(1, vcs, (), "r2")))
    assert [(r.accused, r.kind, r.detail) for r in box.node.audit.records] == [
        ("r4", WRONG_PRIMARY, "not the primary of view 1"),
        ("r2", "bad_new_view", "its pre-prepares are not the O its view-change messages imply"),
    ]
    changed = attrs.evolve(o, body=attrs.evolve(o.body, batch=(request("b", 2),)))
    box = Box("r3")  # r2 is quarantined in the first: nothing it signs is heard there
    box.step(Tick(VIEW_CHANGE))
    box.deliver(signed("r2", NewView(1, vcs, (changed,), "r2")), source="r1")
    assert [(r.accused, r.kind, r.detail) for r in box.node.audit.records] == [
        ("r1", "bad_signature", "a batch inside changed on its way")
    ]


def test_a_body_that_is_no_message_has_no_signature_to_check() -> None:
    """A `Signed` around something that is no message (a Byzantine relay may send anything) is
    not signed by anyone: `verify` answers False, as for any bad signature, and does not raise."""
    box = Box("r3")
    with pytest.raises(TypeError, match=r"^cannot sign a str: not a message$"):
        signing_bytes("junk")
    assert box.node.verify(Signed("junk", "r1", bytes(64))) is False
    assert box.node.verify(Signed(Prepare(0, 1, bytes(32), "r1"), "r1", bytes(64))) is False
    box.deliver(Signed("junk", "r1", bytes(64)), source="r1")  # delivered: refused, no raise
    assert [(r.accused, r.kind) for r in box.node.audit.records] == [("r1", BAD_SIGNATURE)]


def test_o_starts_after_the_highest_stable_checkpoint_even_at_one() -> None:
    """min-s is the highest stable checkpoint of V, with its digest and proof, whatever its
    number: at 1 (a checkpoint every request) too, and 0 only when V holds none."""
    history = ((request("a"),),)
    proof = tuple(checkpoint(history, r) for r in ("r1", "r2", "r3"))
    config = PbftConfig("r3", REPLICAS, checkpoint_every=1, window=2)
    at_one = ViewChange(1, 1, proof[0].body.digest, proof, (), "r2")
    plan = plan_new_view([view_change(1, "r4").body, at_one], config)
    assert (plan.min_s, plan.ckpt_digest, plan.ckpt_proof, plan.pre_prepares) == (
        1,
        proof[0].body.digest,
        proof,
        (),
    )
    none = plan_new_view([view_change(1, r).body for r in ("r1", "r2", "r4")], config)
    assert (none.min_s, none.ckpt_digest, none.ckpt_proof) == (0, GENESIS, ())


def _retyped(body: Any) -> list[Any]:
    """`body` with each of its signed fields of a simple type given a value of another type (but
    the signer's name: a body naming someone else than its signer is a bad signature)."""
    others: dict[type, object] = {int: "7", str: 7, bytes: "d", bool: 1}
    out = []
    for f in attrs.fields(type(body)):
        value = getattr(body, f.name)
        if f.metadata.get("unsigned") or f.type not in ("int", "str", "bytes", "bool"):
            continue
        if f.name in ("src", "client"):
            continue
        out.append(attrs.evolve(body, **{f.name: others[type(value)]}))
        if type(value) is int:  # a bool is an int to Python, not to the message
            out.append(attrs.evolve(body, **{f.name: True}))
    return out


@attrs.frozen
class _Op:
    """A client operation of the client's own (an attrs class of another module)."""

    amount: int


def test_malformed_looks_into_every_message_and_leaves_operations_alone() -> None:
    """The type check reads every message a body holds, also after a client's operation (not a
    message, skipped), and names what it found; an operation is the client's business, whatever
    its fields hold."""
    bad = Request("c1", "2", "b")  # type: ignore[arg-type]
    reply = Reply(0, 1, bad, "ok", "r1")  # its result, no message, is looked at before the request
    assert malformed(reply) == "its Request's timestamp is a str, not int"
    assert malformed(Request("c1", 1, _Op("lots"))) is None  # type: ignore[arg-type]


def test_a_message_with_other_values_than_bytes_prints_them() -> None:
    """A digest or signature prints as its first bytes; a malformed message's value there prints
    as itself. Evidence of `malformed` holds the malformed message, and the hybrid layer reads its
    machine state, evidence included, through repr (impl/hybrid/machine.py `snapshot`), which
    raised TypeError in every honest node (property_tests/hybrid/byzantine_input.py found it)."""
    bad = Prepare(0, 1, Request("c1", 1, "x"), "r4")  # type: ignore[arg-type]
    assert repr(Signed(bad, "r4", 5)) == (  # type: ignore[arg-type]
        "Signed(body=Prepare(view=0, seq=1, digest=Request(client='c1', timestamp=1, "
        "operation='x'), src='r4'), signer='r4', signature=5)"
    )
    assert repr(Signed(bad, "r4", b"")).endswith("signature=<unsigned>)")


def test_a_message_signed_with_a_field_of_another_type_is_evidence_not_a_crash() -> None:
    """A Byzantine replica signs what it likes, a string for a sequence number too: such a
    message is refused, recorded as `malformed` against its signer, and proves it (anyone can
    check the types), wherever the field is, also inside a certificate a view change carries. A
    client's malformed request is dropped (the audit log is of replicas), and a client drops such
    a reply. Before the check, each of these raised TypeError inside the
    receiver's step (found by hand, 2026-11-23: the fuzzer changes values, never types)."""
    pp = pre_prepare(1, request("a"))
    vc = view_change(1, "r4", certificate(pp)).body
    bodies: list[Any] = [
        request("a").body,
        pp.body,
        prepare(pp, "r4").body,
        Commit(0, 1, pp.body.digest, "r4"),
        checkpoint(((request("a"),),), "r4").body,
        vc,
        Status(0, False, 0, 0, "r4"),
    ]
    cases = [changed for body in bodies for changed in _retyped(body)]
    vote = prepare(pp, "r2")
    inner = attrs.evolve(vote, body=attrs.evolve(vote.body, seq="1"))  # type: ignore[arg-type]
    deep = attrs.evolve(certificate(pp), prepares=(inner, certificate(pp).prepares[1]))
    cases.append(attrs.evolve(vc, prepared=(deep,)))
    assert len(cases) == 33
    for body in cases:
        signer = getattr(body, "src", None) or body.client
        m = signed(signer, body)
        box = Box("r3")
        box.deliver(m, source="r4")
        records = box.node.audit.records
        if signer not in REPLICAS:  # a client's: refused; the audit log keeps replicas' records
            assert records == [] and box.node.pending == {}, body
            continue
        assert len(records) == 1, (body, records)
        (record,) = records
        assert (record.accused, record.kind) == (signer, MALFORMED), body
        assert proves(record, box.config, box.node.verify), body
    assert not proves(
        Evidence("r3", "r4", MALFORMED, (prepare(pp, "r4"),), 0),
        Box("r3").config,
        Box("r3").node.verify,
    )
    client = Client(ClientConfig("c1", REPLICAS, timeout=500), KEYS)
    client.step(Restart({}))
    client.step(ClientRequest("a"))
    reply = Reply(0, 1, client.outstanding[1].body, "ok", "r1")
    for body in (*_retyped(reply), attrs.evolve(reply, request="a")):  # type: ignore[arg-type]
        assert client.step(Deliver("r1", signed("r1", body))) == []
    assert client.outstanding and client.accepted == []


def test_a_message_of_another_kind_inside_a_certificate_is_evidence_not_a_crash() -> None:
    """A signed body of the wrong class where the declared type names another: a client's request
    for a certificate's pre-prepare, a commit among its prepares, a prepare among a view change's
    checkpoint proof, a view change among a new view's pre-prepares. Each is well typed field by
    field, so the field-level check passed it, and the first one raised AttributeError in every
    honest replica that checked the view change (a Byzantine replica's replay, found by a
    `make verify` run: property_tests/pbft/test_free_runs.py `REPLAYED_REQUEST_IN_A_CERTIFICATE`).
    Now each is `malformed` evidence against its signer, and proves it."""
    pp = pre_prepare(1, request("a"))
    cert = certificate(pp)
    vc = view_change(1, "r4", cert).body
    as_request: Any = request("a")
    commit: Any = signed("r2", Commit(0, 1, pp.body.digest, "r2"))
    a_prepare: Any = prepare(pp, "r2")
    junk: Any = "not a proof"
    cases: list[Any] = [
        attrs.evolve(vc, prepared=(attrs.evolve(cert, pre_prepare=as_request),)),
        attrs.evolve(vc, prepared=(attrs.evolve(cert, prepares=(commit, cert.prepares[1])),)),
        attrs.evolve(vc, ckpt_proof=(a_prepare,)),
        attrs.evolve(vc, prepared=(junk,)),
    ]
    for body in cases:
        assert malformed(signed("r4", body)) is not None, body
        box = Box("r3")
        box.deliver(signed("r4", body), source="r4")
        (record,) = box.node.audit.records
        assert (record.accused, record.kind) == ("r4", MALFORMED), body
        assert proves(record, box.config, box.node.verify), body
    assert malformed(signed("r4", vc)) is None


def test_a_number_too_long_to_print_is_a_bad_signature_not_a_crash() -> None:
    """Python refuses to turn an int of more than 4,300 digits into text; the signed encoding
    wrote ints as text, so one such number in any signed field raised ValueError in the
    receiver's signature check (found by hand beside the Byzantine-input property, which draws
    no such numbers). It is now a value nothing can have signed."""
    box = Box("r3")
    huge = Signed(Prepare(10**5000, 1, b"d" * 32, "r4"), "r4", b"\0" * 64)
    box.deliver(huge, source="r4")
    assert [(r.accused, r.kind) for r in box.node.audit.records] == [("r4", BAD_SIGNATURE)]

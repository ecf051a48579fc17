"""PBFT's self-proving evidence checked from outside (impl/pbft/evidence.py `proves`, the reasons
of impl/pbft/viewchange.py) and how messages print: each test closes a gap the mutation campaign
found (mutation/run.py), a change of one line that no other fast test saw."""

from __future__ import annotations

import attrs

from meshcheck.impl.pbft import VIEW_CHANGE, KeyRing, PreparedProof, ViewChange, proves
from meshcheck.impl.pbft.messages import GENESIS, encode, signing_bytes
from meshcheck.impl.pbft.viewchange import check_view_change
from meshcheck.impl.sim import Tick
from tests.test_pbft_impl import (
    Box,
    certificate,
    pre_prepare,
    prepare,
    request,
    signed,
    view_change,
)


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
    first, second = pre_prepare(1, request("a")), pre_prepare(1, request("b", 2))
    box.deliver(first)
    box.deliver(second)
    (record,) = box.node.audit.records
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
    pp = pre_prepare(1, request("a"))
    honest = view_change(1, "r4", certificate(pp))
    other = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=(request("b", 2),)))
    proof = attrs.evolve(certificate(pp), pre_prepare=other)
    changed = attrs.evolve(honest, body=attrs.evolve(honest.body, prepared=(proof,)))
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
    a, b = pre_prepare(1, request("a")), pre_prepare(1, request("b", 2))
    one, other = view_change(1, "r4", certificate(a)), view_change(1, "r4", certificate(b))
    assert signing_bytes(one.body) != signing_bytes(other.body)


def test_the_key_ring_keeps_its_seed() -> None:
    # the Byzantine replicas draw from it (impl/pbft/byzantine/node.py): a run's seed, not None
    ring = KeyRing(7, ("r1", "c1"))
    assert ring.seed == 7 and KeyRing(8, ("r1",)).seed == 8

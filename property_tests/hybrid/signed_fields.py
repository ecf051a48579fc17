"""Every signed message of the hybrid layer, every field: changing it must make its signature check
fail, unless the field is declared unsigned with a reason (impl/hybrid/fuzz.py
`UNSIGNED_FIELDS`), and each reason holds at the receiver (property_tests/pbft/signed_fields.py
does the same for PBFT's messages, which the hybrid layer carries on its wire).

The signed types (entries.py, threat.py): a client's op, a clock reading and an evidence record,
each signed by its author (their `signature` field is the signature itself); a sealed Raft message
and a sealed proposal (`Keys.seal`, over the whole body with the entries in it, whose own
signatures the seal does not cover: those are checked one by one, `Keys.entry_ok`). Reasons
checked:

- an entry's own signature, changed inside a Byzantine leader's sealed AppendEntries: the follower
  does not take the entry, and reports the leader for tampering (node._inspect_append);
- a PBFT message moved to another epoch on the wire: that epoch's replica finds its signature bad.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base import mutation
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import HotStuffBft
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import HotStuffWire
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import client_id
from meshcheck.impl.hybrid.fuzz import UNSIGNED_FIELDS
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import RAFT_TAMPERING
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.proofs import pbft_config
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.signed_fields import changed_at

NODES = ("n1", "n2", "n3", "n4")
KEYS = Keys(11, NODES, ("c1",))
EPOCH = 1


def gallery() -> dict[str, tuple[Any, Callable[[Any], bool]]]:
    """name -> (a signed value, the check of its signature)."""
    op = KEYS.sign_op(ClientOp("c1", 1, ("put", "k", 1), EPOCH))
    clock = KEYS.sign_clock(ClockEntry("n1", 25))
    append = AppendEntriesRequest(
        "n1", "n2", 1, 0, 0, (Entry(1, OpEntry(op, EPOCH)), Entry(1, clock)), 0
    )
    sealed = KEYS.seal(EPOCH, "n1", RaftPayload(EPOCH, "n1", append))
    record = KEYS.sign_evidence(
        Evidence(TAMPERING, "n2", "n1", (sealed,), 30, EPOCH, RAFT_TAMPERING)
    )
    proposal = KEYS.seal(EPOCH, "n2", Proposal(EPOCH, "n2", EvidenceEntry(record)))
    return {
        "ClientOp": (op, KEYS.op_ok),
        "ClockEntry": (clock, KEYS.clock_ok),
        "Evidence": (record, KEYS.evidence_signed),
        "RaftPayload": (sealed, lambda m: KEYS.sealed_ok(EPOCH, m)),
        "Proposal": (proposal, lambda m: KEYS.sealed_ok(EPOCH, m)),
    }


GALLERY = gallery()
SIGNED_TYPES = tuple(GALLERY)


def unsigned_on(root: Any, path: mutation.Path) -> tuple[type, str] | None:
    """The declared-unsigned field the position lies in (None: every field on the way is signed)."""
    return mutation.unsigned_field(root, path, UNSIGNED_FIELDS)


def _donors() -> mutation.Donors:
    found = mutation.Donors(random.Random(0))
    for value, _ in GALLERY.values():
        found.add(value)
    return found


def _fail(what: str) -> CheckFailed:
    return CheckFailed(what, steps=1)


def check_coverage(name: str, path: mutation.Path, rng: random.Random) -> None:
    value, check = GALLERY[name]
    if unsigned_on(value, path) is not None:
        return
    changed = changed_at(value, path, rng, _donors())
    if changed is None:
        return
    forged = changed[0]
    try:
        same = signing_bytes(getattr(forged, "body", forged)) == signing_bytes(
            getattr(value, "body", value)
        ) and getattr(forged, "signer", None) == getattr(value, "signer", None)
    except TypeError:
        same = False
    if same:
        return  # an equal value: nothing changed
    try:
        ok = check(forged)
    except TypeError:
        ok = False
    if ok:
        raise _fail(
            f"{name}{mutation.describe(path)} changed ({changed[1]}) and its signature still "
            "checks: the field is not signed"
        )


def follower(bugs: frozenset[str]) -> HybridNode:
    node = HybridNode(
        HybridConfig("n2", NODES, bugs=bugs), KEYS, EvidenceChecker(KEYS), random.Random(0)
    )
    node.step(Restart({}))
    return node


def entry_signature_inside_a_seal(bugs: frozenset[str], which: int, rng: random.Random) -> None:
    """(ClientOp|ClockEntry, signature): the seal does not cover an entry's own signature, so the
    follower checks each: a Byzantine leader's sealed AppendEntries whose entry `which` carries a
    changed signature is not followed, and the leader is reported for tampering."""
    sealed, _ = GALLERY["RaftPayload"]
    append = sealed.body.message
    entry = append.entries[which]
    bad_signature = rng.randbytes(64)
    lie = attrs.evolve(
        append,
        entries=tuple(
            attrs.evolve(e, value=_with_signature(e.value, bad_signature)) if k == which else e
            for k, e in enumerate(append.entries)
        ),
    )
    message = KEYS.seal(EPOCH, "n1", RaftPayload(EPOCH, "n1", lie))
    node = follower(bugs)
    node.step(Deliver("n1", message))
    core: Any = node.instances[EPOCH].core
    if core.log.last_index >= which + 1:
        raise _fail(
            f"{type(entry.value).__name__}.signature changed inside n1's sealed AppendEntries: "
            f"n2 took the entry into its log"
        )
    if not any(r.kind == TAMPERING and r.accused == "n1" for r in node.reported):
        raise _fail("an entry's signature changed inside a seal: n2 did not report n1")
    # and the true one is followed (else the case proves nothing)
    node = follower(bugs)
    node.step(Deliver("n1", sealed))
    if node.instances[EPOCH].core.log.last_index != len(append.entries):  # type: ignore[union-attr]
        raise _fail("n1's true AppendEntries is not followed")
    if node.reported:
        raise _fail(f"n2 reports n1 for its true AppendEntries: {node.reported}")


def _with_signature(value: Any, signature: bytes) -> Any:
    if isinstance(value, OpEntry):
        return attrs.evolve(value, op=attrs.evolve(value.op, signature=signature))
    return attrs.evolve(value, signature=signature)


def wire_epoch(bugs: frozenset[str]) -> None:
    """(PbftWire, epoch): an honest PBFT request of epoch 2 moved to epoch 3 on the wire: the
    replica of epoch 3 finds its signature bad (keys are per epoch), and takes nothing."""
    me = client_id("n1")
    request = Request(me, 1, "op")
    signed = Signed(request, me, KEYS.epoch(2).signer(me).sign(signing_bytes(request)))
    moved = PbftWire(3, signed)
    replica = Replica(pbft_config(NODES, "n2"), KEYS.epoch(moved.epoch))
    replica.step(Restart({}))
    replica.step(Deliver("n1", moved.message))
    if replica.pending or not replica.audit.records:
        raise _fail("PbftWire.epoch: a request of epoch 2 moved to epoch 3 is taken there")
    home = Replica(pbft_config(NODES, "n2"), KEYS.epoch(2))
    home.step(Restart({}))
    home.step(Deliver("n1", signed))
    if not home.pending:
        raise _fail("PbftWire.epoch: the true request is not taken in its own epoch")


def hotstuff_wire_epoch(bugs: frozenset[str]) -> None:
    """(HotStuffWire, epoch): an honest HotStuff request of epoch 2 moved to epoch 3 on the wire:
    the replica of epoch 3 finds its signature bad (keys are per epoch), and takes nothing."""
    me = client_id("n1")
    config = HybridConfig("n2", NODES, bft=HOTSTUFF, bugs=bugs)

    def replica(epoch: int) -> HotStuffBft:
        bft = HotStuffBft(config, KEYS, epoch, StateMachine)
        bft.core.step(Restart({}))
        return bft

    request = replica(2).request(me, 1, "op")
    moved = HotStuffWire(3, request)
    there = replica(moved.epoch)
    there.core.step(Deliver("n1", moved.message))
    if there.core.pending:
        raise _fail("HotStuffWire.epoch: a request of epoch 2 moved to epoch 3 is taken there")
    home = replica(2)
    home.core.step(Deliver("n1", request))
    if not home.core.pending:
        raise _fail("HotStuffWire.epoch: the true request is not taken in its own epoch")


def signed_fields(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The property (module doc) with the hybrid nodes' `bugs`."""
    rng = random.Random(0)
    for which in (0, 1):
        entry_signature_inside_a_seal(bugs, which, rng)
    wire_epoch(bugs)
    hotstuff_wire_epoch(bugs)
    paths = {name: list(mutation.positions(GALLERY[name][0])) for name in SIGNED_TYPES}

    @given(st.data(), st.randoms(use_true_random=False))
    # a quarter of the profile's examples (ci 20, dev 50): each costs a few signature checks
    @hypothesis.settings(settings, max_examples=max(20, settings.max_examples // 4))
    def every_field(data: st.DataObject, rng: random.Random) -> None:
        name = data.draw(st.sampled_from(SIGNED_TYPES), label="type")
        check_coverage(name, data.draw(st.sampled_from(paths[name]), label="position"), rng)

    every_field()

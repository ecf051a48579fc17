"""Every signed PBFT message, every field: changing it must make the signature check fail, unless the
field is declared unsigned with a reason (impl/pbft/byzantine/fuzz.py `UNSIGNED_FIELDS`), and each
reason holds at the receiver. The cheap complement of the message fuzzer (ByzzFuzz line): the fuzzer
finds what a whole run does with a changed message, this finds every field a signature forgets.

- coverage: for each signed body type (the `Body` union of impl/pbft/messages.py), a real signed
  message (a small gallery: a request, a pre-prepare of a batch, votes, a reply, checkpoints with
  their state, a view change with a checkpoint proof and a prepared certificate, the new view built
  on three of them, a status). Hypothesis chooses a position in the body (any depth) and how to
  change it (impl/base/mutation.py: ints, bytes, strings, tuples shrunk, grown or swapped, values
  swapped); the replica's check of the old signature over the changed body must fail, unless the
  position lies in a declared-unsigned field.
- reasons: each declared-unsigned field, changed in a message relayed by a Byzantine replica, and
  each field that carries messages signed on their own (`SIGNED_PARTS`), with one of those inner
  messages changed and the outer one signed again by its (Byzantine) signer: the receiver takes
  the true message, and not the changed one, and blames no honest replica.

The check runs with a set of mutants (`signed_fields(bugs, settings)`: `meshcheck mutants pbft`
runs it as one of the protocol's checks): the receiver is a replica with those bugs.
"""

from __future__ import annotations

import random
import typing
from collections.abc import Callable
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base import mutation
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.pbft.byzantine.fuzz import UNSIGNED_FIELDS
from meshcheck.impl.pbft.byzantine.fuzz import claimed_signer
from meshcheck.impl.pbft.byzantine.fuzz import forged_part
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import Body
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import history_digest
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.pbft.viewchange import plan_new_view
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.signed_fields import changed_at

REPLICAS = ("r1", "r2", "r3", "r4")
CLIENTS = ("c1",)
KEYS = KeyRing(7, (*REPLICAS, *CLIENTS))
OPTIONS: dict[str, Any] = {"checkpoint_every": 2, "window": 4}
RECEIVER = "r3"  # honest; r1 is the primary of view 0, r2 of view 1

SIGNED_TYPES: tuple[type, ...] = typing.get_args(Body)


def sign(holder: str, body: Any) -> Signed[Any]:
    return Signed(body, holder, KEYS.signer(holder).sign(signing_bytes(body)))


@attrs.frozen
class Gallery:
    """One real signed message of each type, and the pieces the reasons' cases are made of."""

    messages: dict[type, Signed[Any]]
    pre_prepare: Signed[PrePrepare]  # r1's, view 0, sequence number 1
    other_batch: tuple[Signed[Request], ...]
    checkpoint: Signed[Checkpoint]  # r1's at 2, with the state
    view_change: Signed[ViewChange]  # r4's, for view 1
    new_view: Signed[NewView]  # r2's, view 1


def gallery() -> Gallery:
    requests = [sign("c1", Request("c1", t, f"op{t}")) for t in (1, 2, 3, 4)]
    b1, b2, b3 = (requests[0],), (requests[1],), (requests[2],)
    pp1 = sign("r1", PrePrepare(0, 1, batch_digest(b1), "r1", b1))
    history = (b1, b2)
    state = history_digest(history)
    checkpoints = tuple(sign(r, Checkpoint(2, state, r, history)) for r in ("r1", "r2", "r3"))
    pp3 = sign("r1", PrePrepare(0, 3, batch_digest(b3), "r1", b3))
    prepares = tuple(sign(r, Prepare(0, 3, pp3.body.digest, r)) for r in ("r2", "r3"))
    proof = PreparedProof(pp3, prepares)
    vcs = tuple(sign(r, ViewChange(1, 2, state, checkpoints, (proof,), r)) for r in REPLICAS[1:])
    config = PbftConfig(RECEIVER, REPLICAS, CLIENTS, **OPTIONS)
    plan = plan_new_view([vc.body for vc in vcs], config)
    o = tuple(sign("r2", PrePrepare(1, n, batch_digest(b), "r2", b)) for n, b in plan.pre_prepares)
    nv = sign("r2", NewView(1, vcs, o, "r2"))
    messages: dict[type, Signed[Any]] = {
        Request: requests[0],
        PrePrepare: pp1,
        Prepare: prepares[0],
        Commit: sign("r2", Commit(0, 3, pp3.body.digest, "r2")),
        Reply: sign("r2", Reply(0, 1, requests[0].body, "done", "r2")),
        Checkpoint: checkpoints[0],
        ViewChange: vcs[-1],
        NewView: nv,
        Status: sign("r3", Status(1, True, 2, 3, "r3")),
    }
    return Gallery(messages, pp1, (requests[3],), checkpoints[0], vcs[-1], nv)


GALLERY = gallery()


def donors() -> mutation.Donors:
    found = mutation.Donors(random.Random(0))
    for m in GALLERY.messages.values():
        found.add(m)
    return found


def unsigned_on(root: Any, path: mutation.Path) -> tuple[type, str] | None:
    """The declared-unsigned field the position lies in (None: every field on the way is signed)."""
    return mutation.unsigned_field(root, path, UNSIGNED_FIELDS)


def receiver(bugs: frozenset[str]) -> Replica:
    replica = Replica(PbftConfig(RECEIVER, REPLICAS, CLIENTS, bugs=bugs, **OPTIONS), KEYS)
    replica.step(Restart({}))
    return replica


def _fail(what: str) -> CheckFailed:
    return CheckFailed(what, steps=1)


# -- the signature covers every field but those declared unsigned -----------------------------------


def check_coverage(
    kind: type, path: mutation.Path, rng: random.Random, bugs: frozenset[str]
) -> None:
    """One position of one message type changed: its old signature must not check (unless the
    position is declared unsigned)."""
    m = GALLERY.messages[kind]
    if unsigned_on(m.body, path) is not None:
        return
    changed = changed_at(m.body, path, rng, donors())
    if changed is None:
        return
    body = changed[0]
    if body == m.body and signing_bytes(body) == signing_bytes(m.body):
        return  # the change did not change the message (equal values)
    forged = Signed(body, m.signer, m.signature)
    if receiver(bugs).verify(forged):
        raise _fail(
            f"{kind.__name__}{mutation.describe(path)} changed ({changed[1]}) and "
            f"{m.signer}'s signature still checks: the field is not signed"
        )


def check_signer_field(kind: type, bugs: frozenset[str]) -> None:
    """The envelope names another signer: the signature must not check for it."""
    m = GALLERY.messages[kind]
    other = next(r for r in (*REPLICAS, *CLIENTS) if r != m.signer)
    if receiver(bugs).verify(attrs.evolve(m, signer=other)):
        raise _fail(f"{kind.__name__}: {m.signer}'s signature checks as {other}'s")


# -- each reason holds at the receiver ----------------------------------------------------------------


def _accused_honest(replica: Replica, byzantine: str) -> str | None:
    for record in replica.audit.records:
        if record.accused != byzantine:
            return f"{replica.id} blames honest {record.accused} ({record.kind}: {record.detail})"
    return None


def relayed_batch(bugs: frozenset[str]) -> None:
    """PrePrepare.batch: r4 relays r1's pre-prepare with another batch. The receiver must not take
    it nor blame r1; the true one, after it, is taken."""
    pp = GALLERY.pre_prepare
    for batch in (GALLERY.other_batch, (), (*pp.body.batch, *GALLERY.other_batch)):
        replica = receiver(bugs)
        changed = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=batch))
        replica.step(Deliver("r4", changed))
        held = replica.log.pre_prepares.get((0, 1))
        if held is not None:
            raise _fail(
                f"PrePrepare.batch: {RECEIVER} took r1's pre-prepare relayed by r4 with the "
                f"batch {[r.body.operation for r in batch]} its digest does not name"
            )
        blamed = _accused_honest(replica, "r4")
        if blamed is not None:
            raise _fail(f"PrePrepare.batch relayed changed by r4: {blamed}")
        replica.step(Deliver("r1", pp))
        if replica.log.pre_prepares.get((0, 1)) != pp:
            raise _fail("PrePrepare.batch: the true pre-prepare is not taken after a changed copy")


def relayed_state(bugs: frozenset[str]) -> None:
    """Checkpoint.history: r4 relays r1's checkpoint with another state to a replica that has
    executed nothing. The receiver must not blame r1, and the true copy still gives the state."""
    c = GALLERY.checkpoint
    wrong = (*(c.body.history or ())[:1], GALLERY.other_batch)
    replica = receiver(bugs)
    replica.step(Deliver("r4", attrs.evolve(c, body=attrs.evolve(c.body, history=wrong))))
    blamed = _accused_honest(replica, "r4")
    if blamed is not None:
        raise _fail(f"Checkpoint.history relayed changed by r4: {blamed}")
    replica.step(Deliver("r1", c))
    if (c.body.seq, c.body.digest) not in replica._states:
        raise _fail(
            "Checkpoint.history: after a changed copy relayed by r4, r1's true checkpoint "
            "no longer gives its state for a state transfer"
        )


def relayed_batch_inside(bugs: frozenset[str]) -> None:
    """PrePrepare.batch inside a view-change message (a prepared certificate) and inside a
    new-view message (O): r4 relays r2's view-change message and r2's new-view message with a
    batch changed under the signed digests. The receiver must not take them and must blame no
    honest replica (the outer signatures do not cover the batches either)."""
    nv = GALLERY.new_view
    vc = next(v for v in nv.body.view_changes if v.signer == "r2")
    other = GALLERY.other_batch
    proof = vc.body.prepared[0]
    changed_pp = attrs.evolve(
        proof.pre_prepare, body=attrs.evolve(proof.pre_prepare.body, batch=other)
    )
    changed_vc = attrs.evolve(
        vc, body=attrs.evolve(vc.body, prepared=(attrs.evolve(proof, pre_prepare=changed_pp),))
    )
    o = nv.body.pre_prepares
    changed_o = (attrs.evolve(o[0], body=attrs.evolve(o[0].body, batch=other)), *o[1:])
    cases: dict[str, tuple[Signed[Any], Callable[[Replica], bool]]] = {
        "a view-change message": (changed_vc, lambda r: "r2" in r.view_changes.get(1, {})),
        "a new-view message": (
            attrs.evolve(nv, body=attrs.evolve(nv.body, pre_prepares=changed_o)),
            lambda r: 1 in r.new_views,
        ),
    }
    for what, (message, taken) in cases.items():
        replica = receiver(bugs)
        replica.step(Deliver("r4", message))
        if taken(replica):
            raise _fail(f"PrePrepare.batch changed inside {what} relayed by r4: {RECEIVER} took it")
        blamed = _accused_honest(replica, "r4")
        if blamed is not None:
            raise _fail(f"PrePrepare.batch changed inside {what} relayed by r4: {blamed}")


@attrs.frozen
class Part:
    """One field that carries signed messages: the outer message, its Byzantine signer, the
    evidence the receiver must record, and how to tell the receiver took it."""

    outer: Signed[Any]
    evidence: str
    taken: Callable[[Replica, Signed[Any]], bool]


def parts() -> dict[tuple[type, str], Part]:
    vc, nv, pp = GALLERY.view_change, GALLERY.new_view, GALLERY.pre_prepare

    def vc_taken(replica: Replica, m: Signed[Any]) -> bool:
        return any(m is held for held in replica.view_changes.get(1, {}).values())

    def nv_taken(replica: Replica, m: Signed[Any]) -> bool:
        return replica.new_views.get(1) is m or replica.view == 1

    def pp_taken(replica: Replica, m: Signed[Any]) -> bool:
        return replica.log.pre_prepares.get((0, 1)) is m

    return {
        (PrePrepare, "batch"): Part(pp, "forged_request", pp_taken),
        (PreparedProof, "pre_prepare"): Part(vc, "bad_view_change", vc_taken),
        (PreparedProof, "prepares"): Part(vc, "bad_view_change", vc_taken),
        (ViewChange, "ckpt_proof"): Part(vc, "bad_view_change", vc_taken),
        (ViewChange, "prepared"): Part(vc, "bad_view_change", vc_taken),
        (NewView, "view_changes"): Part(nv, "bad_new_view", nv_taken),
        (NewView, "pre_prepares"): Part(nv, "bad_new_view", nv_taken),
    }


PARTS = parts()


def inner_paths(outer: Any, where: tuple[type, str]) -> list[mutation.Path]:
    """The positions of `outer`'s body inside a field `where` names that lie inside a signed
    message of that field (a change there breaks an inner signature, not only the outer one)."""
    found = []
    for path in mutation.positions(outer.body):
        if unsigned_on(outer.body, path) not in (None, where):
            continue
        here, inside, seen_signed = outer.body, False, False
        for step in path:
            if isinstance(step, str) and (type(here), step) == where:
                inside = True
            here = here[step] if isinstance(step, int) else getattr(here, step)
            if inside and isinstance(here, Signed):
                seen_signed = True
        if inside and seen_signed:
            found.append(path)
    return found


def check_part(
    where: tuple[type, str], path: mutation.Path | None, rng: random.Random, bugs: frozenset[str]
) -> None:
    """One inner signed message changed (at `path`; None: one signature inside flipped), the outer
    message signed again by its Byzantine signer: the receiver must not take it, and must record
    the evidence the protocol names against that signer."""
    part = PARTS[where]
    outer = part.outer
    if path is None:
        path = min((p for p in inner_paths(outer, where) if p[-1] == "signature"), key=len)
        signature = mutation.get(outer.body, path)
        body = mutation.replace(outer.body, path, bytes([signature[0] ^ 1]) + signature[1:])
        how = "a signature inside flipped"
    else:
        changed = changed_at(outer.body, path, rng, donors())
        if changed is None:
            return
        body = changed[0]
        how = f"{mutation.describe(path)} {changed[1]}"
    if isinstance(body, PrePrepare):  # its batch is unsigned: the lie signs the batch's digest
        body = attrs.evolve(body, digest=batch_digest(body.batch))
    if claimed_signer(body) != outer.signer:
        return  # the outer body names another signer now: coverage's business
    message = sign(outer.signer, body)
    verify = receiver(frozenset()).verify
    if forged_part(message, verify) is None:
        return  # still every signature checks (an equal value): nothing forged to reject
    replica = receiver(bugs)
    replica.step(Deliver(outer.signer, message))
    name = f"{where[0].__name__}.{where[1]}"
    if part.taken(replica, message):
        raise _fail(f"{name}: {RECEIVER} took {outer.signer}'s message with {how}")
    blamed = _accused_honest(replica, outer.signer)
    if blamed is not None:
        raise _fail(f"{name} with {how}: {blamed}")
    # the evidence the protocol names (impl/pbft/evidence.py), against the signer who lied
    if not any(r.accused == outer.signer for r in replica.audit.records):
        raise _fail(f"{name} with {how}: {RECEIVER} recorded no evidence against {outer.signer}")


def check_true_parts_taken(bugs: frozenset[str]) -> None:
    """The unchanged outer messages are taken (else the cases above prove nothing)."""
    for where, part in PARTS.items():
        replica = receiver(bugs)
        replica.step(Deliver(part.outer.signer, part.outer))
        if not part.taken(replica, part.outer):
            raise _fail(f"{where[0].__name__}.{where[1]}: the true message is not taken")


# -- the check --------------------------------------------------------------------------------------


def signed_fields(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The property (module doc) for the replica with `bugs`: the fixed cases first (every reason
    once, one inner signature flipped per signed part), then Hypothesis's choices."""
    for kind in SIGNED_TYPES:
        check_signer_field(kind, bugs)
    relayed_batch(bugs)
    relayed_batch_inside(bugs)
    relayed_state(bugs)
    check_true_parts_taken(bugs)
    for where in PARTS:
        check_part(where, None, random.Random(0), bugs)

    paths = {kind: list(mutation.positions(GALLERY.messages[kind].body)) for kind in SIGNED_TYPES}
    inner = {where: inner_paths(PARTS[where].outer, where) for where in PARTS}

    @given(st.data(), st.randoms(use_true_random=False))
    # a quarter of the profile's examples (ci 20, dev 50): each costs a few signature checks
    @hypothesis.settings(settings, max_examples=max(20, settings.max_examples // 4))
    def every_field(data: st.DataObject, rng: random.Random) -> None:
        kind = data.draw(st.sampled_from(SIGNED_TYPES), label="type")
        path = data.draw(st.sampled_from(paths[kind]), label="position")
        check_coverage(kind, path, rng, bugs)
        where = data.draw(st.sampled_from(sorted(PARTS, key=str)), label="signed part")
        check_part(where, data.draw(st.sampled_from(inner[where]), label="inside"), rng, bugs)

    every_field()

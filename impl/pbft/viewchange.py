"""The view change's pure parts (OSDI 1999 section 4.4): checking a view-change message, computing
the new view's pre-prepares O from 2f+1 of them, and checking a new-view message by recomputing O.

The new primary and every backup run the same `plan_new_view`, so a backup accepts a new-view
message exactly when its O is what the view-change messages it carries imply (the backups "verify
the correctness of O by performing a computation similar to the one the primary used"). Nothing
here reads or changes a replica: signatures are checked through the `verify` function a replica
passes in (the one place where `signatures_not_checked` lives), so the checks are the replica's.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base import quorum
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.log import prepares_needed
from meshcheck.impl.pbft.log import stable_quorum
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest

Verify = Callable[[Signed[Any]], bool]


@attrs.frozen
class Plan:
    """What a set of view-change messages implies for the new view: min-s (the latest stable
    checkpoint among them, with its digest and proof: every replica of the new view adopts it),
    and O as (sequence number, batch) for min-s+1 .. max-s (the empty batch is the null
    request)."""

    min_s: int
    pre_prepares: tuple[tuple[int, Batch], ...]
    ckpt_digest: bytes = GENESIS
    ckpt_proof: tuple[Signed[Checkpoint], ...] = ()

    @property
    def max_s(self) -> int:
        return self.pre_prepares[-1][0] if self.pre_prepares else self.min_s


def _signed(m: Any, kind: type) -> bool:
    """Whether `m` is a signed message of the body type `kind`: what a message carries inside is
    whatever its sender put there (a Byzantine one may put a request where a checkpoint goes)."""
    return isinstance(m, Signed) and isinstance(m.body, kind)


def relayed_intact(m: Any) -> bool:
    """Whether the parts of a view-change or new-view message that no signature covers are the
    ones their signed digests name: the batches of the pre-prepares inside (messages.py leaves a
    batch out of the signed bytes, and so out of the bytes of any message that carries the
    pre-prepare). A message whose batches were changed on the way is not what its signer signed:
    it proves nothing against the signer, only against whoever relayed it."""
    body = m.body if isinstance(m, Signed) else None
    inside: list[Any] = []
    if isinstance(body, NewView):
        inside.extend(body.pre_prepares)
        for vc in body.view_changes:
            if isinstance(vc, Signed) and isinstance(vc.body, ViewChange):
                inside.extend(getattr(p, "pre_prepare", None) for p in vc.body.prepared)
    elif isinstance(body, ViewChange):
        inside.extend(getattr(p, "pre_prepare", None) for p in body.prepared)
    for pp in inside:
        if isinstance(pp, Signed) and isinstance(pp.body, PrePrepare):
            try:
                if batch_digest(pp.body.batch) != pp.body.digest:
                    return False
            except TypeError:  # a batch nothing can even hash
                return False
    return True


def check_prepared(proof: PreparedProof, config: PbftConfig, verify: Verify) -> str | None:
    """Why `proof` is not a prepared certificate (None: it is one)."""
    pp = proof.pre_prepare
    if not _signed(pp, PrePrepare) or not verify(pp) or pp.signer != pp.body.src:
        return "a pre-prepare's signature is bad"
    if (
        pp.signer != config.primary(pp.body.view)
        and mutants.PREPREPARE_FROM_NON_PRIMARY not in config.bugs
    ):
        return f"a pre-prepare of view {pp.body.view} is not from its primary"
    if batch_digest(pp.body.batch) != pp.body.digest:
        return "a pre-prepare's batch does not match its digest"
    if not all(verify(r) and r.signer == r.body.client for r in pp.body.batch):
        return "a pre-prepare holds a request its client did not sign"
    signers = set()
    for p in proof.prepares:
        if not _signed(p, Prepare) or not verify(p) or p.signer != p.body.src:
            return "a prepare's signature is bad"
        if p.signer not in config.replicas:  # a client holds a key too: its prepare is no vote
            return f"a prepare is signed by {p.signer}, no replica"
        if (p.body.view, p.body.seq, p.body.digest) != (pp.body.view, pp.body.seq, pp.body.digest):
            return "a prepare does not match its pre-prepare"
        # the primary's prepare counts for nothing: its vote is the pre-prepare
        if p.signer != pp.signer or mutants.PREPARED_COUNTS_PRIMARY in config.bugs:
            signers.add(p.signer)
    if len(signers) < prepares_needed(config):
        return "too few prepares from distinct backups"
    return None


def check_view_change(m: Signed[ViewChange], config: PbftConfig, verify: Verify) -> str | None:
    """Why the (signed, checked) view-change message `m` is not valid (None: it is)."""
    vc = m.body
    if vc.ckpt == 0:
        if vc.ckpt_digest != GENESIS:
            return "the initial checkpoint has the wrong digest"
    else:
        signers = set()
        for c in vc.ckpt_proof:
            if not _signed(c, Checkpoint) or not verify(c) or c.signer != c.body.src:
                return "a checkpoint's signature is bad"
            if c.signer not in config.replicas:
                return f"a checkpoint is signed by {c.signer}, no replica"
            if (c.body.seq, c.body.digest) != (vc.ckpt, vc.ckpt_digest):
                return "a checkpoint does not match the claimed stable checkpoint"
            signers.add(c.signer)
        if not quorum.reaches(signers, stable_quorum(config)):
            return "the stable checkpoint has too few proofs"
    seqs = set()
    claims: tuple[Any, ...] = vc.prepared  # whatever the sender put there
    for proof in claims:
        if not isinstance(proof, PreparedProof):
            return "a prepared claim is not a certificate"
        # Claims lie in the sender's window above its checkpoint, one per sequence number, and
        # in views before the new one.
        if (
            not vc.ckpt < proof.seq <= vc.ckpt + config.window
            or proof.seq in seqs
            or proof.view >= vc.view
        ):
            return f"a prepared claim for {proof.seq} in view {proof.view} is out of place"
        seqs.add(proof.seq)
        why = check_prepared(proof, config, verify)
        if why is not None:
            return why
    return None


def plan_new_view(view_changes: Sequence[ViewChange], config: PbftConfig) -> Plan:
    """O from (valid) view-change messages: min-s is the highest stable checkpoint among them;
    for each n from min-s+1 to max-s, the highest claimed, the batch of the claim of the highest
    view (ties: the first message's), else the null request."""
    start = max(view_changes, key=lambda vc: vc.ckpt, default=None)  # the first of the highest
    min_s = start.ckpt if start is not None else 0
    best: dict[int, PreparedProof] = {}
    if mutants.NEW_VIEW_IGNORES_PREPARED not in config.bugs:
        for vc in view_changes:
            for proof in vc.prepared:
                held = best.get(proof.seq)
                if proof.seq > min_s and (held is None or proof.view > held.view):
                    best[proof.seq] = proof
    max_s = max(best, default=min_s)
    pre_prepares = tuple(
        (n, best[n].pre_prepare.body.batch if n in best else ())
        for n in range(min_s + 1, max_s + 1)
    )
    if start is None or min_s == 0:
        return Plan(0, pre_prepares)
    return Plan(min_s, pre_prepares, start.ckpt_digest, start.ckpt_proof)


def check_new_view(m: Signed[NewView], config: PbftConfig, verify: Verify) -> str | Plan:
    """Why the (signed, checked) new-view message `m` is not valid, or the plan it follows."""
    nv = m.body
    signers = set()
    for vc in nv.view_changes:
        if not _signed(vc, ViewChange):
            return "it carries something else than view-change messages"
        if not verify(vc) or vc.signer != vc.body.src:
            return "a view-change message's signature is bad"
        if vc.signer not in config.replicas:
            return f"a view-change message is signed by {vc.signer}, no replica"
        if vc.body.view != nv.view:
            return f"a view-change message is for view {vc.body.view}, not {nv.view}"
        why = check_view_change(vc, config, verify)
        if why is not None:
            return f"a view-change message from {vc.signer} is not valid: {why}"
        signers.add(vc.signer)
    if not quorum.reaches(signers, config.quorum) or len(signers) != len(nv.view_changes):
        return "it does not carry view-change messages from 2f+1 distinct replicas"
    plan = plan_new_view([vc.body for vc in nv.view_changes], config)
    got = []
    for pp in nv.pre_prepares:
        if not _signed(pp, PrePrepare):
            return "it carries something else than pre-prepares"
        if not verify(pp) or pp.signer != m.signer or pp.body.src != m.signer:
            return "one of its pre-prepares is not signed by the new primary"
        if pp.body.view != nv.view or batch_digest(pp.body.batch) != pp.body.digest:
            return "one of its pre-prepares has the wrong view or digest"
        got.append((pp.body.seq, pp.body.digest))
    wanted = [(n, batch_digest(batch)) for n, batch in plan.pre_prepares]
    if got != wanted:
        return "its pre-prepares are not the O its view-change messages imply"
    return plan

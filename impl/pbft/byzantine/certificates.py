"""Certificates counted by an oracle, not by the replica (docs/certificates.md): distinct eligible
signers of matching messages (Castro and Liskov, OSDI 1999, sections 4.2 to 4.4), with the quorum
of impl/base/quorum.py (2f+1 at n = 3f+1, ceil((n+f+1)/2) at any n) and never the replica's own
thresholds (impl/pbft/log.py), which a mutant may have changed.

Two judges use it: the rejection oracle of the simulator's free runs, on every view-change and
new-view message a Byzantine replica delivers (property_tests/pbft/oracle.py), and the check of
the honest replicas' state files after a cluster run of real processes
(meshcheck/cluster/pbft_disks.py), which adds the two certificates a replica persists for itself:
the prepared certificate each of its commits rests on, and its stable checkpoint's proof.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meshcheck.impl.base import quorum
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange


def byzantine_quorum(replicas: tuple[str, ...]) -> int:
    """The quorum of a group of these replicas: 2f+1 at n = 3f+1 only, so that the free runs of 5,
    6, 8 and 9 replicas count certificates as two quorums must share them."""
    n = len(replicas)
    return quorum.byzantine_quorum(n, quorum.max_faulty(n))


def primary_of(view: int, replicas: tuple[str, ...]) -> str:
    """The primary of `view`: replica v mod n (section 4.1)."""
    return replicas[view % len(replicas)]


def certificate_problem(m: Any, replicas: tuple[str, ...]) -> str | None:
    """Why a view-change or new-view message's certificates do not hold; None when they do, or `m`
    is neither."""
    if not isinstance(m, Signed):
        return None
    body = m.body
    if isinstance(body, ViewChange):
        return _view_change_problem(body, replicas)
    if isinstance(body, NewView):
        signers = set()
        for vc in body.view_changes:
            why = _view_change_problem(vc.body, replicas)
            if why is not None:
                return f"a view change of {vc.signer} inside: {why}"
            signers.add(vc.signer)
        if len(signers & set(replicas)) < byzantine_quorum(replicas):
            return f"view changes of {len(signers & set(replicas))} distinct replicas"
    return None


def _view_change_problem(vc: ViewChange, replicas: tuple[str, ...]) -> str | None:
    if vc.ckpt != 0:
        why = checkpoint_proof_problem(vc.ckpt, vc.ckpt_digest, vc.ckpt_proof, replicas)
        if why is not None:
            return why
    for proof in vc.prepared:
        pp = proof.pre_prepare.body
        backups = prepared_backups(pp, proof.prepares, replicas)
        if len(backups) < byzantine_quorum(replicas) - 1:  # the pre-prepare is the primary's vote
            return f"a prepared certificate of {len(backups)} distinct backups (seq {pp.seq})"
    return None


def checkpoint_proof_problem(
    seq: int, digest: bytes, proof: Iterable[Signed[Checkpoint]], replicas: tuple[str, ...]
) -> str | None:
    """Why `proof` does not make checkpoint (seq, digest) stable: fewer than a quorum of distinct
    replicas' checkpoints of that number and digest (section 4.3)."""
    signers = {
        c.signer
        for c in proof
        if c.signer in replicas and (c.body.seq, c.body.digest) == (seq, digest)
    }
    if len(signers) < byzantine_quorum(replicas):
        return f"a stable-checkpoint proof of {len(signers)} distinct replicas"
    return None


def prepared_backups(
    pp: PrePrepare, prepares: Iterable[Signed[Prepare]], replicas: tuple[str, ...]
) -> set[str]:
    """The distinct backups of `pp`'s view whose prepares match it: what a prepared certificate
    counts besides the pre-prepare (section 4.2: prepares come from backups, the primary's vote is
    its pre-prepare)."""
    primary = primary_of(pp.view, replicas)
    return {
        p.signer
        for p in prepares
        if p.signer in replicas
        and p.signer != primary
        and (p.body.view, p.body.seq, p.body.digest) == (pp.view, pp.seq, pp.digest)
    }


def commit_problem(
    view: int,
    seq: int,
    digest: bytes,
    pre_prepares: Iterable[Signed[PrePrepare]],
    prepares: Iterable[Signed[Prepare]],
    replicas: tuple[str, ...],
) -> str | None:
    """Why the messages a replica kept do not prepare (view, seq, digest), the certificate a commit
    of it must rest on: the pre-prepare of that view's primary and a quorum less one of distinct
    backups' matching prepares (section 4.2)."""
    primary = primary_of(view, replicas)
    matching = [
        pp
        for pp in pre_prepares
        if (pp.body.view, pp.body.seq, pp.body.digest) == (view, seq, digest)
    ]
    by_primary = [pp.body for pp in matching if pp.signer == primary]
    if not by_primary:
        who = sorted({pp.signer for pp in matching})
        return f"no pre-prepare of the primary {primary}" + (
            f" (one of {', '.join(who)})" if who else ""
        )
    backups = prepared_backups(by_primary[0], prepares, replicas)
    if len(backups) < byzantine_quorum(replicas) - 1:
        return f"prepares of {len(backups)} distinct backups"
    return None

"""What the honest replicas of a PBFT cluster kept on disk, judged once every process ended: the
rules the simulator's rejection oracle holds them to after every step (property_tests/pbft/oracle.py),
on what a replica persists (impl/pbft/storage.py: the messages it sent, the certificates its commits
rest on, its stable checkpoint with the proof, its audit log).

- Signatures: every signed message a replica kept, and every one inside it, is what its signer
  signed (impl/pbft/byzantine/fuzz.py `forged_part`, checked here with the cluster's own key ring,
  not the replica's checks): a replica that took a message in an honest replica's name, or a
  pre-prepare whose batch is not the one its digest names, keeps it in the certificate it acted on.
- Evidence: an honest replica's audit log accuses Byzantine replicas only (section 2 of the paper
  lets a faulty replica relay what a signature does not cover; that must not get its honest signer
  blamed).
- Certificates, counted by distinct eligible signers (impl/pbft/byzantine/certificates.py): each
  view-change and new-view message kept; the certificate each of the replica's own commits above
  its stable checkpoint rests on (the pre-prepare of that view's primary, a quorum less one of
  distinct backups' prepares); the stable checkpoint's proof (a quorum of distinct replicas).

A correct replica keeps nothing else, whatever a Byzantine one sends it: the simulator's free runs
check the same rules after every event. What the disks cannot show is what a replica held and let
go of before the run ended (garbage collection at a stable checkpoint drops the certificates below
it); the audit log is never collected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from meshcheck.cluster.checks import Verdict
from meshcheck.impl.pbft.byzantine.certificates import (
    certificate_problem,
    checkpoint_proof_problem,
    commit_problem,
)
from meshcheck.impl.pbft.byzantine.fuzz import forged_part
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import (
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    Signed,
    ViewChange,
    signing_bytes,
)
from meshcheck.impl.pbft.storage import AUDIT, LOG, STABLE

NAME = "honest disks (signatures, evidence, certificates)"


def honest_disks(
    persisted: Mapping[str, Mapping[str, Any]],
    replicas: tuple[str, ...],
    byzantine: frozenset[str],
    keys: KeyRing,
) -> Verdict:
    """The three rules of the module doc on each honest replica's state file (`persisted`: the
    honest replicas' only)."""

    def verify(m: Signed[Any]) -> bool:
        return keys.verify(m.signer, m.signature, signing_bytes(m.body))

    kept = accusations = certificates = 0
    for node in sorted(persisted):
        content = persisted[node]
        for record in content.get(AUDIT, ()):
            accusations += 1
            if record.accused not in byzantine:
                return Verdict(
                    NAME,
                    False,
                    f"{node} accuses honest {record.accused} of {record.kind} ({record.detail})",
                )
        for m in _kept(content):
            kept += 1
            try:
                why = forged_part(m, verify)
            except Exception:  # a shape no one signs: forged through and through
                why = "a message no one can have signed"
            if why is not None:
                what = type(m.body).__name__ if isinstance(m, Signed) else type(m).__name__
                return Verdict(NAME, False, f"{node} keeps a {what}: {why}")
            if isinstance(m, Signed) and isinstance(m.body, ViewChange | NewView):
                certificates += 1
            why = certificate_problem(m, replicas)
            if why is not None:
                return Verdict(NAME, False, f"{node} keeps a {type(m.body).__name__}: {why}")
        why, counted = _own_certificates(node, content, replicas)
        certificates += counted
        if why is not None:
            return Verdict(NAME, False, why)
    accused = f"{accusations} accusations, all of Byzantine replicas" if accusations else "none"
    return Verdict(
        NAME,
        True,
        f"{len(persisted)} replicas: {kept} messages signed by their signers, {certificates} "
        f"view changes, new views, commits and checkpoints with their certificates; "
        f"accusations: {accused}",
    )


def _kept(content: Mapping[str, Any]) -> Iterator[Any]:
    yield from content.get(LOG, ())
    stable = content.get(STABLE)
    if stable is not None:
        yield from stable[2]


def _own_certificates(
    node: str, content: Mapping[str, Any], replicas: tuple[str, ...]
) -> tuple[str | None, int]:
    """Why a certificate `node` persisted for itself does not hold (None: each does), and how many
    it counted."""
    counted = 0
    stable = content.get(STABLE)
    low = 0
    if stable is not None and stable[0] > 0:
        low = stable[0]
        counted += 1
        why = checkpoint_proof_problem(stable[0], stable[1], stable[2], replicas)
        if why is not None:
            return f"{node}'s stable checkpoint {stable[0]}: {why}", counted
    log = tuple(content.get(LOG, ()))
    pre_prepares = [m for m in log if isinstance(m.body, PrePrepare)]
    prepares = [m for m in log if isinstance(m.body, Prepare)]
    for m in log:
        body = m.body
        if isinstance(body, Commit) and m.signer == node and body.seq > low:
            counted += 1
            why = commit_problem(body.view, body.seq, body.digest, pre_prepares, prepares, replicas)
            if why is not None:
                return f"{node} committed view {body.view}, number {body.seq} on {why}", counted
    return None, counted

"""The check of what a PBFT cluster's honest replicas kept on disk (meshcheck/cluster/pbft_disks.py):
each of its rules fails on a state file that breaks it and holds on one a correct replica writes,
and on a simulated group the state files of a replica that checks no signature fail it (the
catalogue's signatures_not_checked, beside a replica that signs in others' names) while a correct
replica's hold."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.cluster.pbft_disks import honest_disks
from meshcheck.impl.base.node import Workload
from meshcheck.impl.pbft.byzantine import ForgeSignature
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.evidence import Evidence
from meshcheck.impl.pbft.messages import (
    Checkpoint,
    Commit,
    Prepare,
    PreparedProof,
    PrePrepare,
    Request,
    Signed,
    ViewChange,
    batch_digest,
    signing_bytes,
)
from meshcheck.impl.pbft.mutants import SIGNATURES_NOT_CHECKED
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.pbft.storage import AUDIT, LOG, STABLE

REPLICAS = ("r1", "r2", "r3", "r4")
KEYS = KeyRing(7, (*REPLICAS, "c1"))
BYZANTINE = frozenset({"r4"})


def signed(body: Any, signer: str | None = None) -> Signed[Any]:
    who = signer if signer is not None else body.src
    return Signed(body, who, KEYS.signer(who).sign(signing_bytes(body)))


REQUEST = signed(Request("c1", 1, "x"), "c1")
BATCH = (REQUEST,)
DIGEST = batch_digest(BATCH)


def certificate(
    view: int = 0, seq: int = 1, primary: str = "r1", backups: tuple[str, ...] = ("r2", "r3")
) -> list[Signed[Any]]:
    """A pre-prepare of `primary` and the prepares of `backups`, as a commit rests on them."""
    pp = signed(PrePrepare(view, seq, DIGEST, primary, BATCH))
    return [pp, *(signed(Prepare(view, seq, DIGEST, b)) for b in backups)]


def disk(node: str = "r2", *, log: list[Signed[Any]] | None = None, **content: Any) -> Any:
    """A replica's state file's content: by default the commit of number 1 in view 0 with its
    certificate, as impl/pbft/replica.py `_send_commit` persists it."""
    if log is None:
        log = [*certificate(), signed(Commit(0, 1, DIGEST, node))]
    return {LOG: tuple(log), **content}


def judge(persisted: dict[str, Any]) -> Any:
    return honest_disks(persisted, REPLICAS, BYZANTINE, KEYS)


def test_a_correct_replicas_disk_holds() -> None:
    proof = tuple(signed(Checkpoint(2, b"d" * 32, r)) for r in ("r1", "r2", "r3"))
    accusation = Evidence("r2", "r4", "bad_signature", (), 5, "a forged prepare")
    verdict = judge(
        {
            "r2": disk(**{STABLE: (2, b"d" * 32, proof), AUDIT: (accusation,)}),
            "r3": disk("r3", log=[*certificate(seq=3), signed(Commit(0, 3, DIGEST, "r3"))]),
        }
    )
    assert verdict.holds, verdict.detail
    assert (
        "2 replicas" in verdict.detail
        and "accusations: 1 accusations, all of Byzantine" in verdict.detail
    )


def test_a_message_that_its_named_signer_did_not_sign_fails() -> None:
    pp, p2, p3 = certificate()
    forged = Signed(p3.body, "r3", KEYS.signer("r4").sign(signing_bytes(p3.body)))
    verdict = judge({"r2": disk(log=[pp, p2, forged, signed(Commit(0, 1, DIGEST, "r2"))])})
    assert verdict.holds is False
    assert verdict.detail == "r2 keeps a Prepare: a Prepare that r3 did not sign"


def test_a_pre_prepare_whose_batch_is_not_its_digests_fails() -> None:
    other = (signed(Request("c1", 2, "y"), "c1"),)
    pp = signed(PrePrepare(0, 1, DIGEST, "r1", other))  # the batch is not what the digest names
    log = [pp, *certificate()[1:], signed(Commit(0, 1, DIGEST, "r2"))]
    verdict = judge({"r2": disk(log=log)})
    assert verdict.holds is False and verdict.detail.startswith("r2 keeps a PrePrepare: ")


def test_an_accusation_of_an_honest_replica_fails() -> None:
    record = Evidence("r3", "r1", "bad_view_change", (), 9, "a batch not its digest's")
    verdict = judge({"r3": disk("r3", **{AUDIT: (record,)})})
    assert verdict.holds is False
    assert verdict.detail == "r3 accuses honest r1 of bad_view_change (a batch not its digest's)"


@pytest.mark.parametrize(
    ("log", "why"),
    [
        # the pre-prepare of a replica that is not view 0's primary
        (certificate(primary="r4"), "no pre-prepare of the primary r1 (one of r4)"),
        # one backup's prepare twice
        ([*certificate(backups=("r2",)), signed(Prepare(0, 1, DIGEST, "r2"))], "prepares of 1"),
        # the primary's own prepare counted as a backup's
        (certificate(backups=("r1", "r2")), "prepares of 1 distinct backups"),
        # a prepare of another view
        ([*certificate(backups=("r2",)), signed(Prepare(1, 1, DIGEST, "r3"))], "prepares of 1"),
        # no certificate at all
        ([], "no pre-prepare of the primary r1"),
    ],
)
def test_a_commit_on_a_certificate_short_of_a_quorum_fails(log: list[Any], why: str) -> None:
    verdict = judge({"r2": disk(log=[*log, signed(Commit(0, 1, DIGEST, "r2"))])})
    assert verdict.holds is False
    assert verdict.detail.startswith("r2 committed view 0, number 1 on " + why), verdict.detail


def test_a_commit_at_or_below_the_stable_checkpoint_needs_no_certificate() -> None:
    proof = tuple(signed(Checkpoint(1, b"d" * 32, r)) for r in ("r1", "r2", "r3"))
    content = disk(log=[signed(Commit(0, 1, DIGEST, "r2"))], **{STABLE: (1, b"d" * 32, proof)})
    assert judge({"r2": content}).holds  # garbage collection dropped its certificate


def test_a_stable_checkpoint_on_f_plus_1_checkpoints_fails() -> None:
    proof = tuple(signed(Checkpoint(2, b"d" * 32, r)) for r in ("r1", "r2", "r2"))
    verdict = judge({"r2": disk(**{STABLE: (2, b"d" * 32, proof)})})
    assert verdict.holds is False
    assert verdict.detail == (
        "r2's stable checkpoint 2: a stable-checkpoint proof of 2 distinct replicas"
    )


def test_a_view_change_carrying_a_short_certificate_fails() -> None:
    pp, p2, _ = certificate()
    proof = PreparedProof(pp, (p2, signed(Prepare(0, 1, DIGEST, "r1"))))  # the primary's prepare
    vc = signed(ViewChange(1, 0, b"", (), (proof,), "r2"))
    verdict = judge({"r2": disk(log=[*certificate(), vc])})
    assert verdict.holds is False
    assert verdict.detail == (
        "r2 keeps a ViewChange: a prepared certificate of 1 distinct backups (seq 1)"
    )


# -- a simulated group's state files ------------------------------------------------------------


def simulated_disks(bugs: frozenset[str]) -> Any:
    sim = pbft_cluster(
        4,
        seed=0,
        bugs=bugs,
        byzantine={"r4": corrupt(ForgeSignature(how="impersonate"))},
        workload=Workload(every=20, until=2500),
    )
    sim.run(until=3000)
    persisted = {r: sim.durable[r].view() for r in REPLICAS if r != "r4"}
    return honest_disks(persisted, REPLICAS, BYZANTINE, sim.plugin.keys)


def test_the_state_files_of_a_replica_that_checks_no_signature_fail() -> None:
    verdict = simulated_disks(frozenset({SIGNATURES_NOT_CHECKED}))
    assert verdict.holds is False
    assert "keeps a Prepare: a Prepare that r" in verdict.detail  # one r4 signed in its name


def test_the_state_files_of_correct_replicas_beside_an_impersonator_hold() -> None:
    verdict = simulated_disks(frozenset())
    assert verdict.holds, verdict.detail
    counts = [int(w) for w in verdict.detail.replace(",", "").split() if w.isdigit()]
    assert counts[0] == 3 and counts[1] > 20  # three replicas, their messages read

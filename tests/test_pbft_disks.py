"""The check of what a PBFT cluster's honest replicas wrote to disk (meshcheck/cluster/pbft_disks.py):
each of its rules fails on a state that breaks it and holds on one a correct replica writes; the
tail of a state file hands each record to the judge once, across a compaction; and on simulated
groups, followed as they write, the disks of replicas with a catalogue mutant fail it beside the
Byzantine replica that shows the mutant (a replica that checks no signature beside one that signs
in others' names; one that takes a pre-prepare from a backup beside a backup that pre-prepares;
one that counts a primary's prepare beside a primary that vouches for its own pre-prepares),
while correct replicas' hold beside the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshcheck.cluster.pbft_disks import DiskJudge
from meshcheck.cluster.pbft_disks import Tail
from meshcheck.cluster.pbft_disks import verdict
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.node import Workload
from meshcheck.impl.pbft.byzantine import AlterUnsigned
from meshcheck.impl.pbft.byzantine import ForgeSignature
from meshcheck.impl.pbft.byzantine import Usurp
from meshcheck.impl.pbft.byzantine import Vouch
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.evidence import Evidence
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.mutants import PREPARED_COUNTS_PRIMARY
from meshcheck.impl.pbft.mutants import PREPREPARE_FROM_NON_PRIMARY
from meshcheck.impl.pbft.mutants import RELAYED_BATCH_NOT_CHECKED
from meshcheck.impl.pbft.mutants import SIGNATURES_NOT_CHECKED
from meshcheck.impl.pbft.mutants import VIEW_CHANGE_BLAMES_SIGNER
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.pbft.storage import AUDIT
from meshcheck.impl.pbft.storage import LOG
from meshcheck.impl.pbft.storage import STABLE
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.protocols import protocol
from meshcheck.impl.sim import Faults

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
    """Each replica's content written as one batch, judged."""
    judges = {}
    for node, content in persisted.items():
        judges[node] = DiskJudge(node, REPLICAS, BYZANTINE, KEYS)
        judges[node].apply([Put(k, v) for k, v in content.items()])
    return verdict(judges)


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
    assert "2 replicas" in verdict.detail and verdict.detail.endswith("accusations: 1, all of r4")


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


def test_an_honest_runs_only_accusation_is_false() -> None:
    record = Evidence("r3", "r4", "equivocation", (), 9, "two pre-prepares")
    judges = {"r3": DiskJudge("r3", REPLICAS, frozenset(), KEYS)}
    judges["r3"].apply([Put(AUDIT, (record,))])
    assert verdict(judges).detail.startswith("r3 accuses honest r4 of equivocation")


def test_a_certificate_is_judged_when_its_commit_is_written_not_at_the_end() -> None:
    """A commit on a short certificate, then a stable checkpoint past it that collects both: the
    end state is clean, the judge that saw the writes in order is not."""
    judge = DiskJudge("r2", REPLICAS, BYZANTINE, KEYS)
    judge.apply(
        [Splice(LOG, 0, (*certificate(backups=("r2",)), signed(Commit(0, 1, DIGEST, "r2"))))]
    )
    assert judge.problem == "r2 committed view 0, number 1 on prepares of 1 distinct backups"
    clean = DiskJudge("r2", REPLICAS, BYZANTINE, KEYS)
    proof = tuple(signed(Checkpoint(1, b"d" * 32, r)) for r in ("r1", "r2", "r3"))
    clean.apply([Put(LOG, ()), Put(STABLE, (1, b"d" * 32, proof))])
    assert clean.problem is None


def test_the_tail_gives_each_record_once_across_a_compaction(tmp_path: Path) -> None:
    codec = protocol("pbft").codec()
    path = tmp_path / "state.wal"
    disk = Disk(path, codec, compact_after=3)
    disk.load()
    judge = DiskJudge("r2", REPLICAS, BYZANTINE, KEYS)
    tail = Tail(path, codec, judge)
    tail.read()  # nothing yet
    log: list[Signed[Any]] = []
    for seq in range(1, 8):  # a commit a batch, with its certificate; compacted every 3 records
        batch = [*certificate(seq=seq), signed(Commit(0, seq, DIGEST, "r2"))]
        disk.persist((Splice(LOG, len(log), tuple(batch)),))
        log += batch
        if seq % 2:
            tail.read()
    tail.read()
    disk.close()
    assert judge.problem is None
    assert judge.messages == len(log) == 28 and judge.certificates == 7  # each commit once
    assert tuple(judge.content[LOG]) == tuple(log)


def test_the_tail_reads_again_a_file_that_lost_what_it_read(tmp_path: Path) -> None:
    # a power failure or a cut on a record boundary, then the replica writes on from there: the
    # tail's place is inside the new records, and read on from it they are garbage
    codec = protocol("pbft").codec()
    path = tmp_path / "state.wal"
    disk = Disk(path, codec)
    disk.load()
    judge = DiskJudge("r2", REPLICAS, BYZANTINE, KEYS)
    tail = Tail(path, codec, judge)
    batches = [[*certificate(seq=seq), signed(Commit(0, seq, DIGEST, "r2"))] for seq in (1, 2, 3)]
    disk.persist((Splice(LOG, 0, tuple(batches[0])),))
    first = path.stat().st_size
    disk.persist((Splice(LOG, 4, tuple(batches[1])),))
    tail.read()
    disk.close()
    with path.open("r+b") as f:
        f.truncate(first)  # the second record lost
    disk = Disk(path, codec)
    disk.load()
    longer = [*batches[2], signed(Commit(0, 3, DIGEST, "r3")), *certificate(seq=4)]
    disk.persist((Splice(LOG, 4, tuple(longer)),))  # longer than what was lost
    disk.close()
    tail.read()
    assert tail.judge.problem is None, tail.judge.problem
    assert tuple(tail.judge.content[LOG]) == (*batches[0], *longer)
    assert tail.judge.batches == 2


# -- simulated groups, followed as they write ---------------------------------------------------


def followed(
    bugs: frozenset[str],
    behaviour: Any,
    seed: int = 0,
    faults: Faults | None = None,
    who: str = "r4",
) -> Any:
    """A simulated group with `who` Byzantine; each honest replica's disk judged every 50 ticks, as
    the harness's tail reads a state file (the whole content each time: what is new is judged)."""
    sim = pbft_cluster(
        4,
        seed=seed,
        bugs=bugs,
        byzantine={who: corrupt(behaviour)},
        workload=Workload(every=20, until=2500),
        **({"faults": faults} if faults is not None else {}),
    )
    honest = [r for r in REPLICAS if r != who]
    judges = {r: DiskJudge(r, REPLICAS, frozenset({who}), sim.plugin.keys) for r in honest}
    for t in range(50, 3001, 50):
        sim.run(until=t)
        for r, j in judges.items():
            j.apply([Put(k, v) for k, v in sim.durable[r].view().items()])
    return verdict(judges)


def test_a_replica_that_checks_no_signature_keeps_what_was_signed_in_others_names() -> None:
    got = followed(frozenset({SIGNATURES_NOT_CHECKED}), ForgeSignature(how="impersonate"))
    assert got.holds is False
    assert "keeps a Prepare: a Prepare that r" in got.detail  # one r4 signed in its name


def test_a_replica_that_takes_a_backups_pre_prepare_commits_on_it() -> None:
    got = followed(frozenset({PREPREPARE_FROM_NON_PRIMARY}), Usurp())
    assert got.holds is False
    assert " committed view " in got.detail and "on no pre-prepare of the primary" in got.detail
    assert got.detail.endswith("(one of r4)")


def test_a_replica_that_takes_a_relayed_batch_blames_the_primary_for_it() -> None:
    got = followed(frozenset({RELAYED_BATCH_NOT_CHECKED}), AlterUnsigned())
    assert got.holds is False
    assert "accuses honest r" in got.detail and "of forged_request" in got.detail


def test_a_replica_that_blames_a_view_changes_signer_for_its_relayer() -> None:
    """View changes need faults; seed 0 of this schedule has the relayed one reach a replica."""
    got = followed(
        frozenset({VIEW_CHANGE_BLAMES_SIGNER}),
        AlterUnsigned(),
        faults=Faults(crash=0.3, partition=0.3, until=2000),
    )
    assert got.holds is False and "of bad_view_change" in got.detail


@pytest.mark.parametrize("seed", [0, 1])
def test_a_replica_that_counts_the_primarys_prepare_keeps_its_view_change(seed: int) -> None:
    """r1, the primary of view 0, stalls past a checkpoint and asks for view 1 at once, carrying
    a certificate of its own prepare and one backup's: the new primary takes it into its proof."""
    got = followed(frozenset({PREPARED_COUNTS_PRIMARY}), Vouch(), seed=seed, who="r1")
    assert got.holds is False
    assert got.detail == (
        "r2 keeps a NewView: a view change of r1 inside: "
        "a prepared certificate of 1 distinct backups (seq 21)"
    )


def test_correct_replicas_refuse_a_primary_that_vouches_for_itself() -> None:
    got = followed(frozenset(), Vouch(), seed=0, who="r1")
    assert got.holds, got.detail
    assert got.detail.endswith("all of r1")  # its view change held against it


@pytest.mark.parametrize("behaviour", [ForgeSignature(how="impersonate"), Usurp(), AlterUnsigned()])
def test_correct_replicas_beside_a_byzantine_one_hold(behaviour: Any) -> None:
    got = followed(frozenset(), behaviour)
    assert got.holds, got.detail
    written = int(got.detail.split(" writes")[0].split()[-1])
    assert written > 100 and "accusations: " in got.detail
    if not isinstance(behaviour, AlterUnsigned):  # it forges nothing: no one is to blame
        assert got.detail.endswith("all of r4")  # the correct ones held it to account

"""A Byzantine PBFT replica in a real cluster (`--protocol pbft --byzantine r4:impersonate`): an
honest core whose effects a behaviour of impl/pbft/byzantine rewrites, as in the simulator. The
honest replicas' history and state files hold and they progress; what they kept on disk is what
their signers signed, with certificates a quorum stands behind (meshcheck/cluster/pbft_disks.py,
their state files followed as they are written), and a replica that checks no signature is seen
keeping what the Byzantine one signed in others' names; one that lies in its replies
(`lying_replies`: a view one higher, a wrong result) misleads no client, and a client that accepts
on f replies answers its lie; the Byzantine replica writes no log, and the logs are not validated (PBFT.tla's Byzantine
senders make a real run's model too large for TLC)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from meshcheck.cluster.run import Options
from meshcheck.cluster.run import run
from meshcheck.impl.pbft.byzantine import ByzantineReplica
from meshcheck.impl.pbft.byzantine import FuzzReplies
from meshcheck.impl.pbft.byzantine import LieToClient
from meshcheck.impl.pbft.byzantine import LyingReplies
from meshcheck.impl.runtime.hosted.pbft import PBFT_BEHAVIOURS
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BYZANTINE
from meshcheck.impl.runtime.protocols import protocol
from tests.test_cluster_cmd import nodes_of

DISKS = "honest disks (signatures, evidence, certificates)"


def failed_alone(tmp_path: Path, bug: str, node: str, behaviour: str, check: str) -> str:
    """Four replicas with the mutant `bug`, `node` Byzantine with `behaviour`, 5 s of clients and
    no nemesis: `check` is the one check that fails (its detail returned), and no process is left."""
    outcome = run(
        Options(protocol="pbft", nodes=4, time=5, nemesis=(), seed=1, bugs=frozenset({bug}),
                byzantine=((node, behaviour),)),
        tmp_path,
    )  # fmt: skip
    assert [v.check for v in outcome.failed] == [check], outcome.failed
    assert nodes_of(tmp_path) == []
    return outcome.failed[0].detail


@pytest.mark.slow  # a Byzantine replica in processes; the simulator's Byzantine tests stay
def test_the_honest_replicas_hold_beside_a_replica_that_signs_in_their_names(
    tmp_path: Path,
) -> None:
    # no nemesis: the Byzantine replica is the one fault f = 1 allows, and with it quarantined a
    # partition of an honest replica stops the group; under load, progress after such a partition
    # came later than the 8 s the check gives in one run of four (the plan's budget is tested in
    # tests/test_cluster_cmd.py)
    outcome = run(
        Options(protocol="pbft", nodes=4, time=5, nemesis=(), seed=1,
                byzantine=(("r4", "impersonate"),)),
        tmp_path,
    )  # fmt: skip
    verdicts = {v.check: v for v in outcome.verdicts}
    assert set(verdicts) == {
        "progress after healing",
        "linearizable (rsm)",
        "agreement (state files)",
        "accepted writes durable",
        DISKS,
    }
    assert outcome.safe, outcome.failed
    disks = verdicts[DISKS].detail
    assert disks.startswith("3 replicas, ") and disks.endswith("all of r4")  # it was accused
    assert "3 histories" in verdicts["agreement (state files)"].detail  # the honest three
    logs = sorted(p.parent.name for p in (tmp_path / "data").glob("*/node.ndjson"))
    assert logs == ["r1", "r2", "r3"]
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # a mutant in processes; tests/test_pbft_disks.py runs it in the simulator
def test_a_replica_that_checks_no_signature_keeps_forgeries_on_disk(tmp_path: Path) -> None:
    detail = failed_alone(tmp_path, "signatures_not_checked", "r4", "impersonate", DISKS)
    assert " keeps a " in detail and " did not sign" in detail


@pytest.mark.slow  # a mutant in processes; tests/test_pbft_disks.py runs it in the simulator
def test_a_replica_that_counts_the_primarys_prepare_keeps_its_view_change(tmp_path: Path) -> None:
    # r1, the primary of view 0, stalls after 21 numbers: the view change needs no nemesis
    detail = failed_alone(tmp_path, "prepared_counts_primary", "r1", "vouch", DISKS)
    assert "a view change of r1 inside: a prepared certificate of 1 distinct backups" in detail


@pytest.mark.slow  # a mutant in processes; tests/test_pbft_repeat.py runs it in the simulator
def test_a_replica_that_executes_again_breaks_the_history(tmp_path: Path) -> None:
    # r1, the primary of view 0, puts into every third number the requests of two numbers before
    detail = failed_alone(tmp_path, "execute_again", "r1", "repeat", "linearizable (rsm)")
    assert detail.startswith("not linearizable: key ")


def test_every_named_behaviour_builds_a_byzantine_replica() -> None:
    pbft = protocol("pbft")
    assert pbft.behaviours is PBFT_BEHAVIOURS
    nodes = ["r1", "r2", "r3", "r4"]
    for name in PBFT_BEHAVIOURS:
        options = {BYZANTINE: {"r4": [name]}, BFT_CLIENTS: ["c1"]}
        core = pbft.build("r4", nodes, options, random.Random(0))
        assert isinstance(core, ByzantineReplica), name
        assert not isinstance(pbft.build("r3", nodes, options, random.Random(0)), ByzantineReplica)


# the lies a replica tells its clients (impl/pbft/byzantine/replies.py), by their names in a run
LIES_TO_CLIENTS = {
    "lie_view": LieToClient("view"),
    "lie_result": LieToClient("result"),
    "lie_timestamp": LieToClient("timestamp"),
    "lie_signature": LieToClient("signature"),
    "lying_replies": LyingReplies(),
    "fuzz_replies": FuzzReplies(),
}


@pytest.mark.parametrize("name", list(LIES_TO_CLIENTS))
def test_each_lie_to_clients_is_hosted_by_its_name(name: str) -> None:
    options = {BYZANTINE: {"r2": [name]}, BFT_CLIENTS: ["c1"]}
    core = protocol("pbft").build("r2", ["r1", "r2", "r3", "r4"], options, random.Random(0))
    assert isinstance(core, ByzantineReplica)
    assert core.behaviours == (LIES_TO_CLIENTS[name],)


@pytest.mark.slow  # a Byzantine replica in processes; the simulator's free runs draw the lies
def test_the_clients_hold_beside_a_replica_that_lies_in_every_reply(tmp_path: Path) -> None:
    """r4 answers every request with a view one higher and a wrong result: the clients take
    neither (f+1 matching replies), their history is linearizable and the group progresses."""
    outcome = run(
        Options(protocol="pbft", nodes=4, time=5, nemesis=(), seed=1,
                byzantine=(("r4", "lying_replies"),)),
        tmp_path,
    )  # fmt: skip
    assert outcome.safe, outcome.failed
    verdicts = {v.check: v for v in outcome.verdicts}
    assert verdicts["linearizable (rsm)"].holds and verdicts["progress after healing"].holds
    assert nodes_of(tmp_path) == []


@pytest.mark.slow  # a mutant in processes; property_tests/pbft/test_free_runs.py in the simulator
def test_a_client_that_accepts_on_f_replies_takes_the_lie(tmp_path: Path) -> None:
    detail = failed_alone(
        tmp_path, "client_accepts_on_f_replies", "r4", "lying_replies", "linearizable (rsm)"
    )
    # r4's reply came first to some requests: their clients answered its wrong result
    assert detail.startswith("not linearizable: key ")
    assert "->[lie {" in (tmp_path / "anomaly.txt").read_text(encoding="utf-8")

"""The message fuzzer on PBFT (impl/pbft/byzantine/fuzz.py) and the signed-fields property
(signed_fields.py): with at most f fuzzing replicas the free runs keep Agreement and Validity and
the honest replicas reject every mutation that is not what its signers signed; with f + 1 the
safety check sees the break; every field of every signed message type is covered by its signature
or declared unsigned with a reason that holds at the receiver; and each check is shown to fail."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import typing
from typing import Any

import attrs
import pytest
from hypothesis import Phase
from hypothesis import settings

from meshcheck.impl.base import mutation
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.pbft import messages
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft import replica
from meshcheck.impl.pbft.byzantine import Equivocate
from meshcheck.impl.pbft.byzantine import Fuzz
from meshcheck.impl.pbft.byzantine import Silent
from meshcheck.impl.pbft.byzantine import forged_part
from meshcheck.impl.pbft.byzantine.fuzz import SIGNED_PARTS
from meshcheck.impl.pbft.byzantine.fuzz import UNSIGNED_FIELDS
from meshcheck.impl.pbft.evidence import MALFORMED
from meshcheck.impl.pbft.evidence import proves
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft import signed_fields as sf
from meshcheck.property_tests.pbft.free_runs import check_safety
from meshcheck.property_tests.pbft.free_runs import fuzz_safety
from meshcheck.property_tests.pbft.oracle import RejectionOracle

pytestmark = pytest.mark.fast  # in make verify's 3-minute gate (docs/reference/profiles.md)

# -- at most f fuzzing replicas: safe, and every forgery rejected ---------------------------------


def test_fuzzed_runs_keep_safety_and_honest_replicas_reject_forgeries() -> None:
    fuzz_safety(frozenset(), settings())


def test_every_signed_field_is_covered_or_declared() -> None:
    sf.signed_fields(frozenset(), settings())


def test_a_fuzzing_replica_sends_every_kind_of_change() -> None:
    """One run of a fuzzing backup: its own messages and relayed ones, changed at many positions,
    some signed again in its name, some under the signatures they had, the forged ones rejected."""
    schedule = Schedule(seed=5, ticks=800, every=25, byzantine={"r3": ()}, fuzz=1.0)
    from meshcheck.property_tests.pbft.free_runs import cluster
    from meshcheck.property_tests.pbft.free_runs import run
    from meshcheck.property_tests.pbft.free_runs import stopper
    from meshcheck.property_tests.pbft.free_runs import verdict
    from meshcheck.property_tests.pbft.free_runs import watch

    sim = cluster(schedule, 4, frozenset(), record=False)
    monitor, oracle = watch(sim)
    run(sim, schedule, schedule.ticks, stop=stopper(monitor, oracle))
    assert verdict(monitor, oracle) is None
    sent = Fuzz.sent(sim.nodes["r3"].contexts[""])
    assert len(sent) > 50 and oracle.checked > 10
    assert {True, False} <= {f.resigned for f in sent}
    kinds = {type(f.message.body).__name__ for f in sent}
    assert {"PrePrepare", "Prepare", "Commit", "Status"} <= kinds
    assert any(f.origin.signer != "r3" for f in sent)  # relayed messages too
    assert {"->", "bit", "swapped"} <= {
        w for f in sent for w in ("->", "bit", "swapped") if w in f.how
    }


def test_the_oracles_cache_of_held_parts_is_a_fresh_walk() -> None:
    """The oracle lists the signed parts of what a replica holds from a cache kept across checks
    (oracle.py `_held_parts`): at every check of a fuzzed run it gives the parts a fresh walk of
    everything held gives, in the same order, while the replicas' logs grow, are collected at
    checkpoints and change views."""
    from meshcheck.impl.pbft.byzantine.fuzz import signed_parts
    from meshcheck.property_tests.pbft.free_runs import cluster
    from meshcheck.property_tests.pbft.free_runs import run
    from meshcheck.property_tests.pbft.oracle import held

    class Checked(RejectionOracle):
        compared = 0

        def _held_parts(self, node: replica.Replica) -> typing.Iterator[Any]:
            got = [id(p) for p in super()._held_parts(node)]
            assert got == [id(p) for kept in held(node) for p in signed_parts(kept)]
            Checked.compared += 1
            return iter(p for kept in held(node) for p in signed_parts(kept))

    # the primary r1 fuzzes: the others move to view 1
    schedule = Schedule(seed=2, ticks=800, every=25, byzantine={"r1": ()}, fuzz=1.0)
    sim = cluster(schedule, 4, frozenset(), record=False)
    plugin: Any = sim.plugin
    oracle = Checked(plugin.keys, plugin.byzantine)
    plugin.watchers.append(oracle)
    run(sim, schedule, schedule.ticks)
    assert oracle.violation is None and Checked.compared > 100
    for r in ("r2", "r3", "r4"):
        assert sim.nodes[r].view == 1 and sim.nodes[r].stable > 20


# -- f + 1 break it, and the check says so -------------------------------------------------------

COLLUDING = {"r1": (Equivocate(group={"r4"}),), "r2": (Equivocate(),)}


def test_f_plus_1_colluding_fuzzers_and_equivocators_break_agreement() -> None:
    """r1 (the primary) and r2 equivocate and fuzz: two of four replicas, one more than f. r3 and
    r4 execute different requests at sequence number 2 and the free-run check reports it; r1
    alone (f of them) cannot."""
    broken = Schedule(seed=17, ticks=500, every=25, byzantine=COLLUDING, fuzz=0.3)
    with pytest.raises(CheckFailed, match=r"violates Agreement at sequence number 2 \(r3, r4\)"):
        check_safety(broken, 4, frozenset())
    check_safety(broken.with_knobs(byzantine={"r1": COLLUDING["r1"]}), 4, frozenset())


# -- the oracle fails on receivers that take what they must not ------------------------------------

# found by the fuzzer (fuzz_safety's schedules): r1, the primary, fuzzes its own pre-prepares
RELAYED_BATCH = Schedule(
    seed=1, ticks=300, every=25, byzantine={"r1": (Silent(share=0.1),)}, fuzz=1.0
)


def test_the_oracle_catches_a_backup_that_takes_a_batch_its_digest_does_not_name() -> None:
    with pytest.raises(CheckFailed, match=r"honest rejection: .* batch is not the one"):
        check_safety(RELAYED_BATCH, 4, frozenset({mutants.RELAYED_BATCH_NOT_CHECKED}))
    check_safety(RELAYED_BATCH, 4, frozenset())


# the shortest run found (traces/counterexamples/pbft/prepared_counts_primary.itf.json)
GROWN_CERTIFICATE = Schedule(
    seed=3,
    ticks=300,
    every=10,
    byzantine={"r1": (Silent(share=1.0),)},
    checkpoint_every=2,
    fuzz=1.0,
    grow=0.5,
)


def test_a_grown_certificate_shows_the_primarys_prepare_counted() -> None:
    """r1, the primary of view 0, silent and fuzzing, grows its view change's prepared
    certificate with a prepare of its own in place of a backup's (mutation.grow): with the mutant
    that counts the primary's prepare an honest replica keeps the view change, and the oracle's
    own count (oracle.certificate_problem) sees one backup where 2f are needed; without it the same
    run holds. Without growing (grow=0) the run holds with the mutant too: the blind mutations
    did not make that certificate."""
    bug = frozenset({mutants.PREPARED_COUNTS_PRIMARY})
    with pytest.raises(CheckFailed, match=r"kept ViewChange .* 1 distinct backups"):
        check_safety(GROWN_CERTIFICATE, 4, bug)
    check_safety(GROWN_CERTIFICATE, 4, frozenset())
    check_safety(GROWN_CERTIFICATE.with_knobs(grow=0.0), 4, bug)


def test_a_fuzzing_replica_grows_certificates() -> None:
    """What it sends: view changes (its own, signed again) whose certificates have a vote
    repeated, its own, a second of a signer, a vote of another statement, added or in place of
    one."""
    from meshcheck.property_tests.pbft.free_runs import cluster
    from meshcheck.property_tests.pbft.free_runs import run
    from meshcheck.property_tests.pbft.free_runs import stopper
    from meshcheck.property_tests.pbft.free_runs import verdict
    from meshcheck.property_tests.pbft.free_runs import watch

    schedule = Schedule(
        seed=4,
        ticks=600,
        every=10,
        byzantine={"r2": ()},
        fuzz=1.0,
        grow=1.0,
        crash=0.3,
        checkpoint_every=2,
    )
    sim = cluster(schedule, 4, frozenset(), record=False)
    monitor, oracle = watch(sim)
    run(sim, schedule, schedule.ticks, stop=stopper(monitor, oracle))
    assert verdict(monitor, oracle) is None
    sent = Fuzz.sent(sim.nodes["r2"].contexts[""])
    grown = [f for f in sent if " votes)" in f.how]
    assert len(grown) > 10 and all(f.resigned and f.message.signer == "r2" for f in grown)
    hows = " ".join(f.how for f in grown)
    for way in (*mutation.GROW, "in place of one", ".body.ckpt_proof", ".prepares"):
        assert way in hows, way


def _oracle_on(bugs: frozenset[str], source: str, message: Any) -> RejectionOracle:
    receiver = sf.receiver(bugs)
    oracle = RejectionOracle(sf.KEYS, {source})
    receiver.step(Deliver(source, message))
    oracle(receiver.id, Deliver(source, message), {receiver.id: receiver})
    return oracle


def test_the_oracle_catches_a_forgery_taken_and_a_false_accusation() -> None:
    pp = sf.GALLERY.pre_prepare
    forged = attrs.evolve(pp, body=attrs.evolve(pp.body, view=0, seq=2))  # r1's signature kept
    assert _oracle_on(frozenset(), "r4", forged).violation is None
    taken = _oracle_on(frozenset({mutants.SIGNATURES_NOT_CHECKED}), "r4", forged).violation
    assert taken is not None and "without recording it as bad_signature" in taken
    c = sf.GALLERY.checkpoint
    relayed = attrs.evolve(c, body=attrs.evolve(c.body, history=((), ())))
    assert _oracle_on(frozenset(), "r4", relayed).violation is None
    blamed = _oracle_on(frozenset({mutants.CHECKPOINT_STATE_BLAMES_SIGNER}), "r4", relayed)
    assert (
        blamed.violation
        == "r3 accuses honest r1 of bad_state (its state does not match its digest)"
    )


# -- the signed-fields property: every type enumerated, and each part shown to fail -----------------


def test_every_message_type_is_classified() -> None:
    """A message type added to messages.py without being signed-and-covered here fails this test:
    the property runs over the `Body` union, each type needs a gallery message, and every field
    that is left out of the signature or carries signed messages needs its reason."""
    declared = {
        name
        for name, value in vars(messages).items()
        if isinstance(value, type) and attrs.has(value) and value.__module__ == messages.__name__
    }
    bodies = {t.__name__ for t in typing.get_args(messages.Body)}
    assert declared == bodies | {"Signed", "PreparedProof"}  # the envelope and a certificate
    assert set(sf.SIGNED_TYPES) == set(sf.GALLERY.messages)
    unsigned = {
        (cls, f.name)
        for cls in sf.SIGNED_TYPES
        for f in attrs.fields(cls)
        if f.metadata.get("unsigned")
    }
    assert unsigned == set(UNSIGNED_FIELDS)
    carrying = {
        (cls, f.name)
        for cls in (*sf.SIGNED_TYPES, messages.PreparedProof)
        for f in attrs.fields(cls)
        if any(word in str(f.type) for word in ("Signed", "Batch", "PreparedProof"))
        and (cls, f.name) not in {(Checkpoint, "history")}  # unsigned, checked where used
    }
    assert carrying == set(SIGNED_PARTS) == set(sf.PARTS)


def test_a_field_left_out_of_the_signature_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Prepare whose digest the signature does not cover (an often-made mistake): the property
    fails, naming the field."""
    real = messages.signing_bytes

    def forgetful(body: Any) -> bytes:
        if isinstance(body, messages.Prepare):
            body = attrs.evolve(body, digest=b"")
        return real(body)

    monkeypatch.setattr(replica, "signing_bytes", forgetful)
    monkeypatch.setattr(sf, "signing_bytes", forgetful)
    monkeypatch.setattr(sf, "GALLERY", sf.gallery())
    monkeypatch.setattr(sf, "PARTS", sf.parts())
    with pytest.raises(CheckFailed, match=r"Prepare\.digest changed .* still checks"):
        sf.check_coverage(messages.Prepare, ("digest",), random.Random(0), frozenset())
    # the property's fixed cases do not reach Prepare.digest: Hypothesis's draws must, so they are
    # derandomized (the dev profile is not, property_tests/profiles.py) and the same every run
    found = settings(max_examples=1200, derandomize=True, database=None, phases=[Phase.generate])
    with pytest.raises(CheckFailed, match=r"Prepare\.digest changed"):
        sf.signed_fields(frozenset(), found)


@pytest.mark.parametrize(
    ("bug", "symptom"),
    [
        (mutants.CHECKPOINT_STATE_BLAMES_SIGNER, "blames honest r1"),
        (mutants.RELAYED_BATCH_NOT_CHECKED, "took r1's pre-prepare relayed by r4"),
        (
            mutants.VIEW_CHANGE_BLAMES_SIGNER,
            "inside a view-change message relayed by r4: r3 blames honest r2",
        ),
        (mutants.SIGNATURES_NOT_CHECKED, "signature checks as"),
    ],
)
def test_the_property_fails_on_a_receiver_that_trusts_what_is_not_signed(
    bug: str, symptom: str
) -> None:
    with pytest.raises(CheckFailed, match=symptom):
        sf.signed_fields(frozenset({bug}), settings())


def test_a_new_view_whose_view_changes_are_not_verified_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NewView.view_changes carry their own signatures: a backup that checks a new-view message
    without verifying them takes one whose view-change message inside was changed (the property's
    case: one signature inside flipped)."""
    from meshcheck.impl.pbft import viewchange

    real = viewchange.check_new_view

    def trusting(m: Any, config: Any, verify: Any) -> Any:
        return real(m, config, lambda s: isinstance(s.body, ViewChange) or verify(s))

    monkeypatch.setattr(replica, "check_new_view", trusting)
    with pytest.raises(CheckFailed, match=r"NewView\.view_changes: r3 took r2's message"):
        sf.signed_fields(frozenset(), settings())


def test_a_view_change_carrying_a_request_where_a_checkpoint_goes_is_refused() -> None:
    """Found by the fuzzer: a view-change message whose checkpoint proof held a (validly signed)
    client request made the receiver raise AttributeError (a request has no `src`): one Byzantine
    replica could stop any honest one. It is now refused as malformed: the declared types say a
    checkpoint proof holds signed checkpoints (impl/pbft/messages.py `malformed`, which walks them
    to each signed body's class), so its signer is caught by the type check, which anyone can
    repeat (self-proving), before the view-change rules read it."""
    vc = sf.GALLERY.view_change
    request = sf.GALLERY.messages[Request]
    lie = sf.sign("r4", attrs.evolve(vc.body, ckpt_proof=(request, *vc.body.ckpt_proof[1:])))
    receiver = sf.receiver(frozenset())
    receiver.step(Deliver("r4", lie))
    assert [(r.accused, r.kind) for r in receiver.audit.records] == [("r4", MALFORMED)]
    assert proves(receiver.audit.records[0], receiver.config, receiver.verify)
    # every signature in it checks: it is refused for what it says, not for a forgery
    assert isinstance(lie.body, ViewChange) and forged_part(lie, receiver.verify) is None


def test_fuzzed_runs_do_not_depend_on_the_hash_seed() -> None:
    """A fuzzed run is its seed's: the same in processes with different str hashes (the mutator
    orders the items of a set, and never iterates a set of types)."""
    code = (
        "from meshcheck.impl.pbft.byzantine import Fuzz; "
        "from meshcheck.property_tests.free_runs import Schedule; "
        "from meshcheck.property_tests.pbft.free_runs import cluster, run; "
        "s = Schedule(seed=1, ticks=300, every=10, drop=0.05, partition=0.6, "
        "byzantine={'r4': (Fuzz(share=1.0, burst=4, resign=0.5, aim=0.5),)}, checkpoint_every=2); "
        "sim = cluster(s, 4, frozenset(), record=False); run(sim, s, 300); "
        "sent = Fuzz.sent(sim.nodes['r4'].contexts['']); "
        "print(sim.events, [f.how for f in sent][-20:], [len(sim.nodes[r].executed) for r in "
        "('r1', 'r2', 'r3')])"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1


def test_a_check_of_the_whole_run_plugs_into_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """RUN_CHECKS is where further checks of a free run (the client-history checks) plug in: one
    that fails fails the run, with its words."""
    from meshcheck.property_tests.pbft import free_runs

    monkeypatch.setattr(free_runs, "RUN_CHECKS", [lambda sim: f"a history check at t={sim.now}"])
    with pytest.raises(CheckFailed, match=r"violates a history check at t=300"):
        check_safety(Schedule(seed=1, ticks=300, every=25), 4, frozenset())

"""Small pieces of the hybrid layer the mutation campaign (mutation/run.py) found untested: each
test fails on a one-line change that no other fast test saw."""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest

from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.instance import Instance
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import HybridState
from meshcheck.impl.hybrid.mutants import BUGS
from meshcheck.impl.hybrid.mutants import EQUIVOCATION_IS_LOW
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.impl.raft.config import RaftConfig
from meshcheck.impl.raft.node import RaftNode

NODES = ("n1", "n2", "n3", "n4")


def test_a_string_of_bugs_is_refused_with_its_reason() -> None:
    with pytest.raises(ImplError) as caught:
        HybridConfig("n1", ("n1", "n2", "n3", "n4"), bugs="equivocation_is_low")
    assert str(caught.value) == (
        "bugs must be a set of mutant names, not the string 'equivocation_is_low'"
    )


def test_an_instance_files_its_core_writes_under_its_epoch_keeping_a_splice_start() -> None:
    # _rekey reads only the prefix: an instance without the rest of its state is enough
    instance = Instance.__new__(Instance)
    instance.prefix = "e3/"
    assert instance._rekey(Splice("log", 4, ("a",))) == Splice("e3/log", 4, ("a",))
    assert instance._rekey(Put("term", 2)) == Put("e3/term", 2)


def test_an_unknown_mutant_is_refused_naming_it_and_every_known_one() -> None:
    # a misspelt catalogue bug would otherwise run the correct code and pass for a killed mutant;
    # the message lists the unknown names, sorted, and the names the catalogue knows
    # (impl/hybrid/mutants.py), so the user can correct the spelling
    with pytest.raises(ImplError) as caught:
        HybridConfig("n1", NODES, bugs={"zz_no_such_bug", EQUIVOCATION_IS_LOW, "aa_no_such_bug"})
    assert str(caught.value) == (
        f"unknown hybrid mutant aa_no_such_bug, zz_no_such_bug (known: {', '.join(BUGS)})"
    )
    assert ", equivocation_is_low, " in str(caught.value)


def test_a_runs_keys_are_its_seeds() -> None:
    """Every key of a run is derived from its seed (impl/hybrid/entries.py `Keys`): a client's
    signature from one run is no signature in a run of another seed."""
    a, b = Keys(7, NODES, ("c1",)), Keys(8, NODES, ("c1",))
    signed = a.sign_op(ClientOp("c1", 1, "op"))
    assert a.op_ok(signed) and not b.op_ok(signed)


@pytest.mark.parametrize(
    ("node_id", "nodes", "reason"),
    [
        (
            "n5",
            ("n1", "n2", "n3", "n4"),
            "n5 must be one of distinct nodes ['n1', 'n2', 'n3', 'n4']",
        ),
        (
            "n1",
            ("n1", "n1", "n2", "n3"),
            "n1 must be one of distinct nodes ['n1', 'n1', 'n2', 'n3']",
        ),
        ("n1", ("n1", "n2", "n3"), "a hybrid cluster needs n >= 4 (3f + 1 with f >= 1), not 3"),
    ],
)
def test_a_bad_membership_is_refused_with_its_reason(
    node_id: str, nodes: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(ImplError) as caught:
        HybridConfig(node_id, nodes)
    assert str(caught.value) == reason


@pytest.mark.parametrize("name", ["clock_every", "retry_every", "evidence_timeout", "timing_bound"])
def test_each_hybrid_bound_must_be_positive(name: str) -> None:
    # at 0: the clock or retry timer re-armed at once, forever; a node's own evidence "stuck" the
    # moment it is proposed, so it stops following its leader; every heartbeat gap an anomaly
    zero: dict[str, Any] = {name: 0}
    with pytest.raises(ImplError) as caught:
        HybridConfig("n1", NODES, **zero)
    assert str(caught.value) == (
        "clock_every, retry_every, evidence_timeout, timing_bound must be >= 1"
    )
    one: dict[str, Any] = {name: 1}
    assert getattr(HybridConfig("n1", NODES, **one), name) == 1


def test_a_raft_epoch_never_compacts_its_log() -> None:
    """A hybrid machine is rebuilt from its epoch's start state and the log, never restored from a
    snapshot (HybridMachine.restore refuses), and hybrid Raft never ships one (node.py drops an
    InstallSnapshot): an epoch's Raft core must never compact. Raft's own default compacts after
    10,000 applied entries, which a long epoch reaches; the epoch's core is set past any log."""
    keys = Keys(7, NODES, ("c1",))
    node = HybridNode(HybridConfig("n1", NODES), keys, EvidenceChecker(keys), random.Random(0))
    node.step(Restart())
    core = node.current.core
    assert isinstance(core, RaftNode)
    assert core.config.snapshot_interval >= 1 << 40 > RaftConfig("n1", NODES).snapshot_interval
    with pytest.raises(ImplError, match="not restored"):
        node.machine.restore(node.machine.snapshot())


def test_a_raft_epoch_draws_its_election_timeout_from_the_hybrid_config() -> None:
    # Raft's own default (150, 300) is also the hybrid default: a range outside it shows which
    # one the epoch's instance was built with (a dropped argument falls back to Raft's)
    keys = Keys(7, NODES, ("c1",))
    config = HybridConfig("n1", NODES, election_timeout=(400, 420))
    node = HybridNode(config, keys, EvidenceChecker(keys), random.Random(0))
    effects = node.step(Restart())
    election = [e.after for e in effects if isinstance(e, SetTimer) and e.timer == "e1/election"]
    assert len(election) == 1 and 400 <= election[0] <= 420


def test_equal_machine_states_have_equal_snapshots() -> None:
    """HybridMachine.snapshot is a function of the state's value: two equal states whose sets were
    built in another order (a frozenset's repr follows its iteration order) give one digest. Found
    by restart equivalence (property_tests/restarts.py): a node restarted mid-run and a fresh one
    replayed the same evidence into equal threat states with different snapshots."""
    keys = Keys(0, ("n1", "n2", "n3", "n4"), ("c1",))
    threat = ThreatModel.for_f(1)
    states = [
        attrs.evolve(
            HybridState.initial(threat),
            threat=attrs.evolve(threat, keys=frozenset({("equivocation", frozenset(order))})),
        )
        for order in ([1, 9], [9, 1])
    ]
    assert states[0] == states[1] and repr(states[0]) != repr(states[1])
    a, b = (HybridMachine(s, keys, EvidenceChecker(keys)) for s in states)
    assert a.snapshot() == b.snapshot()

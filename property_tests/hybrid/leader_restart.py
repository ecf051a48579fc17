"""The hybrid layer's Raft epoch: a leader that crashes with a client op in flight, restarts, and
is made to lead again.

A scripted run (four nodes, all honest, a calm network, epoch 1: Raft), `cycles` times over on
the same node L:

1. L leads epoch 1; the client (impl/hybrid/consensus.py: each op to every node, decided on f+1
   matching answers, sent again every 400 ticks) proposes an op, and L crashes at the end of its
   next step (having taken the op, as leader, in the usual order of the client's sends), to come
   back 300 to 600 ticks later. Variant `before`: L is cut off from the others first, so its
   copy of the op reaches nobody (the next leader puts other entries at its index); variant
   `after`: its AppendEntries go out before the crash;
2. the others elect a leader M, which commits the op (the client's resends reach it; L's copy of
   the entry, uncommitted, is overwritten or committed by M); L restarts and follows M (or, when
   it won an election again after its restart, it leads: step 3 is done);
3. M crashes, L's election timer ("e1/election") fires first: L leads again, M restarts, and
   the client proposes more ops, which L commits.

What must hold: every op is decided committed (within the client's give-up bound), each honest
node's history is a prefix of the longest (NoCommittedOpLost), Hybrid.tla's invariants after every
step (property_tests/hybrid/monitor.py), and the client-history checks of the hybrid free runs
(`history_problem`: linearizable, each (client, seq) applied at most once, no answer withdrawn).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

from hypothesis import strategies as st

from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.raft.node import RaftNode
from meshcheck.impl.rsm.ops import Custom
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import scripted
from meshcheck.property_tests.hybrid.free_runs import GIVE_UP
from meshcheck.property_tests.hybrid.free_runs import KEYS
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import final
from meshcheck.property_tests.hybrid.monitor import Monitor
from meshcheck.violated import LEADER_ELECTED
from meshcheck.violated import LEADER_RETURNS
from meshcheck.violated import RESTART_CATCH_UP

N = 4
ELECTION = "e1/election"  # the Raft instance's election timer, under its epoch's prefix
LIMIT = 3000  # ticks for an election or a catch-up on a calm network of four


def _wait(
    hc: HybridConsensus, until: Callable[[], bool], what: str, steps: int, *, bound: str
) -> None:
    """Run until `until()` holds, within LIMIT ticks (else CheckFailed, led by the name of the
    `bound` it breaks, one of meshcheck/violated.py's WAIT_BOUNDS)."""
    end = hc.sim.now + LIMIT
    while not until():
        if hc.sim.now >= end:
            raise CheckFailed(f"t={hc.sim.now}: {bound}: {what} within {LIMIT} ticks", steps=steps)
        hc.sim.run(until=hc.sim.now + 25, stop=lambda _: until())


def _last(hc: HybridConsensus, node: str) -> tuple[int, int]:
    """The (term, index) of the last entry of the node's Raft log in epoch 1."""
    core = hc.nodes[node].instances[1].core
    assert isinstance(core, RaftNode)  # epoch 1 runs Raft
    return (core.log.last_term, core.log.last_index)


def _caught_up(hc: HybridConsensus, leader: str) -> bool:
    """Every up node's Raft log ends where the leader's does."""
    return all(_last(hc, i) == _last(hc, leader) for i in hc.sim.node_ids if hc.sim.up[i])


def scenario(schedule: Schedule, bugs: frozenset[str]) -> Run:
    """Run the scenario; CheckFailed when something broke."""
    hc = HybridConsensus(N, seed=schedule.seed, bugs=bugs, give_up_after=GIVE_UP)
    out = Run(hc, Monitor(hc))
    rng = random.Random(f"{schedule.seed}:hybrid-leader-restart")
    sim = hc.sim
    ops = 0

    def propose() -> None:
        nonlocal ops
        ops += 1
        decision = hc.propose(Custom(f"k{ops % KEYS}", ops))
        out.decisions.append(decision)
        if not decision.committed:
            raise CheckFailed(
                f"t={sim.now}: op {ops} rejected in a Raft epoch with no switch "
                f"({decision.reason})",
                steps=out.monitor.steps,
            )

    cut: list[str] = []
    down_at: list[int] = []

    def heal_when_down(node: str, event: object, nodes: object) -> None:
        """The cut node's messages are lost: the network heals once it has been down for longer
        than any message is in flight (latency 1..10 ticks)."""
        if cut and not sim.up[cut[0]]:
            down_at.append(sim.now)
            if sim.now - down_at[0] > 20:
                cut.clear()
                down_at.clear()
                sim.heal()

    hc.plugin.watchers.append(heal_when_down)
    propose()
    _wait(
        hc,
        lambda: hc.raft_leader() is not None,
        "no Raft leader",
        out.monitor.steps,
        bound=LEADER_ELECTED,
    )
    old = hc.raft_leader()
    assert old is not None
    for _ in range(schedule.knob("cycles", 1)):
        # 1. the op in flight at the leader, which crashes (variant `before`: cut off first, so
        # that its copy of the op cannot reach the others)
        if schedule.knob("variant", "before") == "before":
            for other in sim.node_ids:
                if other != old:
                    sim.cut(old, other)
            cut.append(old)  # healed once it has been down a while (`heal_when_down`)
        sim.crash(old, after_effects=1_000)  # at the end of its next step
        sim.recover_at(old, sim.now + rng.randint(300, 600))
        propose()  # decided by the next leader; meanwhile `old` comes back
        _wait(
            hc,
            lambda: sim.up[old],
            f"{old} did not come back",
            out.monitor.steps,
            bound=LEADER_RETURNS,
        )
        # 2. the new leader; the old one catches up (or, back first, it won an election again)
        _wait(
            hc,
            lambda: hc.raft_leader() is not None,
            "no Raft leader",
            out.monitor.steps,
            bound=LEADER_ELECTED,
        )
        new = hc.raft_leader()
        assert new is not None
        if new == old:
            propose()
            continue
        _wait(
            hc,
            partial(_caught_up, hc, new),
            f"{old} did not catch up",
            out.monitor.steps,
            bound=RESTART_CATCH_UP,
        )
        # 3. the old leader leads again
        sim.crash(new)
        sim.fire(old, ELECTION)
        _wait(
            hc,
            lambda: hc.raft_leader() == old,
            f"{old} did not lead again",
            out.monitor.steps,
            bound=LEADER_RETURNS,
        )
        sim.recover(new)
        propose()
        propose()
    final(out)
    return out


def schedules() -> st.SearchStrategy[Schedule]:
    return scripted(variant=st.sampled_from(("before", "after")), cycles=st.sampled_from((1, 3)))


def _check(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    scenario(schedule, bugs)  # n: always 4 (the check's signature)


# The check `meshcheck mutants hybrid` runs: Hypothesis draws the seed, variant and cycles.
leader_restart_check = scenarios.Drawn(
    "restarted_leader_loses_nothing", _check, schedules, 1 / 10, N
)

"""A switch to BFT while a client's op is in flight in Raft: a free run that starts from a short
deterministic prefix setting that up (property_tests/pbft/window.py does the same for PBFT).

The hybrid layer's promise at a switch (impl/hybrid/node.py, `_switch`): an op a node holds for
the epoch that ended, and that the epoch did not commit, is answered "not committed" (the client
proposes it again, under its sequence number, in the new epoch) or, when it was tagged for the new
epoch, proposed there; it is never lost and never applied twice. The switch that matters most is
the escalation, from a Raft epoch to a BFT one on Byzantine evidence: the evidence comes from the
very leader that holds the op. property_tests/hybrid/coverage.py names it
`escalation_with_op_in_flight` (a probe in `_switch`). Random runs reach it in two runs of three
(measured below: their client always has an op in flight), but when and how they choose; the
prefix reaches it in every run, first thing, with the evidence coming from the leader that holds
the op back, and the random run continues from the BFT epoch. The prefix:

1. under no faults the cluster elects a Raft leader and commits the client's first op;
2. the leader turns Byzantine: it drops the client ops it is given (`HoldOps`, this scenario's
   behaviour: the client's next op stays in flight at the honest followers, which forwarded it)
   and equivocates (impl/hybrid/byzantine.py's `EquivocateRaft`), which the followers report as
   self-proving evidence; the leader commits that evidence (it is not a censor), the level rises,
   and the cluster switches to a BFT epoch with the op in flight;
3. the client's op is answered "not committed" at the switch and proposed again, and commits in
   a later epoch (the BFT one, or already a Raft one again if the level dropped meanwhile: the
   prefix stops there); the schedule's faults then run as in any hybrid free
   run (property_tests/hybrid/free_runs.py's `play`: ops under faults, the calm, the return to
   Raft), the leader Byzantine until the calm.

The run ends with the free runs' checks: Hybrid.tla's invariants after every step (the monitor),
the honest-rejection oracle, the bounds after the calm, and `final`: one order of committed ops
and the client-history checks (linearizable, each (client, seq) applied at most once, no answer
withdrawn).

Measured (2026-11-22, 30 runs each, machine loaded): from the prefix all 30 runs switched to BFT
with an op in flight, 111 times in all (a hit per node that held the op), in 41.5 s; 30 hybrid free
runs drawn as free_runs.schedules draws them (the same faults, the Byzantine knobs drawn), 20 of
30 runs, 103 times, in 24.0 s.
"""

from __future__ import annotations

from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.levels import BFT
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim import CALM
from meshcheck.impl.sim import Phases
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import network_faults
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.hybrid.free_runs import GIVE_UP
from meshcheck.property_tests.hybrid.free_runs import RETRIES
from meshcheck.property_tests.hybrid.free_runs import Run
from meshcheck.property_tests.hybrid.free_runs import faults
from meshcheck.property_tests.hybrid.free_runs import play
from meshcheck.property_tests.hybrid.monitor import Monitor
from meshcheck.property_tests.hybrid.oracle import watch

# ticks of calm the prefix takes at least (an election, two ops, a switch: 517 at most)
PREFIX = 700
# From the first Raft leader to the op in flight committed in a BFT epoch: at most 277 ticks over
# seeds 0 to 399 (2026-11-27)
SETUP = 400
# An election round that ends in a split vote lasts at most the longest election timeout (300)
# and a vote's round trip (2 x 10); over 3,000 seeds under no faults 4.8% of first elections
# needed a second round and 0.03% took past t=700 (2026-11-27). Ten rounds: a correct Raft
# needs more with probability under 10^-9 by that rate.
ROUND, ROUNDS = 320, 10


@attrs.frozen
class HoldOps:
    """A Byzantine behaviour (impl/hybrid/byzantine.py's shape): the node takes no client op, from
    the client or forwarded by a follower (it never appends one as Raft leader)."""

    def before(self, node: HybridNode, event: Any) -> bool:
        if isinstance(event, ClientRequest):
            return False
        if isinstance(event, Deliver) and isinstance(event.message, Signed):
            body = event.message.body
            return not (isinstance(body, Proposal) and isinstance(body.entry, OpEntry))
        return True

    def act(self, node: HybridNode, effects: list[Any]) -> list[Any]:
        return effects


def shifted(schedule: Schedule, calm: int) -> Schedule:
    """The schedule as `play` reads it: its faults end `calm` ticks later (times are absolute),
    no Byzantine behaviour of its own (the prefix's leader is the run's)."""
    fields = attrs.asdict(schedule, recurse=False, filter=lambda a, _: a.name != "knobs")
    fields["ticks"] = calm + schedule.ticks
    return Schedule(**fields, behaviours=(), target="leader", start=0, stop=None)


def calm_of(schedule: Schedule, bugs: frozenset[str]) -> int:
    """How long the prefix's calm lasts for this seed: PREFIX, or SETUP past its first election
    when that comes later. Raft under randomized timeouts elects a leader with probability 1, by
    no fixed time (Ongaro and Ousterhout 2014, section 5.2: split votes are rare, not impossible),
    so a fixed calm fails the setup of a seed whose first elections split (the explore run of
    2026-11-27: seed 3355, three split votes, no leader by t=700). The election is looked up in a
    run of the same cluster under no faults at all, which draws what the prefix's calm draws: a
    run's faults change nothing before their phase begins. No leader within ROUNDS rounds: the calm
    is those rounds, and the prefix reports that no leader came."""
    hc = HybridConsensus(4, seed=schedule.seed, bugs=bugs, record=False, give_up_after=GIVE_UP)
    while hc.raft_leader() is None and hc.sim.now < ROUND * ROUNDS:
        hc.run(25)
    if hc.raft_leader() is None:
        return ROUND * ROUNDS
    return max(PREFIX, hc.sim.now + SETUP)


def prepare(schedule: Schedule, bugs: frozenset[str], calm: int = PREFIX) -> Run:
    """Four nodes, calm for `calm` ticks (the prefix's), then the schedule's faults for
    `schedule.ticks`; the monitor and the oracle watch from the start."""
    hc = HybridConsensus(
        4,
        seed=schedule.seed,
        faults=Phases([(calm, CALM), (schedule.ticks, faults(shifted(schedule, calm)))]),
        bugs=bugs,
        record=False,
        give_up_after=GIVE_UP,
    )
    out = Run(hc, Monitor(hc))
    out.oracle = watch(hc)
    return out


def prefix(out: Run, calm: int = PREFIX) -> str | None:
    """Steps 1 to 3 of the module doc, under no faults for `calm` ticks; what went wrong, if the
    run did not get there (None: the op in flight at the switch committed in a BFT epoch, the
    faults may start)."""
    hc = out.hc
    while hc.raft_leader() is None and hc.sim.now < calm:
        hc.run(25)
    leader = hc.raft_leader()
    if leader is None:
        return f"no Raft leader by t={hc.sim.now}"
    hc.give_up_after = calm
    try:
        first = hc.propose(Custom("k0", 0))
        out.decisions.append(first)
        if not first.committed or hc.current_protocol() != RAFT:
            return f"the first op was not committed in Raft ({first.reason or first.status})"
        hc.make_byzantine(leader, HoldOps(), EquivocateRaft())
        out.byzantine = leader
        seq: int | None = None
        for _ in range(RETRIES + 1):
            d = hc.propose(Custom("k1", 1), seq=seq)
            seq = d.seq
            if d.committed:
                break
    except ImplError as exc:
        return f"{exc} (t={hc.sim.now})"
    out.decisions.append(d)
    hc.give_up_after = GIVE_UP
    epochs = hc.metrics()["epochs"]  # the cluster's epochs so far, with their protocols
    if not (d.committed and BFT in epochs.values() and (d.epoch or 0) > (first.epoch or 0)):
        return f"the op in flight was not committed after a switch to BFT by t={hc.sim.now}"
    return None


def check_escalation(schedule: Schedule, bugs: frozenset[str] = frozenset()) -> Run:
    """One run: the prefix, then `play` with the schedule's faults; CheckFailed on a violation,
    a missed bound, or a prefix that did not set up."""
    calm = calm_of(schedule, bugs)
    out = prepare(schedule, bugs, calm)
    problem = prefix(out, calm)
    if problem is not None:
        raise CheckFailed(
            f"{schedule!r}: the escalation scenario did not set up: {problem}",
            steps=out.monitor.steps,
        )
    play(out, shifted(schedule, calm))
    return out


def schedules() -> st.SearchStrategy[Schedule]:
    """The hybrid free runs' faults (no Byzantine knobs: the prefix's leader is the run's)."""
    return st.builds(
        Schedule,
        **network_faults([600, 1000, 1500]),
    )


def escalation_runs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: free runs from the escalation prefix keep the hybrid free runs' checks (a
    fifteenth of the profile's examples, as the free runs, two at least)."""

    @share(settings, 1 / 15, least=2)
    @given(schedules())
    def from_the_switch(schedule: Schedule) -> None:
        check_escalation(schedule, bugs)

    from_the_switch()

"""Free runs of a simulated hybrid cluster: Byzantine behaviour switched on and off mid-stream while
the client keeps proposing, under message loss, duplication, crashes and partitions; Hybrid.tla's
invariants after every step, its liveness as bounds once the evidence and the faults stop.

Lockstep walks the specs' small models; a free run is the whole stack (Raft and PBFT instances,
the detectors, signed evidence, the replicated clock) under the simulator's seeded faults.
Hypothesis draws the `Schedule`: the seed, the faults, the Byzantine node (a given node, faulty from
the start and honest-acting until its behaviour starts, or the Raft leader at that moment) and its
behaviours (impl/hybrid/byzantine.py, and PBFT's equivocating primary), the op before which they
start and the op before which they stop. A run:

1. faults for `ticks` ticks (`Faults.until`) while the client proposes op after op
   (`HybridConsensus.propose`: f+1 matching answers, an op rejected at a switch proposed again
   under its sequence number); the Byzantine behaviour is on from op `start` to op `stop` (None:
   to the end of the phase);
2. then the evidence stops (the behaviour is taken away; the node stays out of the honest set: its
   past is not the service's) and, at the first chaos round from `ticks` on, the faults; from the
   later of the two (`quiet_from`), every honest node must be back in a Raft epoch within
   `RAFT_BOUND` ticks and stay there (EventuallyBackToRaft);
3. `CALM_OPS` more ops, switches included: every proposal answered, committed or rejected, within
   `OP_BOUND` ticks (InFlightResolved).

The bounds, from the thresholds of levels.Thresholds.for_f(1) (window 100, quiet 50, dwell 30) and
HybridConfig's timing: after the last evidence the replicated time must pass the window before the
evidence stops demanding anything, then one dwell per level down to Medium (Critical -> High ->
Medium: 100 + 30 ticks of replicated time), which trails the nodes' clocks by a clock period (25)
and a commit; evidence reported before the calm may still wait for an election or a PBFT view
change (400) to be committed. Measured over 54 runs (drawn as `schedules` draws them): back in
Raft at most 191 ticks after `quiet_from`; every calm proposal answered within 431 ticks (95% within
224; one after a switch waits for the new epoch's election or view and a retry). With HotStuff
under the BFT epochs (7 nodes), 60 runs drawn likewise: back in Raft at most 503 ticks after
`quiet_from`, every calm proposal answered within 491 (before the replicas kept each node's newest
clock reading only, impl/hybrid/bft.py: 1178 and 1172). RAFT_BOUND = OP_BOUND = 1500 ticks leaves
room for a view change that doubles its timeout once.

`Monitor` (monitor.py) checks the invariants after every step; a violation, or a missed bound,
raises `CheckFailed`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck import coverage
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hotstuff.byzantine import ByzantineReplica
from meshcheck.impl.hybrid.bft import HOTSTUFF
from meshcheck.impl.hybrid.bft import PBFT
from meshcheck.impl.hybrid.bft import HybridHotStuff
from meshcheck.impl.hybrid.byzantine import Censor
from meshcheck.impl.hybrid.byzantine import EquivocateRaft
from meshcheck.impl.hybrid.byzantine import FalseReports
from meshcheck.impl.hybrid.byzantine import ForgeSeals
from meshcheck.impl.hybrid.byzantine import TamperEnvelopes
from meshcheck.impl.hybrid.consensus import Decision
from meshcheck.impl.hybrid.consensus import HybridConsensus
from meshcheck.impl.hybrid.fuzz import Fuzz as HybridFuzz
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.pbft.byzantine.behaviours import AnyBehaviour
from meshcheck.impl.pbft.byzantine.behaviours import Equivocate
from meshcheck.impl.pbft.byzantine.fuzz import Fuzz
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import MessageFaults
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import CHAOS_EVERY
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import network_faults
from meshcheck.property_tests.free_runs import schedule_faults
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.hybrid.monitor import Monitor
from meshcheck.property_tests.hybrid.oracle import HybridOracle
from meshcheck.property_tests.hybrid.oracle import watch

# Free runs with HotStuff under the BFT epochs run 7 nodes, not 4: chained HotStuff commits a block
# only on a three-chain of direct parents in consecutive views (impl/hotstuff/replica.py `_update`,
# section 5 of the paper), which takes four honest leaders in a row under round-robin leaders; at
# n = 4 one silent replica (a Byzantine node that stays in an earlier epoch, as in
# Schedule(seed=0, ticks=1000, behaviours=('false_reports', 'forge_seals'), target='n1', start=1))
# leads every fourth view and nothing commits again (specs/HotStuff.md, "Liveness"), and the op in
# flight fails InFlightResolved. At n = 7 one silent node leaves six leaders in a row.
HOTSTUFF_NODES = 7
RAFT_BOUND = 1500
OP_BOUND = 1500
GIVE_UP = 5000  # ticks without an answer before the client gives up on an op (under faults)
CALM_OPS = 4
# how long a delayed message is held back (Schedule.delay; `schedules` draws none, the all-honest
# runs of no_false_accusation.py do): past timing_bound (200) and the election timeouts
DELAY_TICKS = (50, 500)
RETRIES = 4  # an op rejected at a switch is proposed again, under its sequence number
# op k writes Custom key k % KEYS: ops share keys, so each result ("existed") depends on the order
# the ops took effect in, and the client history's linearizability check has something to check
KEYS = 3

# what a Byzantine node may do, by name (the schedule's repr stays readable)
BEHAVIOURS: dict[str, Callable[[], Any]] = {
    "equivocate": EquivocateRaft,
    "forge_seals": ForgeSeals,
    "tamper": TamperEnvelopes,
    "false_reports": FalseReports,
    "censor": Censor,
    # the message fuzzer (impl/hybrid/fuzz.py): mutations of the sealed messages and PBFT wires it
    # holds, sent on a third of its steps
    "fuzz": HybridFuzz,
}
# the node's BFT cores misbehave: PBFT's equivocate as primary, HotStuff's as leader
PBFT_EQUIVOCATE = "pbft_equivocate"
# PBFT's fuzz (impl/pbft/byzantine/fuzz.py), HotStuff's vote for every valid proposal
PBFT_FUZZ = "pbft_fuzz"
# PBFT's fuzz growing certificates too (impl/base/mutation.py `grow`, docs/certificates.md)
PBFT_GROW = "pbft_grow"


# the hybrid layer's knobs of a `Schedule` (property_tests/free_runs.py), with their defaults
KNOBS: Mapping[str, Any] = {
    "behaviours": (),  # names of BEHAVIOURS (and PBFT_EQUIVOCATE)
    "target": "leader",  # the Byzantine node: the Raft leader when it starts, or a node id
    "start": 1,  # the op before which the behaviour starts
    "stop": None,  # the op before which it stops (None: at the calm)
    # a second Byzantine node with the same behaviours, from the start to the calm: f + 1 of
    # them, which the checks must see break safety (property_tests/hybrid/test_fuzz.py); never
    # drawn by `schedules`
    "colluder": None,
    # the peers the target's equivocating PBFT cores lie to as primary (None: drawn per sequence
    # number); never drawn by `schedules`
    "group": None,
    # (every, hold): every `every` ticks while the faults run, the Raft leader of the moment is
    # cut off from every node for `hold` ticks (`Deposer`), so terms change and leaders come back
    # deposed; drawn by no_false_accusation.py, never by `schedules`
    "depose": None,
    # the protocol of the BFT epochs (impl/hybrid/bft.py), and with it the cluster's size
    # (HOTSTUFF_NODES for HotStuff, else 4) unless the caller names them (`run`'s options);
    # `free_runs` sets it on HotStuff runs, so that a failing run's `#meta.rerun`
    # (property_tests/record.py keeps the schedule's repr) re-runs it with HotStuff
    "bft": PBFT,
}


def knob(schedule: Schedule, name: str) -> Any:
    return schedule.knob(name, KNOBS[name])


def faults(schedule: Schedule, messages: tuple[MessageFaults, ...] = ()) -> Faults:
    return schedule_faults(
        schedule,
        delay_ticks=DELAY_TICKS,
        down_ticks=(100, 600),
        partition_ticks=(100, 600),
        until=schedule.ticks,
        messages=messages,
    )


@attrs.define
class Deposer:
    """A message-fault rule's filter (impl/sim/config.py `MessageFaults.where`): it matches every
    message to or from the node that was the Raft leader when the current cut began. Cuts begin
    at t = `first` (after the first election: timeouts of 150 to 300 ticks) and every `every`
    ticks after, last `hold` ticks, and only while the faults run (a cut that would outlast
    `until`, the faults' end, is not made). With `hold` past the election timeout the others elect
    a new leader in a later term (Raft paper, section 5.2), and the old one, back, steps down on
    hearing of it."""

    every: int
    hold: int
    until: int
    first: int = 350
    hc: HybridConsensus | None = None  # set once the cluster exists (`prepare`)
    cut: tuple[int, str | None] = (-1, None)  # (the cut's number, the leader it cuts off)
    deposed: int = 0  # leaders cut off so far

    def __call__(self, source: str, dest: str, message: Any) -> bool:
        if self.hc is None or self.hc.sim.now < self.first:
            return False
        number, into = divmod(self.hc.sim.now - self.first, self.every)
        if into >= self.hold or self.first + number * self.every + self.hold > self.until:
            return False
        if self.cut[0] != number:
            self.cut = (number, self.hc.raft_leader())
            self.deposed += self.cut[1] is not None
        return self.cut[1] is not None and self.cut[1] in (source, dest)


def schedules() -> st.SearchStrategy[Schedule]:
    names = sorted([*BEHAVIOURS, PBFT_EQUIVOCATE, PBFT_FUZZ, PBFT_GROW])
    return st.builds(
        Schedule,
        **network_faults([600, 1000, 1500]),
        behaviours=st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).map(tuple),
        target=st.sampled_from(["leader", "n1", "n4"]),
        start=st.integers(1, 4),
        stop=st.one_of(st.none(), st.integers(3, 10)),
    )


@attrs.define
class Run:
    """What a run did: its cluster, monitor, decisions, and the measured times."""

    hc: HybridConsensus
    monitor: Monitor
    decisions: list[Decision] = attrs.field(factory=list)
    byzantine: str | None = None
    quiet_from: int = 0  # when the evidence and the faults had both stopped
    calm_at: int = 0
    back_to_raft: int | None = None  # ticks from quiet_from to every honest node in Raft
    op_latency: list[int] = attrs.field(factory=list)  # calm proposals: submission to answer
    switches: int = 0
    oracle: HybridOracle | None = None  # what honest nodes did with what Byzantine ones sent
    deposer: Deposer | None = None  # the schedule's `depose` knob at work


def _propose(hc: HybridConsensus, k: int, deadline: int) -> Decision:
    """Op k, proposed again after a rejection; each proposal gives up after GIVE_UP ticks, and at
    `deadline` at the latest (ImplError)."""
    seq: int | None = None
    for _ in range(RETRIES + 1):
        hc.give_up_after = max(1, min(GIVE_UP, deadline - hc.sim.now))
        d = hc.propose(Custom(f"k{k % KEYS}", k), seq=seq)
        if d.committed:
            break
        seq = d.seq
    return d


def _turn_on(hc: HybridConsensus, schedule: Schedule, node: str | None = None) -> str:
    """Make `node` (default: the schedule's target) Byzantine with the schedule's behaviours."""
    node = node or str(knob(schedule, "target"))
    if node == "leader":
        for _ in range(20):  # the first election may not be over yet
            if hc.raft_leader() is not None:
                break
            hc.run(25)
        node = hc.raft_leader() or "n1"
    behaviours = [BEHAVIOURS[b]() for b in knob(schedule, "behaviours") if b in BEHAVIOURS]
    chosen = knob(schedule, "behaviours")
    pbft_behaviours: list[AnyBehaviour] = []
    if PBFT_EQUIVOCATE in chosen:
        group = knob(schedule, "group") if node == knob(schedule, "target") else None
        pbft_behaviours.append(Equivocate(group=group))
    if PBFT_GROW in chosen:
        pbft_behaviours.append(Fuzz(grow=0.5))
    elif PBFT_FUZZ in chosen:
        pbft_behaviours.append(Fuzz())
    pbft = corrupt(*pbft_behaviours) if pbft_behaviours else None
    # the same behaviours when the BFT epochs run HotStuff: an equivocating leader, and for the
    # fuzzer votes for every valid proposal (conflicting ones included; impl/hotstuff/byzantine.py)
    hotstuff_behaviours = [
        name
        for chosen_name, name in (
            (PBFT_EQUIVOCATE, "equivocate"),
            (PBFT_FUZZ, "vote_all"),
            (PBFT_GROW, "vote_all"),
        )
        if chosen_name in chosen
    ]

    def hotstuff(core: HybridHotStuff) -> ByzantineReplica:
        return ByzantineReplica(core, hotstuff_behaviours)

    hc.make_byzantine(
        node, *behaviours, pbft=pbft, hotstuff=hotstuff if hotstuff_behaviours else None
    )
    return node


def all_raft(hc: HybridConsensus) -> bool:
    return all(hc.nodes[i].current_protocol() == RAFT for i in hc.honest if hc.sim.up[i])


def prepare(
    schedule: Schedule,
    bugs: frozenset[str] = frozenset(),
    *,
    record: bool = False,
    monitor: bool = True,
    **options: Any,
) -> Run:
    """The cluster of a free run, its monitor (without `monitor` it counts steps only: trace
    validation judges the run instead); `options` are HybridConsensus's (`n`, default 4, `bft`)
    and HybridConfig's."""
    depose = knob(schedule, "depose")
    deposer = None
    rules: tuple[MessageFaults, ...] = ()
    if depose is not None:
        every, hold = depose
        deposer = Deposer(every, hold, until=schedule.ticks)
        rules = (MessageFaults(where=deposer, drop=1.0),)
    chaos = faults(schedule, rules)
    hc = HybridConsensus(
        options.pop("n", 4),
        seed=schedule.seed,
        faults=chaos,
        bugs=bugs,
        record=record,
        give_up_after=GIVE_UP,
        **options,
    )
    out = Run(hc, Monitor(hc, active=monitor), deposer=deposer)
    if deposer is not None:
        deposer.hc = hc
    if monitor:
        # after every step, beside the monitor: what honest nodes do with what Byzantine ones
        # send (property_tests/hybrid/oracle.py); further per-step checks of a run (client
        # histories) are watchers of hc.plugin too, added here
        out.oracle = watch(hc)
    target = knob(schedule, "target")
    if target != "leader":  # the run's faulty node, known from the start; honest for now
        hc.make_byzantine(target)
        out.byzantine = target
    colluder = knob(schedule, "colluder")
    if colluder is not None:
        _turn_on(hc, schedule, colluder)
    return out


def run(
    schedule: Schedule,
    bugs: frozenset[str] = frozenset(),
    *,
    max_ops: int = 10_000,
    **options: Any,
) -> Run:
    """One free run (see the module doc); CheckFailed on a violation or a missed bound."""
    # the options, not locals named `n` or `nodes`: record.py would read those as the size to
    # re-run with, and pass it where `bugs` goes
    bft = options.setdefault("bft", knob(schedule, "bft"))
    options.setdefault("n", HOTSTUFF_NODES if bft == HOTSTUFF else 4)
    out = prepare(schedule, bugs, **options)
    play(out, schedule, max_ops=max_ops)
    fuzzing = {"fuzz", PBFT_FUZZ, PBFT_GROW} & set(knob(schedule, "behaviours"))
    if fuzzing and out.oracle is not None and out.oracle.checked:  # verify's fuzzer row
        coverage.tally("hybrid", "fuzzed runs")
        coverage.tally("hybrid", "fuzzed messages", out.oracle.checked)
    return out


def play(out: Run, schedule: Schedule, *, max_ops: int = 10_000) -> None:
    """The run's phases (see the module doc), at most `max_ops` ops before the calm."""
    hc = out.hc
    k = 0
    # The faults stop at the first chaos round from `ticks` on; an op still in flight then is
    # answered within OP_BOUND (InFlightResolved), so no proposal runs past `deadline`: a run
    # that never ends (a livelock: its logs, and its messages, grow with every tick) fails here.
    faults_end = -(-schedule.ticks // CHAOS_EVERY) * CHAOS_EVERY
    deadline = faults_end + OP_BOUND
    while hc.sim.now < schedule.ticks and k < max_ops:
        k += 1
        if k == knob(schedule, "start"):
            out.byzantine = _turn_on(hc, schedule)
        if k == knob(schedule, "stop") and out.byzantine is not None:
            hc.make_honest(out.byzantine)
        try:
            out.decisions.append(_propose(hc, k, deadline))
        except ImplError:
            if hc.sim.now >= deadline:
                raise CheckFailed(
                    f"op k{k}, in flight when the faults stopped (t={faults_end}), was not "
                    f"answered within {OP_BOUND} ticks (InFlightResolved)",
                    steps=out.monitor.steps,
                ) from None
            break  # no answer under the faults: the calm below must bring one
    for node in {out.byzantine, knob(schedule, "colluder")} - {None}:
        hc.make_honest(node)
    # the evidence stops now, the faults at the first chaos round from `ticks` on: the bound on
    # the return to Raft counts from the later of the two
    out.quiet_from = max(hc.sim.now, faults_end)

    def back(_node: str, _event: Any, _nodes: Any) -> None:
        if out.back_to_raft is None and hc.sim.now >= out.quiet_from and all_raft(hc):
            out.back_to_raft = hc.sim.now - out.quiet_from

    hc.plugin.watchers.append(back)
    hc.run(max(0, out.quiet_from - hc.sim.now))
    back("", None, None)
    out.calm_at = hc.sim.now
    for _ in range(CALM_OPS):
        k += 1
        seq: int | None = None
        d: Decision | None = None
        for _attempt in range(RETRIES + 1):  # each answer, rejected or committed, within the bound
            submitted = hc.sim.now
            hc.give_up_after = OP_BOUND + 1  # an answer later than the bound is a failure anyway
            try:
                d = hc.propose(Custom(f"k{k % KEYS}", k), seq=seq)
            except ImplError:
                d = None
            if d is None or d.time - submitted > OP_BOUND:
                raise CheckFailed(
                    f"op k{k}, submitted at t={submitted} after the calm (t={out.calm_at}), was "
                    f"not answered within {OP_BOUND} ticks (InFlightResolved)",
                    steps=out.monitor.steps,
                )
            out.op_latency.append(d.time - submitted)
            seq = d.seq
            if d.committed:
                break
        if d is not None:
            out.decisions.append(d)
    while out.back_to_raft is None and hc.sim.now - out.quiet_from <= RAFT_BOUND:
        hc.run(25)
    hc.run(RAFT_BOUND // 2)  # and it stays there: no evidence, no switch
    if out.back_to_raft is None or out.back_to_raft > RAFT_BOUND or not all_raft(hc):
        where = {i: hc.nodes[i].current_protocol() for i in hc.honest}
        raise CheckFailed(
            f"not back to Raft {RAFT_BOUND} ticks after the evidence and the faults stopped "
            f"(t={out.quiet_from}): {where} (EventuallyBackToRaft)",
            steps=out.monitor.steps,
        )
    out.switches = hc.metrics()["switches"]
    final(out)


def final(out: Run) -> None:
    """At the end: one order of committed ops (every honest history a prefix of the longest),
    and the client-history checks (`history_problem`)."""
    histories = out.hc.histories()
    longest = max(histories.values(), key=len)
    for node, history in histories.items():
        if history != longest[: len(history)]:
            raise CheckFailed(
                f"{node}'s history is not a prefix of the longest honest history "
                "(NoCommittedOpLost)",
                steps=out.monitor.steps,
            )
    problem = history_problem(out.hc)
    if problem is not None:
        raise CheckFailed(problem, steps=out.monitor.steps)


def history_problem(hc: HybridConsensus) -> str | None:
    """The client-history checks of property_tests/histories.py on a HybridConsensus run, else
    None. The history holds one operation per proposal (impl/hybrid/consensus.py): an rsm op
    (the `rsm` model checks it, the HybridMachine applying it as the case store does), answered
    ok with its result or fail when rejected. A node's `Apply` names the proposal that took
    effect, (client, seq, epoch): a rejection of (op, epoch e) is final exactly when no honest
    node ever applies (op, e) ("no answer withdrawn"), and (client, seq) is applied at most once
    whatever the epoch. The nodes ever Byzantine are left out of the per-node checks."""
    return check_history(
        hc.sim,
        honest=hc.honest,
        entry_ops=lambda value: (value,),
        once=lambda value: tuple(value[:2]),
        op_key=lambda o: hc.proposals.get(o.request_id),
    )


def free_runs(
    bugs: frozenset[str],
    settings: hypothesis.settings,
    *,
    bft: str = PBFT,
    share_of: float = 1 / 15,
) -> None:
    """The check: free runs under `share_of` `settings`' examples (a fifteenth: ci 4, dev 13,
    deep 133), the BFT epochs running `bft` (impl/hybrid/bft.py); CheckFailed on the first
    violation."""

    @share(settings, share_of, least=2)
    @given(schedule=schedules())
    def check(schedule: Schedule) -> None:
        # the BFT protocol in the schedule (KNOBS "bft"): a failure's record re-runs it as it ran
        run(schedule if bft == PBFT else schedule.with_knobs(bft=bft), bugs)

    check()

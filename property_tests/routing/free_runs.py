"""The three layers together: a `Manager` under a mixed workload, faults, and Byzantine behaviour
switched on and off, checked on what its submitter observes and by each layer's own checks.

Two checks (`meshcheck mutants routing` runs them in this order, the refusals and the pending
scenario between them: checks.py; test_routing.py with no bug):

- `scenario`: one deterministic run that takes every route. At threat level None: a critical op, a
  coordination op, a status write, an unknown type (and, spelled in capitals, a known one: types are case
  sensitive); then the hybrid cluster's Raft leader equivocates, the level rises to Critical and
  coordination moves to BFT (an op in flight at the switch is rejected and proposed again), while
  critical ops stay on PBFT and status writes on gossip; then the leader is honest again. Routing.tla's invariants on every
  answer (observe.py), and ManagerAnswers.
- `free runs`: Hypothesis draws the `Schedule`: the seed (one for every layer), message loss,
  duplication, crashes and partitions until `ticks`, the sequence of operation types, up to f
  Byzantine PBFT replicas (impl/pbft/byzantine) or none, and the hybrid cluster's Byzantine
  behaviours (impl/hybrid/byzantine.py, PBFT's equivocating primary inside its BFT epochs) from
  op `start` to op `stop`, or none, how long a layer has to answer an op while faults may strike
  (`give_up`: the shorter, the more ops are left pending), and an outage, or none: two nodes of
  PBFT or of the hybrid cluster (more than f) down for one or two of its ops, which get no answer
  and stay pending in their layer, and back before its next. After every step of each layer its own checks (PBFT's
  Agreement and Validity and honest rejection oracle; the hybrid layer's invariants monitor and
  oracle); after the ops the faults stop and the behaviour ends, `CALM_OPS` more of each type the
  manager routes (`CALM_TYPES`: critical, coordination and status, so that a wrong refusal of any
  shows) must each be answered within `CALM_BOUND` ticks, and a critical op left unanswered under
  the faults must have been accepted by then (nothing lost); then NoWrongRefusal on every refused
  operation (refusals.py: allowed only when the fault schedule left its layer unable to serve
  it), the routing invariants on every observed operation, ManagerAnswers (answers.py: every
  answer the manager gave, held to its operation in a client history checked against the state
  machine's model; an op without an answer pending) and the layers' client-history checks
  (property_tests/histories.py). Each type's ops write its few keys in turn (`Data`), so that an
  answer that is another op's result names another key.

A failure's `steps` is the number of operations submitted up to it (the run's length in the
spec's Submit steps; each layer's own steps are its simulator's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck import coverage
from meshcheck.impl.gossip.phi import PhiConfig
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import OpType
from meshcheck.impl.pbft import Client
from meshcheck.impl.pbft.byzantine import Assignment
from meshcheck.impl.pbft.byzantine import byzantine_strategy
from meshcheck.impl.pbft.byzantine import byzantine_wrappers
from meshcheck.impl.pbft.byzantine.behaviours import AnyBehaviour
from meshcheck.impl.pbft.byzantine.behaviours import Equivocate
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim.config import Faults
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.free_runs import CHAOS_EVERY
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import network_faults
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.gossip.free_runs import Monitor as GossipMonitor
from meshcheck.property_tests.gossip.free_runs import converged
from meshcheck.property_tests.gossip.free_runs import convergence_bound
from meshcheck.property_tests.gossip.free_runs import live_members
from meshcheck.property_tests.hybrid.free_runs import BEHAVIOURS
from meshcheck.property_tests.hybrid.free_runs import PBFT_EQUIVOCATE
from meshcheck.property_tests.hybrid.free_runs import history_problem as hybrid_history
from meshcheck.property_tests.hybrid.monitor import Monitor
from meshcheck.property_tests.hybrid.oracle import watch as watch_hybrid
from meshcheck.property_tests.pbft.free_runs import verdict
from meshcheck.property_tests.pbft.free_runs import watch as watch_pbft
from meshcheck.property_tests.routing.answers import answers_problem
from meshcheck.property_tests.routing.observe import routing_problem
from meshcheck.property_tests.routing.refusals import CALM_TYPES
from meshcheck.property_tests.routing.refusals import Watch
from meshcheck.property_tests.routing.refusals import striking
from meshcheck.property_tests.routing.refusals import wrong_refusal

UNKNOWN = "unknown"  # a schedule's name for "some type the manager does not know"
# what an unknown type looks like in a run: misspelled, in capitals, empty, another system's name
UNKNOWN_NAMES = ("telemetry", "CRITICAL", "", "statu", "consensus")
GIVE_UP = 3000  # ticks a layer has to answer an op (under the faults: the knob `give_up`)
# the bounds a schedule draws for the ops submitted while faults may strike: the shorter, the more
# ops are left without an answer and pending in their layer (PBFT's client resends after 300)
GIVE_UPS = (300, 1000, GIVE_UP)
OUTAGE_LAYERS = {"pbft": "critical", "hybrid": "coordination"}  # a layer, the type it takes
CALM_OPS = 2  # of each type, after the faults and the Byzantine behaviour stop
CALM_BOUND = 3000  # ticks each calm op must be answered within
TYPES = ("critical", "coordination", "status", UNKNOWN)
GOSSIP_INTERVAL = 1000  # ticks between a gossip node's rounds (gossip_cluster's default)

KNOBS: Mapping[str, Any] = {
    "ops": ("critical", "coordination"),  # the operation types, in order
    "pbft_byzantine": {},  # PBFT replica -> its behaviours
    "behaviours": (),  # the hybrid cluster's Byzantine behaviours (names of BEHAVIOURS)
    "start": 1,  # the op before which they start (on the Raft leader of that moment)
    "stop": None,  # the op before which they stop (None: after the ops)
    "give_up": GIVE_UP,  # ticks a layer has to answer an op submitted while faults may strike
    # (layer, nth, ops): two of the layer's four nodes ("pbft" or "hybrid"), more than f, go down
    # before the layer's nth op and come back after `ops` of its ops; None: no outage
    "outage": None,
}


def knob(schedule: Schedule, name: str) -> Any:
    return schedule.knob(name, KNOBS[name])


def faults(schedule: Schedule) -> Faults:
    return Faults(
        drop=schedule.drop,
        duplicate=schedule.duplicate,
        crash=schedule.crash,
        partition=schedule.partition,
        down_ticks=(100, 600),
        partition_ticks=(100, 600),
        until=schedule.ticks,
    )


def schedules(*, byzantine: bool = True) -> st.SearchStrategy[Schedule]:
    names = sorted([*BEHAVIOURS, PBFT_EQUIVOCATE])
    behaviours = st.lists(st.sampled_from(names), max_size=2, unique=True).map(tuple)
    return st.builds(
        Schedule,
        **network_faults([300, 600, 1000]),
        ops=st.lists(st.sampled_from(TYPES), min_size=3, max_size=10).map(tuple),
        pbft_byzantine=byzantine_strategy(4) if byzantine else st.just({}),
        behaviours=behaviours if byzantine else st.just(()),
        start=st.integers(1, 4),
        stop=st.one_of(st.none(), st.integers(3, 8)),
        give_up=st.sampled_from(GIVE_UPS),
        outage=st.one_of(
            st.none(),
            st.tuples(st.sampled_from(tuple(OUTAGE_LAYERS)), st.integers(1, 3), st.integers(1, 2)),
        ),
    )


@attrs.define
class Run:
    m: Manager
    submit: Watch
    pbft: Any  # the PBFT cluster's SafetyMonitor
    pbft_oracle: Any
    hybrid: Monitor
    gossip: GossipMonitor
    byzantine: str | None = None
    down: list[tuple[Simulator[Any], str]] = attrs.Factory(list)  # the outage's nodes now down


def prepare(schedule: Schedule, bugs: frozenset[str] = frozenset()) -> Run:
    assignment: Assignment = knob(schedule, "pbft_byzantine")
    m = Manager(
        seed=schedule.seed,
        faults=faults(schedule),
        bugs=bugs,
        pbft_byzantine=byzantine_wrappers(assignment),
        give_up_after=GIVE_UP,
    )
    monitor, oracle = watch_pbft(m.pbft)
    hybrid = Monitor(m.hybrid)
    watch_hybrid(m.hybrid)
    submit = Watch(m, frozenset(assignment))
    return Run(m, submit, monitor, oracle, hybrid, GossipMonitor(m.gossip, PhiConfig()))


def data(kind: str, k: int, nth: int | None = None) -> Any:
    """Op k's data: unique values (PBFT names a request by its operation), on a few keys per type
    so that results depend on the order (the client-history checks have something to check). The
    key is drawn by `nth` (default k), the op's place among the ops of its type: the free runs
    count it, so two ops of one type in a row write different keys, and an answer that is another
    op's result names another key (ManagerAnswers, answers.py)."""
    key = k if nth is None else nth
    if kind == "critical":
        return Custom(f"a{key % 3}", k)
    if kind == "coordination":
        return Custom(f"b{key % 3}", k)
    if kind == "status":
        return (f"m{key % 3}", f"v{k}")
    return {"metric": f"m{key % 3}", "value": k}


class Data:
    """`data` with each type's ops counted (`nth`) as they are drawn."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, kind: str, k: int) -> Any:
        self.counts[kind] += 1
        return data(kind, k, self.counts[kind])


def given_type(kind: str, k: int) -> str:
    return UNKNOWN_NAMES[k % len(UNKNOWN_NAMES)] if kind == UNKNOWN else kind


def bound(run: Run, schedule: Schedule) -> None:
    """How long the manager waits on a layer for the next op: the schedule's `give_up` while
    faults may strike or an outage is on (NoWrongRefusal allows an op no answer then:
    refusals.py), else GIVE_UP. The PBFT wait is the manager's, the hybrid one its
    dispatcher's."""
    m = run.m
    short = striking(m.pbft, m.now) or run.down
    ticks = knob(schedule, "give_up") if short else GIVE_UP
    m.give_up_after = ticks
    m.hybrid.give_up_after = ticks


def take_down(run: Run, layer: str) -> None:
    """The outage (KNOBS): the layer's last two nodes that are up go down (PBFT's r3 and r4, the
    hybrid cluster's n3 and n4); the fault schedule may have taken one down already."""
    sim: Simulator[Any] = run.m.pbft if layer == "pbft" else run.m.hybrid.sim
    nodes = ("r3", "r4") if layer == "pbft" else tuple(sim.node_ids[2:])
    for node in nodes:
        if sim.up[node]:
            sim.crash(node)
            run.down.append((sim, node))


def bring_up(run: Run) -> None:
    """The outage ends: the nodes it took down come back (the ones still down)."""
    for sim, node in run.down:
        if not sim.up[node]:
            sim.recover(node)
    run.down.clear()


def turn_on(run: Run, names: tuple[str, ...]) -> str:
    """The hybrid cluster's Raft leader of this moment (n1 if there is none) gets `names`."""
    hc = run.m.hybrid
    for _ in range(20):  # the first election may not be over yet
        if hc.raft_leader() is not None:
            break
        hc.run(25)
    node = hc.raft_leader() or "n1"
    pbft: list[AnyBehaviour] = [Equivocate()] if PBFT_EQUIVOCATE in names else []
    hc.make_byzantine(
        node,
        *[BEHAVIOURS[b]() for b in names if b in BEHAVIOURS],
        pbft=corrupt(*pbft) if pbft else None,
    )
    run.m.now = max(run.m.now, hc.sim.now)
    return node


def layer_problem(run: Run) -> str | None:
    """The layers' own verdicts: PBFT's Agreement, Validity, honest rejection and client history;
    the hybrid layer's honest histories (one order) and client history (its invariants are
    checked after every step by its Monitor, which raises)."""
    broken = verdict(run.pbft, run.pbft_oracle, run.m.pbft)
    if broken is not None:
        return f"PBFT {broken}"
    histories = run.m.hybrid.histories()
    longest = max(histories.values(), key=len)
    if any(h != longest[: len(h)] for h in histories.values()):
        return "hybrid: honest histories are not prefixes of one order (NoCommittedOpLost)"
    problem = hybrid_history(run.m.hybrid)
    if problem is not None:
        return f"hybrid {problem}"
    if run.gossip.problem is not None:
        return f"gossip: {run.gossip.problem}"
    return None


def gossip_settles(run: Run) -> str | None:
    """Eventual consistency of the status writes: within the gossip layer's convergence bound
    (property_tests/gossip/free_runs.py `convergence_bound`, its conditions beside it) of the
    calm every live member holds the same entries, and for each key status writes were answered
    for, an entry at least as high as the highest of them (a later write may lose to an earlier
    one of higher rank: last writer wins by rank, not by time)."""
    sim = run.m.gossip
    bound = convergence_bound(sim)
    sim.run(until=max(sim.now, run.m.now) + bound * GOSSIP_INTERVAL)
    live = live_members(sim)
    if not converged(sim):
        return f"gossip: live members {live} hold different entries {bound} rounds after the calm"
    # per key, the highest entry an answered write made: (version, origin, value), the order
    # every merge keeps (impl/gossip/entries.py)
    best: dict[str, tuple[int, str, str]] = {}
    for a in run.m.answers:
        if a.layer is Layer.GOSSIP:
            node, key, version = a.where
            rank = (int(str(version)), str(node), str(a.result))
            best[str(key)] = max(best.get(str(key), rank), rank)
    for key, rank in best.items():
        for i in live:
            held = sim.nodes[i].entries.get(key)
            if held is None or held.rank() < rank:
                return f"gossip: {i} holds {held} for {key}, older than the answered write {rank}"
    return None


def play(run: Run, schedule: Schedule) -> None:
    """The ops under faults, then the calm, then every check (CheckFailed on the first broken)."""
    m = run.m
    names = tuple(knob(schedule, "behaviours"))
    op_data = Data()
    outage: tuple[str, int, int] | None = knob(schedule, "outage")
    for k, kind in enumerate(knob(schedule, "ops"), start=1):
        if names and k == knob(schedule, "start"):
            run.byzantine = turn_on(run, names)
        if k == knob(schedule, "stop") and run.byzantine is not None:
            m.hybrid.make_honest(run.byzantine)
        nth = op_data.counts[kind] + 1  # this op's place among its type's
        ours = outage is not None and kind == OUTAGE_LAYERS[outage[0]]
        if outage is not None and ours and nth == outage[1]:
            take_down(run, outage[0])
        bound(run, schedule)
        run.submit(given_type(kind, k), op_data(kind, k))
        if outage is not None and ours and nth == outage[1] + outage[2] - 1:
            bring_up(run)
        if run.pbft.check() is not None or run.pbft_oracle.violation is not None:
            break
    if run.byzantine is not None:
        m.hybrid.make_honest(run.byzantine)
    bring_up(run)
    # the calm: faults end at the first chaos round from `ticks` on
    calm = max(m.now, -(-schedule.ticks // CHAOS_EVERY) * CHAOS_EVERY)
    m.now = calm
    bound(run, schedule)
    n = len(knob(schedule, "ops"))
    for j in range(CALM_OPS):
        for t, kind in enumerate(CALM_TYPES):
            k = n + 1 + len(CALM_TYPES) * j + t
            start = m.now
            answer = run.submit(kind, op_data(kind, k))
            if answer is None or answer.time - start > CALM_BOUND:
                raise CheckFailed(
                    wrong_refusal(m, run.submit)
                    or f"{kind} op {k}, submitted after the faults stopped (t={start}), was not "
                    f"answered within {CALM_BOUND} ticks",
                    steps=len(run.submit.seen),
                )
    client = m.pbft.nodes["c1"]
    assert isinstance(client, Client)
    lost = [op for op in m.pending if op[2].value == "pbft" and op[3][1] in client.outstanding]
    if lost:
        raise CheckFailed(
            f"critical ops {[op[0] for op in lost]} not accepted by t={m.now}, after the calm "
            "(nothing lost: an op a layer holds is decided once the faults stop)",
            steps=len(run.submit.seen),
        )
    coverage.actions("routing", (name for name, _ in m.steps))
    problem = wrong_refusal(m, run.submit) or routing_problem(m, run.submit.seen)
    problem = problem or answers_problem(m, run.submit.seen)
    problem = problem or layer_problem(run) or gossip_settles(run)
    if problem is not None:
        raise CheckFailed(problem, steps=len(run.submit.seen))


def run_once(schedule: Schedule, bugs: frozenset[str] = frozenset()) -> Run:
    out = prepare(schedule, bugs)
    play(out, schedule)
    return out


def free_runs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The check: free runs under a twentieth of `settings`' examples (ci 3, dev 10, deep 100)."""

    @share(settings, 1 / 20, least=3)
    @given(schedule=schedules())
    def check(schedule: Schedule) -> None:
        run_once(schedule, bugs)

    check()


# -- the scenario ---------------------------------------------------------------------------------

SCENARIO = Schedule(
    seed=5,
    ticks=0,
    ops=("critical", "coordination", UNKNOWN, UNKNOWN),
)


def scenario(bugs: frozenset[str], settings: hypothesis.settings | None = None) -> None:
    """The deterministic run of the module doc; CheckFailed on the first broken invariant."""
    run = prepare(SCENARIO, bugs)
    m = run.m
    sub = run.submit
    sub("critical", data("critical", 1))
    sub("coordination", data("coordination", 2))
    sub("status", data("status", 2))
    sub("telemetry", data(UNKNOWN, 3))
    sub("CRITICAL", data("critical", 4))
    run.byzantine = turn_on(run, ("equivocate",))
    for k in range(5, 13):
        sub("coordination", data("coordination", k))
        sub(OpType.CRITICAL, data("critical", 100 + k))
        sub(OpType.STATUS, data("status", k))
    m.hybrid.make_honest(run.byzantine)
    coverage.actions("routing", (name for name, _ in m.steps))
    levels = {a.level for a in m.answers}
    if not {"None", "Critical"} <= levels:  # the scenario must take both routes of coordination
        raise AssertionError(f"the scenario did not escalate: levels at routing {sorted(levels)}")
    problem = routing_problem(m, sub.seen) or answers_problem(m, sub.seen) or layer_problem(run)
    if problem is not None:
        raise CheckFailed(problem, steps=len(run.submit.seen))

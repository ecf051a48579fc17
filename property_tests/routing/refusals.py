"""NoWrongRefusal for the manager's three layers (property_tests/refusals.py): every refused
operation a submitter saw, held against what the fault schedule had done to its layer when it was
submitted.

`Watch` is the free runs' `Submitter` that also keeps, per operation, its layer's `Situation` at
submission (the layer brought up to the manager's clock first, as `Manager.submit` does: the same
run). `classify` then says why each refusal is allowed or why the operation was promised:

- status (gossip): promised whenever a gossip member is up. A status write is taken at once by any
  live member, without waiting on another (impl/manager/manager.py `_gossip`; Gossip.tla's
  Update(i) is enabled at every live member): partitions, loss and the other members' crashes do
  not matter. Allowed: no member was up, or the member that took it crashed before it answered
  (`Manager.pending` holds it and that node is down).
- critical (PBFT): promised when PBFT is healthy: no fault can strike any more (the schedule's
  faults are over or there are none), no link is cut, and at most f replicas are faulty (down or
  Byzantine). PBFT executes a correct client's request once 2f+1 correct replicas exchange
  messages in time (Castro and Liskov, OSDI 1999, section 4.4); under loss, crashes or cuts it
  promises nothing by any bound, and the manager answers no answer after its bound, the layer
  still holding the request.
- coordination (the hybrid dispatcher): "not decided" is allowed when its epoch ended without it
  (the reason the dispatcher gives, impl/hybrid/machine.py; the manager proposes it again up to
  `retries` times, then answers "not decided": impl/manager/manager.py); any other refusal is
  promised when the hybrid cluster is healthy: no fault can strike, no link cut, at most f nodes
  down and none misbehaving (Raft needs a majority, Ongaro and Ousterhout, section 5.6; a BFT
  epoch 2f+1 of 3f+1).
- an unknown type: refused by design (Routing.tla's Refuse; UnknownRefused checks the how).

The routing free runs' calm (free_runs.py) submits every type the manager routes, so that a wrong
refusal of any type shows; `refusals_scenario` crashes, in each layer, a node the layer does not
need (the first gossip member, PBFT's primary, a Raft follower of the hybrid cluster: at most f)
and submits every type while they are down and again after they are back: every one is promised.
"""

from __future__ import annotations

from typing import Any

import attrs
import hypothesis

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hybrid.machine import BEYOND_SWITCH
from meshcheck.impl.manager import ROUTES
from meshcheck.impl.manager import How
from meshcheck.impl.manager import Layer
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import OpType
from meshcheck.impl.manager import op_type
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.refusals import Allowed
from meshcheck.property_tests.refusals import Promised
from meshcheck.property_tests.refusals import Refusal
from meshcheck.property_tests.refusals import Tally
from meshcheck.property_tests.refusals import Verdict
from meshcheck.property_tests.refusals import judge
from meshcheck.property_tests.routing.observe import Seen
from meshcheck.property_tests.routing.observe import Submitter

# every type the manager routes, as the free runs name them: what their calm submits
CALM_TYPES = tuple(t.value for t in OpType)

# the dispatcher's reasons for "rejected" that say the op's epoch ended without it
# (impl/hybrid/machine.py): beyond the switch entry, applied in a later epoch, tagged for an old one
EPOCH_ENDED = (BEYOND_SWITCH, "applied in", "tagged for epoch")


@attrs.frozen
class Situation:
    """An operation's layer when it was submitted: the manager's clock, and why the layer may not
    answer (None: it is healthy) or, for status, the gossip members up."""

    kind: OpType
    time: int
    unhealthy: str | None = None
    live: tuple[str, ...] = ()  # status: the gossip members up


def striking(sim: Simulator[Any], now: int) -> str | None:
    """Why the fault schedule may still strike the layer at `now`, else None (it is over, or
    there is none)."""
    f = sim.faults.faults
    rates = f.drop or f.duplicate or f.delay or f.any_chaos or f.messages
    if rates and f.active(now):
        return "faults strike until " + (f"t={f.until}" if f.until is not None else "the end")
    return None


def _quiet(sim: Simulator[Any], now: int) -> str | None:
    """Why faults may still strike the layer at `now` (None: they are over, or there are none)."""
    cut = sim.network.cut_links
    return striking(sim, now) or (f"links cut: {list(cut)}" if cut else None)


def situation(m: Manager, kind: OpType, byzantine: frozenset[str]) -> Situation:
    """Op `kind`'s layer now, brought to the manager's clock first (as `submit` does)."""
    if kind is OpType.STATUS:
        sim: Simulator[Any] = m.gossip
    elif kind is OpType.CRITICAL:
        sim = m.pbft
    else:
        sim = m.hybrid.sim
    if sim.now < m.now:
        sim.run(until=m.now)
    if kind is OpType.STATUS:
        live = tuple(i for i in sim.node_ids if sim.up[i] and m.gossip.nodes[i].status == "in")
        return Situation(kind, m.now, live=live)
    why = _quiet(sim, m.now)
    if kind is OpType.CRITICAL:
        replicas = [i for i in sim.node_ids if i.startswith("r")]
        faulty = sorted({i for i in replicas if not sim.up[i]} | byzantine)
        f = m.pbft_f
    else:
        hc = m.hybrid
        misbehaving = {i for i in hc.sim.node_ids if hc.nodes[i].behaviours}
        faulty = sorted({i for i in hc.sim.node_ids if not sim.up[i]} | misbehaving)
        f = (len(hc.sim.node_ids) - 1) // 3
    if why is None and len(faulty) > f:
        why = f"{len(faulty)} faulty ({', '.join(faulty)}), more than f={f}"
    return Situation(kind, m.now, unhealthy=why)


class Watch(Submitter):
    """A `Submitter` that keeps each operation's `Situation` (None for an unknown type)."""

    def __init__(self, manager: Manager, byzantine: frozenset[str] = frozenset()) -> None:
        super().__init__(manager)
        self.byzantine = byzantine  # PBFT replicas the schedule made Byzantine
        self.situations: list[Situation | None] = []
        # ops whose gossip member crashed while it took the write (down right after the submit)
        self.crashed: set[int] = set()

    def __call__(self, given: OpType | str, data: Any) -> Any:
        try:
            kind: OpType | None = op_type(given)
        except ImplError:
            kind = None
        self.situations.append(None if kind is None else situation(self.m, kind, self.byzantine))
        answer = super().__call__(given, data)
        k = len(self.seen)
        held = [p for p in self.m.pending if p[0] == k and p[2] is Layer.GOSSIP]
        if held and not self.m.gossip.up[str(held[0][3][0])]:
            self.crashed.add(k)
        return answer


def _refused(s: Seen) -> str | None:
    """What the submitter was told when the op was refused, else None (answered)."""
    if s.error is not None:
        return f"{type(s.error).__name__}: {s.error}"
    if s.answer is not None and s.answer.how is How.NOT_DECIDED:
        return s.answer.detail
    return None


def classify(
    m: Manager, k: int, s: Seen, at: Situation | None, crashed: frozenset[int] = frozenset()
) -> Verdict:
    """Why op #k's refusal is allowed, or why it was promised."""
    if at is None:
        return Allowed("an unknown type is refused by design (Routing.tla's Refuse)")
    kind = at.kind
    if kind is OpType.STATUS:
        if not at.live:
            return Allowed("no gossip member was up")
        if k in crashed:
            return Allowed("the gossip member that took it crashed before it answered")
        return Promised(
            f"gossip members {', '.join(at.live)} were up, and any live member takes a status "
            "write at once, waiting on no other (impl/manager/manager.py `_gossip`, Gossip.tla's "
            "Update)"
        )
    if (
        kind is OpType.COORDINATION
        and s.answer is not None
        and any(reason in s.answer.detail for reason in EPOCH_ENDED)
    ):
        return Allowed("its epoch ended without it, at every try (the dispatcher's rejection)")
    if at.unhealthy is not None:
        return Allowed(f"its layer was not healthy ({at.unhealthy.split(':')[0]})")
    if kind is OpType.CRITICAL:
        return Promised(
            f"PBFT was healthy (no fault could strike any more, no link cut, at most f="
            f"{m.pbft_f} replicas faulty): a correct client's request is executed once 2f+1 "
            "correct replicas exchange messages (Castro and Liskov, OSDI 1999, section 4.4)"
        )
    return Promised(
        "the hybrid cluster was healthy (no fault could strike any more, no link cut, at most f "
        "nodes down and none misbehaving): its epoch's protocol decides an honest client's op "
        "(a Raft majority, or 2f+1 in a BFT epoch) and no epoch ended"
    )


def wrong_refusal(m: Manager, watch: Watch, tally: Tally | None = None) -> str | None:
    """NoWrongRefusal over every operation `watch` saw: the first wrong refusal, else None."""

    def verdicts() -> Any:
        for k, (s, at) in enumerate(zip(watch.seen, watch.situations, strict=True), start=1):
            told = _refused(s)
            if told is None:
                continue
            layer = "" if at is None else f" ({ROUTES[at.kind].value} layer)"
            refusal = Refusal(
                f"{at.kind.value if at else repr(s.given)} op #{k}",
                f"the manager{layer}",
                at.time if at else 0,
                told,
            )
            yield refusal, classify(m, k, s, at, frozenset(watch.crashed))

    return judge(verdicts(), tally)


# -- the scenario ---------------------------------------------------------------------------------

GIVE_UP = 3000  # ticks a layer has to answer (the free runs' bound)
TYPES = (OpType.CRITICAL, OpType.COORDINATION, OpType.STATUS)


def _data(kind: OpType, k: int) -> Any:
    """Op k's data: a unique value (PBFT names a request by its operation)."""
    if kind is OpType.STATUS:
        return (f"m{k % 3}", f"v{k}")
    return Custom(f"{kind.value[0]}{k % 3}", k)


def scenario_run(seed: int, bugs: frozenset[str] = frozenset()) -> tuple[Manager, Watch]:
    """The scenario's run of one seed (the module doc): every type with all up, with one node down
    in each layer that the layer does not need, and with all back up."""
    m = Manager(seed=seed, bugs=bugs, give_up_after=GIVE_UP)
    watch = Watch(m)

    def every_type() -> None:
        for kind in TYPES:
            watch(kind, _data(kind, len(watch.seen) + 1))

    every_type()  # all up: the first election and view settle
    hybrid = m.hybrid
    follower = next(i for i in hybrid.sim.node_ids if i != hybrid.raft_leader())
    down = ((m.pbft, "r1"), (hybrid.sim, follower), (m.gossip, m.gossip.node_ids[0]))
    for sim, node in down:  # PBFT's primary of view 0, a Raft follower, the first gossip member
        sim.crash(node)
    every_type()
    for sim, node in down:
        sim.recover(node)
    every_type()
    return m, watch


SEEDS = (1, 2)


def refusals_scenario(bugs: frozenset[str], settings: hypothesis.settings | None = None) -> None:
    """The check: the scenario's run of each of `SEEDS`; CheckFailed on a wrong refusal."""
    for seed in SEEDS:
        m, watch = scenario_run(seed, bugs)
        problem = wrong_refusal(m, watch)
        if problem is not None:
            raise CheckFailed(f"{problem} (refusals scenario, seed {seed})", steps=len(watch.seen))

"""A client's retry across a view change, ordered again by the new primary: a free run that starts
from a short deterministic prefix setting that up.

Castro and Liskov (OSDI 1999, section 4.1; TOCS 2002, section 4.1) keep at each replica the last
reply sent to each client, by timestamp (impl/pbft/replica.py: `results`, by (client, timestamp)):
a request ordered at a second sequence number is executed there as nothing. A faulty primary may
put any request its client signed into a batch, and the spec's primary may re-propose one, so only
that table keeps an operation from taking effect twice. Random runs never order an executed
request again (an honest primary checks the table before it proposes, and the new-view rule keeps
a request at its own number), which is why the catalogue mutant `execute_again`
(impl/pbft/mutants.py) outlived them. The prefix here:

1. the replicas' links to the client are cut, so the client gets no reply to its first request X,
   which the group executes at n = 1 in view 0: the client will retry it to every replica;
2. the primary r1 crashes: the client's next request, retried to every replica, starts the
   backups' request timers, and the group changes to view 1, whose primary is r2;
3. r2 is the run's Byzantine replica (f = 1) with `OrderAgain`: as primary it puts a client's retry
   of a request its core executed at the front of the next batch it pre-prepares, and commits it
   with the honest replicas, which execute X again at some n' > 1;
4. the links heal and r1 comes back; the schedule's faults then run as in any free run.

The run ends with the free runs' checks (Agreement and Validity after every event, then the
client-history checks of property_tests/histories.py, with r2 left out of the per-node ones): a
replica that applies X twice has applied one entry more than the distinct operations it executed
("applied at most once"), and answers X's retry with the second result (not linearizable).
"""

from __future__ import annotations

from functools import partial
from typing import Any
from typing import cast

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.byzantine import SafetyMonitor
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.byzantine.node import ByzantineReplica
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.sim import CALM
from meshcheck.impl.sim import Phases
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.free_runs import share
from meshcheck.property_tests.free_runs import unrecorded_first
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import faults_of
from meshcheck.property_tests.pbft.free_runs import honest
from meshcheck.property_tests.pbft.free_runs import knob
from meshcheck.property_tests.pbft.free_runs import prefix_schedules
from meshcheck.property_tests.pbft.free_runs import request_key
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.property_tests.pbft.free_runs import run

CLIENT = "c1"
PRIMARY = "r1"  # the primary of view 0, which crashes
AGAIN = "r2"  # the primary of view 1: the run's Byzantine replica
PREFIX = 800  # ticks of calm the prefix may take (it takes at most 540 over 600 seeds: a retry, a view change)


@attrs.frozen
class OrderAgain:
    """A Byzantine behaviour (impl/pbft/byzantine/behaviours.py's shape): a client's request that
    reaches this replica again after its core executed it (a retry) is, once this replica is the
    primary, put at the front of the next batch it pre-prepares, signed anew, and committed by this
    replica too (its core holds the original batch at that number, so it would not vote for the
    new one). Each such request once."""

    def act(self, ctx: Context, effects: list[Effect]) -> list[Effect]:
        again: list[Signed[Request]] = ctx.memory.setdefault(self, [])
        done: set[tuple[str, int]] = ctx.memory.setdefault((self, "done"), set())
        plans: dict[tuple[int, int], Signed[PrePrepare]] = ctx.memory.setdefault((self, "pp"), {})
        event = ctx.event
        if isinstance(event, Deliver) and isinstance(event.message, Signed):
            r = event.message
            if isinstance(r.body, Request):
                key = (r.body.client, r.body.timestamp)
                if key in ctx.core.results and key not in done:
                    done.add(key)
                    again.append(r)
        out: list[Effect] = []
        extra: list[Effect] = []
        for e in effects:
            if not (isinstance(e, Send) and ctx.mine(e.message)):
                out.append(e)
                continue
            body = e.message.body
            if isinstance(body, PrePrepare) and body.batch:
                slot = (body.view, body.seq)
                if slot not in plans and again and ctx.core.config.primary(body.view) == ctx.id:
                    batch = (*again, *(r for r in body.batch if r not in again))
                    plans[slot] = ctx.sign(
                        attrs.evolve(body, batch=batch, digest=batch_digest(batch))
                    )
                    again.clear()
                    commit = ctx.sign(Commit(body.view, body.seq, plans[slot].body.digest, ctx.id))
                    extra.extend(Send(peer, commit) for peer in ctx.peers)
                if slot in plans:
                    e = Send(e.dest, plans[slot])
            elif isinstance(body, Commit) and (body.view, body.seq) in plans:
                digest = plans[body.view, body.seq].body.digest
                e = Send(e.dest, ctx.sign(attrs.evolve(body, digest=digest)))
            out.append(e)
        return out + extra


def executed_again(sim: Simulator[Any]) -> bool:
    """Whether an honest replica executed a request at a second sequence number."""
    for r in honest(sim):
        replica = sim.nodes[r]
        assert isinstance(replica, Replica)
        seen: set[Any] = set()
        for batch in replica.executed:
            for request in batch:
                if request.body in seen:
                    return True
                seen.add(request.body)
    return False


def cluster(schedule: Schedule, bugs: frozenset[str], *, record: bool = True) -> Simulator[Any]:
    """Four replicas, r2 Byzantine with `OrderAgain`; calm for the prefix, then the schedule's
    faults for `schedule.ticks` (the client's requests too)."""
    faults = faults_of(schedule)
    checkpoint_every = knob(schedule, "checkpoint_every")
    return pbft_cluster(
        4,
        seed=schedule.seed,
        faults=Phases([(PREFIX, CALM), (schedule.ticks, faults)]),
        workload=Workload(
            every=knob(schedule, "every"), until=PREFIX + schedule.ticks, make=rsm_op
        ),
        bugs=bugs,
        # OrderAgain is a behaviour of this scenario's, not of the catalogue's AnyBehaviour
        byzantine={AGAIN: partial(ByzantineReplica, behaviours=cast(Any, (OrderAgain(),)))},
        checkpoint_every=checkpoint_every,
        window=2 * checkpoint_every,
        record=record,
        **dict[str, Any](TIMING),
    )


def prefix(sim: Simulator[Any]) -> str | None:
    """Steps 1 to 4 of the module doc, under no faults; what went wrong, if the run did not get
    there (None: a request was executed again, the faults may start)."""
    replicas = [r for r in sim.node_ids if r != CLIENT]
    for r in replicas:
        sim.cut(r, CLIENT)

    def first_executed(s: Simulator[Any]) -> bool:
        return all(len(getattr(s.nodes[r], "executed", ())) >= 1 for r in honest(s))

    sim.run(until=PREFIX, stop=first_executed)
    if not first_executed(sim):
        return f"the first request was not executed by t={sim.now}"
    sim.crash(PRIMARY)
    sim.run(until=PREFIX, stop=executed_again)
    sim.heal()
    sim.recover_at(PRIMARY, sim.now + 1)
    if not executed_again(sim):
        return f"no request was executed again by t={sim.now}"
    return None


def check_retry(schedule: Schedule, n: int, bugs: frozenset[str]) -> None:
    """One run: the prefix, then the schedule's faults; Agreement and Validity after every event,
    then the client-history checks. As the free runs' check_safety, a failing run is run again,
    recorded, for its counterexample (the same seed gives the same run)."""
    if n != 4:
        raise ValueError(f"the retry scenario is one of four replicas, not {n}")

    def once(record: bool) -> tuple[Simulator[Any], str | None]:
        sim = cluster(schedule, bugs, record=record)
        monitor = SafetyMonitor(sim, honest(sim))
        problem = prefix(sim)
        if problem is not None:
            return sim, f"the retry scenario did not set up: {problem}"
        overload = run(sim, schedule, PREFIX + schedule.ticks, stop=monitor)
        violation = monitor.check()
        if violation is not None:
            return sim, f"violates {violation}"
        if overload is not None:
            return sim, overload
        return sim, check_history(sim, honest=honest(sim), dedup=True, identity=request_key)

    unrecorded_first(schedule, once)


def schedules() -> st.SearchStrategy[Schedule]:
    """The free runs' faults (no Byzantine replica of their own: r2 is this scenario's)."""
    return prefix_schedules(1500, every=(25, 50))


def retry_runs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """Hypothesis: free runs from the retry prefix keep Agreement, Validity and the client-history
    checks (a tenth of the profile's examples, two at least)."""

    @share(settings, 1 / 10, least=2)
    @given(schedules())
    def retried_once(schedule: Schedule) -> None:
        check_retry(schedule, 4, bugs)

    retried_once()

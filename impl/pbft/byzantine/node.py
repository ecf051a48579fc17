"""The Byzantine replica as a simulator node: honest cores inside, behaviours on their effects.

`ByzantineReplica` wraps the honest `Replica` the PBFT plugin built for the id (it holds the
replica's real key, so it can sign anything in its own name) and passes each step's effects through
the replica's behaviours in order. The plugin hands it the node's random generator (`rng`), which
every behaviour draws from, so a run is still a function of its seed.

Twins. With a `Twins` behaviour the node holds two honest cores with the same id and key, and
routes: a delivered message goes to the twin(s) on the sender's side, a timer to the twin that set
it (timer names carry the twin's lane, "A/" or "B/"), a send leaves only towards the sending twin's
side, and each twin's durable keys carry its lane too, so a crash restarts both twins from their
own stores. One node per id is all the simulator needs: the network cannot tell the twins apart,
which is the point.

What leaves the node: the twins' writes merged into one `Persist` first (persist before send), then
everything else in order, without `Apply`: a Byzantine replica's state machine is not the
service's, so the simulator's State Machine Safety record (`Simulator.divergences`) covers honest
replicas only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from functools import partial
from typing import Any

from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.pbft.byzantine.behaviours import AnyBehaviour
from meshcheck.impl.pbft.byzantine.behaviours import Twins
from meshcheck.impl.pbft.byzantine.context import Context
from meshcheck.impl.pbft.replica import Replica

SINGLE = ""  # the lane of a replica without twins
LANES = ("A", "B")


def _prefixed(lane: str, name: str) -> str:
    return f"{lane}/{name}" if lane else name


class ByzantineReplica:
    """A replica that runs honest core(s) and corrupts their effects with `behaviours`."""

    def __init__(self, core: Replica, behaviours: Sequence[AnyBehaviour]) -> None:
        twins = [b for b in behaviours if isinstance(b, Twins)]
        if len(twins) > 1:
            raise ImplError(f"{core.id}: one Twins behaviour per replica, not {len(twins)}")
        self.id = core.id
        self.behaviours = tuple(b for b in behaviours if not isinstance(b, Twins))
        self.twins = twins[0] if twins else None
        # replaced by the simulator's generator for the node (PbftPlugin.new_node)
        self.rng = random.Random(f"{core.keys.seed}:{core.id}:byzantine")
        self.cores: dict[str, Replica] = {SINGLE: core}
        if self.twins is not None:
            strangers = (self.twins.a | self.twins.shared) - set(core.config.peers)
            if strangers:
                raise ImplError(f"{core.id}: twins' sides name non-peers {sorted(strangers)}")
            self.cores = {"A": core, "B": Replica(core.config, core.keys)}
        self.contexts = {lane: Context(c, self._rng) for lane, c in self.cores.items()}

    def _rng(self) -> random.Random:
        return self.rng

    @property
    def core(self) -> Replica:
        """The first (or only) honest core."""
        return next(iter(self.cores.values()))

    def __repr__(self) -> str:
        names = ", ".join(
            repr(b) for b in (*self.behaviours, *([self.twins] if self.twins else []))
        )
        return f"<ByzantineReplica {self.id} [{names}]>"

    # -- routing -------------------------------------------------------------------------------------

    def _hearers(self, source: str) -> tuple[str, ...]:
        """The lanes a message from `source` reaches."""
        if self.twins is None:
            return (SINGLE,)
        if source not in self.core.config.replicas or source in self.twins.shared:
            return LANES
        return ("A",) if source in self.twins.a else ("B",)

    def _reaches(self, lane: str, dest: str) -> bool:
        """Whether a send of the twin in `lane` leaves towards `dest`."""
        if self.twins is None or dest not in self.core.config.replicas:
            return True
        if dest in self.twins.shared:
            return True
        return (dest in self.twins.a) == (lane == "A")

    # -- the sans-IO entry point ---------------------------------------------------------------------

    def step(self, event: Any) -> list[Effect]:
        runs: list[tuple[str, Any]]
        if isinstance(event, Restart):
            runs = [(lane, Restart(self._persisted(lane, event.persisted))) for lane in self.cores]
        elif isinstance(event, Tick):
            lane, _, timer = event.timer.partition("/")
            if self.twins is None:
                runs = [(SINGLE, event)]
            elif lane in self.cores and timer:
                runs = [(lane, Tick(timer))]
            else:
                runs = []  # a timer no twin set (a driver's guess): nothing happens
        elif isinstance(event, Deliver):
            runs = [(lane, event) for lane in self._hearers(event.source)]
            for lane, _ in runs:
                self.contexts[lane].remember(event.message)
        else:
            runs = [(lane, event) for lane in self.cores]
        writes: list[Write] = []
        rest: list[Effect] = []
        for lane, ev in runs:
            core, ctx = self.cores[lane], self.contexts[lane]
            ctx.event = ev
            effects = core.step(ev)
            for e in effects:
                if isinstance(e, Send):
                    ctx.remember(e.message)
            for behaviour in self.behaviours:
                effects = behaviour.act(ctx, effects)
            for e in self._localize(lane, effects):
                if isinstance(e, Persist):
                    writes.extend(e.writes)
                elif not isinstance(e, Apply):
                    rest.append(e)
        return [Persist(tuple(writes)), *rest] if writes else rest

    def _localize(self, lane: str, effects: list[Effect]) -> list[Effect]:
        """A twin's effects in the node's terms: its sends to its side only, its timers and durable
        keys under its lane."""
        if not lane:
            return effects
        out: list[Effect] = []
        for e in effects:
            if isinstance(e, Send):
                if self._reaches(lane, e.dest):
                    out.append(e)
            elif isinstance(e, SetTimer):
                out.append(SetTimer(_prefixed(lane, e.timer), e.after))
            elif isinstance(e, CancelTimer):
                out.append(CancelTimer(_prefixed(lane, e.timer)))
            elif isinstance(e, Persist):
                out.append(Persist(tuple(self._rekey(lane, w) for w in e.writes)))
            else:
                out.append(e)
        return out

    @staticmethod
    def _rekey(lane: str, w: Write) -> Write:
        if isinstance(w, Put):
            return Put(_prefixed(lane, w.key), w.value)
        return Splice(_prefixed(lane, w.key), w.start, w.items)

    @staticmethod
    def _persisted(lane: str, persisted: Mapping[str, Any]) -> Mapping[str, Any]:
        if not lane:
            return persisted
        prefix = f"{lane}/"
        return {k[len(prefix) :]: v for k, v in persisted.items() if k.startswith(prefix)}


Wrapper = Callable[[Replica], ByzantineReplica]


def corrupt(*behaviours: AnyBehaviour) -> Wrapper:
    """The wrapper `pbft_cluster(byzantine={id: corrupt(...)})` takes: a replica with these
    behaviours."""
    return partial(ByzantineReplica, behaviours=behaviours)


def byzantine_wrappers(assignment: Mapping[str, Sequence[AnyBehaviour]]) -> dict[str, Wrapper]:
    """`pbft_cluster`'s `byzantine` argument for an assignment of behaviours to replica ids."""
    return {r: corrupt(*bs) for r, bs in sorted(assignment.items())}

"""The steps a directed scenario is written in: one cluster of a `RaftTarget`, and the simulator's
control of its messages and nodes, in Raft's words.

A scenario (property_tests/directed/library.py) first sets its situation up, then checks what must
hold in it. Three outcomes of a step, each an exception the runner (property_tests/directed/run.py)
reads:

- `Unreached`: a step of the set-up did not happen (no leader came, the entry never reached the
  follower): the scenario did not test what it is about, which the runner reports as such, never
  as a pass;
- `Broken`: a property failed (the write did not commit after healing, a vote was forgotten), or,
  while the script waited, CommitLiveness (property_tests/directed/liveness.py: a leader whose
  entry of its term is on a majority does not commit it) or the storm bound of the target;
- a `CheckFailed` of the simulator's run (the implementation raised, property_tests/free_runs.py).

Message control goes through the simulator's own message faults (impl/sim/config.py,
`MessageFaults`), so that every drop is a recorded DropMessage step of the trace and every message
held back is an ordinary delayed message: `block(rule)` drops every message the rule picks when it
comes due, `hold(rule)` holds every message it picks when sent (for `HOLD` ticks: in effect until
the script delivers, duplicates or drops it). A rule sees (source, dest, `Wire`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import MessageFaults
from meshcheck.impl.sim.network import Envelope
from meshcheck.property_tests import free_runs
from meshcheck.property_tests.directed.liveness import CommitWatch
from meshcheck.property_tests.directed.liveness import Stall
from meshcheck.property_tests.directed.liveness import stalled
from meshcheck.property_tests.directed.target import LEADER
from meshcheck.property_tests.directed.target import Bounds
from meshcheck.property_tests.directed.target import NodeView
from meshcheck.property_tests.directed.target import RaftTarget
from meshcheck.property_tests.directed.target import Wire
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.raft.free_runs import unique_write
from meshcheck.violated import CLUSTER_PROGRESS
from meshcheck.violated import LEADER_ELECTED

# Every wait is bounded, by the target's pace (`RaftTarget.timing`, `Bounds.wait`: 3000 ticks at
# the reference core's elections of 150..300 ticks): an election on a calm network takes a few
# election timeouts, catching up a few heartbeats; a set-up wait that runs out is `Unreached`, a
# check's wait that runs out is `Broken`.
HOLD = 1_000_000  # ticks a held message waits: until the script delivers or drops it

Rule = Callable[[str, str, Wire], bool]


class Unreached(Exception):
    """The scenario's set-up did not reach its situation (the message says which step)."""


class Broken(AssertionError):
    """A property the scenario checks failed (the message says which)."""


def _never(source: str, dest: str, wire: Wire) -> bool:
    return False


class Script:
    """One run of a scenario on one target: the cluster, the rules in force, what was reached."""

    def __init__(
        self,
        target: RaftTarget,
        schedule: Schedule,
        nodes: int,
        bugs: frozenset[str],
        log: NdjsonLog | None = None,
    ) -> None:
        self.target = target
        self.schedule = schedule
        self._block: Rule = _never
        self._hold: Rule = _never
        rules = (
            MessageFaults(where=self._blocked, drop=1.0),
            MessageFaults(where=self._held, delay=1.0, delay_ticks=(HOLD, HOLD)),
        )
        faults = Faults(messages=rules)  # type: ignore[arg-type]  # attrs' converter=tuple
        self.sim = target.cluster(nodes, schedule.seed, bugs, faults, log)
        self.ids: tuple[str, ...] = tuple(self.sim.node_ids)
        self.reached: str | None = None  # the situation, as the scenario found it
        self.writes = 0
        self.bounds = Bounds.of(target.timing)  # the target's pace, as the scenarios' bounds
        self.limit = self.bounds.wait  # the longest a wait lasts
        self.watch = CommitWatch(self.bounds.stall)  # CommitLiveness, watched while it waits

    # -- message rules -------------------------------------------------------------------------------

    def _blocked(self, source: str, dest: str, message: Any) -> bool:
        wire = self.target.wire(message)
        return wire is not None and self._block(source, dest, wire)

    def _held(self, source: str, dest: str, message: Any) -> bool:
        wire = self.target.wire(message)
        return wire is not None and self._hold(source, dest, wire)

    def block(self, rule: Rule | None) -> None:
        """Drop, when it comes due, every message `rule` picks (None: none)."""
        self._block = rule or _never

    def hold(self, rule: Rule | None) -> None:
        """Hold back every message `rule` picks when it is sent (None: none)."""
        self._hold = rule or _never

    def held(self, rule: Rule) -> list[Envelope]:
        """The messages held back that `rule` picks, in sending order."""
        found = []
        for e in self.sim.in_flight():
            wire = self.target.wire(e.message)
            if e.delayed >= HOLD and wire is not None and rule(e.source, e.dest, wire):
                found.append(e)
        return found

    def release(self) -> None:
        """No rule in force, and every message still held back dropped (lost after all)."""
        self.block(None)
        self.hold(None)
        for e in self.held(lambda s, d, w: True):
            self.sim.drop(e.id)

    def deliver(self, envelope: Envelope) -> None:
        if not self.sim.up[envelope.dest]:
            raise Unreached(f"t={self.sim.now}: cannot deliver to {envelope.dest}: it is down")
        self.sim.deliver(envelope.id)

    # -- nodes ---------------------------------------------------------------------------------------

    def view(self, node: str) -> NodeView:
        """The node's state (a crashed node's: what it restarts with)."""
        return self.target.view(self.sim.nodes[node])

    def leader(self, among: Sequence[str] | None = None) -> str | None:
        """The up node leading in the highest term any of `among` (default: all) leads in, if it
        is the only one leading in that term."""
        leading = [
            (self.view(i).term, i)
            for i in (among or self.ids)
            if self.sim.up[i] and self.view(i).role == LEADER
        ]
        if not leading:
            return None
        top = max(t for t, _ in leading)
        found = [i for t, i in leading if t == top]
        return found[0] if len(found) == 1 else None

    def others(self, *nodes: str) -> list[str]:
        return [i for i in self.ids if i not in nodes]

    def isolate(self, node: str) -> None:
        """Cut every link to and from `node`."""
        for other in self.others(node):
            self.sim.cut(node, other)
            self.sim.cut(other, node)

    def crash(self, node: str) -> None:
        self.sim.crash(node)

    def recover(self, node: str) -> None:
        self.sim.recover(node)

    # -- the client ----------------------------------------------------------------------------------

    def write(self, node: str) -> tuple[int, Any]:
        """A new client write sent to `node`: its request id and value."""
        self.writes += 1
        value = unique_write(self.writes)
        self.sim.inject(node, ClientRequest(value, self.writes))
        return self.writes, value

    def answer(self, request: int) -> Reply | None:
        """The last answer to client request `request`, if any."""
        found = [r for _, r in self.sim.replies if r.request_id == request]
        return found[-1] if found else None

    def index_of(self, node: str, value: Any) -> int | None:
        """Where `node`'s log holds the entry of client value `value` (None: nowhere)."""
        for k, (_, v) in enumerate(self.view(node).log, start=1):
            if v == value:
                return k
        return None

    # -- time ----------------------------------------------------------------------------------------

    def run(self, ticks: int) -> None:
        """Let `ticks` pass."""
        self._go(self.sim.now + ticks, None)

    def _go(self, until: int, stop: Callable[[], bool] | None) -> None:
        """Run until `until` or `stop()`, watching CommitLiveness (property_tests/directed/
        liveness.py): a leader stalled past its bound is `Broken`, and so is a storm, named by
        the stall it comes with when that had lasted a third of its bound."""

        def halt(_: object) -> bool:
            self.watch.sample(self._stall, self.sim.now)
            return self.watch.broken(self.sim.now) or (stop is not None and stop())

        storm = free_runs.run(self.sim, self.schedule, until, self.target.storm, stop=halt)
        self.watch.sample(self._stall, self.sim.now, force=True)
        stall = self.watch.stall
        stormed = storm is not None and self.watch.broken(self.sim.now, self.watch.storm_stall)
        if self.watch.broken(self.sim.now) or stormed:
            assert stall is not None
            told = stall.describe(self.sim.now, self.sim.events)
            raise Broken(f"t={self.sim.now}: {told}" + (f"; then {storm}" if storm else ""))
        if storm is not None:
            raise Broken(f"t={self.sim.now}: {storm}")  # "Storm: ...", the bound's name

    def _stall(self) -> Stall | None:
        """The CommitLiveness stall the cluster shows now: none while a message rule is in force
        (a set-up that holds answers back or drops them keeps a leader from committing)."""
        if self._block is not _never or self._hold is not _never:
            return None
        return stalled(self.sim, self.ids, self.view, self.leader())

    def waited(self, until: Callable[[], bool], limit: int | None = None) -> bool:
        """Run until `until()` holds, for at most `limit` ticks (default: the target's wait,
        `self.limit`); whether it does."""
        if not until():
            self._go(self.sim.now + (self.limit if limit is None else limit), until)
        return until()

    def setup(self, until: Callable[[], bool], what: str, limit: int | None = None) -> None:
        """A step of the set-up: run until `until()` holds, else `Unreached(what)`."""
        if not self.waited(until, limit):
            waited = self.limit if limit is None else limit
            raise Unreached(f"t={self.sim.now}: {what} (waited {waited} ticks)")

    def eventually(
        self, until: Callable[[], bool], what: str, limit: int | None = None, *, bound: str
    ) -> None:
        """A property that must come to hold within `limit` ticks (default: the target's wait),
        else `Broken`, led by the name of the `bound` it breaks (one of meshcheck/violated.py's
        WAIT_BOUNDS)."""
        if not self.waited(until, limit):
            waited = self.limit if limit is None else limit
            raise Broken(f"t={self.sim.now}: {bound}: not within {waited} ticks: {what}")

    def expect(self, holds: bool, what: str) -> None:
        """A property that must hold now, else `Broken(what)`."""
        if not holds:
            raise Broken(f"t={self.sim.now}: {what}")

    def reach(self, situation: str) -> None:
        """The scenario's situation is reached, as `situation` says (checked by the script)."""
        self.reached = f"t={self.sim.now}: {situation}"

    def need(self, holds: bool, what: str) -> None:
        """A fact the set-up must have established, else `Unreached(what)`."""
        if not holds:
            raise Unreached(f"t={self.sim.now}: {what}")

    def _written(self) -> bool:
        """A write to the leader, once one is elected: whether it is answered ok."""
        self.eventually(
            lambda: self.leader() is not None, "a leader after healing", bound=LEADER_ELECTED
        )
        leader = self.leader()
        assert leader is not None
        request = self.write(leader)[0]
        self.waited(lambda: self.answer(request) is not None)
        reply = self.answer(request)
        return reply is not None and reply.ok

    # -- the end of every scenario ------------------------------------------------------------------

    def settle(self) -> None:
        """Liveness after healing (Raft paper, section 5.6: progress while a majority is up and
        connected): no rule, every link whole, every node up; then one leader is elected, a new
        client write to it commits and is answered, and every node commits the leader's whole
        log and holds it."""
        self.release()
        self.sim.heal()
        for i in self.ids:
            self.recover(i)
        # a write that meets a leader about to step down is sent again, to the next one
        if not any(self._written() for _ in range(3)):
            raise Broken(f"t={self.sim.now}: no client write answered ok after healing")

        def everywhere() -> bool:
            top = self.leader()
            if top is None:
                return False
            log = self.view(top).log
            return all(
                self.view(i).commit >= len(log) and self.view(i).log[: len(log)] == log
                for i in self.ids
            )

        self.eventually(
            everywhere,
            "every node commits the leader's whole log after healing",
            bound=CLUSTER_PROGRESS,
        )

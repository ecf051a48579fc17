"""A replica that executed past a checkpoint and lost its CHECKPOINT messages catches its stable
checkpoint up from its peers' status answers; and no replica advertises a stable checkpoint or a
checkpoint it does not hold.

What the protocol promises (Castro and Liskov, OSDI 1999, section 4.3; TOCS 2002, section 5.2):
a checkpoint becomes stable at a replica on 2f+1 matching checkpoint messages, its own among them.
A replica that executed past the checkpoint but lost the others' messages has its own and not the
proof: its low watermark stays where it was, its log is not collected, and its window fills. It
tells its peers how far it got (a status message every `retransmit_every` ticks: its view, its
stable checkpoint and how far it executed, impl/pbft/replica.py `_send_status`), and each answers
with its own checkpoints above the stable one the status names (`_on_status`). The properties:

- StableCheckpointCatchesUp: once the messages flow again, the replica's stable checkpoint reaches
  the group's within STATUS_ROUNDS status rounds and two round trips (the bound of
  CatchUpByStateTransfer, property_tests/pbft/recovery.py, whose replica is behind in execution;
  this one is not, so a check of what it executed cannot see it);
- StableCheckpointHeld, after every step of every replica: its stable checkpoint is one it
  executed and holds the state digest of (specs/PBFT.tla's StableExecuted, and the digest too);
  every status it sends names the stable checkpoint it holds and the count it executed; every
  checkpoint it signs is of a state it executed (the digest of its history up to there).

The scenario (`scenario`): four replicas, checkpoint every K = 4, window 8, the free runs' timing
(TIMING); the client sends K + `extra` requests (extra < K: no second checkpoint comes to carry
the replica along); every checkpoint message to one backup (`victim`, drawn) is lost until every
replica executed them all and the others hold the checkpoint stable. The set-up is checked, not
assumed: a run whose victim got its checkpoint before the heal says so and fails. Then the losses
stop and the victim must catch up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Restart
from meshcheck.impl.pbft import Checkpoint
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import Signed
from meshcheck.impl.pbft import history_digest
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import STORM
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import verdict
from meshcheck.property_tests.pbft.free_runs import watch
from meshcheck.property_tests.pbft.recovery import BOUND
from meshcheck.property_tests.recovery import Late
from meshcheck.violated import CLUSTER_PROGRESS

CATCH_UP = "StableCheckpointCatchesUp"
HELD = "StableCheckpointHeld"
N = 4
K = 4  # checkpoint_every
WINDOW = 2 * K
BACKUPS = ("r2", "r3", "r4")  # r1 is the primary of view 0
PROMISE = "the stable checkpoint from the peers' status answers within 3 status rounds"


class Held:
    """StableCheckpointHeld, after every step (a watcher of the PBFT plug-in): the first problem,
    or None. `losing` drops every checkpoint message to `victim` while it is True."""

    def __init__(self, sim: Simulator[Any], victim: str) -> None:
        self.sim = sim
        self.victim = victim
        self.losing = True
        self.problem: str | None = None
        self.stables: dict[str, set[int]] = {}  # every stable checkpoint each replica held
        # each replica's (stable checkpoint, batches executed) after its last step: what a status
        # it sends in its next step names (the status timer's step sends it before any action)
        self.last: dict[str, tuple[int, int]] = {}
        self._seen = 0  # the highest envelope id looked at
        self._checked: dict[str, tuple[int, int, int]] = {}

    def __call__(self, node_id: str, event: Any, nodes: Mapping[str, Any]) -> None:
        node = nodes.get(node_id)
        if isinstance(event, Restart):
            self.last.pop(node_id, None)  # what it reloaded, not what it held before the crash
        before = self.last.get(node_id)
        if isinstance(node, Replica) and node.started:
            self._state(node)
        for e in self.sim.in_flight():
            if e.id <= self._seen:
                continue
            self._seen = e.id
            body = getattr(e.message, "body", None)
            if self.losing and e.dest == self.victim and isinstance(body, Checkpoint):
                self.sim.drop(e.id)
            elif isinstance(node, Replica) and e.source == node_id:
                self._sent(node, e.message, before)

    def _note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = f"{HELD}: t={self.sim.now}: {problem}"

    def _state(self, node: Replica) -> None:
        self.stables.setdefault(node.id, {0}).add(node.stable)
        self.last[node.id] = (node.stable, len(node.executed))
        key = (node.stable, len(node.executed), node.history_epoch)
        if self._checked.get(node.id) == key:
            return
        self._checked[node.id] = key
        if node.stable > len(node.executed):
            self._note(
                f"{node.id}'s stable checkpoint is {node.stable}, past the {len(node.executed)} "
                "batches it executed"
            )
        elif history_digest(tuple(node.executed[: node.stable])) != node.stable_digest:
            self._note(
                f"{node.id}'s stable checkpoint {node.stable} has a digest that is not its "
                "state's there"
            )

    def _sent(self, node: Replica, m: Any, before: tuple[int, int] | None) -> None:
        if not isinstance(m, Signed) or m.signer != node.id:
            return
        body = m.body
        if isinstance(body, Status):
            if body.stable not in self.stables[node.id]:
                held = ", ".join(map(str, sorted(self.stables[node.id])))
                self._note(
                    f"{node.id}'s status names stable checkpoint {body.stable}, which it never "
                    f"held (its stable checkpoints: {held})"
                )
            elif before is not None and (body.stable, body.executed) != before:
                self._note(
                    f"{node.id}'s status names stable checkpoint {body.stable} and "
                    f"{body.executed} batches executed; it held {before[0]} and had executed "
                    f"{before[1]}"
                )
        elif isinstance(body, Checkpoint) and (
            body.seq > len(node.executed)
            or body.digest != history_digest(tuple(node.executed[: body.seq]))
        ):
            self._note(
                f"{node.id} signed a checkpoint at {body.seq} that is not of a state it "
                f"executed (it executed {len(node.executed)})"
            )


class Script(scenarios.Script[Any]):
    salt = "lost-checkpoints"
    STORM = STORM

    def __init__(self, schedule: Schedule, bugs: frozenset[str], record: bool) -> None:
        super().__init__(
            schedule,
            pbft_cluster(
                N,
                seed=schedule.seed,
                bugs=bugs,
                checkpoint_every=K,
                window=WINDOW,
                record=record,
                **dict[str, Any](TIMING),
            ),
        )
        self.victim = self.rng.choice(BACKUPS)
        self.held = Held(self.sim, self.victim)
        self.monitor, self.oracle = watch(self.sim)
        plugin: Any = self.sim.plugin
        plugin.watchers.append(self.held)
        self.took: int | None = None  # ticks from the end of the losses to the catch-up

    def broken(self) -> str | None:
        return self.held.problem or verdict(self.monitor, self.oracle)

    def replica(self, i: str) -> Replica:
        node = self.sim.nodes[i]
        assert isinstance(node, Replica)
        return node


def scenario(schedule: Schedule, bugs: frozenset[str], record: bool) -> Script:
    """Run the scenario; `Script.problem` is the first thing found broken (None: it held)."""
    s = Script(schedule, bugs, record)
    writes = K + schedule.knob("extra", 2)
    for k in range(writes):
        s.sim.inject("c1", ClientRequest(f"op{k + 1}"))
    others = [r for r in ("r1", *BACKUPS) if r != s.victim]
    victim = s.replica(s.victim)

    def set_up() -> bool:
        return all(len(s.replica(r).executed) >= writes for r in ("r1", *BACKUPS)) and all(
            s.replica(r).stable >= K for r in others
        )

    s.wait(
        set_up,
        f"set-up: every replica executed {writes} batches, all but {s.victim} stable",
        bound=CLUSTER_PROGRESS,
    )
    if s.failed():
        return s
    if victim.stable >= K:
        s.problem = (
            f"set-up not reached: {s.victim} holds the checkpoint at {K} stable before the "
            "heal (its checkpoint messages were not all lost)"
        )
        return s
    s.held.losing = False
    healed = s.sim.now
    s.run_until(healed + BOUND, lambda: victim.stable >= K)
    if victim.stable >= K:
        s.took = s.sim.now - healed
    elif not s.failed():
        s.run_until(healed + 10 * BOUND, lambda: victim.stable >= K)
        took = s.sim.now - healed if victim.stable >= K else None
        s.problem = (
            s.problem
            or Late(
                CATCH_UP,
                f"PBFT replica {s.victim}'s stable checkpoint caught up",
                took,
                PROMISE,
                BOUND,
                looked=10 * BOUND,
                since="the end of the losses",
                detail=(
                    f"it had executed {len(victim.executed)}, its stable checkpoint was 0, the "
                    f"group's {K}"
                ),
            ).message()
        )
    return s


# The scenario's check of one run (CheckFailed with its recorded trace when something broke), and
# its Hypothesis check, drawing the seed (and with it the victim) and the requests past K.
SCRIPTED = scenarios.Scripted(
    "stable_checkpoint_catches_up",
    scenarios.fixed(scenario),
    {"extra": st.integers(1, K - 1)},
    1 / 15,
    N,
)
check_lost_checkpoints = SCRIPTED.check
lost_checkpoints_check = SCRIPTED.drawn

"""The property set of a protocol's shape, as data: what any implementation of a spec is checked with.

meshcheck's own cores are checked with every property their spec states; an implementation put
under meshcheck as a plug-in (impl/adapters/contract.py) must get the same checks without naming
each. A `Shape` holds them for one family of specs: the spec's state invariants and action
properties, each with the variables it reads, its liveness promises, the variables an adapter may
expose and the ghost variables the harness keeps. The plug-in harness (property_tests/plugin.py)
attaches the shape of the spec the plug-in's descriptor names (`Models(spec=...)`) and checks
every property whose variables the adapter's `state()` gives; a property over a variable it does
not give is undecided (`Shape.undecided`, reported by the run), never guessed.

The shapes: Raft (Raft.tla and its variants: RaftPipelined, RaftEtcd), with Raft.tla's seven
invariants, CommitIndexMonotonic and MatchIndexMonotonic, and its liveness promises after the
faults end (property_tests/raft/promises.py); PBFT (ViewMonotonic, StableCheckpointMonotonic) and
HotStuff (LockMonotonic), whose state invariants are TLC's, checked by lockstep and trace
validation. A spec with no shape here has no Python property set: its plug-in gets the
client-history checks alone.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import attrs

from meshcheck.impl.adapters.contract import Ghost
from meshcheck.impl.adapters.contract import raft_committed
from meshcheck.impl.base.values import Value
from meshcheck.property_tests.hotstuff import transitions as hotstuff
from meshcheck.property_tests.pbft import transitions as pbft
from meshcheck.property_tests.raft import promises
from meshcheck.property_tests.raft import safety
from meshcheck.property_tests.raft.validation import validation_model

State = Mapping[str, Value]
Invariant = Callable[[State], bool]
# (before, after, the nodes the step restarted) -> holds
Transition = Callable[[State, State, frozenset[str]], bool]


@attrs.frozen
class Property:
    """One property of a spec, by the spec's name, with the variables it reads."""

    name: str
    reads: tuple[str, ...]
    holds: Any  # an Invariant, or a Transition


@attrs.frozen
class Shape:
    """The property set of one family of specs (see the module's docstring)."""

    name: str
    # the spec's variables an adapter may expose (`AdapterPlugin.variables`), ghosts included
    variables: tuple[str, ...]
    ghosts: tuple[Ghost, ...] = ()
    # variables an implementation without the feature they describe holds constant, taken so
    # when no node's state() gives them (Raft without log compaction: snapshotIndex 0)
    defaults: Mapping[str, Value] = attrs.field(factory=dict)
    invariants: tuple[Property, ...] = ()
    transitions: tuple[Property, ...] = ()
    # the liveness promises a run keeps once its faults end: a `promises.Promises`, or None
    liveness: promises.Promises | None = None
    # the action a crash and restart is (whose server may lose volatile state)
    restart: str = "Restart"
    # the validation model's servers and client values (a run whose log `meshcheck validate`
    # walks writes only these), or None: no log validation of a plug-in of this shape yet
    log_model: Callable[[], tuple[int, tuple[Value, ...]]] | None = None

    def decided(self, exposed: frozenset[str]) -> tuple[list[Property], list[Property]]:
        """The invariants and the action properties whose every variable is `exposed`."""
        return (
            [p for p in self.invariants if set(p.reads) <= exposed],
            [p for p in self.transitions if set(p.reads) <= exposed],
        )

    def undecided(self, exposed: frozenset[str]) -> list[str]:
        """Each property over a variable not `exposed`, as "Name (needs v, w)"."""
        return [
            f"{p.name} (needs {', '.join(sorted(set(p.reads) - exposed))})"
            for p in (*self.invariants, *self.transitions)
            if not set(p.reads) <= exposed
        ]

    def violated(
        self,
        invariants: list[Property],
        state: State,
        safe: State | None = None,
    ) -> list[str]:
        """The names of `invariants` that `state` breaks; one whose variables are as in `safe` (a
        state known to satisfy them) is not evaluated again."""
        return [
            p.name
            for p in invariants
            if not (safe is not None and all(safe[v] == state[v] for v in p.reads))
            and not p.holds(state)
        ]

    def broken(
        self,
        transitions: list[Property],
        before: State,
        after: State,
        action: str | None,
        params: Mapping[str, Value],
    ) -> list[str]:
        """The names of `transitions` the step from `before` to `after` breaks."""
        restarts = (
            frozenset({str(params["i"])})
            if action == self.restart and "i" in params
            else frozenset()
        )
        return [
            p.name
            for p in transitions
            if not all(before[v] == after[v] for v in p.reads)
            and not p.holds(before, after, restarts)
        ]


def _no_restart(holds: Callable[[State, State], bool]) -> Transition:
    """A property of specs without crashes (PBFT, HotStuff persist what it reads)."""
    return lambda before, after, restarts: holds(before, after)


RAFT = Shape(
    name="Raft",
    variables=(
        "messages",
        "currentTerm",
        "votedFor",
        "log",
        "snapshotIndex",
        "snapshotTerm",
        "role",
        "votesGranted",
        "nextIndex",
        "matchIndex",
        "commitIndex",
        "committed",
    ),
    ghosts=(Ghost("committed", (), raft_committed),),
    defaults={"snapshotIndex": 0, "snapshotTerm": 0},
    invariants=tuple(
        Property(name, safety.READS[name], holds) for name, holds in safety.INVARIANTS.items()
    ),
    transitions=tuple(
        Property(name, safety.TRANSITION_READS[name], holds)
        for name, holds in safety.TRANSITIONS.items()
    ),
    liveness=promises.RAFT,
    log_model=lambda: validation_model()[:2],
)

PBFT = Shape(
    name="PBFT",
    variables=("view", "stable"),
    transitions=tuple(
        Property(name, (pbft.READS[name],), _no_restart(holds))
        for name, holds in pbft.TRANSITIONS.items()
    ),
)

HOTSTUFF = Shape(
    name="HotStuff",
    variables=("locked",),
    transitions=(Property("LockMonotonic", ("locked",), _no_restart(hotstuff.lock_monotonic)),),
)

# spec module -> its shape
SHAPES: Mapping[str, Shape] = {
    "Raft": RAFT,
    "RaftPipelined": RAFT,
    "RaftEtcd": RAFT,
    "PBFT": PBFT,
    "HotStuff": HOTSTUFF,
}


def shape_of(spec: str) -> Shape | None:
    """The shape of the spec module `spec` (its property set), None for a spec with none."""
    return SHAPES.get(spec)

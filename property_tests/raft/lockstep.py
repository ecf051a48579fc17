"""Lockstep: TLC says what may happen next, Hypothesis picks it, the implementation must follow.

A `RuleBasedStateMachine` with one rule per action of specs/Raft.tla, named as the action is (one
vocabulary: the shrunk program Hypothesis prints reads `state.Timeout(...)`,
`state.HandleRequestVoteRequest(...)`). A rule is enabled when TLC's Stepper finds a successor of
the current spec state by that action (under models/Lockstep.cfg); the rule draws one of them, the
`Driver` makes the simulated cluster take the same step, and the refinement mapping of the cluster
must then equal TLC's successor state, variable for variable. Choosing the action first and the
instance second gives rare actions (a snapshot install, a served read) the same chance as a common
one whenever they are enabled.

A mismatch, or the implementation failing to take the step at all, raises `CheckFailed` with the
variables that differ and the spec path that led there (an ITF trace: every step of it is a spec
step, so it replays on the spec, and replays against the implementation as a regression test).
The machine, the failure's trace, stored-trace replay and shrinking are property_tests/harness.py;
what is Raft's own is here: the `Follower` (the driver, the leader's bookkeeping checked by name
before the refinement, and the check that a read the implementation is about to serve is one the
spec allows) and how a step is told and signed.
"""

from __future__ import annotations

import copy
from collections import Counter

from hypothesis import settings as Settings

from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.messages import PreVoteResponse
from meshcheck.impl.raft.refinement import Budget
from meshcheck.property_tests import harness
from meshcheck.property_tests.histories import LOCKSTEP_BUDGET
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.lockstep import differences
from meshcheck.property_tests.raft import coverage
from meshcheck.property_tests.raft.driver import Driver
from meshcheck.property_tests.raft.driver import bag_change
from meshcheck.property_tests.raft.safety import INVARIANTS
from meshcheck.property_tests.raft.safety import broken
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.specs.tlc.stepper import Transition


def brief(record: Value) -> str:
    """A message in a few words: `AppendEntriesRequest(term=1, prevLogIndex=0, 2 entries)`."""
    if not isinstance(record, FrozenDict):
        return format_value(record)
    fields = []
    for key, value in record.items():
        if key in ("mtype", "msource", "mdest"):
            continue
        if key == "mentries" and isinstance(value, tuple):
            fields.append(f"{len(value)} entries" if len(value) != 1 else "1 entry")
        else:
            fields.append(f"{key[1:]}={format_value(value)}")
    return f"{record.get('mtype')}({', '.join(fields)})"


def describe(t: Transition, before: State) -> str:
    """The step as one line: the action instance and the message it took or sent."""
    gone, added = bag_change(before.values, t.state.values)
    name = t.action.name
    if name.startswith("Handle") or name == "DropMessage":
        detail = brief(gone[0]) if gone else ""
    elif name in ("AppendEntries", "InstallSnapshot", "DuplicateMessage"):
        detail = brief(added[0]) if added else ""
    else:
        detail = ""
    return f"{t.action.label()} {detail}".rstrip()


# the leader's bookkeeping invariants, checked on the implementation's state before the refinement
BOOKKEEPING = ("MatchIndexBounded", "NextIndexAboveMatch")

Signature = tuple[ActionInstance, tuple[tuple[str, ...], tuple[str, ...]]]


def signature(action: ActionInstance, before: State, after: State) -> Signature:
    """A step's signature for shrinking: its action instance and the messages it took from and
    added to the bag (the spec's handlers choose their message inside the action, so the instance
    alone does not say which message a re-derived step takes)."""
    gone, added = bag_change(before.values, after.values)
    return action, (tuple(sorted(map(repr, gone))), tuple(sorted(map(repr, added))))


class Follower(harness.Follower):
    """The implementation following a spec path, checked after every step both ways: its state must
    be the spec's (refinement), and what it is about to do on its own must be a step the spec
    allows (a due read timer that would answer a client needs CompleteRead(i) enabled)."""

    def start(self, init: State) -> Driver:
        values = init.values
        servers = [str(s) for s in values["currentTerm"]]
        return Driver(servers, budget=Budget(**values["budget"]), bugs=self.bugs)

    def describe(self, t: Transition, before: State) -> str:
        return describe(t, before)

    def drive(self, t: Transition) -> None:
        self.driver.take(t.action.name, t.action.params, self.state.values, t.state.values)

    def compare(self, label: harness.Label, want: FrozenDict, got: FrozenDict) -> None:
        """The refinement check, after the leader's bookkeeping checked on the implementation's own
        state: Raft.tla's action properties on the step from the state before (the spec's, which
        the implementation was found in) and the invariants MatchIndexBounded and
        NextIndexAboveMatch, so that a mutant that breaks one is reported by the property's name,
        not only as a state that differs from the spec's."""
        before, step = self.path[-2], self.path[-1]
        names = broken(before.state, got, step.action, step.params)
        names += [n for n in BOOKKEEPING if not INVARIANTS[n](got)]
        if names:
            problem = f"after {label} the implementation breaks {', '.join(names)}:"
            self.fail([problem, *differences(want, got)])
        super().compare(label, want, got)

    def history_problem(self) -> str | None:
        """The spec's client writes and reads, as the simulator recorded them: opaque values (the
        model's v1, v2, ...) and reads of the applied count."""
        return check_history(self.driver.sim, budget=LOCKSTEP_BUDGET)

    def after(self, t: Transition, label: harness.Label) -> None:
        enabled = self.target.successors(t.state)
        serving = {str(s.action.params["i"]) for s in enabled if s.action.name == "CompleteRead"}
        for node in self.driver.about_to_serve():
            if node not in serving:
                self.fail(
                    [
                        f"after {label} {node} is about to serve a read (its read timer is due "
                        f"and would answer a client), but the spec does not allow "
                        f"CompleteRead(i={node}) here"
                    ]
                )


class PreVoteFollower(Follower):
    """The pre-vote variant (PreVote = TRUE, RaftConfig(pre_vote=True)). The spec leaves a
    pre-vote's grant free where the thesis' condition depends on time (HandlePreVoteRequest: a
    server may always refuse); the implementation decides by what it heard from a leader. So of
    the spec's steps that take the same request, the one followed is the one whose answer is the
    implementation's: that answer must be one the spec allows, which is the refinement check."""

    def start(self, init: State) -> Driver:
        values = init.values
        servers = [str(s) for s in values["currentTerm"]]
        return Driver(servers, budget=Budget(**values["budget"]), bugs=self.bugs, pre_vote=True)

    def take(self, t: Transition) -> harness.Label:
        if t.action.name == "HandlePreVoteRequest" and not self.replay:
            t = self._answered_as_the_implementation_would(t)
        return super().take(t)

    def _answered_as_the_implementation_would(self, t: Transition) -> Transition:
        gone, _ = bag_change(self.state.values, t.state.values)
        found = self.driver.sim.find(gone[0]) if len(gone) == 1 else []
        if not found:
            return t  # the driver reports the missing message
        node = copy.deepcopy(self.driver.sim.nodes[str(t.action.params["i"])])
        effects = node.step(Deliver(found[0].source, found[0].message))
        answers = [
            e.message.vote_granted
            for e in effects
            if isinstance(e, Send) and isinstance(e.message, PreVoteResponse)
        ]
        if len(answers) != 1:
            return t
        for other in self.target.successors(self.state):
            if other.action != t.action or bag_change(self.state.values, other.state.values)[
                0
            ] != list(gone):
                continue
            added = bag_change(self.state.values, other.state.values)[1]
            if len(added) == 1 and added[0].get("mvoteGranted") == answers[0]:
                return other
        return t  # no spec step answers so: the refinement check fails on t


RAFT = harness.LockstepSpec(
    "raft",
    "Raft",
    "Lockstep.cfg",
    Follower,
    signature,
    rarity=coverage.score,
    prefixes=coverage.PREFIXES,
)
successors = RAFT.successors

# the pre-vote variant: the same spec under models/Lockstep_prevote.cfg (PreVote = TRUE)
RAFT_PREVOTE = harness.LockstepSpec(
    "raft",
    "Raft",
    "Lockstep_prevote.cfg",
    PreVoteFollower,
    signature,
    machine="RaftPreVoteLockstep",
    rarity=coverage.score,
)


def lockstep_stepper() -> Stepper:
    """One Stepper over Raft.tla and the lockstep model per process (building one takes ~0.5 s)."""
    return RAFT.stepper()


def lockstep(
    bugs: frozenset[str], settings: Settings, *, fired: Counter[str] | None = None
) -> None:
    """The check: run the lockstep machine under `settings`, then that of the pre-vote variant
    (its three actions are enabled only there); CheckFailed on a divergence."""
    harness.lockstep(RAFT, bugs, settings, fired=fired)
    harness.lockstep(RAFT_PREVOTE, bugs, settings, fired=fired)

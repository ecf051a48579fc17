"""Two-phase commit as sans-IO cores: a coordinator (`tm`) and resource managers, each with
`step(event) -> effects` on the base layer's events and effects (meshcheck.impl.base), reporting the
spec action it takes as an `Action` effect where it takes it (tests/toy/TwoPhase.tla's names).

No clock, socket or random generator inside: timers are `SetTimer` effects and `Tick` events, and
the durations are given (the simulator plug-in, tests/toy/simulation.py, draws them). The timers
are named for the actions they trigger, so a lockstep driver forces an action by firing its timer:

    RMPrepare(r)        participant r's PREPARE timer (its work is done: it votes yes)
    RMChooseToAbort(r)  participant r's ABORT timer (it gives up while still working)
    TMCommit            the coordinator's COMMIT timer (set once every vote is in)
    TMAbort             the coordinator's ABORT timer (it gives up waiting for votes)

The spec has no crashes, so neither has the toy: nothing is persisted.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick

TM = "tm"
PREPARE, ABORT, COMMIT = "prepare", "abort", "commit"

# the mutant switches: a coordinator that commits before every vote is in, and a participant that
# gives up after it voted yes (the blocking that two-phase commit demands of it: Gray and Lamport,
# section 3: once prepared, a resource manager must wait for the transaction manager's decision)
COMMIT_WITHOUT_ALL_PREPARED = "commit_without_all_prepared"
PREPARED_RM_ABORTS = "prepared_rm_aborts"

BUGS: Mapping[str, str] = {
    COMMIT_WITHOUT_ALL_PREPARED: (
        "The coordinator commits once the first resource manager is prepared, not all of them: "
        "one that is still working may then abort while the others commit (TCConsistent fails)."
    ),
    PREPARED_RM_ABORTS: (
        "A resource manager that voted yes still aborts on its own timeout: the coordinator, "
        "having every vote, may commit the others (TCConsistent fails)."
    ),
}


@attrs.frozen
class Prepared:
    rm: str


@attrs.frozen
class Commit:
    pass


@attrs.frozen
class Abort:
    pass


Message = Prepared | Commit | Abort


def _act(name: str, **params: str) -> Action:
    return Action(name, params)


class Coordinator:
    """The transaction manager: collects yes votes, then commits (all in) or aborts (timeout)."""

    def __init__(
        self, rms: Sequence[str], *, abort_after: int = 100, bugs: frozenset[str] = frozenset()
    ) -> None:
        self.rms = frozenset(rms)
        self.abort_after = abort_after
        self.bugs = bugs
        self.state = "init"  # "init", "committed" or "aborted"
        self.prepared: frozenset[str] = frozenset()

    def ready(self) -> bool:
        if COMMIT_WITHOUT_ALL_PREPARED in self.bugs:
            return bool(self.prepared)
        return self.prepared == self.rms

    def step(self, event: Any) -> list[Effect]:
        match event:
            case Restart():
                return [SetTimer(ABORT, self.abort_after)]
            case Deliver(message=Prepared(rm=rm)) if self.state == "init":
                self.prepared |= {rm}
                return [
                    _act("TMRcvPrepared", r=rm),
                    *([SetTimer(COMMIT, 1)] if self.ready() else []),
                ]
            case Tick(timer=timer) if self.state == "init" and timer in (COMMIT, ABORT):
                if timer == COMMIT and not self.ready():
                    return []
                self.state = "committed" if timer == COMMIT else "aborted"
                decision: Message = Commit() if timer == COMMIT else Abort()
                name = "TMCommit" if timer == COMMIT else "TMAbort"
                return [_act(name), *(Send(r, decision) for r in sorted(self.rms))]
        return []


class Participant:
    """A resource manager: works, then votes yes (PREPARE) or gives up (ABORT); obeys the decision."""

    def __init__(
        self,
        rm: str,
        *,
        prepare_after: int = 10,
        abort_after: int = 50,
        bugs: frozenset[str] = frozenset(),
    ) -> None:
        self.rm = rm
        self.prepare_after = prepare_after
        self.abort_after = abort_after
        self.bugs = bugs
        self.state = "working"  # "working", "prepared", "committed" or "aborted"
        self.voted = False  # it sent its Prepared message

    def step(self, event: Any) -> list[Effect]:
        match event:
            case Restart():
                return [SetTimer(PREPARE, self.prepare_after), SetTimer(ABORT, self.abort_after)]
            case Tick(timer=timer) if timer == PREPARE and self.state == "working":
                self.state, self.voted = "prepared", True
                return [_act("RMPrepare", r=self.rm), Send(TM, Prepared(self.rm))]
            case Tick(timer=timer) if timer == ABORT and (
                self.state == "working"
                or (self.state == "prepared" and PREPARED_RM_ABORTS in self.bugs)
            ):
                self.state = "aborted"
                return [_act("RMChooseToAbort", r=self.rm)]
            case Deliver(message=Commit()):
                self.state = "committed"
                return [_act("RMRcvCommitMsg", r=self.rm)]
            case Deliver(message=Abort()):
                self.state = "aborted"
                return [_act("RMRcvAbortMsg", r=self.rm)]
        return []

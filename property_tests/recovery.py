"""Recovery within the bound the protocol promises, for every protocol's free runs.

The liveness checks after healing (property_tests/<protocol>/free_runs.py) ask that progress
comes back within a loose bound: seconds of simulated time, set far above what a correct core
takes so that no correct run ever fails it. A core that recovers 10 or 25 times later than the
protocol allows passes them: a replica that fell behind and waits for a view change instead of
fetching the state (a checkpoint and its state transfer), a pacemaker whose back-off outlives the
heal, a leader that ships a follower's backlog an entry a round trip. Each protocol's
recovery property holds each recovery to what the protocol promises, written in the core's own
timing:

- PBFT, CatchUpByStateTransfer (property_tests/pbft/recovery.py): a replica behind the group's
  stable checkpoint when the faults end reaches it within a few status rounds, by the state
  transfer of a checkpoint its peers send back, without waiting for a view change;
- HotStuff, RecoveryWithinBound (property_tests/hotstuff/recovery.py): once commits resume, the
  pacemaker is back at its base timer, so the next views commit at that pace; and the first
  commit after the heal, whose wait depends on the back-off the faults left (no bound of the
  protocol's own: the view in progress may rightly wait out its capped timer), is held to the
  unmutated core's in the same schedule (`differential`);
- Raft, RecoveryWithinBound (property_tests/raft/recovery.py): a leader within two election
  rounds of the heal, and every node caught up within two heartbeats and a few round trips of
  the election of the leader it converges under.

A failure names the property first, then the numbers: what recovered, when, and what was
promised (`Late.message`).
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Late:
    """A recovery that took longer than promised: `prop` (the property's name), `what` recovered
    `took` ticks after `since` (None: not by the end of the run, `looked` ticks after it), with
    `detail` on the state it started from, against the `promise` of `bound` ticks; `how` says
    what brought it at last (or what did not come)."""

    prop: str
    what: str
    took: int | None
    promise: str
    bound: int
    looked: int = 0
    since: str = "the heal"
    detail: str = ""
    how: str = ""

    def message(self) -> str:
        when = (
            f"{self.took:,} ticks after {self.since}"
            if self.took is not None
            else f"not within {self.looked:,} ticks of {self.since}"
        )
        detail = f" ({self.detail})" if self.detail else ""
        tail = f"; {self.how}" if self.how else ""
        return (
            f"{self.prop}: {self.what} {when}{detail}; the protocol promises {self.promise} "
            f"({self.bound:,} ticks){tail}"
        )


def within(took: int | None, bound: int) -> bool:
    """Whether a recovery that took `took` ticks (None: never) kept to `bound`."""
    return took is not None and took <= bound


def differential_bound(reference: int, factor: int, slack: int) -> int:
    """The bound a mutated core's recovery is held to where the protocol states none: `factor`
    times the unmutated core's recovery in the same schedule (the same seed, the same faults),
    plus `slack` ticks for the runs' own divergence (a mutant changes the messages, so the
    seeded draws after it differ)."""
    return factor * reference + slack

"""What a Raft-shaped implementation offers the directed scenarios: a `RaftTarget`.

The scenarios (property_tests/directed/library.py) are written once, against what any Raft
implementation's adapter gives meshcheck (impl/adapters/contract.py): a simulated cluster of its
nodes, client writes handed to a node, the simulator's control of every message in flight (drop
one, hold it back, deliver it now, deliver it twice) and of the nodes (crash, restart), and each
node's state as the spec's variables. A target says, for one implementation, the few things the
scenarios cannot read off the simulator by themselves:

- `cluster`: a simulated cluster of n nodes under a given seed, mutants and message faults (the
  scenarios' own rules, `Faults.messages`), optionally writing its NDJSON log;
- `wire`: a message in flight in Raft's vocabulary (`Wire`: which of the four messages of Figure 2
  it is, the log positions an AppendEntries carries, whether an answer is a success and up to
  where it matches), or None for a message of its own (PySyncObj's forwarded commands);
- `view`: a node's state as Figure 2 names it (`NodeView`: term, role, vote, log, commitIndex);
- `violated`: the safety invariants of Raft.tla its refinement can decide, over a trace state;
- `running`: what must be in force while it runs (PySyncObj's injected bugs patch its class);
- `storm` and `timing`: the bound a correct cluster of it keeps under, and its pace (a `Timing`
  of property_tests/raft/targets.py: its election timeout and heartbeat), which the scenarios'
  waits and their CommitLiveness bound derive from (`Bounds`; the reference core's pace unless
  it declares its own);
- `linearize`: how its client answers are judged (impl/rsm's model for meshcheck's own cores, a
  plug-in's own answers for a plug-in: property_tests/plugin.py's `target`).

The shape of the spec it names (property_tests/shapes.py) gives the action properties the
runner checks on every step (property_tests/directed/run.py), as the free runs do.

A protocol is Raft-shaped for `meshcheck scenarios` when its descriptor names a target
(`Protocol.directed`, meshcheck/protocol.py): the reference core's is
property_tests/raft/directed.py, PySyncObj's property_tests/pysyncobj/directed.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any
from typing import Literal

import attrs

from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.free_runs import Storm
from meshcheck.property_tests.raft.targets import DEFAULT as DEFAULT_TIMING
from meshcheck.property_tests.raft.targets import Timing

Kind = Literal[
    "RequestVoteRequest", "RequestVoteResponse", "AppendEntriesRequest", "AppendEntriesResponse"
]
LEADER, CANDIDATE, FOLLOWER = "Leader", "Candidate", "Follower"


@attrs.frozen
class Wire:
    """A message in flight as Figure 2 of the Raft paper names its fields, as far as the
    implementation's message says them. Indexes are the spec's (the first entry is at 1)."""

    kind: Kind
    # AppendEntriesRequest: (index, term) of every entry it carries
    entries: tuple[tuple[int, int], ...] = ()
    # AppendEntriesResponse: a success, and the last index it says the follower matches
    success: bool | None = None
    match: int | None = None
    # RequestVoteResponse: the vote granted
    granted: bool | None = None


@attrs.frozen
class NodeView:
    """One node's state as Figure 2 names it: currentTerm, role, votedFor (None: no vote), the log
    as (term, value) per index from 1, commitIndex."""

    term: int
    role: str
    voted_for: str | None
    log: tuple[tuple[int, Any], ...]
    commit: int

    def has(self, index: int, entry: tuple[int, Any]) -> bool:
        """Whether this log holds `entry` at `index`."""
        return 0 < index <= len(self.log) and self.log[index - 1] == entry


# The bounds of the scenarios, in units of the target's own pace (`RaftTarget.timing`): a wait of
# the script (a set-up's or a check's) lasts at most WAIT_TIMEOUTS of its longest election timeout
# (an election on a calm network takes a few, catching up a few heartbeats); a leader may keep an
# entry of its term stored on a majority uncommitted for at most STALL_TIMEOUTS of them
# (CommitLiveness, property_tests/directed/liveness.py: a correct leader commits it within a
# heartbeat or two, and a heartbeat is well under an election timeout, Raft section 5.6); a step
# of the script that lets a follower take one more AppendEntries runs a heartbeat and
# ANSWER_TICKS more.
WAIT_TIMEOUTS = 10
STALL_TIMEOUTS = 2
ANSWER_TICKS = 10
# the reference core's pace (impl/raft's `RaftConfig`: elections of 150..300 ticks, a heartbeat
# every 50, the Raft paper's section 9.3), every target's unless it declares its own
REFERENCE = DEFAULT_TIMING


@attrs.frozen
class Bounds:
    """The bounds of the scenarios on one target, in ticks, from its pace (`Bounds.of`): at the
    reference core's, the bounds meshcheck's own cores are held to (waits of 3000 ticks, a commit
    stall of 600, a heartbeat's round of 60)."""

    wait: int  # the longest a step of a scenario waits for what it needs
    stall: int  # how long a CommitLiveness stall may last
    round: int  # a heartbeat and the answer to it

    @classmethod
    def of(cls, timing: Timing) -> Bounds:
        longest = timing.election_timeout[1]
        return cls(
            wait=WAIT_TIMEOUTS * longest,
            stall=STALL_TIMEOUTS * longest,
            round=timing.heartbeat + ANSWER_TICKS,
        )


# cluster(nodes, seed, bugs, faults, log) -> a simulated cluster, recording its trace
MakeCluster = Callable[[int, int, frozenset[str], Faults, NdjsonLog | None], Simulator[Any]]


def _no_context(bugs: frozenset[str]) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


@attrs.frozen
class RaftTarget:
    """One Raft-shaped implementation as the directed scenarios drive it."""

    protocol: str  # the registered protocol's name (#meta.protocol of the traces)
    cluster: MakeCluster
    wire: Callable[[Any], Wire | None]
    view: Callable[[Any], NodeView]
    violated: Callable[[Mapping[str, Value], Mapping[str, Value] | None], list[str]]
    # what a correct cluster of it never exceeds (messages in flight per node, node events per node
    # and tick): a run past it is stopped, and fails
    storm: Storm
    # the spec its NDJSON logs are validated against (`meshcheck validate --spec`)
    spec: str = "Raft"
    # how its NDJSON log is written: by the adapter while it runs ("adapter": the plug-in's
    # NdjsonLog, given to `cluster`), or from the recorded trace afterwards ("trace":
    # traces/logs/reference.py, for a core with no adapter)
    logs: Literal["adapter", "trace"] = "adapter"
    running: Callable[[frozenset[str]], AbstractContextManager[object]] = _no_context
    # constants its logs validate under besides the spec's defaults, as `meshcheck validate --set`
    # takes them ("PreVote=TRUE"); LeaderNoOp=FALSE is added for a run whose leader appended no
    # no-op on election (property_tests/directed/run.py, `settings`) unless this sets LeaderNoOp
    settings: tuple[str, ...] = ()
    # what the scenarios' results depend on besides the scenario, said in listings and docs
    notes: str = ""
    # the client-history check `linearizable` of a run (property_tests/histories.py's
    # `check_history`, its `linearize`): None, against impl/rsm's model and answers (the project's
    # cores); a plug-in keeps its own state machine, and its answers are judged as its own
    # (property_tests/plugin.py's `own_answers`, which `plugin.target` sets)
    linearize: Callable[[Simulator[Any]], str | None] | None = None
    # how fast its cluster goes (property_tests/raft/targets.py's `Timing`: its election timeout
    # and heartbeat, the configured timing Raft's liveness bounds derive from), which the
    # scenarios' waits and their CommitLiveness bound derive from (`Bounds`); the reference
    # core's unless it declares its own (a plug-in: property_tests/plugin.py's `target`)
    timing: Timing = REFERENCE


def view_of_state(state: Mapping[str, Value]) -> NodeView:
    """A `NodeView` from an adapter's `state()` (the spec's variables of one node)."""
    voted = state.get("votedFor")
    log = state.get("log", ())
    assert isinstance(log, tuple)
    term, commit = state.get("currentTerm", 0), state.get("commitIndex", 0)
    assert isinstance(term, int) and isinstance(commit, int)
    return NodeView(
        term=term,
        role=str(state.get("role", FOLLOWER)),
        voted_for=None if voted in (None, "None") else str(voted),
        log=tuple((int(e["term"]), e["value"]) for e in log if isinstance(e, Mapping)),
        commit=commit,
    )

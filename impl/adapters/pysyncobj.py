"""PySyncObj (github.com/bakwc/PySyncObj, PyPI `pysyncobj`) under meshcheck's simulator.

Driven through its own extension points, never a copy of its code:

- **Transport.** `SimTransport` subclasses `pysyncobj.transport.Transport` and is passed as
  `SyncObj(..., transport=)`: `send` hands the message to the simulator's network (as a frozen
  mapping: a duplicate delivers the same object twice), a delivery calls the transport's
  `_onMessageReceived` callback. Every peer is "connected" from the start: a partition is the
  simulator's network losing messages, not a TCP connection going down (PySyncObj's TCP transport
  would also stop sending to a peer it sees disconnected; here it keeps sending into the loss).
- **Ticks and time.** `SyncObjConf(autoTick=False)`; the node asks for a timer "tick" every
  `TICK` ms and each firing is one `doTick(0)`. PySyncObj reads time through the name
  `monotonicTime` that pysyncobj.syncobj imports, and randomness through the module `random` it
  imports: both names are replaced (once, `install`) by objects that answer the stepping node's
  simulated clock (seconds = ticks / 1000) and its seeded generator, and fall back to the real
  ones outside a simulated step, so other users of pysyncobj in the process are unaffected.
- **Persistence.** PySyncObj writes its log, currentTerm/votedFor and commit index through a
  journal object (`pysyncobj.journal.Journal`; `FileJournal` on disk). `SimJournal` subclasses it
  and is what `createJournal` (the name pysyncobj.syncobj imports) returns for a simulated node: it
  keeps the same things FileJournal keeps, and reports each step's writes as the simulator's one
  `Persist` batch (log writes as a `Splice`). A restart builds a new journal from the durable store
  alone, so a crash between two effects loses exactly what was not yet written, and nothing that
  lived only in memory survives. A file journal in a temporary folder would test FileJournal's
  byte format too, but its writes could not be cut at the simulator's crash points and every run
  would touch the disk; what FileJournal persists, and when, is what this journal persists.
- **Client operations.** `Store` subclasses `SyncObj` with two `@replicated` methods: `write`
  (an impl/rsm operation, applied to impl/rsm's StateMachine) and `read` (a query answered by that
  machine, through the log: PySyncObj has no other linearizable read). The callback's answer is
  the client's: SUCCESS ok; UNKNOWN_OUTCOME unknown (`info`); every other FAIL_REASON a failure,
  as PySyncObj's documentation of each reason says (the command did not and will not commit).
- **State as the spec's variables** (specs/Raft.tla): currentTerm, votedFor, role, log, commitIndex
  (and snapshotIndex, snapshotTerm: 0, log compaction is off). PySyncObj indexes its log from 1
  with a sentinel no-op of term 0 at index 1 that every node has from boot; the spec's index k is
  PySyncObj's k + 1 and the sentinel is left out. votedFor and the log come from the journal (what
  the node wrote), the term from the public `raftCurrentTerm`, the role from the one private field
  that holds it (read only). nextIndex, matchIndex, votesGranted and the message bag's exact
  records are not exposed: unknown to the checks.

Steps as spec actions (specs/Raft.tla's Next), and where PySyncObj's Raft differs from the spec
(differences of modelling, which the partial refinement absorbs):

- a vote request, a vote, entries and their answer are HandleRequestVoteRequest,
  HandleRequestVoteResponse, HandleAppendEntriesRequest, HandleAppendEntriesResponse (i the
  receiver, j the sender);
- a tick in which a follower or candidate times out is Timeout(i) (its vote requests are that
  step's sends);
- a new leader appends a no-op of its term at once (Raft paper section 8, as PySyncObj's
  `__onBecomeLeader`): written as ClientRequest(i, "NoOp") after the vote that made it leader;
  every entry a leader appends in a tick is ClientRequest(i, v);
- each append_entries message a leader sends is PipelineAppendEntries(i, j) when it carries
  entries, AppendEntries(i, j) when it is a heartbeat (specs/RaftPipelined.tla; see "Pipelining"
  below; PySyncObj batches entries and sends several messages per tick when the batch is cut by
  size);
- the leader advances its commit index in its tick, not when an answer arrives; the spec does it
  in HandleAppendEntriesResponse. A tick is named Tick in traces (not a spec action: left out of
  the NDJSON log), or, when it appended entries, ClientRequest; a leader's records leave its
  commitIndex out (unknown to the validator), a follower's carry it;
- a follower answers with `next_node_idx` (no term in the answer, unlike Figure 2's
  AppendEntries response), and a rejection moves the leader's nextIndex to what the follower
  names: its last index + 1 when it lacks the entry at prevLogIndex, prevLogIndex (one back from
  the request, Figure 2) when that entry has another term. A rejection is
  HandleAppendEntriesResponseStepBack(i, j) ("Stepping back" below), any other answer
  HandleAppendEntriesResponse(i, j);
- commands sent to a follower are forwarded to the leader (apply_command): no spec action. They
  ride on TCP, which never delivers one twice, and PySyncObj has no client serial numbers (Raft
  paper section 8) to drop a copy: a leader given the same apply_command twice appends and applies
  it twice (a write applied at two indexes, found by the free runs with duplicates on). The adapter
  drops the network's duplicates of apply_command, and not of Raft's own messages, which Raft
  tolerates; and a restarted node numbers its forwarded requests from its boot time up, so that
  an answer meant for its earlier incarnation (which TCP would have lost with the connection)
  matches none of its requests (without this, found by the free runs: a write answered with the
  result of another node's earlier read). Both are the `tcp` option (default on);
- a node persists the commit index with its log (FileJournal does); a restarted node applies
  again, from index 1, what it had committed (impl/sim checks each incarnation by itself), and
  its commitIndex in the NDJSON log is the spec's, reset by Restart ("Commit index" below).

The NDJSON log (trace validation, property_tests/pysyncobj/validation.py) is the refinement above
with what made the validator reject every run until the mapping said it:

- the vote that makes a candidate leader is written with the no-op already in its log (Raft.tla's
  HandleRequestVoteResponse appends it in that step), not as a ClientRequest after it;
- client values: Raft.tla's Value is the validation model's finite set (v1, v2), PySyncObj's
  commands are unbounded: `spec_value` (impl/adapters/spec_values.py) maps each onto one of
  them (the no-op onto NoOp);
- AppendEntries and HandleAppendEntriesRequest carry the spec's message `m` built from PySyncObj's
  (`append_request`), so the validator need not guess the batch nor the leader's nextIndex;
- a leader's commitIndex is left out of the records of its receives and ticks; every node's
  commitIndex in the records, and each AppendEntries' mcommitIndex, is the spec's, a ghost the
  adapter keeps ("Commit index" below).

Commit index (found by `make verify`'s dev profile: a node restarted with the commit index
PySyncObj keeps in its journal won an election before it learned the commit index again, and its
first AppendEntries carried a leaderCommit of 80 where Raft.tla's leader, whose Restart reset
commitIndex to 0, sends 0). In Raft commitIndex is volatile state, initialised to 0 and increasing
monotonically (Ongaro and Ousterhout 2014, Figure 2), and losing it on a restart is safe: it lags
until the leader commits an entry of its term and tells the followers (Ongaro 2014, section 3.8,
persisted state and server restarts). PySyncObj persisting it is safe too (what was committed stays
committed): a difference of modelling. The adapter keeps the spec's commit index of each node as a
ghost, `spec_commit`: 0 at boot and at each restart, advanced as Raft.tla advances it and by
nothing else: on an AppendEntries the spec's follower accepts (of its term or newer, the entry
before the new ones held) to max(itself, min(mcommitIndex, prevLogIndex + the entries it
carries)) (Figure 2, AppendEntries rule 5; HandleAppendEntriesRequest), and as leader on an answer
to the highest index of its current term that a majority's matchIndex reaches (Figure 2, rules for
leaders; section 5.4.2; HandleAppendEntriesResponse; PySyncObj's matchIndex, which an answer moves
as the spec's does). The NDJSON records show it as the node's commitIndex (`log_state`), and each
append_entries message carries it as the spec's mcommitIndex (`SPEC_COMMIT`, beside PySyncObj's
own commit_index, which stays as sent: what PySyncObj does is unchanged).

Exactly the ghost, not min(PySyncObj's, the ghost): the spec's AppendRequest copies the leader's
commitIndex into mcommitIndex, and the records already show the ghost as that commitIndex, so a
message carrying anything else contradicts the sender's own record. PySyncObj's value at a send
differs from the spec's both ways, each a difference of modelling: above it after a restart (the
persisted index, seed 2412 of the dev profile's schedule), and below it when a leader steps down
before the tick in which it would have committed what the spec's leader committed on the answer,
then wins a later term (PySyncObj's leader commits only entries of its term, so its index stays
until its new no-op commits; seed 273 of the same schedule, which the min rejects). What PySyncObj
itself believes committed is checked elsewhere: `state()` keeps its own commitIndex, so the
invariants (LeaderCompleteness and StateMachineSafety over the ghost `committed`) hold of it after
every step, and the entries it applies are checked for divergence and against the clients'
histories. `map_leader_commit` (a test's switch) turns the messages' mapping off.

Pipelining (found by validating runs with loss, crashes or partitions against Raft.tla, where
every such run stopped at a leader's AppendEntries the spec's leader could not send): PySyncObj
moves nextIndex past the entries of each request when it sends it (`__sendAppendEntries`:
"nextIndex[node] = entries[-1][1] + 1"), so its next request to a follower that has not answered
starts past them; Raft.tla's leader moves nextIndex only on the answer (Figure 2). The dissertation
allows it (Ongaro 2014, section 10.2.1, "Pipelining": the leader sends the next entries before the
previous ones are acknowledged, advancing nextIndex optimistically, and backs up on a rejection).
specs/RaftPipelined.tla adds that action, PipelineAppendEntries(i, j): Raft.tla's request, with
nextIndex[i][j] set past its last entry. The mapping: every append_entries message that carries
entries is PipelineAppendEntries(i, j) (the leader's own bookkeeping, its nextIndex, moved past
them as it sent them: whether the follower answers before the next send is not known when this
one is sent, and a send answered first leaves the spec where AppendEntries would, the success
moving nextIndex to the same index); one without entries (a heartbeat, nextIndex unmoved) is
AppendEntries(i, j). The logs are validated against RaftPipelined (`--spec RaftPipelined`).

Leader fallback (found next, by the same runs: a leader's later Timeout the spec could not take,
its node still Leader there): a leader whose last answer from a majority of its peers is older
than `leaderFallbackTimeout` becomes follower in its tick (doTick: "count <= (len(otherNodes) +
1) / 2" then `__setState(FOLLOWER)`), keeping its term and vote. Raft.tla's leader never steps down
in its own term; the dissertation describes this step (Ongaro 2014, section 6.2: a leader that
cannot reach a majority within an election timeout steps down; etcd-io/raft's CheckQuorum), and
specs/RaftPipelined.tla has it as CheckQuorumStepDown(i), enabled for any leader (time is
abstracted, as in Timeout). The mapping: a tick after which a node that was leader is follower in
the same term is CheckQuorumStepDown(i) (the driver compares role and term before and after the
tick); its record carries the node's commitIndex, the spec's (which no tick moves).

Stepping back (found last, by the dev profile's schedule: seeds 79, 242 and 354 of 400, each a
leader's retry the spec's leader could not send). A follower whose entry at prevLogIndex has an
older term rejects; PySyncObj's leader then sets nextIndex to that prevLogIndex
(`__onMessageReceived` on `next_node_idx` with `reset`: one entry back from the rejected request,
the paper's Figure 2, "decrement nextIndex and retry"), while Raft.tla's HandleAppendEntriesResponse moves it to the
follower's hint, the first index it holds of that older term (the optimisation at the end of
section 5.3), so that the next request starts there. Both are safe: the follower's consistency
check guards every nextIndex in between, and nextIndex decides what is sent, never what is
committed. specs/RaftPipelined.tla has HandleAppendEntriesResponseStepBack(i, j): Raft.tla's
rejection with nextIndex anywhere from the hint's index up to nextIndex - 1, never below
matchIndex + 1 (Raft.tla's answer does not carry the request's prevLogIndex, and with pipelining
the leader's nextIndex may be past it). The mapping: a `next_node_idx` with `reset` and without
`success` handled by a node leader before and after, in one term, is that action; the follower's
other rejection (no entry at prevLogIndex: its last index + 1, Raft.tla's hint) is in its range.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import random as _random
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import pysyncobj.journal
import pysyncobj.syncobj
from pysyncobj import SyncObj
from pysyncobj import SyncObjConf
from pysyncobj import replicated
from pysyncobj.config import FAIL_REASON
from pysyncobj.node import Node as PNode
from pysyncobj.transport import Transport

from meshcheck.impl.adapters.contract import AdapterPlugin
from meshcheck.impl.adapters.contract import Collected
from meshcheck.impl.adapters.contract import Ghost
from meshcheck.impl.adapters.contract import NdjsonLog
from meshcheck.impl.adapters.contract import SpecStep
from meshcheck.impl.adapters.contract import raft_committed
from meshcheck.impl.adapters.spec_values import log_view
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.refinement import VARIABLES as RAFT_VARIABLES
from meshcheck.impl.rsm import NOOP
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import SimConfig
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Workload

# PySyncObj logs its own warnings (a stale AppendEntries "truncating already-applied log entries")
# through the logger of its module; they would interleave with meshcheck's progress and tables, so
# they stay in that logger: a test or a user that wants them attaches a handler to it.
logging.getLogger(pysyncobj.syncobj.__name__).propagate = False
logging.getLogger(pysyncobj.syncobj.__name__).addHandler(logging.NullHandler())

TICK = 10  # ms between two doTick() calls
# PySyncObj's timing in simulated seconds: elections 150..300 ms as impl/raft's, heartbeats 40 ms (its
# configuration check wants the minimum election timeout above three heartbeat periods)
TIMING = {
    "raftMinTimeout": 0.15,
    "raftMaxTimeout": 0.3,
    "appendEntriesPeriod": 0.04,
    "leaderFallbackTimeout": 1.0,
}
# Raft.tla's variables this adapter exposes: the spec's up to commitIndex (PySyncObj shows no
# votes, reads or read floor), and the ghost `committed` the plugin keeps
VARIABLES = (*RAFT_VARIABLES[: RAFT_VARIABLES.index("commitIndex") + 1], "committed")
ROLES = ("Follower", "Candidate", "Leader")  # PySyncObj's _RAFT_STATE 0, 1, 2
NONE = "None"  # the spec's "no vote"
_REGULAR, _NO_OP = 0, 1  # PySyncObj's _COMMAND_TYPE of a log entry's first byte
# The key under which an append_entries message carries its sender's commitIndex as the adapter
# maps it (the spec's mcommitIndex, "Commit index" in the module's docstring); PySyncObj reads the
# keys it knows and ignores this one
SPEC_COMMIT = "meshcheck_commit_index"


# -- time, randomness and the journal, as the stepping node's ---------------------------------------


class _Active:
    """The node PySyncObj code is running for right now (None: outside a simulated step)."""

    now: float = 0.0
    rng: _random.Random | None = None
    journal: SimJournal | None = None


ACTIVE = _Active()
_REAL_CLOCK: Callable[[], float] = pysyncobj.syncobj.monotonicTime
_REAL_JOURNAL: Callable[..., Any] = pysyncobj.syncobj.createJournal

# Globals that keep no node's state (property_tests/restarts.py, core purity): `ACTIVE` is the
# stepping node's context, set at the start of each step and cleared at its end (`_stepping`; the
# `now` left behind is read only while a generator is set, inside a step); `_DECODED`, `_RECORDS`
# and `_VIEWED` are memos of pure functions of a log entry's bytes (its value, its spec record,
# its validation-model view).
PURE_GLOBALS = ("ACTIVE", "_DECODED", "_RECORDS", "_VIEWED")


def _clock() -> float:
    return ACTIVE.now if ACTIVE.rng is not None else _REAL_CLOCK()


class _Random:
    """What `random` is inside pysyncobj.syncobj: the stepping node's generator."""

    def random(self) -> float:
        return ACTIVE.rng.random() if ACTIVE.rng is not None else _random.random()


def _journal(journalFile: Any = None) -> Any:
    if ACTIVE.journal is not None:
        return ACTIVE.journal
    return _REAL_JOURNAL(journalFile)


def install() -> None:
    """Point pysyncobj.syncobj's clock, random generator and journal factory at the simulator's
    (idempotent; outside a simulated step each falls back to the real one)."""
    pysyncobj.syncobj.monotonicTime = _clock
    pysyncobj.syncobj.random = _Random()
    pysyncobj.syncobj.createJournal = _journal


@contextmanager
def _stepping(now: int, rng: _random.Random, journal: SimJournal | None = None) -> Iterator[None]:
    ACTIVE.now, ACTIVE.rng, ACTIVE.journal = now / 1000.0, rng, journal
    try:
        yield
    finally:
        ACTIVE.rng, ACTIVE.journal = None, None


class SimJournal(pysyncobj.journal.Journal):  # type: ignore[misc]
    """PySyncObj's journal interface over what the simulator's durable store held; what a step
    wrote is `writes()` (and is then forgotten)."""

    def __init__(self, persisted: Mapping[str, Any]) -> None:
        self.entries: list[tuple[bytes, int, int]] = list(persisted.get("log", ()))
        term, voted = persisted.get("vote", (0, None))
        self.term: int = term
        self.voted: str | None = voted
        self.commit: int = persisted.get("commitIndex", 1)
        self.version = 0  # one more per change of `entries`
        self._from: int | None = None  # the first position of `entries` written since writes()
        self._meta = False
        self._commit = False

    def add(self, command: bytes, idx: int, term: int) -> None:
        self.entries.append((command, idx, term))
        self._touch(len(self.entries) - 1)

    def clear(self) -> None:
        self.entries = []
        self._touch(0)

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        del self.entries[entryFrom:]
        self._touch(entryFrom)

    def deleteEntriesTo(self, entryTo: int) -> None:
        self.entries = self.entries[entryTo:]
        self._touch(0)

    def __getitem__(self, item: Any) -> Any:
        return self.entries[item]

    def __len__(self) -> int:
        return len(self.entries)

    def _destroy(self) -> None:
        pass

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        if raftCommitIndex != self.commit:
            self.commit = raftCommitIndex
            self._commit = True

    def getRaftCommitIndex(self) -> int:
        return self.commit

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:
        self.term, self.voted = term, votedForNodeId
        self._meta = True

    def getCurrentTerm(self) -> int:
        return self.term

    def getVotedForNodeId(self) -> Any:
        return self.voted

    def _touch(self, position: int) -> None:
        self.version += 1
        self._from = position if self._from is None else min(self._from, position)

    def writes(self) -> tuple[Write, ...]:
        out: list[Write] = []
        if self._from is not None:
            out.append(Splice("log", self._from, tuple(self.entries[self._from :])))
        if self._meta:
            out.append(Put("vote", (self.term, self.voted)))
        if self._commit:
            out.append(Put("commitIndex", self.commit))
        self._from, self._meta, self._commit = None, False, False
        return tuple(out)


# -- the transport and the replicated object --------------------------------------------------------


class SimTransport(Transport):  # type: ignore[misc]
    """Messages go to the simulator's network: `send` queues them for the step's effects."""

    def __init__(self, obj: Any, self_node: Any, other_nodes: Any) -> None:
        super().__init__(obj, self_node, other_nodes)
        self.outbox: list[tuple[str, Any]] = []
        self._others = list(other_nodes)

    @property
    def ready(self) -> bool:
        return True

    def tryGetReady(self) -> None:
        pass

    def connect_all(self) -> None:
        for node in self._others:
            self._onNodeConnected(node)

    def send(self, node: Any, message: Any) -> bool:
        self.outbox.append((node.id, _freeze_message(message)))
        return True

    def receive(self, source: str, message: Any) -> None:
        self._onMessageReceived(PNode(source), message)


def _freeze_message(message: Mapping[str, Any]) -> FrozenDict:
    out = dict(message)
    if "entries" in out:
        out["entries"] = tuple(tuple(e) for e in out["entries"])
    return FrozenDict(out)


class Store(SyncObj):  # type: ignore[misc]
    """The replicated object: impl/rsm's state machine behind PySyncObj's `@replicated`."""

    def __init__(self, driver: PySyncObjDriver, *args: Any, **kwargs: Any) -> None:
        self._driver = driver
        super().__init__(*args, **kwargs)

    @replicated  # type: ignore[untyped-decorator]
    def write(self, value: Any) -> Any:
        return self._driver.applying(value, None)

    @replicated  # type: ignore[untyped-decorator]
    def read(self, tag: int, query: Any) -> Any:
        return self._driver.applying(FrozenDict({"read": query, "tag": tag}), query)


# -- decoding PySyncObj's log entries ---------------------------------------------------------------

_DECODED: dict[bytes, Value] = {}


def entry_value(command: bytes) -> Value:
    """A log entry's command as the spec's value: the no-op as impl/rsm's NOOP, a write as its
    operation, a read as {read, tag}; cached by the command's bytes."""
    found = _DECODED.get(command)
    if found is not None:
        return found
    kind = command[0]
    value: Value
    if kind == _NO_OP:
        value = NOOP
    elif kind == _REGULAR:
        call = pickle.loads(command[1:])
        args: tuple[Any, ...] = tuple(call[1]) if isinstance(call, tuple) else ()
        value = args[0] if len(args) == 1 else FrozenDict({"read": args[-1], "tag": args[0]})
    else:
        value = f"command type {kind}"
    if len(_DECODED) > 100_000:
        _DECODED.clear()
    _DECODED[command] = value
    return value


_RECORDS: dict[tuple[bytes, int, int], FrozenDict] = {}


def entry_record(entry: tuple[bytes, int, int]) -> FrozenDict:
    """A journal entry as the spec's log record {term, value}: one object per entry, so that
    equal logs share their records (comparing states and writing logs stay cheap)."""
    found = _RECORDS.get(entry)
    if found is None:
        if len(_RECORDS) > 100_000:
            _RECORDS.clear()
        found = _RECORDS[entry] = FrozenDict({"term": entry[2], "value": entry_value(entry[0])})
    return found


def message_record(message: Any) -> Value:
    """A PySyncObj message as a record of its fields, for traces (the spec's message records are
    not what PySyncObj sends: `messages` is shown, not checked). Entries are named by index and
    term only, and a command by its type, which keeps a long trace small."""
    fields: dict[str, Value] = {}
    for k, v in message.items():
        if k == SPEC_COMMIT:  # the adapter's, not PySyncObj's: not shown
            continue
        if k == "entries":
            fields[k] = tuple(FrozenDict({"index": e[1], "term": e[2]}) for e in v)
        elif k == "command":
            fields[k] = repr(entry_value(v))
        elif isinstance(v, bool | int | str):
            fields[k] = v
        elif v is None:
            fields[k] = NONE
        else:
            fields[k] = repr(v)
    return FrozenDict(fields)


def append_request(message: Mapping[str, Any], source: str, dest: str) -> FrozenDict | None:
    """PySyncObj's append_entries as Raft.tla's AppendEntriesRequest (indexes one below
    PySyncObj's, whose index 1 is its sentinel; no ReadIndex reads: mreadSeq 0; mcommitIndex the
    sender's commitIndex as the adapter maps it, `SPEC_COMMIT`, when the sender wrote it); None for
    what the spec has no message for (a snapshot's transmission, an entry split into parts)."""
    if "prevLogIdx" not in message or "transmission" in message:
        return None
    return FrozenDict(
        {
            "mtype": "AppendEntriesRequest",
            "mterm": message["term"],
            "mprevLogIndex": max(message["prevLogIdx"] - 1, 0),
            "mprevLogTerm": message["prevLogTerm"],
            "mentries": tuple(entry_record(tuple(e)) for e in message.get("entries", ())),
            "mcommitIndex": message.get(SPEC_COMMIT, max(message["commit_index"] - 1, 0)),
            "mreadSeq": 0,
            "msource": source,
            "mdest": dest,
        }
    )


# -- the driver --------------------------------------------------------------------------------------

_REASONS = {
    getattr(FAIL_REASON, name): name for name in dir(FAIL_REASON) if not name.startswith("_")
}
_KIND_ACTION = {
    "request_vote": "HandleRequestVoteRequest",
    "response_vote": "HandleRequestVoteResponse",
    "append_entries": "HandleAppendEntriesRequest",
    "next_node_idx": "HandleAppendEntriesResponse",
}


def _steps_back(body: Mapping[str, Any]) -> bool:
    """Whether a message is a follower's rejection of an AppendEntries (`next_node_idx` with
    `reset` and without `success`: its entry at prevLogIdx has another term, or it has none)."""
    return body.get("type") == "next_node_idx" and bool(body.get("reset")) and not body["success"]


class PySyncObjDriver:
    """One PySyncObj node behind the adapter contract (impl/adapters/contract.py's `Driver`)."""

    # Whether each append_entries message carries its sender's commitIndex as the spec's
    # (`SPEC_COMMIT`). Off, the spec's message carries PySyncObj's leaderCommit, which a restarted
    # leader's persisted commit index can put above what the spec's leader can send: the switch
    # exists so that a test shows the mapping matters.
    map_leader_commit: bool = True

    def __init__(
        self,
        node_id: str,
        peers: tuple[str, ...],
        tick: int = TICK,
        unknown: frozenset[int] = frozenset({FAIL_REASON.UNKNOWN_OUTCOME}),
        tcp: bool = True,
    ) -> None:
        self.id = node_id
        self.unknown = unknown
        self.exactly_once = tcp
        self._forwarded: set[tuple[str, Any]] = set()
        self.peers = tuple(p for p in peers if p != node_id)
        self.tick = tick
        self.obj: Store | None = None
        self.journal = SimJournal({})
        self.transport: SimTransport | None = None
        self.machine = StateMachine()
        self._rng = _random.Random(0)
        self._applied: list[tuple[int, Any, Any]] = []
        self._replies: list[Reply] = []
        self._timers: list[SetTimer] = []
        self._before: tuple[int, int, int] = (0, 0, 0)  # (term, role, log length) before a step
        self._log_cache: tuple[Any, tuple[FrozenDict, ...]] = (None, ())
        # the spec's commitIndex of this node (a ghost: "Commit index" in the module's docstring)
        self.spec_commit = 0

    # the contract --------------------------------------------------------------------------------

    def boot(self, persisted: Mapping[str, Any], now: int, rng: _random.Random) -> None:
        install()
        self._rng = rng
        self.journal = SimJournal(persisted)
        self.machine = StateMachine()
        conf = SyncObjConf(
            autoTick=False,
            logCompactionMinEntries=10**9,
            logCompactionMinTime=10**12,
            **TIMING,
        )
        with _stepping(now, rng, self.journal):
            self.transport = SimTransport(None, PNode(self.id), [PNode(p) for p in self.peers])
            self.obj = Store(
                self, PNode(self.id), [PNode(p) for p in self.peers], conf,
                nodeClass=PNode, transport=self.transport,
            )  # fmt: skip
            self.transport.connect_all()
            if self.exactly_once:
                # Forwarded commands are answered by request id, a counter from 1 in each
                # incarnation: an answer to the earlier incarnation's request would match the new
                # one's. On TCP the answer dies with the old connection; here the new incarnation
                # numbers its requests from its boot time up, so an old answer matches none.
                self.obj._SyncObj__commandsLocalCounter = now * 1000
        self._timers.append(SetTimer("tick", self.tick))
        self._before = self._snapshot()
        # PySyncObj restores the commit index it persisted; Raft.tla's Restart falls back to the
        # snapshot's, 0 here (commitIndex is volatile, Figure 2)
        self.spec_commit = 0

    def deliver(self, source: str, message: Any, now: int) -> None:
        self._before = self._snapshot()
        if message.get("type") == "apply_command" and self.exactly_once:
            # a forwarded command rides on TCP in PySyncObj, which never delivers it twice: the
            # network's duplicate of one is dropped here (each command's bytes are unique: the
            # client's writes carry unique values, its reads a unique tag)
            key = (source, message.get("command"))
            if key in self._forwarded:
                return
            self._forwarded.add(key)
        with _stepping(now, self._rng):
            assert self.transport is not None
            self.transport.receive(source, message)

    def fire(self, timer: str, now: int) -> None:
        self._before = self._snapshot()
        with _stepping(now, self._rng):
            assert self.obj is not None
            self.obj.doTick(0.0)
        self._timers.append(SetTimer("tick", self.tick))

    def submit(self, request_id: int, value: Any, read: bool, now: int) -> None:
        self._before = self._snapshot()
        obj = self.obj
        assert obj is not None

        def answer(result: Any, error: int) -> None:
            self._answer(request_id, result, error)

        with _stepping(now, self._rng):
            if read:
                obj.read(request_id, value, callback=answer)
            else:
                obj.write(value, callback=answer)

    def collect(self, event: Any) -> Collected:
        assert self.transport is not None
        # PySyncObj iterates its peers as a set, whose order follows the process's string hash
        # seed: sorted by destination (stable, so each peer's messages keep their order), the
        # sends, and the simulator's draws for them, are the same in every process
        sends = tuple(sorted(self.transport.outbox, key=lambda s: s[0]))
        self.transport.outbox.clear()
        self._advance_commit(event)
        if self.map_leader_commit:
            sends = tuple((dest, self._with_commit(m)) for dest, m in sends)
        done = Collected(
            writes=self.journal.writes(),
            sends=sends,
            applied=tuple(self._applied),
            replies=tuple(self._replies),
            timers=tuple(self._timers),
            steps=self._spec_steps(event, sends),
        )
        self._applied.clear()
        self._replies.clear()
        self._timers.clear()
        return done

    def state(self) -> Mapping[str, Value]:
        return {
            "currentTerm": self.term,
            "votedFor": NONE if self.journal.voted is None else str(self.journal.voted),
            "log": self.log(),
            "snapshotIndex": 0,
            "snapshotTerm": 0,
            "role": ROLES[self.role],
            "commitIndex": max(self.obj.raftCommitIndex - 1, 0) if self.obj is not None else 0,
        }

    def log_state(self) -> Mapping[str, Value]:
        """What this node's NDJSON records show (the contract's `log_state`): `state()` with the
        spec's commitIndex, the ghost `spec_commit` ("Commit index" in the module's docstring)."""
        return {**self.state(), "commitIndex": self.spec_commit}

    def applied_state(self) -> tuple[int, bytes]:
        return self.machine.applied, hashlib.sha256(self.machine.snapshot()).digest()

    # what PySyncObj calls back ------------------------------------------------------------------

    def applying(self, value: Any, query: Any) -> Any:
        """A replicated method runs: the entry at PySyncObj index raftLastApplied + 1 is applied
        (spec index raftLastApplied)."""
        assert self.obj is not None
        index = self.obj.raftLastApplied
        result = self.machine.apply_entry(value)
        if query is not None:
            result = self.machine.read(query)
        self._applied.append((index, value, result))
        return result

    def _answer(self, request_id: int, result: Any, error: int) -> None:
        leader = self.obj._getLeader() if self.obj is not None else None
        hint = leader.id if leader is not None else None
        if error == FAIL_REASON.SUCCESS:
            self._replies.append(Reply(request_id, result, leader=hint))
        else:
            unknown = error in self.unknown
            reason = _REASONS.get(error, str(error))
            self._replies.append(Reply(request_id, error=reason, leader=hint, unknown=unknown))

    # reading PySyncObj's state -------------------------------------------------------------------

    @property
    def term(self) -> int:
        return self.obj.raftCurrentTerm if self.obj is not None else self.journal.term

    @property
    def role(self) -> int:
        # the one field that holds the role (getStatus() builds a whole report to show it)
        return int(getattr(self.obj, "_SyncObj__raftState", 0))

    def log(self) -> tuple[FrozenDict, ...]:
        key = (self.journal, self.journal.version)
        if self._log_cache[0] == key:
            return self._log_cache[1]
        value = tuple(entry_record(e) for e in self.journal.entries if e[1] > 1)
        self._log_cache = (key, value)
        return value

    def _snapshot(self) -> tuple[int, int, int]:
        return (self.term, self.role, len(self.journal.entries))

    # the spec's commit index (the ghost `spec_commit`) ---------------------------------------------

    def _advance_commit(self, event: Any) -> None:
        """Advance `spec_commit` after a step as Raft.tla advances commitIndex: a follower on an
        AppendEntries it accepts (HandleAppendEntriesRequest), a leader on an answer
        (HandleAppendEntriesResponse); no other step moves it."""
        if not isinstance(event, Deliver):
            return
        message = event.message
        body = getattr(message, "body", message)
        if not isinstance(body, Mapping):
            return
        term0, role0, _ = self._before
        kind = body.get("type")
        if kind == "append_entries":
            m = append_request(body, event.source, self.id)
            if m is None or int(m["mterm"]) < term0:
                return  # no spec message, or a stale term: rejected
            # the spec's follower accepts when its log holds the entry before the new ones with
            # the request's term (PySyncObj keeps its log up to there when it accepts, and leaves
            # it unchanged when it rejects, so the log after the step says it)
            prev = int(m["mprevLogIndex"])
            log = self.log()
            if prev == 0 or (prev <= len(log) and log[prev - 1]["term"] == m["mprevLogTerm"]):
                last = prev + len(m["mentries"])
                self.spec_commit = max(self.spec_commit, min(int(m["mcommitIndex"]), last))
        elif kind == "next_node_idx" and role0 == 2 and self.role == 2 and self.term == term0:
            self._leader_commit()

    def _leader_commit(self) -> None:
        """Raft.tla's leader commit rule (HandleAppendEntriesResponse; the paper's Figure 2, rules
        for leaders): the highest index of the leader's current term that a majority holds, by
        PySyncObj's matchIndex (updated by the answer as the spec's: the follower's last index
        on a success, never back)."""
        assert self.obj is not None
        matched = getattr(self.obj, "_SyncObj__raftMatchIndex", {})
        match = [max(int(k) - 1, 0) for k in matched.values()]
        log = self.log()
        cluster = len(self.peers) + 1
        for n in range(len(log), self.spec_commit, -1):
            if log[n - 1]["term"] != self.term:
                break  # the entries below are of earlier terms: none commits by counting
            if 2 * (1 + sum(k >= n for k in match)) > cluster:
                self.spec_commit = n
                return

    def _with_commit(self, message: Any) -> Any:
        """An append_entries message with its sender's commitIndex as the spec's, `spec_commit`
        (SPEC_COMMIT); PySyncObj's own commit_index stays as it sent it."""
        if not isinstance(message, Mapping) or message.get("type") != "append_entries":
            return message
        return FrozenDict({**message, SPEC_COMMIT: self.spec_commit})

    def _spec_steps(self, event: Any, sends: tuple[tuple[str, Any], ...]) -> tuple[SpecStep, ...]:
        me = self.id
        steps: list[SpecStep] = []
        term0, role0, len0 = self._before
        if isinstance(event, Deliver):
            message = event.message
            body = getattr(message, "body", message)
            kind = str(body.get("type")) if isinstance(body, Mapping) else ""
            action = _KIND_ACTION.get(kind)
            if action is not None and _steps_back(body) and role0 == 2 and self.role == 2:
                # a rejection moves nextIndex to where the follower says, one entry back from the
                # request on a conflicting term: RaftPipelined.tla's step back (docstring,
                # "Stepping back")
                action = "HandleAppendEntriesResponseStepBack"
            if action is not None:
                m = append_request(body, event.source, me) if kind == "append_entries" else None
                steps.append(SpecStep(action, {"i": me, "j": event.source}, message=m))
            else:  # a command forwarded to the leader, or its answer: no spec action
                steps.append(SpecStep("Forward", {"i": me, "j": event.source}, in_spec=False))
        elif isinstance(event, Tick) and self.role == 1 and self.term > term0:
            votes = tuple(k for k, (_, m) in enumerate(sends) if m.get("type") == "request_vote")
            steps.append(SpecStep("Timeout", {"i": me}, votes))
        elif isinstance(event, Tick) and role0 == 2 and self.role == 0 and self.term == term0:
            # a leader that heard from no majority within leaderFallbackTimeout steps down in its
            # tick, keeping its term: RaftPipelined.tla's CheckQuorumStepDown (thesis 6.2)
            steps.append(SpecStep("CheckQuorumStepDown", {"i": me}))
        elif isinstance(event, Tick | ClientRequest | ClientRead):
            # doTick: commit advance, applying, the queued commands; a request queued for the
            # next tick
            name = "Tick" if isinstance(event, Tick) else "Submit"
            steps.append(SpecStep(name, {"i": me}, in_spec=False))
        if self.role == 2 and steps:
            log = self.log()
            new = max(len(self.journal.entries) - len0, 0)
            # A leader's commit index moves in its tick (no spec action): left out of the records
            # of the steps its tick is written as, so the log never shows it change under a step
            # the spec would not change it in. A tick that appended entries is written as those
            # ClientRequests (the first carries the tick's other changes), not as a Tick.
            ticked = steps[0].name in ("Tick", "Submit")
            hide = ("commitIndex",) if ticked or role0 == 2 else ()
            # the vote that makes a candidate leader appends its no-op in the same step, as
            # Raft.tla's HandleRequestVoteResponse does (PySyncObj's __onBecomeLeader)
            noop = role0 != 2 and new > 0 and log[len(log) - new]["value"] == NOOP
            if role0 == 2 and not ticked:  # a leader's receive: its commitIndex is its tick's
                steps[0] = attrs.evolve(steps[0], hide=hide)
            if new and ticked:
                steps.pop(0)
            elif new:
                steps[0] = attrs.evolve(steps[0], log_upto=len(log) - new + (1 if noop else 0))
            # A tick may send before it appends (a heartbeat sent at log length p, then the queued
            # commands appended): each send is written before the ClientRequest of the first entry
            # past the last it carries, with the log as it was then, so that the spec's leader,
            # which sends every entry from nextIndex on, can send it.
            sent: list[tuple[int, SpecStep]] = []
            for peer in self.peers:
                for k, (dest, m) in enumerate(sends):
                    if dest == peer and m.get("type") == "append_entries":
                        request = append_request(m, me, peer)
                        # PySyncObj advances nextIndex past the entries it sends (pipelining):
                        # RaftPipelined.tla's PipelineAppendEntries; a heartbeat moves nothing
                        name = "PipelineAppendEntries" if m.get("entries") else "AppendEntries"
                        last = (
                            len(log)  # no spec message: after the tick's entries
                            if request is None
                            else int(request["mprevLogIndex"]) + len(request["mentries"])
                        )
                        step = SpecStep(
                            name, {"i": me, "j": peer}, (k,), hide=hide, message=request
                        )
                        sent.append((last, step))
            sent.sort(key=lambda s: s[0])  # stable: each peer's sends keep their order
            for k in range(max(len(log) - new, 0) + (1 if noop else 0), len(log)):
                while sent and sent[0][0] <= k:
                    steps.append(attrs.evolve(sent.pop(0)[1], log_upto=k))
                v = log[k]["value"]
                steps.append(
                    SpecStep("ClientRequest", {"i": me, "v": v}, log_upto=k + 1, hide=hide)
                )
            steps.extend(step for _, step in sent)
        return tuple(steps)


# -- the cluster --------------------------------------------------------------------------------------


def ids(n: int) -> tuple[str, ...]:
    return tuple(f"s{k}" for k in range(1, n + 1))


# How a client must read LEADER_CHANGED: PySyncObj documents it as "leader has changed without
# command commit" (a failure), but a command forwarded to the old leader may already be in its log
# and commit later (traces/pysyncobj/findings/, docs/pysyncobj.md). "documented" holds
# PySyncObj to its documentation; "unknown" reads it as an unknown outcome, what a client can
# safely assume, so that free runs look past this finding for others.
ANSWERS = {
    "documented": frozenset({FAIL_REASON.UNKNOWN_OUTCOME}),
    "unknown": frozenset({FAIL_REASON.UNKNOWN_OUTCOME, FAIL_REASON.LEADER_CHANGED}),
}


def plugin(
    nodes: int,
    *,
    log: NdjsonLog | None = None,
    tick: int = TICK,
    answers: str = "unknown",
    tcp: bool = True,
    actions: Mapping[str, Sequence[str]] | None = None,
) -> AdapterPlugin:
    """The simulator plug-in of a PySyncObj cluster of `nodes` nodes (s1..sN); `actions`, the
    spec's action table (name -> parameters), checks every step the adapter names against it."""
    names = ids(nodes)
    unknown = ANSWERS[answers]
    return AdapterPlugin(
        "pysyncobj",
        lambda i: PySyncObjDriver(i, names, tick, unknown, tcp),
        message_record,
        variables=VARIABLES,
        ghosts=(Ghost("committed", (), raft_committed),),
        log=log,
        log_view=log_view,
        actions=actions,
        spec="RaftPipelined.tla",
    )


def pysyncobj_cluster(
    nodes: int = 3,
    *,
    seed: int = 0,
    faults: Faults | None = None,
    workload: Workload | None = None,
    log: NdjsonLog | None = None,
    latency: tuple[int, int] = (1, 10),
    record: bool = True,
    answers: str = "unknown",
    tcp: bool = True,
    actions: Mapping[str, Sequence[str]] | None = None,
) -> Simulator[Any]:
    """A simulated PySyncObj cluster: s1..sN under `faults`, with `workload`'s client."""
    config = SimConfig(
        seed=seed,
        latency=latency,
        faults=faults if faults is not None else Faults(),
        workload=workload,
        record=record,
    )
    sim: Simulator[Any] = Simulator(
        plugin(nodes, log=log, answers=answers, tcp=tcp, actions=actions), ids(nodes), config
    )
    return sim

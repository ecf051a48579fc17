"""Validation of merged logs against a spec, with what each node logged of its state only.

A log names, for each step, the node, the action and its parameters, and any subset of that node's
variables after it (format.py). What it leaves out (the message bag, the ghost variables, the other
nodes' slices, the variables the implementation does not expose) stays unknown, so the walk keeps a
*frontier*: every spec state (TLC's, through the Stepper) that the records so far allow. For each
record in merged order it takes every candidate's successors under the record's action instance
(the message `m` is no parameter of TLC's instance, as in property_tests/raft/validation.py; when the
record gives it, only successors that took that message from the bag, or put it there, are kept)
and keeps those that agree with every variable the record gives at its node.

The network's own steps (DuplicateMessage, DropMessage) are no node's to log. They are inferred:

- Drops, by reading ahead. After each record the walk drops, as hidden DropMessage steps (TLC's
  own successors), every message in flight that no later record receives: a later record that
  gives its message `m` keeps that message; one that gives none keeps every message from its `j`
  to its `i` (the message's `msource` and `mdest`). Without this the bag of every candidate keeps
  each message the run lost, and copying and fingerprinting it makes each step dearer than the
  last. Dropping early changes no verdict: a message nobody receives enables nothing later, and an
  empty or smaller bag only enables more (QuietElection, MaxInFlight), so a record explained
  without the drops is explained with them, and the path found with them is a behaviour of the
  spec. What the drops do take is budget (a fault and a drop each): they keep RESERVE faults
  beyond the log's later restarts, stop when they would go below it, and a record nothing
  explains once a candidate is that low is "unknown" (the budget the drops spent might have
  explained it), never "invalid". models/Logs.cfg's budgets make that a bound no log reaches.
- Duplications, when needed: a message received a second time (no longer in the bag) is
  explained by a duplication before its first receipt (the walk goes back to the earlier record
  that received the same message, inserts DuplicateMessage there and walks forward again); and
  when nothing else explains a record, the walk tries up to `max_hidden` network steps before it.

The frontier is bounded (`max_frontier`): past the bound it is cut to its first candidates. A run
explained after a cut is "valid", and rightly so: every state kept is one the spec reaches by the
records so far, so the path that explains the last record is a behaviour of the spec, whatever
the candidates cut off would have done. A cut can only lose explanations, never make one up, so
it is a record no candidate explains after a cut that is in doubt: that is "unknown", never
"invalid". The same holds for the deadline: out of time is "unknown".

On a record nothing explains: its file and line, the action instance that came closest (the
successor that disagrees on the fewest logged variables, with each logged value against the
spec's), or, when the instance has no successor at all, its first false guard by its TLA+ text
(guards.py).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from typing import Literal

import attrs

from meshcheck import words
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.specs.tlc import cfg
from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.traces.logs import hotstuff
from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.format import merge
from meshcheck.traces.logs.gossip import fit_gossip
from meshcheck.traces.logs.guards import first_false
from meshcheck.traces.logs.hybrid import fit_hybrid
from meshcheck.traces.logs.routing import fit_routing

MAX_FRONTIER = 512
MAX_HIDDEN = 2
# how far back (records) a duplicated message's first receipt is looked for
BACKTRACK = 5000
# duplications inside the walk back for another (a message duplicated while a duplicate of another
# was in flight)
MAX_NESTED = 4
# how far back (records) a receive that names no message is explained again when a later record
# finds no explanation (`Validator._backtrack`)
RETHINK = 64
# candidates looked at for the diagnosis
DIAGNOSE = 32
# the default budget of one validation (seconds): past it the verdict is "unknown", never silence
BUDGET_SECONDS = 300.0
PROGRESS_EVERY = 2.0  # seconds between progress reports (the first after PROGRESS_AFTER)
PROGRESS_AFTER = 3.0


def as_logged(records: Sequence[LogRecord]) -> Sequence[LogRecord]:
    return records


def no_fit(records: Sequence[LogRecord], constants: Mapping[str, Value]) -> dict[str, str]:
    return {}


@attrs.frozen
class Network:
    """How a spec models the network, as the walk infers its hidden steps: the bag variable (a
    function from message records to their counts), the fields of a message record naming its
    sender and its receiver, the actions that drop one message (without parameters) and duplicate
    one, and the field of the `budget` record a drop spends beside `fault`. Raft's and PBFT's
    names are the defaults; Gossip.tla's are its own."""

    bag: str = "messages"
    source: str = "msource"
    dest: str = "mdest"
    drop: str = "DropMessage"
    duplicate: str = "DuplicateMessage"
    drop_budget: str = "drop"

    @property
    def hidden(self) -> tuple[str, str]:
        return (self.duplicate, self.drop)


@attrs.frozen
class LogSpec:
    """A spec meshcheck validates logs of: the .tla and its default model (package, path); the
    steps no node logs that a record implies (`implied`: action -> (the hidden action, {its
    parameter: the record's parameter it takes}), taken before the record wherever enabled:
    PBFT's client sends a request before any replica pre-prepares it) or that may have to come
    first (`enabling`, below); and the constants the logs decide (`fit`: the records and the
    model's constants -> {constant: TLA+ value text}), for a spec whose model must name what the
    run held (PBFT's requests)."""

    spec: tuple[str, str]
    model: tuple[str, str]
    implied: Mapping[str, tuple[str, Mapping[str, str]]] = attrs.field(factory=dict)
    # action -> a hidden action any of whose instances may come first, when nothing explains the
    # record without one: the first enabled instance is taken (sound where the hidden action only
    # enables more: PBFT's Request(r) makes a replica wait, which lets it time out)
    enabling: Mapping[str, str] = attrs.field(factory=dict)
    fit: Callable[[Sequence[LogRecord], Mapping[str, Value]], dict[str, str]] = no_fit
    network: Network = Network()
    # variables a node logs as a partial function: a key it leaves out holds the value the spec's
    # initial state gives it at that node (Gossip.tla's entries: a key a node holds no entry for
    # is Nil; a node cannot log the keys it never heard of)
    sparse: frozenset[str] = frozenset()
    # the records with their values as the spec's, where a log names them more briefly than the
    # spec's values are (HotStuff's blocks, by view and parent view: traces/logs/hotstuff.py)
    decode: Callable[[Sequence[LogRecord]], Sequence[LogRecord]] = as_logged
    # a spec value as the log spells it, for the diagnosis (a HotStuff block by view and parent)
    show: Callable[[Value], Value] | None = None


SPARE = "unbatched"


def _tla_set(names: Iterable[str]) -> str:
    return "{" + ", ".join(f'"{n}"' for n in sorted(names)) + "}"


def fit_pbft(records: Sequence[LogRecord], constants: Mapping[str, Value]) -> dict[str, str]:
    """PBFT.tla's Requests, MaxView and MaxSeq for these records: every request a record
    pre-prepares or shows executed (the Noop aside), views up to one above the highest logged (a
    view change under way), and sequence numbers a window above the highest logged (a primary
    pre-prepares up to its stable checkpoint plus the window, and no record need show that
    number)."""
    requests: set[str] = set()
    views, seqs = [0], [0]
    for r in records:
        req = r.params.get("r")
        if isinstance(req, str):
            requests.add(req)
        if isinstance(r.params.get("v"), int):
            views.append(r.params["v"])
        if isinstance(r.params.get("n"), int):
            seqs.append(r.params["n"])
        state = r.state
        if isinstance(state.get("view"), int):
            views.append(state["view"])
        if isinstance(state.get("stable"), int):
            seqs.append(state["stable"])
        executed = state.get("executed")
        if isinstance(executed, tuple):
            seqs.append(len(executed))
            requests.update(e for e in executed if isinstance(e, str))
    requests.discard("noop")
    requests.add(SPARE)  # a request a replica waited for that no batch of the logs holds
    window = constants.get("Window")
    every = constants.get("CheckpointEvery")
    if not isinstance(window, int) or not isinstance(every, int) or every < 1:
        raise LogFormatError(
            "model",
            "Window" if not isinstance(window, int) else "CheckpointEvery",
            "the PBFT model must give Window and CheckpointEvery as whole numbers "
            f"(it gives Window = {format_value(window)}, CheckpointEvery = {format_value(every)})",
        )
    top = max(seqs) + window
    return {
        "Requests": _tla_set(requests),
        "MaxView": str(max(views) + 1),
        "MaxSeq": str(top + (-top) % every),  # a checkpoint number, so its checkpoint is modelled
    }


# spec name -> what validation needs of it (LogSpec); the default models' bounds and budgets are
# far beyond a log's (property_tests/raft/models/Logs.cfg) or fitted to it (models/PBFT.cfg)
SPECS: dict[str, LogSpec] = {
    "Raft": LogSpec(
        ("meshcheck.specs", "Raft.tla"),
        ("meshcheck.property_tests.raft", "models/Logs.cfg"),
    ),
    # Raft with pipelined AppendEntries (PySyncObj's logs, property_tests/pysyncobj/validation.py)
    "RaftPipelined": LogSpec(
        ("meshcheck.specs", "RaftPipelined.tla"),
        ("meshcheck.property_tests.pysyncobj", "models/Logs.cfg"),
    ),
    # etcd's Raft library through drivers/etcd-raft (docs/etcd-raft.md, "Trace validation")
    "RaftEtcd": LogSpec(
        ("meshcheck.specs", "RaftEtcd.tla"),
        ("meshcheck.traces.logs", "models/RaftEtcd.cfg"),
    ),
    # PBFT replicas' logs (impl/runtime/pbft_log.py): the client's requests are inferred
    "PBFT": LogSpec(
        ("meshcheck.specs", "PBFT.tla"),
        ("meshcheck.traces.logs", "models/PBFT.cfg"),
        implied={"PrePrepare": ("Request", {"r": "r"})},
        # a replica times out waiting for a request of the client's that no batch yet holds
        enabling={"StartViewChange": "Request"},
        fit=fit_pbft,
    ),
    # gossip nodes' logs (impl/runtime/gossip_log.py), through GossipLogs.tla (Push narrowed to the
    # key sets the logs show): a node killed and started again is Crash(i), which no node logs,
    # then its Restart(i)
    "Gossip": LogSpec(
        ("meshcheck.specs", "GossipLogs.tla"),
        ("meshcheck.traces.logs", "models/Gossip.cfg"),
        implied={"Restart": ("Crash", {"i": "i"})},
        fit=fit_gossip,
        network=Network(
            bag="msgs", source="from", dest="to", drop="LoseMessage", drop_budget="loss"
        ),
        sparse=frozenset({"entries", "own"}),
    ),
    # the hybrid dispatcher's nodes' logs (impl/runtime/hybrid_log.py), through HybridLogs.tla
    # (each Order the node's own, and a restart): the client's proposal is inferred
    "Hybrid": LogSpec(
        ("meshcheck.specs", "HybridLogs.tla"),
        ("meshcheck.traces.logs", "models/Hybrid.cfg"),
        implied={"OrderOp": ("Submit", {"o": "o"})},
        fit=fit_hybrid,
    ),
    # HotStuff replicas' logs (impl/runtime/hotstuff_log.py), through HotStuffLogs.tla (Vote's and
    # FormQC's blocks narrowed to those the logs name); a block logged by its view and its parent's
    "HotStuff": LogSpec(
        ("meshcheck.specs", "HotStuffLogs.tla"),
        ("meshcheck.traces.logs", "models/HotStuff.cfg"),
        fit=hotstuff.fit_hotstuff,
        decode=hotstuff.decode,
        show=hotstuff.spelled,
    ),
    # the manager's routing log in a cluster run (meshcheck/cluster/routing_log.py), one node, the
    # manager, through RoutingLogs.tla (told[Manager]: what it last told a submitter)
    "Routing": LogSpec(
        ("meshcheck.specs", "RoutingLogs.tla"),
        ("meshcheck.traces.logs", "models/Routing.cfg"),
        fit=fit_routing,
    ),
}
BUDGET = "budget"
# fault budget a hidden drop leaves untouched beyond the log's own later restarts: more than any
# search for a failing record's explanation spends (max_hidden network steps, MAX_NESTED + 1
# duplications)
RESERVE = 32
_MISSING: Any = object()

# progress(record index, records, frontier size, seconds so far)
Progress = Callable[[int, int, int, float], None]


def _per_node(first: Mapping[str, Value], names: Iterable[Any]) -> frozenset[str]:
    """The variables that are functions of the nodes, logged as their value at the node: those
    whose domain is the model's servers (model values: Raft's Server), or, in a spec whose nodes
    are strings (PBFT.tla's "r1".."rN"), the string domain the most variables share."""
    servers = frozenset(names)
    by_servers = frozenset(
        v
        for v, value in first.items()
        if isinstance(value, FrozenDict) and value and all(k in servers for k in value)
    )
    if by_servers:
        return by_servers
    domains: dict[frozenset[Any], list[str]] = {}
    for v, value in first.items():
        if isinstance(value, FrozenDict) and value and all(isinstance(k, str) for k in value):
            domains.setdefault(frozenset(value), []).append(v)
    if not domains:
        return frozenset()
    best: list[str] = max(domains.values(), key=len)
    return frozenset(best)


class _OutOfTime(Exception):
    """The budget ran out inside the walk (run turns it into an "unknown" verdict)."""


@attrs.frozen
class Diagnosis:
    """Why a record is no step of the spec."""

    source: str  # file:line of the record
    record: str  # its action instance as logged
    closest: str  # the instance that came closest
    reason: str  # what was wrong with it
    enabled: bool = True  # whether the record's action instance had a successor at all

    def render(self) -> str:
        return (
            f"{self.source}: {self.record} is no step of the spec\n"
            f"  closest: {self.closest}\n  {self.reason}"
        )


@attrs.frozen
class Verdict:
    """The outcome: "valid" (a behaviour of the spec explains every record), "invalid" (record
    `diagnosis.source` has no explanation), "unknown" (no explanation after the frontier was cut
    or the drops neared the fault reserve, or out of time: `reason` says which)."""

    verdict: Literal["valid", "invalid", "unknown"]
    records: int
    steps: int  # records explained
    seconds: float
    frontier: int  # the largest frontier
    hidden: int  # network steps inserted
    cut: int  # times the frontier was cut to max_frontier
    dropped: int = 0  # messages dropped as no later record receives them
    implied: int = 0  # steps no node logs, taken where a record implies them (LogSpec.implied)
    diagnosis: Diagnosis | None = None
    reason: str = ""
    # where the walk stopped, in the lines of the files the user has open: the record it could
    # not explain ("file:line"), and each file's last record it did explain
    at: str = ""
    upto: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict == "valid"

    def where(self) -> str:
        """ " at FILE:LINE: explained up to line N, OTHER:M", or "" for a valid log: the counts a
        reader of the logs can jump to (a count of records over merged files is no line)."""
        if not self.at:
            return ""
        file = self.at.rpartition(":")[0]
        ends = [
            f"line {s.rpartition(':')[2]}" if s.rpartition(":")[0] == file else s
            for s in sorted(self.upto, key=lambda s: s.rpartition(":")[0] != file)
        ]
        said = ", ".join(ends[:-1]) + " and " + ends[-1] if len(ends) > 1 else "".join(ends)
        return f" at {self.at}: explained up to {said or 'no record'}"

    def render(self) -> str:
        rate = self.steps / self.seconds if self.seconds > 0 else 0.0
        counted = f"{self.steps} of {words.count(self.records, 'step')}"
        head = (
            f"{self.verdict}{self.where()}"
            + (f" ({counted}) in " if self.at else f": {counted} explained in ")
            + ""
            f"{self.seconds:.2f} s ({rate:,.0f} steps/s; largest frontier {self.frontier}, "
            f"{words.count(self.hidden, 'network step')} inferred"
            + (
                f", {words.count(self.dropped, 'message')} never received dropped"
                if self.dropped
                else ""
            )
            + (f", {words.count(self.implied, 'implied step')} inferred" if self.implied else "")
            + (f", frontier cut {words.count(self.cut, 'time')}" if self.cut else "")
            + ")"
        )
        if self.reason:
            head += f"\n{self.reason}"
        if self.diagnosis is not None:
            head += "\n" + self.diagnosis.render()
        return head


@attrs.frozen
class _Prepared:
    record: LogRecord
    instance: ActionInstance
    message: Any  # TLC value of params["m"], or None
    known: tuple[tuple[str, str | None, Value], ...]  # (variable, node or None, logged value)


@attrs.frozen
class _Plan:
    """What the records ahead say of the bag (the read-ahead): after record k, a message in flight
    is dead, and dropped, when no record after k receives it."""

    last_receipt: dict[int, int]  # message fingerprint -> the last record that receives it
    last_blind: dict[tuple[Value, Value], int]  # (i, j) -> the last receive by i from j without m
    restarts_after: list[int]  # k -> Restart records after record k

    def dead(self, fp: int, key: tuple[Value, Value] | None, k: int) -> bool:
        if self.last_receipt.get(fp, -1) > k:
            return False
        if key is None:  # a message without mdest and msource: any blind receive may take it
            return all(last <= k for last in self.last_blind.values())
        return self.last_blind.get(key, -1) <= k


def log_spec_of(spec: Path) -> LogSpec | None:
    """What validation knows of the spec at `spec` (by its file's name), if anything."""
    return next((s for s in SPECS.values() if Path(s.spec[1]).name == spec.name), None)


def validation_model(spec: str) -> Path:
    """The default model a spec of SPECS is validated against (LogFormatError for another spec,
    which needs --model)."""
    if spec not in SPECS:
        raise LogFormatError(spec, "", "a spec outside meshcheck needs --model")
    model_pkg, model_file = SPECS[spec].model
    return Path(str(resources.files(model_pkg).joinpath(model_file)))


def model_text(
    spec: str, records: Sequence[LogRecord], model: Path, settings: Mapping[str, str]
) -> str:
    """The text of the model `records` are validated against: `model` with the constants
    `settings` gives (TLA+ text, `meshcheck validate --set`), then those the spec's `fit` decides
    from the records, unless `settings` gives them."""
    text = cfg.with_constants(model.read_text(encoding="utf-8"), dict(settings), model)
    found = SPECS.get(spec)
    if found is None:
        return text
    fitted = found.fit(records, cfg.parse_cfg(text, model).values())
    rest = {k: v for k, v in fitted.items() if k not in settings}
    return cfg.with_constants(text, rest, model) if rest else text


@functools.cache
def stepper_for(spec: str, model: str | None = None) -> Stepper:
    """The process's Stepper for a spec (a name of SPECS or a .tla path) and a model (default: the
    spec's validation model). Loading TLC costs a second or more, so each is made once."""
    if spec in SPECS:
        spec_pkg, spec_file = SPECS[spec].spec
        spec_path = Path(str(resources.files(spec_pkg).joinpath(spec_file)))
        model_path = Path(model) if model else validation_model(spec)
    else:
        spec_path = Path(spec)
        if model is None:
            raise LogFormatError(spec, "", "a spec outside meshcheck needs --model")
        model_path = Path(model)
    return Stepper(spec_path, model_path)


class Validator:
    """The walk of one spec and model (see the module)."""

    def __init__(
        self,
        stepper: Stepper,
        *,
        max_frontier: int = MAX_FRONTIER,
        max_hidden: int = MAX_HIDDEN,
        read_ahead: bool = True,
    ) -> None:
        self.stepper = stepper
        self.read_ahead = read_ahead
        self.max_frontier = max_frontier
        self.max_hidden = max_hidden
        self.init = stepper.init_states()
        first = self.init[0].values
        self.per_node = _per_node(first, stepper.model_values)
        self.nodes = frozenset(k for v in self.per_node for k in first[v] if isinstance(k, str))
        self.instances = frozenset(stepper.actions)
        self.params: dict[str, tuple[str, ...]] = {}
        for inst in stepper.actions:
            self.params.setdefault(inst.name, tuple(inst.params))
        found = log_spec_of(stepper.spec)
        self.network = net = found.network if found is not None else Network()
        self.sparse = found.sparse if found is not None else frozenset()
        self.decode = found.decode if found is not None else as_logged
        self.show = found.show if found is not None else None
        self.hidden = tuple(a for a in stepper.actions if a.name in net.hidden)
        self.implied = dict(found.implied) if found is not None else {}
        enabling = found.enabling if found is not None else {}
        self.enabling = {
            action: tuple(a for a in stepper.actions if a.name == hidden)
            for action, hidden in enabling.items()
        }
        self._implied = 0  # implied steps taken (`_advance`)
        self._shapes: dict[ActionInstance, Any] = {}
        self._inserted = 0
        rt = stepper.rt
        self._action_class = rt.jclass("tlc2.tool.Action")
        self._fcn_type = rt.jclass("tlc2.value.impl.FcnRcdValue")
        fp64 = rt.jclass("tlc2.util.FP64")
        fp64.Init()  # idempotent (the Stepper did it); without it every fingerprint is 0
        self._seed = int(fp64.New())  # the start of every fingerprint TLC computes
        self._as_list = rt.jclass("java.util.Arrays").asList
        unique = stepper.rt.jclass("util.UniqueString").uniqueStringOf
        self._bag_key = unique(net.bag) if net.bag in stepper.vars else None
        self._drop = next((a for a in stepper.actions if a.name == net.drop and not a.params), None)
        self._budget_key = unique(BUDGET) if BUDGET in stepper.vars else None
        # bag fingerprint -> its messages: (fingerprint, TLC value, count, (mdest, msource) or None)
        self._bags: dict[int, tuple[tuple[int, Any, int, Any], ...]] = {}
        self._plan: _Plan | None = None
        self._dropped: set[int] = set()  # messages dropped (every copy) on the walk
        self._spent = False  # whether any hidden drop was made
        self._routes: dict[int, tuple[Value, Value] | None] = {}  # message fp -> (mdest, msource)
        self._failed: set[tuple[int, frozenset[int]]] = set()  # rewalks that found nothing
        # record index -> the messages duplicated just before it (in history[index]), carried
        # into every later walk that passes it (`_walk_from`)
        self._copies: dict[int, list[Any]] = {}
        # backtracks (blind receive, failing record, frontier before it) that found nothing
        self._failed_blind: set[tuple[int, int, frozenset[int]]] = set()
        self._closest: list[State] | None = None  # a rewalk's frontier before the failing record
        # the budget and the progress report of the run under way (`_tick`)
        self._deadline: float | None = None
        self._progress: Progress | None = None
        self._start = self._next_report = 0.0
        self._at = self._records = self._width = 0

    # ------------------------------------------------------------------ input

    def prepare(self, record: LogRecord) -> _Prepared:
        """The record checked against the spec: LogFormatError for an action, a variable, a node or
        a parameter the spec does not have."""
        st = self.stepper
        src = record.source
        if record.action not in self.params:
            raise LogFormatError(
                src,
                "action",
                f"{record.action!r} is not an action of {st.spec.stem} "
                f"(its actions: {', '.join(st.action_names)})",
            )
        if record.node not in self.nodes:
            raise LogFormatError(
                src,
                "node",
                f"{record.node!r} is not a server of the model {st.config.name} "
                f"({', '.join(sorted(self.nodes))})",
            )
        known: list[tuple[str, str | None, Value]] = []
        for var, value in record.state.items():
            if var not in st.vars:
                raise LogFormatError(
                    src,
                    f"state.{var}",
                    f"{st.spec.stem} has no variable {var!r} (it has {', '.join(st.vars)})",
                )
            if var in self.sparse and var in self.per_node:
                value = self._complete(var, record.node, value, src)
            known.append((var, record.node if var in self.per_node else None, value))
        params = {k: v for k, v in record.params.items() if k != "m"}
        formals = self.params[record.action]
        if set(params) != set(formals):
            takes = ", ".join(formals) if formals else "no parameters"
            raise LogFormatError(
                src,
                "params",
                f"{record.action} takes {takes} (and m, the message), found "
                f"{', '.join(sorted(record.params)) or 'none'}",
            )
        if "i" in params and params["i"] != record.node:
            raise LogFormatError(
                src, "params.i", f"{format_value(params['i'])} but the node is {record.node!r}"
            )
        instance = ActionInstance(record.action, {f: params[f] for f in formals})
        if instance not in self.instances:
            raise LogFormatError(
                src, "params", f"{instance.label()} is no action instance of the spec's Next"
            )
        message = None
        if "m" in record.params:
            try:
                message = st.values.to_tlc(record.params["m"])
            except Exception as exc:
                raise LogFormatError(src, "params.m", f"not a value of the spec: {exc}") from None
        return _Prepared(record, instance, message, tuple(known))

    def _complete(self, var: str, node: str, value: Value, src: str) -> Value:
        """A sparse variable's logged value at `node` with every key it leaves out at its initial
        value there (LogSpec.sparse)."""
        initial = self.init[0][var]
        base = initial.get(node) if isinstance(initial, FrozenDict) else None
        if value == ():  # an empty function, as ITF's empty array reads
            value = FrozenDict()
        if not isinstance(base, FrozenDict) or not isinstance(value, FrozenDict):
            raise LogFormatError(
                src, f"state.{var}", f"{format_value(value)} is no function of the model's keys"
            )
        strange = [k for k in value if k not in base]
        if strange:
            raise LogFormatError(
                src,
                f"state.{var}",
                f"{format_value(strange[0])} is not a key of the model "
                f"({', '.join(format_value(k) for k in base)})",
            )
        return FrozenDict({**base, **value})

    # ------------------------------------------------------------------ the walk

    def _count(self, state: State, message: Any) -> int:
        return self._jcount(state.java, message)

    def _jcount(self, java: Any, message: Any) -> int:
        """How many copies of `message` the bag of a TLC state holds: one search in Java over the
        function's domain (`select` throws on a missing argument, `getDomain` copies the domain)."""
        bag = java.lookup(self._bag_key)
        if isinstance(bag, self._fcn_type):
            index = int(self._as_list(bag.domain).indexOf(message))
            return 0 if index < 0 else int(bag.values[index].val)
        if not bool(bag.getDomain().member(message)):
            return 0
        return int(bag.select(message).val)

    def _bound(self, p: _Prepared) -> list[Any] | None:
        r"""TLC actions for `p`'s instance with its message `m` bound: the body of `\E m \in S :
        body` in the instance's context plus m, which TLC steps without trying every message of the
        bag. None when the instance's action is not of that shape or the record gives no m."""
        if p.message is None:
            return None
        found = self._shape(p.instance)
        if found is None:
            return None
        action = self._action_class
        return [
            action(body, act.con.cons(sym, p.message), act.getOpDef()) for body, sym, act in found
        ]

    def _shape(self, instance: ActionInstance) -> list[tuple[Any, Any, Any]] | None:
        r"""(body, m, TLC action) of each TLC action of an instance of the shape `\E m \in S :
        body` (a receive: it takes a message m from the bag), or None."""
        found = self._shapes.get(instance, _MISSING)
        if found is _MISSING:
            found = []
            for act in self.stepper.java_actions(instance):
                pred = act.pred
                if str(pred.getClass().getSimpleName()) != "OpApplNode":
                    found = None
                    break
                symbols = (
                    pred.getBdedQuantSymbolLists()
                    if str(pred.getOperator().getName()) == "$BoundedExists"
                    else None
                )
                if (
                    symbols is None
                    or len(symbols) != 1
                    or len(symbols[0]) != 1
                    or str(symbols[0][0].getName()) != "m"
                ):
                    found = None
                    break
                found.append((pred.getArgs()[0], symbols[0][0], act))
            self._shapes[instance] = found
        return found  # type: ignore[no-any-return]

    def _successors(self, c: State, p: _Prepared) -> list[State]:
        """The successors of c by p's instance that agree with p's message, if it gives one."""
        if p.message is None or self._bag_key is None:
            return self.stepper.successors_where(c, p.instance, _always)
        bound = self._bound(p)
        before = self._count(c, p.message)
        if bound is None:
            m = p.message
            return self.stepper.successors_where(
                c, p.instance, lambda java: self._jcount(java, m) != before
            )
        if before == 0:
            return []
        return self.stepper.successors_where(c, p.instance, lambda java: True, bound)

    def _took(self, before: State, after: State, message: Any) -> bool:
        if self._bag_key is None:
            return True
        return self._count(before, message) != self._count(after, message)

    def _agrees(self, state: State, known: tuple[tuple[str, str | None, Value], ...]) -> bool:
        for var, node, value in known:
            v = state[var]
            if node is not None:
                assert isinstance(v, FrozenDict)
                v = v.get(node)
            if v != value:
                return False
        return True

    def _advance(self, frontier: Sequence[State], p: _Prepared) -> list[State]:
        found: list[State] = []
        implied = self._implied_instance(p.instance)
        for c in frontier:
            self._tick()
            if implied is not None:
                before = self.stepper.successors_of(c, implied)
                self._implied += bool(before)
                starts = before or [c]
            else:
                starts = [c]
            for start in starts:
                found.extend(s for s in self._successors(start, p) if self._agrees(s, p.known))
        if not found and p.instance.name in self.enabling:
            for c in frontier:
                for inst in self.enabling[p.instance.name]:
                    before = self.stepper.successors_of(c, inst)
                    after = [
                        s
                        for b in before
                        for s in self._successors(b, p)
                        if self._agrees(s, p.known)
                    ]
                    if after:
                        self._implied += 1
                        found.extend(after)
                        break
        return _distinct(found)

    def _implied_instance(self, instance: ActionInstance) -> ActionInstance | None:
        """The hidden step `instance` implies (LogSpec.implied), taken where enabled."""
        rule = self.implied.get(instance.name)
        if rule is None:
            return None
        name, mapping = rule
        return ActionInstance(name, {k: instance.params[v] for k, v in mapping.items()})

    def _hidden(self, frontier: Sequence[State], message: Any = None) -> list[State]:
        """The states one network step away (DuplicateMessage, DropMessage); with `message`, only
        duplications of it."""
        out: dict[int, State] = {}
        for c in frontier:
            self._tick()
            for inst in self.hidden:
                if message is not None and inst.name != self.network.duplicate:
                    continue
                if message is None:
                    found = self.stepper.successors_of(c, inst)
                else:
                    n = self._count(c, message)
                    found = self.stepper.successors_where(
                        c, inst, lambda java, n=n: self._jcount(java, message) > n
                    )
                for s in found:
                    out.setdefault(s.fingerprint, s)
                    if len(out) >= self.max_frontier:
                        return list(out.values())
        return list(out.values())

    def _with_copy(self, state: State, message: Any) -> State | None:
        """`state` with one more copy of `message` in the bag and the duplication's budget spent
        (None when the budget has none left): the state a DuplicateMessage of `message` made
        earlier, while it was in flight, leads to. Only a filter (`_blind_rewalk`): a message it
        finds is then duplicated by TLC's own DuplicateMessage and the records walked again."""
        assert self._bag_key is not None and self._budget_key is not None
        budget = state[BUDGET]
        if not isinstance(budget, FrozenDict) or budget["fault"] < 1 or budget["duplicate"] < 1:
            return None
        bag = state[self.network.bag]
        if not isinstance(bag, FrozenDict):  # the empty function reads as the empty tuple
            bag = FrozenDict()
        m = self.stepper.to_python(message)
        values = self.stepper.values
        java = state.java.copy()
        java.bind(self._bag_key, values.to_tlc(FrozenDict({**bag, m: bag.get(m, 0) + 1})))
        spent = {**budget, "fault": budget["fault"] - 1, "duplicate": budget["duplicate"] - 1}
        java.bind(self._budget_key, values.to_tlc(FrozenDict(spent)))
        return State(java, None, state._vars)

    def _route_of(self, py: Value) -> tuple[Value, Value] | None:
        """(receiver, sender) of a message record (None for a record without them)."""
        net = self.network
        if isinstance(py, FrozenDict) and net.dest in py and net.source in py:
            return (py[net.dest], py[net.source])
        return None

    def _route(self, m: Any) -> tuple[Value, Value] | None:
        """(receiver, sender) of a TLC message value, memoized by its fingerprint."""
        fp = int(m.fingerPrint(self._seed))
        found = self._routes.get(fp, _MISSING)
        if found is _MISSING:
            found = self._route_of(self.stepper.to_python(m))
            self._routes[fp] = found
        return found  # type: ignore[no-any-return]

    def _tick(self) -> None:
        """Out of the budget: raise _OutOfTime (run turns it into "unknown"); every second or so,
        the progress callback."""
        now = time.monotonic()
        if self._deadline is not None and now > self._deadline:
            raise _OutOfTime
        if self._progress is not None and now >= self._next_report:
            self._next_report = now + PROGRESS_EVERY
            self._progress(self._at, self._records, self._width, now - self._start)

    def _make_plan(self, prepared: Sequence[_Prepared]) -> _Plan | None:
        """The read-ahead (see the module), or None when hidden drops are off: no bag, no DropMessage
        or budget in the spec, or a record that logs a variable that is no node's (the bag or the
        budget may be among them, and a drop changes both)."""
        if (
            not self.read_ahead
            or self._bag_key is None
            or self._drop is None
            or self._budget_key is None
        ):
            return None
        if any(node is None for p in prepared for _var, node, _value in p.known):
            return None
        seed = self._seed
        last_receipt: dict[int, int] = {}
        last_blind: dict[tuple[Value, Value], int] = {}
        restarts_after = [0] * len(prepared)
        restarts = 0
        for k in range(len(prepared) - 1, -1, -1):
            restarts_after[k] = restarts
            p = prepared[k]
            if p.instance.name == "Restart":
                restarts += 1
            if self._shape(p.instance) is None:
                continue  # no receive: a message it names is one it sends
            if p.message is not None:
                last_receipt.setdefault(int(p.message.fingerPrint(seed)), k)
            else:
                key = (p.instance.params.get("i"), p.instance.params.get("j"))
                last_blind.setdefault(key, k)
        return _Plan(last_receipt, last_blind, restarts_after)

    def _messages(self, java: Any) -> tuple[tuple[int, Any, int, Any], ...]:
        """The bag of a TLC state: (fingerprint, TLC value, count, (mdest, msource) or None) for
        each message, memoized by the bag's fingerprint. The key is read only when some record
        receives without naming its message (else no drop depends on it)."""
        bag = java.lookup(self._bag_key)
        if not isinstance(bag, self._fcn_type):
            if bool(bag.getDomain().isEmpty()):
                return ()
            bag = bag.toFcnRcd()
        seed = self._seed
        bfp = int(bag.fingerPrint(seed))
        found = self._bags.get(bfp)
        if found is None:
            blind = self._plan is not None and bool(self._plan.last_blind)
            convert = self.stepper.to_python
            entries = []
            domain, counts = bag.domain, bag.values
            for i in range(len(domain)):
                m = domain[i]
                key = None
                if blind:
                    key = self._route_of(convert(m))
                entries.append((int(m.fingerPrint(seed)), m, int(counts[i].val), key))
            found = tuple(entries)
            if len(self._bags) > 100_000:
                self._bags.clear()
            self._bags[bfp] = found
        return found

    def _settle(self, states: list[State], k: int) -> list[State]:
        """After record k: each state with the messages no later record receives dropped (hidden
        DropMessage steps), while the fault budget keeps RESERVE beyond the later restarts."""
        plan = self._plan
        if plan is None or not states:
            return states
        reserve = plan.restarts_after[k] + RESERVE
        out: list[State] = []
        for s in states:
            gone = 0  # messages dropped before this one, which sat earlier in the bag
            left: int | None = None  # drops the budget allows
            for index, (fp, m, count, key) in enumerate(self._messages(s.java)):
                if not plan.dead(fp, key, k):
                    continue
                if left is None:
                    budget = s[BUDGET]
                    assert isinstance(budget, FrozenDict)
                    left = min(
                        budget["fault"] - reserve, budget[self.network.drop_budget] - RESERVE
                    )
                copies = max(0, min(count, left))
                for copy in range(copies):
                    s = self._drop_one(s, m, index - gone, count - copy)
                self._spent = self._spent or copies > 0
                left -= copies
                if copies == count:
                    gone += 1
                    self._dropped.add(fp)
            out.append(s)
        return _distinct(out)

    def _drop_one(self, s: State, m: Any, index: int, n: int) -> State:
        r"""s after DropMessage of one of the n copies of m, the index-th message of the bag: TLC's
        own successor. TLC enumerates `\E m \in DOMAIN messages` in the domain's order, so the
        index-th successor is tried first (and checked); the others only if it is not m's."""
        assert self._drop is not None
        position = itertools.count()

        def guess(java: Any) -> bool:
            return next(position) == index and self._jcount(java, m) < n

        found = self.stepper.successors_where(s, self._drop, guess)
        if len(found) != 1:
            found = self.stepper.successors_where(
                s, self._drop, lambda java: self._jcount(java, m) < n
            )
        assert len(found) == 1, "DropMessage of a message in the bag has one successor"
        return found[0]

    def _step(
        self, frontier: Sequence[State], prepared: Sequence[_Prepared], k: int
    ) -> list[State]:
        return self._settle(self._advance(frontier, prepared[k]), k)

    def _starved(self, frontier: Sequence[State], k: int) -> bool:
        """Whether the hidden drops may have spent budget that explaining record k needs."""
        plan = self._plan
        if plan is None or not self._spent:
            return False
        reserve = plan.restarts_after[k] + RESERVE
        for s in frontier:
            budget = s[BUDGET]
            assert isinstance(budget, FrozenDict)
            drops = budget[self.network.drop_budget]
            if budget["fault"] <= reserve + 1 or drops <= RESERVE + 1:
                return True
        return False

    def run(
        self,
        records: Sequence[LogRecord],
        *,
        deadline: float | None = None,
        budget: float | None = None,
        progress: Progress | None = None,
    ) -> Verdict:
        """The verdict on the merged records. `budget` (seconds from now) or `deadline` (a
        time.monotonic() value) bounds the walk: past it the verdict is "unknown", with the record
        reached, the frontier's size and what would help. `progress` is called every
        PROGRESS_EVERY seconds once the run has taken PROGRESS_AFTER."""
        start = time.monotonic()
        if budget is not None:
            deadline = start + budget if deadline is None else min(deadline, start + budget)
        prepared = [self.prepare(r) for r in self.decode(records)]
        self._plan = self._make_plan(prepared)
        self._dropped = set()
        self._implied = 0
        self._failed = set()
        self._failed_blind = set()
        self._copies = {}
        self._spent = False
        self._deadline, self._progress = deadline, progress
        self._start, self._next_report = start, start + PROGRESS_AFTER
        self._records = len(records)
        history: list[list[State]] = []
        frontier: list[State] = list(self.init)
        largest = len(frontier)
        hidden = cut = 0
        cut_at: int | None = None

        def verdict(kind: Literal["valid", "invalid", "unknown"], steps: int, **kw: Any) -> Verdict:
            if kind != "valid" and steps < len(prepared):  # where it stopped, in file lines
                last: dict[str, str] = {}
                for done in prepared[:steps]:
                    last[done.record.source.rpartition(":")[0]] = done.record.source
                kw.update(at=prepared[steps].record.source, upto=tuple(last.values()))
            return Verdict(
                kind,
                len(records),
                steps,
                time.monotonic() - start,
                largest,
                hidden,
                cut,
                dropped=len(self._dropped),
                implied=self._implied,
                **kw,
            )

        k = 0
        try:
            while k < len(prepared):
                p = prepared[k]
                self._at, self._width = k, len(frontier)
                self._tick()
                del history[k:]
                # the frontiers are kept for the walks back (duplications, receives taken
                # again), which need a bag; without one (PBFT.tla, HotStuff.tla) nothing walks back,
                # and keeping every frontier kept every state's values alive: HotStuff.tla's
                # `committed` is made anew at each commit, a set of chains as long as the run
                history.append(frontier if self._bag_key is not None else [])
                nxt = self._step(frontier, prepared, k)
                self._closest = None
                if not nxt:
                    self._inserted = 0
                    redone = self._rewalk(prepared, history, k, 0)
                    if redone is not None:
                        nxt = redone
                        hidden += self._inserted
                if not nxt:
                    self._inserted = 0
                    redone = self._backtrack(prepared, history, k)
                    if redone is not None:
                        nxt = redone
                        hidden += self._inserted
                if not nxt and self.hidden:
                    layer: list[State] = frontier
                    for depth in range(1, self.max_hidden + 1):
                        layer = self._hidden(layer)
                        nxt = self._step(layer, prepared, k)
                        if nxt:
                            hidden += depth
                            break
                if not nxt:
                    if cut_at is not None:
                        return verdict(
                            "unknown",
                            k,
                            reason=f"no candidate explains {p.record.source}, but the frontier was "
                            f"cut to {self.max_frontier} states at "
                            f"{prepared[cut_at].record.source} (a larger --max-frontier, or "
                            "more variables logged, decides it)",
                        )
                    if self._starved(frontier, k):
                        return verdict(
                            "unknown",
                            k,
                            reason=f"no candidate explains {p.record.source}, but the messages "
                            "dropped as never received spent the fault budget it may need (a "
                            "model with larger MaxFaults and MaxDrops decides it)",
                        )
                    found = self.diagnose(frontier, p)
                    closest = self._closest_frontier()
                    if not found.enabled and closest is not None:
                        # the record takes a message no candidate has in flight, and with the copy
                        # a duplication would put there it is still no step: report that
                        hidden += 1
                        again = self.diagnose(closest, p)
                        found = attrs.evolve(
                            again,
                            reason=again.reason + "\n  (with a second copy of the message in "
                            "flight: a duplication by the network, inferred)",
                        )
                    return verdict("invalid", k, diagnosis=found)
                if len(nxt) > self.max_frontier:
                    nxt = nxt[: self.max_frontier]
                    cut += 1
                    cut_at = k if cut_at is None else cut_at
                largest = max(largest, len(nxt))
                frontier = nxt
                k += 1
        except _OutOfTime:
            source = prepared[k].record.source
            return verdict(
                "unknown",
                k,
                reason=f"out of time at {source} (frontier of "
                f"{len(frontier)} states): raise --budget, or log more of the spec's variables "
                "(each one logged narrows the candidates)",
            )
        return verdict("valid", len(prepared))

    def _closest_frontier(self) -> list[State] | None:
        """The frontier before the failing record that a rewalk left, with a duplicated copy of
        its message in flight (None: no rewalk got that far)."""
        return self._closest

    def _backtrack(
        self, prepared: Sequence[_Prepared], history: list[list[State]], k: int
    ) -> list[State] | None:
        """Record k has no explanation, not even with a duplication of its own: perhaps an earlier
        receive that names no message took a second copy of an old one, and the walk, which had
        another message of that route in flight to explain it with, gave it that one instead (its
        effects may differ only in what the log leaves out, nextIndex, say, until a later record
        shows them). Each such receive of the last RETHINK records (the latest first) is explained
        once more with a copy of a message that is no longer in flight (`_blind_rewalk`, `until`)
        and the records after it walked again up to k; the frontier after k, or None. One receive
        at a time: when two or more took old copies, no one of them explains k (the search for
        every combination is exponential), and a correct log can then be called invalid (seed 108
        of tests/test_validate_regressions.py, 1 of 400 logs naming no message in docs/logs.md's
        survey). Saying "unknown" whenever a receive could have been explained otherwise turned
        real violations in PySyncObj's logs into unknowns too; a log whose receives name their
        message needs none of this."""
        node = prepared[k].record.node
        blind = [
            b
            for b in range(k - 1, max(-1, k - RETHINK), -1)
            if prepared[b].message is None and self._shape(prepared[b].instance) is not None
        ]
        # k's own node's receives first: its state is what k disagrees with
        blind.sort(key=lambda b: prepared[b].record.node != node)
        for b in blind:
            found = self._blind_rewalk(prepared, history, b, 0, until=k)
            if found is not None:
                return found
        return None

    def _blind_rewalk(
        self,
        prepared: Sequence[_Prepared],
        history: list[list[State]],
        k: int,
        depth: int,
        *,
        until: int | None = None,
    ) -> list[State] | None:
        """Record k receives without naming its message, and no candidate explains it: perhaps
        it took a second copy of a message from its j to its i that was in flight earlier. Each
        such message (the latest first) is tried on the frontier as if a copy were still in
        flight (`_with_copy`, a filter costing one step per candidate); only one that explains the
        record is then duplicated by TLC where it was last in flight and the records after
        walked again. The search used to duplicate (and drop) every message before every earlier
        receipt of the same kind, nested four deep: exponential in the log's length, so a short
        log whose last record is no step of the spec never got its verdict. With `until`
        (`_backtrack`): record k was explained, and a later one, `until`, was not; only messages
        no longer in flight are tried at k (a copy of one in flight explains nothing new there),
        and the walk goes on to `until`."""
        p = prepared[k]
        end = k if until is None else until
        key = (k, end, frozenset(s.fingerprint for s in history[k]))
        if until is not None and key in self._failed_blind:
            return None
        route = (p.instance.params.get("i"), p.instance.params.get("j"))
        last_seen: dict[
            int, tuple[Any, int]
        ] = {}  # message fp -> (message, last record it was in flight before)
        for t in range(k, max(-1, k - BACKTRACK), -1):
            self._tick()
            for c in history[t]:
                for fp, m, _count, _key in self._messages(c.java):
                    if fp not in last_seen and self._route(m) == route:
                        last_seen[fp] = (m, t)
        for m, t in last_seen.values():
            fresh = (c for c in history[k] if until is None or self._count(c, m) == 0)
            copies = [x for x in (self._with_copy(c, m) for c in fresh) if x is not None]
            if not copies or not self._advance(copies, p):
                continue
            found = self._walk_from(prepared, history, t, end, self._hidden(history[t], m), depth)
            if found is not None:
                self._copies.setdefault(t, []).append(m)
                return found
        if until is not None:
            self._failed_blind.add(key)
        return None

    def _walk_from(
        self,
        prepared: Sequence[_Prepared],
        history: list[list[State]],
        start: int,
        k: int,
        frontier: list[State],
        depth: int,
        *,
        again_at_k: bool = False,
    ) -> list[State] | None:
        """Walk records start..k again from `frontier` (a duplication inserted before record
        `start`). The duplications the walk had inferred before records between start and k are
        made again where they were (`_copies`: TLC's DuplicateMessage of the same message, which
        is still in flight there, since the new copy only adds to the bag), so that a walk back
        over a stretch of many duplicated messages does not have to find each of them again, one
        level deeper each: with a fifth of the frames duplicated (the nemesis's `duplicate`), a
        correct run's log was called invalid once the nesting passed MAX_NESTED. A record in
        between that still fails gets a duplication of its own (`_rewalk`, one level deeper;
        record k too when `again_at_k`: a message received more than twice). The frontier after
        k, or None, with `history`, the duplications and their count as they were; a walk that
        reaches k and fails there leaves its frontier before k as the closest."""
        saved = history[start : k + 1]
        inserted = self._inserted
        copies = {t: list(ms) for t, ms in self._copies.items()}
        for t in range(start, k + 1):
            for m in self._copies.get(t, ()) if t > start else ():
                frontier = self._hidden(frontier, m) or frontier
            history[t] = frontier
            nxt = self._step(frontier, prepared, t)
            if not nxt and (t < k or again_at_k) and depth < MAX_NESTED:
                nxt = self._rewalk(prepared, history, t, depth + 1) or []
            if not nxt and t == k and frontier and self._closest is None:
                self._closest = list(frontier)
            frontier = nxt
            if not frontier:
                break
        if frontier:
            self._inserted += 1
            return frontier
        history[start : k + 1] = saved
        self._inserted = inserted
        self._copies = copies
        return None

    def _rewalk(
        self, prepared: Sequence[_Prepared], history: list[list[State]], k: int, depth: int
    ) -> list[State] | None:
        """Record k receives a message no candidate has in flight: duplicate it just before the
        latest earlier record that received it, walk forward again; the new frontier after k, or
        None (history is then left as it was). A walk that reaches k with the copy in flight and
        still finds no explanation leaves its frontier before k as the closest (`diagnose`
        reports on it: the record's real disagreement, not a message missing because the
        duplication was not inferred). A rewalk from (k, the frontier before it) that failed once
        is not tried again."""
        p = prepared[k]
        r = p.record
        j = p.instance.params.get("j")
        if self._bag_key is None or j is None:
            return None
        key = (k, frozenset(s.fingerprint for s in history[k]))
        if key in self._failed:
            return None
        if p.message is None:
            found = self._blind_rewalk(prepared, history, k, depth)
            if found is None:
                self._failed.add(key)
            return found
        for back in range(k - 1, max(-1, k - BACKTRACK), -1):
            # the latest earlier receipt of the same message, by whichever action: a copy of a
            # message and the message take different actions when the receiver's state differs
            # (etcd's follower handles a late copy of a request below its commit index otherwise)
            q = prepared[back]
            if q.record.node != r.node or q.record.params.get("m") != r.params.get("m"):
                continue
            self._tick()
            copy = self._hidden(history[back], p.message)
            found = self._walk_from(prepared, history, back, k, copy, depth, again_at_k=True)
            if found is not None:
                self._copies.setdefault(back, []).append(p.message)
                return found
            if p.message is not None:
                return None  # the latest receipt of that very message: no other place helps
        self._failed.add(key)
        return None

    # ------------------------------------------------------------------ diagnosis

    def _shown(self, value: Value) -> str:
        return format_value(self.show(value) if self.show is not None else value)

    def _label(self, name: str, params: Mapping[str, Value]) -> str:
        """An action instance with its parameters as the log spells them."""
        shown = [f"{k}={self._shown(v)}" for k, v in params.items() if k != "m"]
        return f"{name}({', '.join(shown)})" if shown else name

    def diagnose(self, frontier: Sequence[State], p: _Prepared) -> Diagnosis:
        r = p.record
        best: tuple[int, list[str]] | None = None
        for c in frontier[:DIAGNOSE]:
            for s in self._successors(c, p):
                diffs = []
                for var, node, value in p.known:
                    v = s[var]
                    if node is not None:
                        assert isinstance(v, FrozenDict)
                        v = v.get(node)
                    if v != value:
                        where = f"{var}[{node}]" if node is not None else var
                        diffs.append(f"{where}: logged {self._shown(value)}, spec {self._shown(v)}")
                if best is None or len(diffs) < best[0]:
                    best = (len(diffs), diffs)
        label = p.instance.label()
        logged = r.label()
        if self.show is not None:
            label = self._label(p.instance.name, p.instance.params)
            logged = self._label(r.action, r.params)
        if best is not None:
            return Diagnosis(
                r.source,
                logged,
                f"{label}, whose successor disagrees on {best[0]} logged "
                f"variable{'s' if best[0] != 1 else ''}",
                "\n  ".join(best[1]),
            )
        guard = first_false(self.stepper, p.instance, frontier[0], p.message)
        reason = (
            f"false: {guard.render()}"
            if guard is not None
            else "no successor (no guard found false: the successor leaves the model)"
        )
        return Diagnosis(r.source, logged, f"{label} is not enabled", reason, enabled=False)


def _always(java: Any) -> bool:
    return True


def _distinct(states: list[State]) -> list[State]:
    """The states, each once (a single one is not fingerprinted)."""
    if len(states) <= 1:
        return states
    out: dict[int, State] = {}
    for s in states:
        out.setdefault(s.fingerprint, s)
    return list(out.values())


def validate(
    records: Iterable[LogRecord],
    spec: str = "Raft",
    model: str | Path | None = None,
    *,
    max_frontier: int = MAX_FRONTIER,
    deadline: float | None = None,
    budget: float | None = None,
) -> Verdict:
    """Whether the records (of one run, any number of nodes, in each node's order) are a behaviour
    of `spec` (a name of SPECS, or a .tla path with `model`) under `model` (default: the spec's validation
    model). LogFormatError for records that are not of one run or not in the spec's vocabulary."""
    merged = merge([list(records)])
    stepper = stepper_for(spec, str(model) if model is not None else None)
    return Validator(stepper, max_frontier=max_frontier).run(
        merged, deadline=deadline, budget=budget
    )

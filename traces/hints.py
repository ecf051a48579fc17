"""Display hints: what the trace views (`trace show`, `trace diff`, `trace timeline`) know about a
protocol's variables, as data.

A trace is only names and values. What makes a Raft trace readable one line per server (role,
term, vote, log, commit index: the fields of the Raft paper's Figure 2) or a PBFT trace drawable
as messages between replicas (Castro and Liskov, section 4) is knowing which variable is which.
That knowledge lives here, one `DisplayHints` per protocol (`RAFT`, `PBFT`, `HYBRID`), and nowhere
else: the views read these hints and guess nothing from names.

A trace of any other spec gets hints derived from the trace itself (`derive`): its per-process
variables are the functions over one shared domain of at least two keys (Peterson's `pc` and
`flag` over `Procs`); nothing is assumed about roles, terms or messages, so every variable is
shown as what it is and the timeline draws one lane per process.

`hints_for(trace)` picks: a trace's `#meta.protocol` (the implementation's and lockstep traces
name it), else its `#meta.spec` file name (`Raft.tla`: TLC's counterexamples name the spec they
came from), else derived hints. A protocol's hints are its descriptor's `hints` field
(meshcheck/protocol.py), read through the registry (meshcheck/registry.py), so a protocol added
beside meshcheck is shown with its own hints as soon as it is registered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import PurePath
from typing import TYPE_CHECKING

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value

if TYPE_CHECKING:
    from meshcheck.impl.base.trace import Step
    from meshcheck.impl.base.trace import Trace

# (record, sender) pairs a step needed to receive: see traces/timeline/quorums.py
Needs = Callable[
    ["Step", "Step", "Trace", list[str], frozenset[str]], Iterable[tuple[FrozenDict, str]]
]
Column = tuple[str, str]  # (variable, the word the compact line shows before its value)


@attrs.frozen
class DisplayHints:
    """What the views know about a protocol's variables and actions (every field may be empty).

    `per_node`: the variables that are functions over the nodes. `hidden`: per-node variables the
    compact line leaves out on purpose (Raft's `nextIndex`: a leader's bookkeeping, shown with
    `--vars` or `--no-compact`); every other variable is shown. `role`, `term`, `vote`, `log`,
    `commit`: the columns of a node's compact line, each (variable, word) (`role` a variable
    only); `log_offset`: the per-node variable whose value is the index before a log's first entry
    (a snapshot's). `messages`: the variables holding messages (a bag record -> copies, or the set
    of messages sent); a message record names its sender, receiver and kind in the first of
    `source_fields`, `dest_fields`, `kind_fields` it has. `actor_param`: the action parameter naming
    the node taking a step. `client_requests`/`client_accepts`: the actions of a client (drawn on
    a lane of their own), `client_param` the parameter naming its request. `restart_actions`: a
    node's crash and restart in one step. `node_set`: the constant naming the nodes, if any.
    `needs`: for messages that stay in their set when received (PBFT's `msgs`), what a step needed
    to receive. `specs`: the spec files (by name) whose traces these hints serve.
    """

    protocol: str | None = None
    specs: tuple[str, ...] = ()
    per_node: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    role: str | None = None
    term: Column | None = None
    vote: Column | None = None
    log: Column | None = None
    commit: Column | None = None
    log_offset: str | None = None
    messages: tuple[str, ...] = ()
    source_fields: tuple[str, ...] = ()
    dest_fields: tuple[str, ...] = ()
    kind_fields: tuple[str, ...] = ()
    actor_param: str | None = None
    client_requests: tuple[str, ...] = ()
    client_accepts: tuple[str, ...] = ()
    client_param: str | None = None
    restart_actions: tuple[str, ...] = ()
    node_set: str | None = None
    needs: Needs | None = attrs.field(default=None, eq=False)

    def columns(self) -> tuple[str, ...]:
        """The variables the compact line shows."""
        cols = [self.role] + [c[0] if c else None for c in (self.term, self.vote, self.log)]
        cols.append(self.commit[0] if self.commit else None)
        return tuple(c for c in cols if c is not None)


NOTHING = DisplayHints()  # hints that know nothing: every variable shown as it is

RAFT = DisplayHints(
    protocol="raft",
    specs=("Raft.tla",),
    per_node=(
        "currentTerm",
        "votedFor",
        "log",
        "snapshotIndex",
        "snapshotTerm",
        "role",
        "commitIndex",
        "votesGranted",
        "nextIndex",
        "matchIndex",
        "reads",
        "readFloor",
    ),
    hidden=(
        "snapshotIndex",
        "snapshotTerm",
        "votesGranted",
        "nextIndex",
        "matchIndex",
        "reads",
        "readFloor",
    ),
    role="role",
    term=("currentTerm", "term"),
    vote=("votedFor", "vote"),
    log=("log", "log"),
    commit=("commitIndex", "commit"),
    log_offset="snapshotIndex",
    messages=("messages",),
    source_fields=("msource",),
    dest_fields=("mdest",),
    kind_fields=("mtype",),
    actor_param="i",
    restart_actions=("Restart",),
    node_set="Server",
)


def _pbft_needs(
    step: Step, before: Step, trace: Trace, ids: list[str], byzantine: frozenset[str]
) -> Iterable[tuple[FrozenDict, str]]:
    from meshcheck.traces.timeline.quorums import needs  # quorums reads the hints: import late

    return needs(step, before, trace, ids, byzantine)


PBFT = DisplayHints(
    protocol="pbft",
    specs=("PBFT.tla",),
    per_node=("view", "status", "executed", "stable"),
    role="status",
    term=("view", "view"),
    log=("executed", "exec"),
    commit=("stable", "stable"),
    messages=("msgs",),
    source_fields=("src",),
    dest_fields=("dest",),  # none in the spec: its messages are multicast
    kind_fields=("type",),
    actor_param="i",
    client_requests=("Request",),
    client_accepts=("Accept",),
    client_param="r",
    needs=_pbft_needs,
)

# The hybrid specs (Hybrid.tla, ThreatLevel.tla) have per-node variables but no roles, terms or
# messages in Raft's or PBFT's sense: their variables are shown as they are.
HYBRID = DisplayHints(
    protocol="hybrid",
    specs=("Hybrid.tla", "ThreatLevel.tla"),
    per_node=("epoch", "protocol", "level", "applied", "history"),
    node_set="Nodes",
)


def registered() -> dict[str, DisplayHints]:
    """The display hints of every registered protocol whose descriptor has them, by protocol name
    (each with `protocol` set to that name)."""
    from meshcheck import registry  # the registry imports only the base: no cycle

    found: dict[str, DisplayHints] = {}
    for name, descriptor in registry.protocols().items():
        hints = descriptor.load("hints")
        if hints is None:
            continue
        if not isinstance(hints, DisplayHints):
            raise registry.BrokenProtocol(
                f"protocol {name}: its hints {descriptor.hints} are a {type(hints).__name__}, "
                "not a DisplayHints"
            )
        found[name] = hints if hints.protocol == name else attrs.evolve(hints, protocol=name)
    return found


def hints_for(trace: Trace) -> DisplayHints:
    """The hints of the protocol the trace names, else derived from the trace (see the module)."""
    known = registered()
    protocol = trace.meta.get("protocol")
    if isinstance(protocol, str) and protocol in known:
        return known[protocol]
    spec = trace.meta.get("spec")
    if isinstance(spec, str) and spec:
        name = PurePath(spec.replace("\\", "/")).name
        for hints in known.values():
            if name in hints.specs:
                return hints
    return derive(trace)


# ---------------------------------------------------------------------------------------------------
# Hints of a spec no descriptor names


def _domain(value: Value) -> frozenset[Value] | None:
    """The keys of a function over plain keys (strings or integers), or None."""
    if isinstance(value, FrozenDict) and value and all(_plain(k) for k in value):
        return frozenset(value)
    return None


def _plain(k: Value) -> bool:
    return isinstance(k, str | int) and not isinstance(k, bool)


def shared_domain(trace: Trace, candidates: Iterable[str] | None = None) -> frozenset[Value]:
    """The domain of at least two keys that the most variables (of `candidates`, default all) are
    functions over in the first state; it must be shared by two variables, or equal a set-valued
    constant of the trace (the spec's `Procs`), so that one record is not taken for a cluster."""
    if not trace.steps:
        return frozenset()
    state = trace.steps[0].state
    names = [v for v in (trace.vars if candidates is None else candidates) if v in state]
    counts: Counter[frozenset[Value]] = Counter()
    for name in names:
        d = _domain(state[name])
        if d is not None and len(d) >= 2:
            counts[d] += 1
    if not counts:
        return frozenset()
    constants = trace.meta.get("constants")
    sets = (
        {c for c in constants.values() if isinstance(c, frozenset)}
        if isinstance(constants, FrozenDict)
        else set()
    )
    from meshcheck.impl.base.text import sort_key

    ranked = sorted(
        counts.items(),
        key=lambda kv: (kv[1], len(kv[0]), sorted(sort_key(k) for k in kv[0])),
        reverse=True,
    )
    for domain, count in ranked:
        if count >= 2 or domain in sets:
            return domain
    return frozenset()


def over(trace: Trace, domain: frozenset[Value], names: Iterable[str]) -> tuple[str, ...]:
    """The variables of `names` that are functions over exactly `domain` in every state."""
    if not domain:
        return ()
    return tuple(
        v
        for v in names
        if v in trace.vars
        and all(
            isinstance(s.state[v], FrozenDict) and s.state[v].keys() == domain for s in trace.steps
        )
    )


def derive(trace: Trace) -> DisplayHints:
    """Hints read off the trace alone: its per-process variables and nothing else."""
    domain = shared_domain(trace)
    return DisplayHints(per_node=over(trace, domain, trace.vars))

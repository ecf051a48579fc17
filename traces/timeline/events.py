"""What a timeline draws, read off a trace: lanes, messages sent and delivered, drops, faults.

Nothing here is told by the protocol what happened; it is derived from the states and the labels of
the steps (traces/labels.py), read through the protocol's display hints (traces/hints.py: which
variables are per-node, which hold messages, which is the role and the term, which actions are a
client's), so model traces (TLC's, lockstep paths) and implementation traces draw alike:

- The lanes are the nodes (the domain of the per-node variables), and a client's lane only when
  the hints name client actions.
- A message is sent at the step that adds it to a message variable: Raft's `messages` bag gains a
  copy, PBFT's `msgs` set gains a record.
- Raft consumes what it receives: a copy that leaves the bag is delivered to its receiver at a step
  of that node (the hints' actor parameter, `Handle...(i, j)`, or the implementation's step at
  `#meta.node`), and dropped otherwise (DropMessage, a message lost in a crash). Copies of one
  record are matched first sent, first taken.
- PBFT's `msgs` is what was ever sent (nothing leaves it): a delivery is read from the step that
  needed the message (the hints' `needs`, quorums.py); a message it needed that no honest replica
  sent is a Byzantine replica's (the spec's ByzMsgs): a Byzantine act on that replica's lane.
- Crashes, restarts, recoveries and partitions come from the hints' restart actions and the
  implementation's fault notes in `#meta`; role and term (status and view) changes from the
  hinted per-node variables; commits and executions as small tags on the node's lane; and where a
  lockstep counterexample's implementation left the spec (its `#meta.divergence`), its last step.
- A spec no descriptor names (hints derived from the trace: per-process variables only) has one
  lane per process, and a mark at each step of that process: a step with a parameter equal to the
  process, or one that changed its variables, tagged with what it changed (`pc=cs`).
"""

from __future__ import annotations

from collections import Counter
from collections import defaultdict
from collections import deque
from collections.abc import Mapping
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import attrs

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces import cluster
from meshcheck.traces import labels
from meshcheck.traces.hints import DisplayHints
from meshcheck.traces.hints import hints_for

CLIENT = "client"


@attrs.frozen
class Message:
    """One message on the chart: sent at `sent` (None: before the trace began) by `src`, and
    delivered to `dest` at `at` (or dropped there: `dropped`; or never: `at` None)."""

    src: str
    dest: str | None
    record: FrozenDict
    sent: int | None
    at: int | None = None
    dropped: bool = False
    byzantine: bool = False  # sent by a Byzantine replica (not in the trace's messages)
    duplicate: bool = False  # a copy the network made
    label: str = ""  # the message in a few characters (`short_label`)


@attrs.frozen
class Mark:
    """Something that happened at one lane (or the whole cluster: lane None) at a step."""

    kind: str  # crash, restart, recover, partition, heal, byzantine, role, commit, request,
    # divergence (where a lockstep counterexample's implementation left the spec), act (a step
    # of a process of a spec no descriptor names)
    step: int
    lane: str | None
    text: str


@attrs.frozen
class Timeline:
    lanes: tuple[str, ...]
    labels: tuple[str, ...]  # each step's label
    messages: tuple[Message, ...]
    marks: tuple[Mark, ...]
    roles: Mapping[str, tuple[str, ...]]  # lane -> its role at each step ("" if none)
    down: Mapping[str, tuple[bool, ...]]  # lane -> whether it is crashed after each step
    byzantine: frozenset[str]
    loop: int | None
    title: str


_ABBREV = {
    "RequestVoteRequest": "RV",
    "RequestVoteResponse": "RV resp",
    "AppendEntriesRequest": "AE",
    "AppendEntriesResponse": "AE resp",
    "InstallSnapshotRequest": "Snap",
    "InstallSnapshotResponse": "Snap resp",
}


def short_label(record: FrozenDict, hints: DisplayHints) -> str:
    """A message in a few characters for the chart: `AE t3 1e`, `RV resp t1 yes`, `Prepare v0 n1 a`."""
    kind = cluster.kind(record, hints)
    parts = [_ABBREV.get(kind, kind)]
    if "mterm" in record:
        parts.append(f"t{record['mterm']}")
    if "view" in record:
        parts.append(f"v{record['view']}")
    if "seq" in record:
        parts.append(f"n{record['seq']}")
    if isinstance(record.get("req"), str):
        parts.append(str(record["req"]))
    entries = record.get("mentries")
    if isinstance(entries, tuple) and entries:
        parts.append(f"{len(entries)}e")
    for flag in ("mvoteGranted", "msuccess"):
        if flag in record:
            parts.append("yes" if record[flag] is True else "no")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------


def byzantine_of(trace: Trace, trace_path: Path | None = None) -> frozenset[str]:
    """The Byzantine replicas a trace names: its constants (TLC's `params`), `#meta.byzantine`, or
    the `Byzantine` constant of the model (`#meta.config`) it was recorded under."""
    for value in (trace.meta.get("byzantine"), _constant(trace, "Byzantine")):
        if isinstance(value, frozenset | tuple):
            return frozenset(str(v) for v in value)
    config = trace.meta.get("config")
    if isinstance(config, str):
        from meshcheck.specs.tlc.cfg import read_cfg

        # a path of the repository (`specs/PBFT.cfg`) is a path of the installed package too
        installed = Path(str(files("meshcheck").joinpath(config)))
        for candidate in (
            Path(config),
            installed,
            *([trace_path.parent / config] if trace_path else []),
        ):
            if candidate.is_file():
                try:
                    value = dict(read_cfg(candidate).values()).get("Byzantine")
                except Exception:  # a model we cannot read only costs the Byzantine marks
                    return frozenset()
                if isinstance(value, frozenset):
                    return frozenset(str(v) for v in value)
                break
    return frozenset()


def _constant(trace: Trace, name: str) -> Value:
    constants = trace.meta.get("constants")
    return constants.get(name) if isinstance(constants, FrozenDict) else None


def derive(
    trace: Trace,
    *,
    title: str = "",
    byzantine: frozenset[str] = frozenset(),
    hints: DisplayHints | None = None,
) -> Timeline:
    """The timeline of a trace (see the module docstring for what is read from where)."""
    h = hints_for(trace) if hints is None else hints
    ids = list(cluster.nodes(trace, h))
    names = [n if isinstance(n, str) else format_value(n) for n in ids]
    said = [labels.labelled(trace, k) for k in range(len(trace))]  # each step as labelled
    actions = {s.action for s in said}
    client = bool(actions & {*h.client_requests, *h.client_accepts})
    lanes = tuple(names + ([CLIENT] if client else []))
    boxes = cluster.message_vars(trace, h)
    per_node = cluster.per_node_vars(trace, ids, h)
    cols = cluster.columns(per_node, h)
    messages: list[Message] = []
    marks: list[Mark] = []
    pending: dict[Value, deque[int]] = defaultdict(deque)  # Raft: record -> indexes in `messages`
    sent_at: dict[Value, int] = {}  # PBFT: record -> index in `messages` of its send
    delivered: set[tuple[Value, str]] = set()

    def send(record: FrozenDict, k: int | None, duplicate: bool = False) -> int:
        src = cluster.source(record, h) or "?"
        messages.append(
            Message(
                src,
                cluster.dest(record, h),
                record,
                k,
                duplicate=duplicate,
                label=short_label(record, h),
            )
        )
        return len(messages) - 1

    def finish(index: int, k: int, dest: str, dropped: bool = False) -> None:
        messages[index] = attrs.evolve(messages[index], dest=dest, at=k, dropped=dropped)

    # What was in flight before the first step was sent before the trace began.
    for v in boxes:
        for record in sorted(
            (cluster.bag(trace.steps[0].state[v], h) or Counter()).elements(), key=format_value
        ):
            i = send(record, None)
            if _consumed(trace, v):
                pending[record].append(i)
            else:
                sent_at[record] = i

    for k in range(1, len(trace.steps)):
        step, before = said[k], trace.steps[k - 1]
        actor = actor_of(step, h)
        for v in boxes:
            gone, added = cluster.change(before.state[v], step.state[v], h)
            for record in gone:  # Raft: taken by its receiver, or lost
                queue = pending.get(record)
                if not queue:
                    continue
                index = queue.popleft()
                dest = cluster.dest(record, h) or actor or "?"
                taken = (
                    dest == actor
                    and not step.action.startswith("Drop")
                    and "fault" not in step.meta
                )
                finish(index, k, dest, dropped=not taken)
            for record in added:
                duplicate = (
                    step.action == "DuplicateMessage" or step.meta.get("fault") == "duplicate"
                )
                i = send(record, k, duplicate)
                if _consumed(trace, v):
                    pending[record].append(i)
                else:
                    sent_at.setdefault(record, i)
        if boxes and not _consumed(trace, boxes[0]) and h.needs is not None:
            for record, src in h.needs(step, before, trace, [str(n) for n in ids], byzantine):
                receiver = CLIENT if step.action in h.client_accepts else actor
                if receiver is None or (record, receiver) in delivered:
                    continue
                delivered.add((record, receiver))
                if record in sent_at:
                    s = messages[sent_at[record]]
                    messages.append(attrs.evolve(s, dest=receiver, at=k))
                else:  # no honest replica sent it: a Byzantine replica's message
                    label = short_label(record, h)
                    messages.append(
                        Message(src, receiver, record, k, at=k, byzantine=True, label=label)
                    )
                    marks.append(Mark("byzantine", k, src, f"byz {label}"))
        marks += _fault_marks(step, k, names, h)
        marks += _state_marks(before, step, k, ids, cols)
        if h.protocol is None:  # a spec no descriptor names: its processes' steps
            marks += _act_marks(before, step, k, ids, names, per_node)
        param = step.params.get(h.client_param) if h.client_param else None
        if step.action in h.client_requests and client:
            marks.append(Mark("request", k, CLIENT, f"request {format_value(param)}"))
        if step.action in h.client_accepts and client:
            marks.append(Mark("commit", k, CLIENT, f"accept {format_value(param)}"))

    roles: dict[str, tuple[str, ...]] = {}
    for lane in lanes:
        node = ids[names.index(lane)] if lane in names else None
        if node is not None and cols.role is not None:
            roles[lane] = tuple(str(s.state[cols.role][node]) for s in trace.steps)
        else:
            roles[lane] = tuple("" for _ in trace.steps)
    divergence = trace.meta.get("divergence")
    if isinstance(divergence, tuple) and divergence:
        # a lockstep counterexample: the implementation left the spec at its last step
        detail = [str(d) for d in divergence[1:]] or [str(divergence[0])]
        marks.append(Mark("divergence", len(trace.steps) - 1, None, "; ".join(detail)))
    return Timeline(
        lanes,
        tuple(step_label(s, h) for s in said),
        tuple(messages),
        tuple(marks),
        roles,
        _down(lanes, marks, len(trace.steps)),
        byzantine,
        trace.loop,
        title,
    )


def actor_of(step: Step, hints: DisplayHints) -> str | None:
    """The node taking the step: its actor parameter (`i`), or the implementation's `#meta.node`."""
    for value in (
        step.params.get(hints.actor_param) if hints.actor_param else None,
        step.meta.get("node"),
    ):
        if isinstance(value, str):
            return value
    return None


def step_label(step: Step, hints: DisplayHints) -> str:
    """The step's label (pass it labelled by `labels.labelled`), a message parameter (the
    implementation names the message a handler took or the network dropped) shortened to the
    chart's words: `DropMessage(RV t1 s2->s1)`."""
    plain = {k: v for k, v in step.params.items() if not cluster.is_message(v, hints)}
    records = [v for v in step.params.values() if cluster.is_message(v, hints)]
    label = Step(step.state, step.action, FrozenDict(plain)).label()
    if records and step.action.startswith(("Drop", "Duplicate")):
        m = records[0]
        label += (
            f" {short_label(m, hints)} {cluster.source(m, hints)}->{cluster.dest(m, hints) or '*'}"
        )
    return label


def _down(lanes: tuple[str, ...], marks: list[Mark], steps: int) -> dict[str, tuple[bool, ...]]:
    """Each lane's crashed periods: from an implementation's crash to its recovery (a spec's
    Restart(i) is a crash and a recovery in one step)."""
    events: dict[tuple[str, int], bool] = {}
    for m in marks:
        if m.lane is not None and m.kind in ("crash", "recover"):
            events[(m.lane, m.step)] = m.kind == "crash"
    out: dict[str, tuple[bool, ...]] = {}
    for lane in lanes:
        now, row = False, []
        for k in range(steps):
            now = events.get((lane, k), now)
            row.append(now)
        out[lane] = tuple(row)
    return out


def _consumed(trace: Trace, var: str) -> bool:
    """Whether receiving takes a message out of `var` (a bag of copies), or it only grows (a set
    of messages sent, as PBFT's msgs)."""
    return any(isinstance(s.state[var], FrozenDict) for s in trace.steps)


# ---------------------------------------------------------------------------------------------------
# Faults and state changes


def _fault_marks(step: Step, k: int, ids: Sequence[str], hints: DisplayHints) -> list[Mark]:
    marks: list[Mark] = []
    # The implementation notes its crash (and recovery) in `faults`; a spec's Restart(i) is both.
    who = step.params.get(hints.actor_param) if hints.actor_param else None
    if step.action in hints.restart_actions and isinstance(who, str) and "fault" not in step.meta:
        marks.append(Mark("restart", k, who, "restart"))
    notes = step.meta.get("faults", ())
    for note in notes if isinstance(notes, tuple) else ():
        text = str(note)
        if text.startswith(("partition", "cut")):
            marks.append(Mark("partition", k, None, text))
        elif text.startswith(("heal", "faults end")):
            marks.append(Mark("heal", k, None, text))
        elif text.startswith(("crash", "recover")):  # "crash mid-step s2 during ...", "recover s2"
            node = next((w for w in text.split() if w in ids), None)
            if node is not None:
                kind = "recover" if text.startswith("recover") else "crash"
                marks.append(Mark(kind, k, node, text))
    return marks


def _act_marks(
    before: Step,
    step: Step,
    k: int,
    ids: Sequence[Value],
    names: Sequence[str],
    per_node: Sequence[str],
) -> list[Mark]:
    """The steps of each process of a spec no descriptor names: a parameter equal to the process,
    or a change of its per-process variables (`pc=cs flag=TRUE`, else the action's name)."""
    marks: list[Mark] = []
    params = set(step.params.values())
    for node, name in zip(ids, names, strict=True):
        changed = [v for v in per_node if before.state[v][node] != step.state[v][node]]
        if node not in params and name not in params and not changed:
            continue
        text = " ".join(f"{v}={format_value(step.state[v][node], width=12)}" for v in changed)
        marks.append(Mark("act", k, name, text or step.action))
    return marks


def _state_marks(
    before: Step, step: Step, k: int, ids: Sequence[Value], cols: cluster.Columns
) -> list[Mark]:
    marks: list[Mark] = []
    for node in ids:
        lane = node if isinstance(node, str) else format_value(node)
        parts = []
        if cols.role is not None and before.state[cols.role][node] != step.state[cols.role][node]:
            parts.append(format_value(step.state[cols.role][node]))
        if (
            cols.term is not None
            and before.state[cols.term[0]][node] != step.state[cols.term[0]][node]
        ):
            prefix = "t" if cols.term[1] == "term" else "v"
            parts.append(f"{prefix}{format_value(step.state[cols.term[0]][node])}")
        if parts:
            marks.append(Mark("role", k, lane, " ".join(parts)))
        if cols.commit is not None:
            name = cols.commit[0]
            if before.state[name][node] != step.state[name][node]:
                marks.append(
                    Mark(
                        "commit",
                        k,
                        lane,
                        f"{cols.commit[1]} {format_value(step.state[name][node])}",
                    )
                )
        if cols.log is not None and cols.log[1] == "exec":
            old, new = before.state[cols.log[0]][node], step.state[cols.log[0]][node]
            if isinstance(new, tuple) and isinstance(old, tuple) and len(new) > len(old):
                marks.append(Mark("commit", k, lane, f"exec {format_value(new[-1], width=12)}"))
    return marks

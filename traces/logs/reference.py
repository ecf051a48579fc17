"""Logs in the NDJSON format (format.py) from a recorded run of the reference implementation.

A free run of impl/raft under the simulator records its trace in the spec's vocabulary
(`Simulator.trace()`: every step's action, parameters and the refinement mapping after it). This
module writes what each node would have logged had it written the log itself, as an implementation
in another language would (docs/logs.md): per node, each step it took, its
own slice of the state after it, and a Lamport clock. What no node can log is left out: the
network's faults (DropMessage, DuplicateMessage: the validator infers them), the variables that are
no server's (the message bag, the ghost variables `committed`, `readFloor` and `budget`).

The clocks are computed from the trace as each node would keep them: a step ticks its node's clock;
a receive (a step whose parameter `m` is a message) first takes the clock the message was sent at.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft.refinement import VARIABLES as RAFT_VARIABLES
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.format import write

# Raft's per-server variables a node knows: the refinement mapping's variables (specs/Raft.tla)
# but the network and the spec's ghosts, which no node holds; and the subset most implementations
# expose (etcd-io/raft's state_trace.go logs about these).
GLOBAL = frozenset({"messages", "committed", "readFloor", "budget"})
FULL = tuple(v for v in RAFT_VARIABLES if v not in GLOBAL)
PARTIAL = ("currentTerm", "votedFor", "role", "log", "commitIndex")
HIDDEN = frozenset({"DropMessage", "DuplicateMessage"})
SENDS = frozenset({"AppendEntries", "InstallSnapshot"})


def _sent(before: Mapping[Value, Value], after: Mapping[Value, Value]) -> list[Value]:
    """The messages whose count grew from `before` to `after` (bags: message -> count)."""
    return [m for m, n in after.items() if isinstance(n, int) and n > before.get(m, 0)]


def _bag(value: Value | None) -> Mapping[Value, Value]:
    """A bag as a mapping (the empty function reads as the empty tuple)."""
    return value if isinstance(value, Mapping) else FrozenDict()


def records(
    trace: Trace,
    run: str,
    *,
    variables: Sequence[str] = FULL,
    send_messages: bool = True,
    bag: str = "messages",
) -> dict[str, list[LogRecord]]:
    """Per node, the records of its steps in `trace`, with `variables` of its state after each.
    `send_messages`: a step that sends one message (AppendEntries, InstallSnapshot) carries it as
    its parameter `m` too, which spares the validator a guess at the batch sent."""
    clocks: dict[str, int] = {}
    sent_at: dict[Value, int] = {}
    out: dict[str, list[LogRecord]] = {}
    steps = trace.steps
    for k in range(1, len(steps)):
        step = steps[k]
        before, after = steps[k - 1].state, step.state
        new = _sent(_bag(before.get(bag)), _bag(after.get(bag)))
        if step.action in HIDDEN or step.action == INIT:
            continue
        node = step.meta.get("node", step.params.get("i"))
        if not isinstance(node, str):
            continue  # a step of no node's (none in Raft's traces but the hidden ones)
        clock = clocks.get(node, 0)
        m = step.params.get("m")
        if m is not None and m in sent_at:
            clock = max(clock, sent_at[m])
        clock += 1
        clocks[node] = clock
        for message in new:
            sent_at[message] = clock
        params = dict(step.params)
        if send_messages and step.action in SENDS and "m" not in params and len(new) == 1:
            params["m"] = new[0]
        state = {}
        for var in variables:
            value = after[var]
            state[var] = value[node] if isinstance(value, Mapping) else value
        out.setdefault(node, []).append(
            LogRecord(
                node=node,
                action=step.action,
                params=params,
                state=state,
                clock=clock,
                run=run,
                source=f"{node}.ndjson:{len(out.get(node, ())) + 1}",
            )
        )
    return out


def write_logs(
    trace: Trace,
    folder: str | Path,
    run: str,
    *,
    variables: Sequence[str] = FULL,
    send_messages: bool = True,
) -> list[Path]:
    """One NDJSON file per node (`<node>.ndjson`) in `folder`; the paths written, by node."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    per_node = records(trace, run, variables=variables, send_messages=send_messages)
    return [write(rs, out / f"{node}.ndjson") for node, rs in sorted(per_node.items())]

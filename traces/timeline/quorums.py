"""What a PBFT step needed to receive, read off the spec's `msgs` (Castro and Liskov, section 4).

PBFT's `msgs` holds every message an honest replica ever sent: nothing is taken out of it when a
replica receives, so a timeline cannot see deliveries come and go as in Raft's bag. What it can see
is the step that needed them: Prepare(i, v, n) needs the PrePrepare of view v's primary (section
4.2), Commit 2f backups' Prepares, Execute 2f+1 Commits, StableCheckpoint 2f+1 Checkpoints (4.3),
NewView 2f+1 ViewChanges and AcceptNewView the NewView (4.4), and the client's Accept f+1 Replies
(4.1). Where the honest replicas' messages do not make up a quorum, the spec took the rest from
ByzMsgs: the Byzantine replicas' messages, each a Byzantine act on its sender's lane.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces import cluster
from meshcheck.traces.hints import DisplayHints
from meshcheck.traces.hints import hints_for


def actor(step: Step, hints: DisplayHints) -> str | None:
    """The node taking the step: its actor parameter (`i`), or the implementation's `#meta.node`."""
    param = step.params.get(hints.actor_param) if hints.actor_param else None
    for value in (param, step.meta.get("node")):
        if isinstance(value, str):
            return value
    return None


def needs(
    step: Step, before: Step, trace: Trace, ids: list[str], byzantine: frozenset[str]
) -> Iterable[tuple[FrozenDict, str]]:
    """(record, sender) for each message the step needed; a quorum that the honest replicas'
    messages do not make up is made up by the Byzantine replicas' (in the order of their names)."""
    h = hints_for(trace)
    msgs: Value = next((before.state[v] for v in cluster.message_vars(trace, h)), frozenset())
    if not isinstance(msgs, frozenset):
        return []
    p, a = step.params, step.action
    i = actor(step, h)

    def source(m: FrozenDict) -> str | None:
        return cluster.source(m, h)

    n = len(ids)
    f = (n - 1) // 3

    def primary(v: int) -> str:
        return f"r{v % n + 1}"

    def having(**fields: Value) -> list[FrozenDict]:
        return sorted(
            (m for m in msgs if all(m.get(key) == val for key, val in fields.items())),
            key=format_value,
        )

    out: list[tuple[FrozenDict, str]] = []
    mine = [m for m in _added(before, step, trace, h) if source(m) == i]
    if a == "Prepare" and isinstance(p.get("v"), int):
        req = next((m.get("req") for m in mine), None)
        found = having(type="PrePrepare", view=p["v"], seq=p.get("n"), req=req)
        leader = primary(p["v"])
        if found:
            out.append((found[0], leader))
        else:
            out.append(
                (
                    FrozenDict(
                        {
                            "type": "PrePrepare",
                            "view": p["v"],
                            "seq": p.get("n"),
                            "req": req,
                            "src": leader,
                        }
                    ),
                    leader,
                )
            )
    elif a in ("Commit", "Execute", "Accept", "StableCheckpoint"):
        # the quorum counts the replica's own message (not the client's: it has none)
        table: dict[str, tuple[str, int, dict[str, Value]]] = {
            "Commit": ("Prepare", 2 * f, {"view": p.get("v"), "seq": p.get("n")}),
            "Execute": ("Commit", 2 * f + 1, {"seq": _executed_seq(step, i)}),
            "Accept": ("Reply", f + 1, {"seq": p.get("n"), "req": p.get("r")}),
            "StableCheckpoint": ("Checkpoint", 2 * f + 1, {"seq": p.get("n")}),
        }
        kind, need, fields = table[a]
        if a == "Commit":
            fields["req"] = next((m.get("req") for m in mine), None)
        if a == "Execute":
            fields["req"] = _executed_req(step, i)
        found = [m for m in having(type=kind, **fields) if source(m) != i]
        out += [(m, source(m) or "?") for m in found]
        senders = {source(m) for m in found} | ({i} if a != "Accept" else set())
        if a == "Commit" and i == primary(int(p.get("v", 0))):
            need += 1  # 2f backups' Prepares; the primary (counted in `senders`) sends none
        for b in sorted(byzantine - senders):
            if len(senders) >= need:
                break
            out.append((FrozenDict({"type": kind, **fields, "src": b}), b))
            senders.add(b)
    elif a == "NewView" and i is not None:
        view = (
            step.state.get("view", {}).get(i)
            if isinstance(step.state.get("view"), FrozenDict)
            else None
        )
        found = [m for m in having(type="ViewChange", view=view) if source(m) != i]
        out += [(m, source(m) or "?") for m in found]
        if len(found) + 1 < 2 * f + 1:
            for b in sorted(byzantine - {source(m) for m in found})[: 2 * f - len(found)]:
                out.append((FrozenDict({"type": "ViewChange", "view": view, "src": b}), b))
    elif a == "AcceptNewView" and isinstance(p.get("v"), int):
        found = having(type="NewView", view=p["v"])
        leader = primary(p["v"])
        out.append(
            (
                found[0]
                if found
                else FrozenDict({"type": "NewView", "view": p["v"], "src": leader}),
                leader,
            )
        )
    return out


def _added(before: Step, step: Step, trace: Trace, hints: DisplayHints) -> list[FrozenDict]:
    out: list[FrozenDict] = []
    for v in cluster.message_vars(trace, hints):
        out += cluster.change(before.state[v], step.state[v], hints)[1]
    return out


def _executed(step: Step, i: str | None) -> tuple[Value, ...]:
    executed = step.state.get("executed")
    if i is None or not isinstance(executed, FrozenDict):
        return ()
    value = executed.get(i, ())
    return value if isinstance(value, tuple) else ()


def _executed_seq(step: Step, i: str | None) -> int:
    return len(_executed(step, i))


def _executed_req(step: Step, i: str | None) -> Value:
    after = _executed(step, i)
    return after[-1] if after else None

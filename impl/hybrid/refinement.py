"""The refinement mapping: a hybrid cluster as a state of specs/Hybrid.tla.

One small module on purpose: the one place the spec's variables and entry records meet the code.

- per honest node i: `epoch[i]`, `protocol[i]` (epoch -> "raft"/"bft"/"none", over 1..the highest
  epoch any node entered), `level[i]` (the level's title), `applied[i]` (how many entries of its
  current epoch's `chain` it applied), `history[i]` (the client ops it applied, in order, by name);
- shared: `chain[e]`, the entries epoch e's protocol committed, as the spec sees them, from the
  longest prefix any honest node applied (ghost: `Ghost` remembers epochs the nodes no longer keep);
  `submitted`, the [op, epoch] proposals the client made; `outcome`, what the client learned.

What the spec sees of the committed entries (`Ghost` replays each epoch's longest log once, on a
shadow `HybridMachine` from the epoch's start state, to know what each entry did):

- an `OpEntry` of the epoch's own tag with the client's signature, of an op not committed before:
  `[type |-> "op", op |-> o, epoch |-> e]` (a retried copy of a committed op, an op tagged with
  another epoch and a tampered op change nothing and are left out);
- an `EvidenceEntry` the threat state accepted: `[type |-> "evidence", kind |-> k]`, where k is the
  kind whose one piece demands the level the evidence raised the state to (Hybrid.tla's
  `DemandedOne`: equivocation Critical, tampering High, bad_signature or timing Low; the record's own
  kind when the level stayed), since the spec weighs each record alone and the implementation counts
  reporters in the window (two reporters of bad signatures are High, as one tampering record is);
  refused and duplicate records are left out;
- a `ClockEntry` that lowered the level: `[type |-> "quiet"]` (the spec's quiet entry: the window,
  the quiet period and the dwell have passed); other clock entries, and Raft's no-op, are left out.

`submitted` holds a proposal as the client tagged it (`ClientOp.epoch`: the epoch the client
believes current; a node proposes an op only in the epoch of its tag), counted when a node takes the
client's request, unless an honest node has already left that epoch (such a proposal is never
applied: the spec's client proposes in the current epoch only) or the op is committed already; a
proposal tagged with an epoch no honest node has reached yet counts from when one reaches it.
`outcome[o]` is "committed" once an honest node answered that o committed, "pending" after a
proposal, "none" before, and "rejected" once f + 1 honest nodes answered "rejected" to o's latest
proposal (what the client needs to believe it). An honest node answers so only for a proposal whose
epoch ended without it (node.py), which can never commit: the spec's Reject guard (every proposal of
o dead) is then left to the spec to check, not assumed here. Where the caller does not say which
proposal an answer was for (`decide` without its epoch), o is taken as rejected only once every
proposal of o is dead. The simulation plugin passes `submit` and `decide` the client's tag.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final

from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpKey
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import op_name
from meshcheck.impl.hybrid.threat import Verify

VARIABLES: Final = (
    "epoch",
    "protocol",
    "level",
    "applied",
    "history",
    "chain",
    "submitted",
    "outcome",
)


class EpochChain:
    """Epoch e's committed entries as the spec sees them, from the longest log any honest node
    applied: the records, and for each the position of its entry in that log."""

    def __init__(self, epoch: int, machine: HybridMachine) -> None:
        self.epoch = epoch
        self.shadow = machine  # replays the log once, to know what each entry did
        self.records: list[FrozenDict] = []
        self.positions: list[int] = []  # records[k] is entry positions[k] of the log (0-based)
        self.levels: list[Level] = []  # the level right after records[k]
        self.seen = 0  # log entries replayed
        self.ops: set[str] = set()

    def extend(self, log: list[Any]) -> None:
        for position in range(self.seen, len(log)):
            record = self._record(log[position])
            if record is not None:
                self.records.append(record)
                self.positions.append(position)
                self.levels.append(self.shadow.threat.level)
        self.seen = max(self.seen, len(log))

    def _record(self, value: Any) -> FrozenDict | None:
        """The spec's entry for `value`: what the shadow machine says of it, as every honest
        machine does when it applies the entry (HybridMachine.spec_entry)."""
        shadow = self.shadow
        seen = len(shadow.spec_entries)
        shadow.apply_entry(value)
        record = shadow.spec_entries[-1] if len(shadow.spec_entries) > seen else None
        if record is not None and record["type"] == "op":
            self.ops.add(str(record["op"]))
        return record

    def applied(self, length: int) -> int:
        """How many records lie within the first `length` entries of the log."""
        return bisect.bisect_left(self.positions, length)

    @property
    def closed(self) -> bool:
        """Whether the epoch's switch entry is committed (its last record, then)."""
        return self.shadow.closed is not None


class Ghost:
    """What no node holds: every epoch's chain, the proposals, the outcomes."""

    def __init__(self, keys: Keys | None = None, verify: Verify | None = None, f: int = 1) -> None:
        self.keys = keys
        self.verify = verify
        self.f = f
        self.chains: dict[int, EpochChain] = {}
        self.submitted: set[tuple[str, int]] = set()
        self.outcome: dict[str, str] = {}
        # (op, the epoch of the proposal answered, None: not said) -> honest nodes that rejected it
        self._rejections: dict[tuple[str, int | None], set[str]] = {}
        self._latest: dict[str, int] = {}  # op -> the epoch of its latest proposal
        self._future: set[tuple[str, int]] = set()  # proposals tagged ahead of the honest nodes

    def catch_up(self, current: int) -> None:
        """The honest nodes reached `current`: proposals tagged with it count now."""
        for name, epoch in sorted(self._future):
            if epoch <= current:
                self._future.discard((name, epoch))
                if epoch == current:
                    self.submit((name.split("/")[0], int(name.split("/")[1])), epoch, current)

    @property
    def chain(self) -> dict[int, tuple[Value, ...]]:
        return {e: tuple(c.records) for e, c in sorted(self.chains.items())}

    def observe(self, nodes: Iterable[Any]) -> None:
        for node in nodes:
            for epoch, instance in getattr(node, "instances", {}).items():
                machine = instance.machine
                chain = self.chains.get(epoch)
                if chain is None:
                    if not machine.log:
                        continue
                    shadow = HybridMachine(
                        instance.start,
                        self.keys if self.keys is not None else machine.keys,
                        self.verify if self.verify is not None else machine.verify,
                        machine.bugs,
                    )
                    chain = self.chains[epoch] = EpochChain(epoch, shadow)
                if len(machine.log) > chain.seen:
                    chain.extend(machine.log)

    def submit(self, key: OpKey, epoch: int, current: int) -> None:
        """A proposal of `key` tagged `epoch` (the client's tag), while the honest nodes' highest
        epoch is `current`."""
        name = op_name(key)
        if epoch > current:  # a node ahead of every honest one: the proposal counts from there
            self._future.add((name, epoch))
            return
        if epoch < current or (name, epoch) in self.submitted:
            return  # beyond a switch entry already: never applied (see the module doc)
        if self.outcome.get(name) == "committed":
            return  # a copy of a committed op changes nothing (and is left out of the chain)
        self.submitted.add((name, epoch))
        self._latest[name] = max(epoch, self._latest.get(name, epoch))
        self.outcome[name] = "pending"
        self._rejections.pop((name, None), None)

    def decide(self, key: OpKey, outcome: str, node: str, epoch: int | None = None) -> None:
        """Honest `node` answered `outcome` to the client's proposal of `key` tagged `epoch` (None:
        not said which; see the module doc)."""
        name = op_name(key)
        if self.outcome.get(name) == "committed":
            return
        if outcome == "committed":
            self.outcome[name] = "committed"
            return
        voters = self._rejections.setdefault((name, epoch), set())
        voters.add(node)
        if (
            not quorum.reaches(voters, quorum.one_correct(self.f))
            or self.outcome.get(name) != "pending"
        ):
            return
        if epoch is None:
            if all(self.dead(o, e) for o, e in self.submitted if o == name):
                self.outcome[name] = "rejected"
        elif epoch == self._latest.get(name):
            # final for that proposal (node.py); an answer to an earlier one the client has
            # already acted on by proposing again
            self.outcome[name] = "rejected"

    def dead(self, name: str, epoch: int) -> bool:
        """Whether the proposal of op `name` in `epoch` will never be applied: the epoch's switch
        entry is committed (an honest machine closed there) and the op is not before it."""
        chain = self.chains.get(epoch)
        return chain is not None and chain.shadow.closed is not None and name not in chain.ops


def applied_entries(ghost: Ghost, node: Any) -> int:
    chain = ghost.chains.get(node.epoch)
    return chain.applied(len(node.machine.log)) if chain is not None else 0


def abstract_state(nodes: Mapping[str, Any], honest: Iterable[str], ghost: Ghost) -> FrozenDict:
    good = {i: nodes[i] for i in sorted(honest) if getattr(nodes[i], "started", False)}
    ghost.observe(good.values())
    top = max((max(n.protocols) for n in good.values() if n.protocols), default=1)
    return FrozenDict(
        {
            "epoch": FrozenDict({i: n.epoch for i, n in good.items()}),
            "protocol": FrozenDict(
                {
                    i: FrozenDict({e: n.protocols.get(e, "none") for e in range(1, top + 1)})
                    for i, n in good.items()
                }
            ),
            "level": FrozenDict({i: n.level.title for i, n in good.items()}),
            "applied": FrozenDict({i: applied_entries(ghost, n) for i, n in good.items()}),
            "history": FrozenDict(
                {i: tuple(op_name(k) for k in n.machine.history) for i, n in good.items()}
            ),
            "chain": FrozenDict(ghost.chain),
            "submitted": frozenset(FrozenDict({"op": o, "epoch": e}) for o, e in ghost.submitted),
            "outcome": FrozenDict(ghost.outcome),
        }
    )


# -- one processed event as the spec's steps ------------------------------------------------------

# Not an action of any spec: the step where the actions a node reported and the change of the
# mapped state disagree (trace validation fails on it and says why).
UNEXPLAINED: Final = "Unexplained"

# (action or None for no spec step, its parameters, the effects, the mapped state after it)
ReportedStep = tuple[str | None, FrozenDict, tuple[Effect, ...], FrozenDict]


class Disagreement(Exception):
    """A reported action the mapped state does not bear out."""


def reported_steps(
    before: FrozenDict,
    after: FrozenDict,
    ghost: Ghost,
    node: str,
    honest: bool,
    segments: Sequence[tuple[Action | None, tuple[Effect, ...]]],
    ordered: dict[tuple[str, int], int],
) -> list[ReportedStep]:
    """The spec steps `node` reported for one processed event (`segments`: its effects cut at its
    `Action` reports), each with the mapped state after it, starting from `before`.

    The reports name the steps; the states only check them. A report is a spec step when it
    changes what the spec sees (the first honest node to apply an entry orders it; the f + 1-th
    "rejected" answer rejects), no step when the spec's state already holds it (a later node
    applying the same entry, a second answer), and a disagreement when the state does not bear
    it out (an Apply with no entry to apply, a Switch before the switch entry, an order at a
    position the chain does not have). The walk must end in `after`, the mapping of the cluster;
    if it does not, or on a disagreement, a last step named `UNEXPLAINED` goes to `after`.
    `ordered` counts each (node, epoch)'s order reports so far (the position of the next)."""
    out: list[ReportedStep] = []
    state = before
    why = ""
    for action, part in segments:
        nxt: FrozenDict | None = None
        if action is not None and not why:
            try:
                nxt = _take(state, after, ghost, node, honest, action, ordered)
            except Disagreement as exc:
                why = str(exc)
        if nxt is None or action is None:
            out.append((None, FrozenDict(), part, state))
        else:
            state = nxt
            out.append((action.name, action.params, part, state))
    if state != after or why:
        changed = sorted(v for v in after if after[v] != state.get(v))
        why = why or f"the reported actions leave {', '.join(changed)} as they were"
        out.append((UNEXPLAINED, FrozenDict({"i": node, "why": why}), (), after))
    return out


def _take(
    state: FrozenDict,
    after: FrozenDict,
    ghost: Ghost,
    node: str,
    honest: bool,
    action: Action,
    ordered: dict[tuple[str, int], int],
) -> FrozenDict | None:
    """The state after `action` reported by `node` (None: no spec step; see reported_steps)."""
    name, params = action.name, action.params
    said = action_label(name, params)
    if name in ("OrderOp", "OrderEvidence", "OrderQuiet"):
        if not honest:
            return None
        e = params["e"]
        assert isinstance(e, int)
        k = ordered.get((node, e), 0)
        ordered[(node, e)] = k + 1
        chain = ghost.chains.get(e)
        if chain is None or k >= len(chain.records):
            raise Disagreement(
                f"{node} reported {said}, but epoch {e}'s chain has no entry {k + 1}"
            )
        record = chain.records[k]
        if _order(e, record) != (name, params):
            raise Disagreement(
                f"{node} reported {said}, but entry {k + 1} of epoch {e} is {record}"
            )
        have = state["chain"].get(e, ())
        if len(have) > k:
            return None  # ordered already: another node applied it first
        if len(have) < k:
            raise Disagreement(f"{node} reported {said} at {k + 1}, the chain is {len(have)} long")
        return FrozenDict({**state, "chain": FrozenDict({**state["chain"], e: (*have, record)})})
    if name in ("Apply", "Switch"):
        if not honest:
            return None
        i = params.get("i")
        if i != node or i not in state["epoch"]:
            raise Disagreement(f"{node} reported {said}")
        e, a = state["epoch"][i], state["applied"][i]
        chain = ghost.chains.get(e)
        have = state["chain"].get(e, ())
        if name == "Apply":
            if chain is None or a >= len(have):
                raise Disagreement(f"{node} reported {said} with no entry {a + 1} in epoch {e}")
            return _apply(state, i, chain, a)
        if chain is None or not chain.closed or a != len(chain.records):
            raise Disagreement(f"{node} reported {said} before epoch {e}'s switch entry")
        return _switch(state, i, e, after)
    if name == "Submit":
        o = params.get("o")
        new = sorted((p for p in after["submitted"] - state["submitted"] if p["op"] == o), key=repr)
        if not new:
            return None  # not a new proposal (its epoch ended, o committed, or proposed already)
        return FrozenDict(
            {
                **state,
                "submitted": state["submitted"] | {new[0]},
                "outcome": FrozenDict({**state["outcome"], o: "pending"}),
            }
        )
    if name in ("Reply", "Reject"):
        o = params.get("o")
        outcome = "committed" if name == "Reply" else "rejected"
        if state["outcome"].get(o) != "pending" or after["outcome"].get(o) != outcome:
            return None  # the client knew already, or does not know yet (f + 1 rejections)
        return _with(state, "outcome", o, outcome)
    raise Disagreement(f"{node} reported {said}, which is no action of Hybrid.tla")


def action_label(name: str, params: Mapping[str, Value]) -> str:
    return f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})"


def _with(state: FrozenDict, var: str, key: Any, value: Value) -> FrozenDict:
    inner = state[var]
    assert isinstance(inner, FrozenDict)
    return FrozenDict({**state, var: FrozenDict({**inner, key: value})})


def _order(e: int, record: FrozenDict) -> tuple[str, FrozenDict]:
    if record["type"] == "op":
        return "OrderOp", FrozenDict({"e": e, "o": record["op"]})
    if record["type"] == "evidence":
        return "OrderEvidence", FrozenDict({"e": e, "k": record["kind"]})
    return "OrderQuiet", FrozenDict({"e": e})


def _apply(state: FrozenDict, i: str, chain: EpochChain, a: int) -> FrozenDict:
    record = chain.records[a]
    state = _with(state, "applied", i, a + 1)
    state = _with(state, "level", i, chain.levels[a].title)
    history = state["history"][i]
    if record["type"] == "op" and record["op"] not in history:
        state = _with(state, "history", i, (*history, record["op"]))
    return state


def _switch(state: FrozenDict, i: str, e: int, after: FrozenDict) -> FrozenDict:
    protocols = after["protocol"][i]
    mine = dict(state["protocol"][i])
    mine[e + 1] = protocols.get(e + 1, "none")
    state = _with(state, "protocol", i, FrozenDict(mine))
    state = _with(state, "epoch", i, e + 1)
    return _with(state, "applied", i, 0)

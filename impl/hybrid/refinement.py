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
from collections.abc import Iterable, Mapping
from typing import Any, Final

from meshcheck.impl.base import quorum
from meshcheck.impl.base.values import FrozenDict, Value
from meshcheck.impl.hybrid.entries import ClockEntry, EvidenceEntry, Keys, OpEntry, OpKey
from meshcheck.impl.hybrid.levels import EQUIVOCATION, TAMPERING, Level
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.threat import ACCEPTED, Verify

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

# the kind of evidence whose one piece demands a level (Hybrid.tla's DemandedOne, f >= 1)
KIND_FOR: Final = {Level.CRITICAL: EQUIVOCATION, Level.HIGH: TAMPERING}


def op_name(key: OpKey) -> str:
    client, seq = key
    return f"{client}/{seq}"


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
        shadow = self.shadow
        before = shadow.threat.level
        known = isinstance(value, OpEntry) and shadow.outcome(value.op.key) is not None
        result = shadow.apply_entry(value)
        after = shadow.threat.level
        if isinstance(value, OpEntry):
            name = op_name(value.op.key)
            if value.epoch != self.epoch or known or not shadow.keys.op_ok(value.op):
                return None
            self.ops.add(name)
            return FrozenDict({"type": "op", "op": name, "epoch": value.epoch})
        if isinstance(value, EvidenceEntry):
            if result.get("evidence") != ACCEPTED:
                return None
            kind = value.record.kind if after == before else KIND_FOR.get(after, value.record.kind)
            return FrozenDict({"type": "evidence", "kind": kind})
        if isinstance(value, ClockEntry) and after < before:
            return FrozenDict({"type": "quiet"})
        return None

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

Step = tuple[str, FrozenDict, FrozenDict]  # (action, parameters, the state after it)


def _with(state: FrozenDict, var: str, key: Any, value: Value) -> FrozenDict:
    inner = state[var]
    assert isinstance(inner, FrozenDict)
    return FrozenDict({**state, var: FrozenDict({**inner, key: value})})


def spec_steps(before: FrozenDict, after: FrozenDict, ghost: Ghost) -> list[Step]:
    """The spec steps that take the mapped state `before` to `after` (one processed event), in the
    order the implementation took them, with the states in between; the last state is `after`
    itself, so a step the implementation got wrong shows there. Per node whose position moved: the
    chain growing by the entry it applies next (OrderOp / OrderEvidence / OrderQuiet), Apply(i)
    with the level the entry left and the op it added, Switch(i) after its epoch's switch entry;
    then the client's proposals (Submit) and answers (Reply, Reject). Empty when nothing the spec
    sees changed; None-free: a change these steps cannot explain (a node going back) is one step
    "Step" to `after`, which no spec allows."""
    if before == after:
        return []
    out: list[Step] = []
    state = before
    epochs, applied = after["epoch"], after["applied"]
    assert isinstance(epochs, FrozenDict) and isinstance(applied, FrozenDict)
    for i in sorted(epochs):
        if i not in state["epoch"]:
            return [("Step", FrozenDict({"i": i}), after)]
        target = (epochs[i], applied[i])
        while True:
            e = state["epoch"][i]
            a = state["applied"][i]
            if (e, a) >= target:
                if (e, a) > target:
                    return [("Step", FrozenDict({"i": i}), after)]
                break
            chain = ghost.chains.get(e)
            if chain is None:
                return [("Step", FrozenDict({"i": i}), after)]
            if a == len(chain.records):  # all of the epoch applied: only a switch moves on
                if not (e < target[0] and chain.closed):
                    return [("Step", FrozenDict({"i": i}), after)]
                state = _switch(state, i, e, after)
                out.append(("Switch", FrozenDict({"i": i}), state))
                continue
            have = state["chain"].get(e, ())
            if len(have) <= a:
                record = chain.records[a]
                state = FrozenDict(
                    {**state, "chain": FrozenDict({**state["chain"], e: (*have, record)})}
                )
                out.append((*_order(e, record), state))
            state = _apply(state, i, chain, a)
            out.append(("Apply", FrozenDict({"i": i}), state))
    new = after["submitted"] - state["submitted"]
    for p in sorted(new, key=repr):
        state = FrozenDict(
            {
                **state,
                "submitted": state["submitted"] | {p},
                "outcome": FrozenDict({**state["outcome"], p["op"]: "pending"}),
            }
        )
        out.append(("Submit", FrozenDict({"o": p["op"]}), state))
    for o, now in sorted(after["outcome"].items()):
        was = state["outcome"].get(o, "none")
        if was == "pending" and now in ("committed", "rejected"):
            state = _with(state, "outcome", o, now)
            out.append(("Reply" if now == "committed" else "Reject", FrozenDict({"o": o}), state))
    if not out:
        return [("Step", FrozenDict(), after)]
    action, params, _ = out[-1]
    out[-1] = (action, params, after)
    return out


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

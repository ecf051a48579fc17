"""Drive impl/hybrid through a step of specs/Hybrid.tla, at the spec's own abstraction, and map it
back.

The spec abstracts each epoch's protocol to its agreed order: `chain[e]`, the entries epoch e's
protocol committed (Raft, PBFT and HotStuff each guarantee one such order among honest nodes; their
own lockstep tests check them against their own specs). So the driver keeps the chains, and one real
`HybridNode` per honest node, whose replicated state (`HybridMachine`) applies the committed entries
and whose node logic switches epochs:

    Submit(o)           the client's op o, proposed in the cluster's current epoch (the highest
                        epoch an honest node is in)
    OrderOp(e, o)       chain[e] gains OpEntry(o, e), o signed by the client
    OrderEvidence(e,k)  the first honest node's detector reports a piece of evidence of kind k
                        against the Byzantine node (`HybridNode._report`, as its detectors do:
                        with a real proof for tampering and equivocation, sealed with epoch e's
                        keys); chain[e] gains the signed record it proposes
    OrderQuiet(e)       chain[e] gains clock entries of two honest nodes one period later: the
                        replicated time ((f+1)-th highest report) moves past the window, the quiet
                        period and the dwell at once (the spec's quiet entry)
    Apply(i)            i's machine applies the impl entries of the next spec entry of its epoch
    Switch(i)           i takes a step (its retry timer): after every step a node whose machine
                        closed at a switch entry enters the next epoch (`HybridNode._settle`)
    Reply(o)            some honest machine holds o's committed result
    Reject(o)           every proposal of o is dead: for each epoch it was proposed in, a fresh
                        machine from that epoch's start state, applying the whole chain, closes
                        before reaching it (what every node will find when it gets there)

Raft epochs: a leader's no-op opens every Raft term; the spec has no terms, and the driver takes
each Raft epoch as one term, so a node's machine applies impl.rsm's NOOP when it enters a Raft
epoch (epoch 1 included). The mapping leaves no-ops out.

The refinement mapping (`state`): per honest node its epoch, the protocol it recorded per epoch
(1..MaxEpoch, "none" where it recorded nothing), its level, how many spec entries of its epoch's
chain its machine applied (no-ops left out, a quiet entry's clock entries counted once), its
committed history by op name; the driver's chains, proposals and client outcomes. Ops are "o<k>",
client "c1" sequence number k.

A step the implementation refuses (`DriverError`) is a divergence too: the follower reports it.

Why lockstep runs once, not once per BFT protocol (`HybridConfig.bft`, impl/hybrid/bft.py): the
driver applies each epoch's chain to the nodes' machines itself (`_apply`) and delivers no protocol
message between nodes, so no BFT core ever orders an entry here, and which protocol would have
ordered a BFT epoch's chain is below what this check sees (the nodes' default, PBFT, builds the BFT
instances; they start and take the node's own requests, and commit nothing). What differs between
PBFT and HotStuff epochs, the cores ordering the chain and the node reporting what they commit as
Order and Apply, is checked where the cores run: the free runs and trace validation, each with
either protocol (free_runs.py, validation.py).
"""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.entries import ClientOp
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import OpEntry
from meshcheck.impl.hybrid.entries import OpKey
from meshcheck.impl.hybrid.entries import Proposal
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import RAFT
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.machine import COMMITTED
from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.node import RETRY
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import RAFT_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import RAFT_TAMPERING
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import to_value
from meshcheck.property_tests.hybrid.model import DriverError
from meshcheck.specs.tlc.cfg import read_cfg

CLIENT = "c1"


def op_name(key: OpKey) -> str:
    return f"o{key[1]}"


def entry_record(value: Any) -> FrozenDict:
    """A spec entry as the chain holds it."""
    if isinstance(value, OpEntry):
        return FrozenDict({"type": "op", "op": op_name(value.op.key), "epoch": value.epoch})
    if isinstance(value, EvidenceEntry):
        return FrozenDict({"type": "evidence", "kind": value.record.kind})
    return FrozenDict({"type": "quiet"})


@attrs.frozen
class Model:
    """The constants of a Hybrid.tla model the driver needs."""

    nodes: tuple[str, ...]
    byzantine: tuple[str, ...]
    ops: tuple[str, ...]
    max_epoch: int

    @classmethod
    def from_cfg(cls, path: Path) -> Model:
        c = read_cfg(path).values()
        nodes = tuple(sorted(c["Nodes"], key=lambda n: int(n[1:])))
        return cls(nodes, tuple(sorted(c["Byzantine"])), tuple(sorted(c["Ops"])), c["MaxEpoch"])

    @property
    def honest(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if n not in self.byzantine)


@functools.cache
def _keys(nodes: tuple[str, ...]) -> tuple[Keys, EvidenceChecker]:
    """One run's keys, shared by every driver of a process: building them (Ed25519 keys for every
    holder, per epoch) costs more than a lockstep step, and they are pure values."""
    keys = Keys(0, nodes, (CLIENT,))
    return keys, EvidenceChecker(keys)


class HybridDriver:
    """Honest HybridNodes and the chains, taking Hybrid.tla's steps (see the module doc)."""

    def __init__(self, model: Model, bugs: frozenset[str] = frozenset()) -> None:
        if not model.byzantine or len(model.honest) < 2:
            raise DriverError("the hybrid lockstep model needs a Byzantine node and two honest")
        self.model = model
        self.bugs = bugs
        self.keys, self.verify = _keys(model.nodes)
        self.nodes: dict[str, HybridNode] = {}
        for k, i in enumerate(model.honest):
            node = HybridNode(
                HybridConfig(i, model.nodes, bugs=bugs), self.keys, self.verify, random.Random(k)
            )
            node.step(Restart({}))
            self.nodes[i] = node
        self.reporter, self.closer = model.honest[0], model.honest[1]
        self.accused = model.byzantine[0]
        th = self.nodes[self.reporter].config.th
        self.period = max(th.window, th.quiet, th.dwell) + 1  # one quiet entry's worth of time
        self.time = 0  # the clock of the last quiet entry
        self.proofs = 0
        self.chain: dict[int, list[tuple[FrozenDict, tuple[Any, ...]]]] = {
            e: [] for e in range(1, model.max_epoch + 1)
        }
        self.submitted: set[tuple[str, int]] = set()
        self.outcome: dict[str, str] = dict.fromkeys(model.ops, "none")
        self._noops()

    # -- steps ---------------------------------------------------------------------------------------

    def take(self, action: str, params: FrozenDict) -> None:
        if action == "Submit":
            o = str(params["o"])
            current = max(n.epoch for n in self.nodes.values())
            self.submitted.add((o, current))
            self.outcome[o] = "pending"
        elif action == "OrderOp":
            e, o = int(params["e"]), str(params["o"])
            self._order(e, (OpEntry(self.op(o, e), e),))
        elif action == "OrderEvidence":
            e = int(params["e"])
            self._order(e, (EvidenceEntry(self._report(str(params["k"]), e)),))
        elif action == "OrderQuiet":
            self.time += self.period
            clocks = (ClockEntry(self.reporter, self.time), ClockEntry(self.closer, self.time))
            self._order(int(params["e"]), tuple(self.keys.sign_clock(c) for c in clocks))
        elif action == "Apply":
            self._apply(str(params["i"]))
        elif action == "Switch":
            self.nodes[str(params["i"])].step(Tick(RETRY))
        elif action == "Reply":
            self._reply(str(params["o"]))
        elif action == "Reject":
            self._reject(str(params["o"]))
        else:
            raise DriverError(f"Hybrid.tla has no action {action}")
        self._noops()

    def op(self, o: str, epoch: int) -> ClientOp:
        """o as the client signs it for epoch `epoch` (its tag)."""
        return self.keys.sign_op(ClientOp(CLIENT, int(o[1:]), to_value(Custom(o, 1)), epoch))

    def _order(self, e: int, entries: tuple[Any, ...]) -> None:
        self.chain[e].append((entry_record(entries[0]), entries))

    def _report(self, kind: str, epoch: int) -> Any:
        """The reporter's detector reports evidence of `kind` in `epoch`: the record it signs."""
        node = self.nodes[self.reporter]
        # a later reading of its clock: past its rate limit (one report per kind and accused every
        # report_every ticks, counted from its last report: a step in between may have set its
        # clock back to an event's), and another record than the last
        last = max((r.time for r in node.reported), default=node.now)
        node.now = max(node.now, last) + node.config.report_every
        self.proofs += 1
        messages: tuple[Any, ...] = ()
        detail = ""
        if kind == TAMPERING:
            forged = ClientOp(CLIENT, 10_000 + self.proofs, to_value(Custom("forged", 0)))
            body = Proposal(epoch, self.accused, OpEntry(forged, epoch))  # no client signature
            messages, detail = (self.keys.seal(epoch, self.accused, body),), RAFT_TAMPERING
        elif kind == EQUIVOCATION:
            term = self.proofs
            one, two = NOOP, self.keys.sign_clock(ClockEntry(self.accused, -term))
            messages = tuple(
                self.keys.seal(
                    epoch,
                    self.accused,
                    RaftPayload(
                        epoch,
                        self.accused,
                        AppendEntriesRequest(
                            self.accused, self.reporter, term, 0, 0, (Entry(term, v),), 0
                        ),
                    ),
                )
                for v in (one, two)
            )
            detail = RAFT_EQUIVOCATION
        before = len(node.reported)
        node._report(kind, self.accused, messages, detail, epoch)
        if len(node.reported) == before:
            raise DriverError(f"{self.reporter} did not report {kind} against {self.accused}")
        return node.reported[-1]

    def _apply(self, i: str) -> None:
        node = self.nodes[i]
        chain = self.chain[node.epoch]
        done = self.applied(node.machine)
        if done >= len(chain):
            raise DriverError(f"{i} has applied all {done} entries of epoch {node.epoch}")
        for value in chain[done][1]:
            node.machine.apply_entry(value)

    def _noops(self) -> None:
        """A node in a Raft epoch whose machine has applied nothing yet applies the leader's no-op."""
        for node in self.nodes.values():
            if node.current_protocol() == RAFT and not node.machine.log:
                node.machine.apply_entry(NOOP)

    def _key(self, o: str) -> OpKey:
        return (CLIENT, int(o[1:]))

    def _reply(self, o: str) -> None:
        for node in self.nodes.values():
            found = node.machine.outcome(self._key(o))
            if found is not None and found.get("status") == COMMITTED:
                self.outcome[o] = "committed"
                return
        raise DriverError(f"no honest node has a committed result for {o}")

    def _reject(self, o: str) -> None:
        for op, e in sorted(self.submitted):
            if op == o and not self._dead(o, e):
                raise DriverError(f"the proposal of {o} in epoch {e} may still be applied")
        self.outcome[o] = "rejected"

    def _dead(self, o: str, e: int) -> bool:
        """Whether the proposal of o in epoch e will never be applied: a machine from epoch e's
        start state applying all of chain[e] closes at a switch entry without having applied it."""
        starts = [n.instances[e].start for n in self.nodes.values() if e in n.instances]
        if not starts:
            return False
        machine = HybridMachine(starts[0], self.keys, self.verify, self.bugs)
        for _record, values in self.chain[e]:
            for value in values:
                machine.apply_entry(value)
        return machine.closed is not None and OpEntry(self.op(o, e), e) not in machine.log

    # -- the refinement mapping ---------------------------------------------------------------------

    def applied(self, machine: HybridMachine) -> int:
        """Spec entries of its epoch's chain `machine` applied (no-ops out, quiet entries once)."""
        return sum(
            1
            for v in machine.log
            if isinstance(v, OpEntry | EvidenceEntry)
            or (isinstance(v, ClockEntry) and v.node == self.closer)
        )

    def state(self) -> FrozenDict:
        epochs = range(1, self.model.max_epoch + 1)
        nodes = self.nodes
        submitted: frozenset[Value] = frozenset(
            FrozenDict({"op": o, "epoch": e}) for o, e in self.submitted
        )
        return FrozenDict(
            {
                "epoch": FrozenDict({i: n.epoch for i, n in nodes.items()}),
                "protocol": FrozenDict(
                    {i: tuple(n.protocols.get(e, "none") for e in epochs) for i, n in nodes.items()}
                ),
                "level": FrozenDict({i: n.level.title for i, n in nodes.items()}),
                "applied": FrozenDict({i: self.applied(n.machine) for i, n in nodes.items()}),
                "history": FrozenDict(
                    {i: tuple(op_name(k) for k in n.machine.history) for i, n in nodes.items()}
                ),
                "chain": tuple(tuple(r for r, _ in self.chain[e]) for e in epochs),
                "submitted": submitted,
                "outcome": FrozenDict(self.outcome),
            }
        )

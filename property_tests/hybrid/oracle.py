"""What honest hybrid nodes must do with what Byzantine ones send them, after every step of a free
run (`HybridPlugin.watchers`), as property_tests/pbft/oracle.py does for PBFT replicas:

- a sealed message (Raft message or proposal) whose seal is not its sender's for its epoch is not
  taken, and the node reports `bad_signature` against the link's sender (within its rate limit,
  `report_every`), when it keeps the epoch the message names;
- a sealed message that checks but carries an entry whose own signature fails (a client's op, a
  clock reading, an evidence record changed, or not an entry at all) is not taken into the node's
  Raft log at that index, and the node reports `tampering` against the sealer (within the same
  rate limit: a proof lately, or this proof ever): a proposal in any
  epoch it keeps, an AppendEntries in a Raft epoch whose `source` is its sender (the node reads no
  other Raft message: impl/hybrid/node.py);
- a PBFT message on the wire: property_tests/pbft/oracle.py's rules, on the instance of its epoch,
  with that epoch's keys;
- no honest node reports an honest one for anything: a timing anomaly too is two heartbeats the
  leader itself signed too far apart (impl/hybrid/node.py `_inspect_beat`), which no honest leader
  signs however the network treats them (in all-honest runs: no_false_accusation.py).

A broken rule raises `CheckFailed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.entries import PbftWire
from meshcheck.impl.hybrid.entries import RaftPayload
from meshcheck.impl.hybrid.entries import epoch_of
from meshcheck.impl.hybrid.fuzz import seal_ok
from meshcheck.impl.hybrid.fuzz import sealed
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import TAMPERING
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.hybrid.proofs import appended
from meshcheck.impl.hybrid.proofs import carried
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.node import RaftNode
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.pbft.oracle import RejectionOracle
from meshcheck.property_tests.read_marks import ReadMarks


class HybridOracle:
    """The rules of the module doc; `byzantine` is the set of nodes ever Byzantine (read live)."""

    def __init__(self, keys: Keys, byzantine: set[str], *, report_every: int = 100) -> None:
        self.keys = keys
        self.byzantine = byzantine
        self.report_every = report_every
        self.steps = 0
        self.checked = 0
        self._pbft: dict[int, RejectionOracle] = {}
        self._read = ReadMarks()  # each node's reports judged so far

    def fail(self, node: str, problem: str) -> None:
        raise CheckFailed(f"{node}: {problem} (honest rejection)", steps=self.steps)

    def __call__(self, node_id: str, event: Any, nodes: Mapping[str, HybridNode]) -> None:
        self.steps += 1
        node = nodes.get(node_id)
        if node is None or node_id in self.byzantine or not node.started:
            return
        self._accusations(node)
        if isinstance(event, Deliver) and event.source in self.byzantine:
            self._delivered(node, event.source, event.message)

    def _accusations(self, node: HybridNode) -> None:
        for record in self._read.unread(node.id, node, node.reported):
            if record.accused not in self.byzantine:
                self.fail(node.id, f"reports honest {record.accused} for {record.kind}")
        self._read.read(node.id, node, len(node.reported))

    def _delivered(self, node: HybridNode, source: str, m: Any) -> None:
        epoch = epoch_of(m)
        instance = node.instances.get(epoch) if isinstance(epoch, int) else None
        if instance is None:
            return  # an epoch it does not keep: dropped unread
        if isinstance(m, PbftWire):
            core = instance.core
            if isinstance(core, Replica) and isinstance(epoch, int):
                oracle = self._pbft.get(epoch)
                if oracle is None:
                    oracle = self._pbft[epoch] = RejectionOracle(
                        self.keys.epoch(epoch), self.byzantine
                    )
                oracle.byzantine = frozenset(self.byzantine)
                oracle(node.id, Deliver(source, m.message), {node.id: core})
                if oracle.violation is not None:
                    self.fail(node.id, f"epoch {epoch}: {oracle.violation}")
            return
        if not sealed(m):
            return
        if m.signer != source or not seal_ok(self.keys, m):
            self.checked += 1
            if not self._reported(node, BAD_SIGNATURE, source):
                self.fail(node.id, f"took a seal from {source} that does not verify, unreported")
            return
        inner = getattr(m.body, "message", None)
        if isinstance(m.body, RaftPayload) and not (
            instance.is_raft and isinstance(inner, AppendEntriesRequest) and inner.source == source
        ):
            return  # not read (node.py): a Raft message in a BFT epoch, or not its sender's
        bad = [v for v in carried(m) if not self.keys.entry_ok(v)]
        if not bad:
            return
        self.checked += 1
        if not self._reported(node, TAMPERING, source, proof=m):
            self.fail(node.id, f"took an entry whose signature fails from {source}, unreported")
        core = instance.core
        if isinstance(core, RaftNode):
            for index, entry in appended(m).items():
                value = entry.value if isinstance(entry, Entry) else None  # None: malformed
                if value in bad and _log_entry(core, index) == entry:
                    self.fail(node.id, f"holds {source}'s tampered entry at index {index}")

    def _reported(self, node: HybridNode, kind: str, accused: str, *, proof: Any = None) -> bool:
        """Reported lately; or, for a self-proving kind, ever with `proof` among its messages (a
        node reports one proof once: the same tampered message delivered again is not news)."""
        return any(
            r.kind == kind
            and r.accused == accused
            and (
                node.now - r.time <= self.report_every
                or (proof is not None and proof in r.messages)
            )
            for r in reversed(node.reported)
        )


def _log_entry(core: RaftNode, index: int) -> Any:
    try:
        return core.log.entry(index)
    except (IndexError, KeyError, ValueError, AttributeError):
        return None


def watch(hc: Any, byzantine: Iterable[str] | None = None) -> HybridOracle:
    """Add the oracle to a HybridConsensus's simulator (the nodes ever Byzantine: `hc.byzantine`)."""
    plugin = hc.plugin
    oracle = HybridOracle(plugin.keys, hc.byzantine if byzantine is None else set(byzantine))
    plugin.watchers.append(oracle)
    return oracle

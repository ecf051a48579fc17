"""What a cluster test checks once its run is over.

- Progress: once every fault is undone, operations succeed again.
- The history (workload.py) is linearizable against the replicated state machine's model
  (traces/history/models.py `Rsm`): every read saw the latest write, no acknowledged write lost.
- Every node's log (impl/runtime/nodelog.py) is a behaviour of the spec, step by step (trace
  validation of the real run, as etcd's and CCF's; docs/logs.md).
- PBFT's state files: the replicas executed one sequence of batches (each one's history a prefix
  of another's: the agreement of the OSDI 1999 paper, section 4), and every write a client
  accepted (f+1 matching replies) was executed by f+1 replicas at least (a replica replies only
  after what it executed is on its disk).
- HotStuff's state files: each replica's committed chain (its committed head and the head's
  ancestors, from the blocks it stored) is a prefix of another's, and every accepted write is in
  f+1 replicas' committed chains.
- The hybrid dispatcher's state files: each epoch's instance keeps its own state under the
  epoch's prefix (impl/hybrid/instance.py), so each epoch is checked as its protocol is: Log
  Matching in a Raft epoch, one executed sequence (PBFT) or committed chain (HotStuff) in a BFT
  epoch, among the honest nodes (a Byzantine node's disk is its own business).
- Raft's state files, read back after every process ended (impl/runtime/disk.py):
  - Log Matching (Raft paper Figure 3): two logs with an entry of the same index and term hold the
    same entries up to it;
  - durability: every write a client saw acknowledged is in the logs of a majority of nodes (the
    leader answers only once a majority fsynced it: a lost fsync or an answer before it shows here).
- Raft's applied state, sampled through every node's control channel while it runs (inspection.py,
  impl/runtime/hosted/raft.py `raft_inspect`): each node's state machine applied exactly the entries
  up to its commit index, and machines at one commit index hold one state.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import ParamSpec

import attrs

from meshcheck import words
from meshcheck.cluster.inspection import Sample
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.replica import BLOCKS
from meshcheck.impl.hotstuff.replica import SAFETY
from meshcheck.impl.pbft.client import CLOCK
from meshcheck.impl.pbft.storage import EXECUTED
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import Snapshot
from meshcheck.impl.raft.node import LOG
from meshcheck.impl.raft.node import SNAP
from meshcheck.traces.history import checker
from meshcheck.traces.history import models
from meshcheck.traces.history.history import Op
from meshcheck.traces.logs import format as logformat
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import model_text
from meshcheck.traces.logs.validate import stepper_for
from meshcheck.traces.logs.validate import validation_model

P = ParamSpec("P")


@attrs.frozen
class Verdict:
    check: str
    holds: bool | None  # None: could not decide (the checker's budget ran out)
    detail: str
    # a check on real time (progress, agreement or detection within seconds of a calm), which load
    # on the machine alone can break (docs/cluster.md, "What it has caught": unmutated PBFT runs
    # made no progress within 8 s on a loaded machine); the others (a history linearizable,
    # agreement, durability, logs valid) hold of correct code however slow the machine is
    timed: bool = False
    # what the verdict is to the run (meshcheck/systems/promises.py): "" a check the run must pass;
    # PROMISE the model the system promises, whose verdict the run's is; INFORMATION a model
    # stronger than the one promised, shown and never judged
    role: str = ""

    @property
    def judged(self) -> bool:
        """Whether the run's verdict follows this one: all but information."""
        return self.role != INFORMATION

    def said(self) -> str:
        """The verdict table's result: holds, VIOLATED or unknown; of a promise, "holds its
        promise" or "VIOLATED its promise"; of information, "holds", "no" or "unknown", marked."""
        if self.role == INFORMATION:
            return {True: "holds", False: "no", None: "unknown"}[self.holds] + " (information)"
        said = {True: "holds", False: "VIOLATED", None: "unknown"}[self.holds]
        if self.role == PROMISE:
            return {True: "holds its promise", False: "VIOLATED its promise",
                    None: "unknown whether it holds its promise"}[self.holds]  # fmt: skip
        return said


PROMISE, INFORMATION = "promise", "information"


def timed(check: Callable[P, Verdict]) -> Callable[P, Verdict]:
    """`check`, whose verdicts are on real time (`Verdict.timed`)."""

    @functools.wraps(check)
    def judged(*args: P.args, **kwargs: P.kwargs) -> Verdict:
        return attrs.evolve(check(*args, **kwargs), timed=True)

    return judged


def linearizable(ops: Sequence[Op], budget: float) -> Verdict:
    result = checker.check(ops, models.Rsm(), budget)
    if result.verdict == "linearizable":
        return Verdict("linearizable (rsm)", True, f"{words.count(len(ops), 'operation')}")
    if result.verdict == "unknown":
        return Verdict("linearizable (rsm)", None, f"undecided within {budget:.0f} s")
    return Verdict(
        "linearizable (rsm)",
        False,
        f"not linearizable: key {result.partition}, cut at t={result.cut:.3f}s",
    )


@timed
def progress(ops: Sequence[Op], healed: float, end: float) -> Verdict:
    """Liveness once the faults are over: some operation invoked after `healed` (the last fault
    undone) completed ok before `end`. A run whose clients got nothing done passes every safety
    check and shows nothing: this check says so."""
    after = [o for o in ops if o.call >= healed and o.status == "ok"]
    if after:
        return Verdict("progress after healing", True, f"{len(after)} ok after t={healed:.1f}s")
    return Verdict(
        "progress after healing",
        False,
        f"no operation succeeded in the {end - healed:.1f} s after t={healed:.1f}s",
    )


# how many operations of the other clients must have been answered after a client's restart for
# its own silence to be the client's, not a cluster that made no progress (one client in ten at
# about 30 answered operations a second: a client gets its share within a second or two)
OTHERS_ANSWERED = 20


def _client(op: Op) -> str:
    """The client core an operation's process belongs to (`c3.1`: c3's second process)."""
    return str(op.process).split(".", 1)[0]


@timed
def restarted_answered(
    ops: Sequence[Op], struck: Sequence[tuple[float, str]], others: int = OTHERS_ANSWERED
) -> Verdict:
    """Each client the nemesis crashed and restarted (`crash-client`) had an operation answered
    after its restart, if the other clients had `others` answered meanwhile: a restarted client
    whose new requests the replicas take for ones they executed (a clock that went back: Castro
    and Liskov, OSDI 1999, section 4.1) is never answered while the group serves everyone else.
    Undecided when the others were not answered either (the group made no progress). On real
    time: on a loaded machine a correct client restarted just before the group stalled in view
    changes went unanswered while the others had 22 answered (docs/cluster.md); and a client
    restarted after fewer requests than it makes afterwards climbs past its old timestamps and is
    answered again. `client_clocks` judges the clock itself."""
    name = "restarted clients answered"
    restarts = sorted(
        (t, what.split()[1])
        for t, what in struck
        if what.startswith("crash-client ") and what.endswith(" undone")
    )
    if not restarts:
        return Verdict(name, True, "no client restarted")
    said, undecided = [], []
    for t, client in restarts:
        mine = [o for o in ops if _client(o) == client and o.call >= t]
        answered = [o for o in mine if o.status == "ok"]
        served = sum(1 for o in ops if _client(o) != client and o.call >= t and o.status == "ok")
        if answered:
            said.append(f"{client} (t={t:.1f}s) {len(answered)} of {len(mine)}")
        elif served >= others:
            return Verdict(
                name,
                False,
                f"{client}, restarted at t={t:.1f}s: none of its {words.count(len(mine), 'operation')} since "
                f"was answered, while the other clients had {served} answered",
            )
        else:
            undecided.append(f"{client} (t={t:.1f}s): none, the others {served}")
    if undecided:
        return Verdict(name, None, "too little progress to judge: " + "; ".join(undecided))
    return Verdict(name, True, "answered since the restart: " + ", ".join(said))


def client_clocks(
    clients: Mapping[str, Sequence[Sequence[Write]]], executed: Mapping[str, Sequence[Any]]
) -> Verdict:
    """PBFT: each client's clock (impl/pbft/client.py `CLOCK`, the last timestamp it signed),
    followed through its state file's records in the order it wrote them, moves on with every
    request (a record puts it only when the client signs a new request), and ends at or above the
    timestamp of every request of its that an honest replica executed (their state files). A
    client persists a timestamp before it signs a request with it, so before any replica can see
    it; a clock that did not move on signs a new request under a timestamp it used, maybe one the
    replicas executed, and they take it for that one (section 4.1: a replica tells a new request
    from a retry by its timestamp)."""
    name = "client clocks (state files)"
    highest: dict[str, tuple[int, str]] = {}
    for node, batches in executed.items():
        for batch in batches:
            for r in batch:
                client, timestamp = r.body.client, r.body.timestamp
                if timestamp > highest.get(client, (0, ""))[0]:
                    highest[client] = (timestamp, node)
    for client, records in sorted(clients.items()):
        clock = 0
        for k, writes in enumerate(records, 1):
            for w in writes:
                if isinstance(w, Put) and w.key == CLOCK:
                    if int(w.value[0]) <= clock:
                        return Verdict(
                            name,
                            False,
                            f"{client} signed timestamp {w.value[0]} after {clock} (record {k} of "
                            "its state file)",
                        )
                    clock = int(w.value[0])
        timestamp, node = highest.get(client, (0, ""))
        if timestamp > clock:
            return Verdict(
                name,
                False,
                f"{client}'s clock is at {clock} on its state file, and {node} executed its "
                f"request of timestamp {timestamp}",
            )
    return Verdict(
        name,
        True,
        f"{words.count(len(clients), 'client')}, each moving on, at or above what was executed of it",
    )


def logs_valid(
    spec: str,
    logs: Sequence[Path],
    constants: Mapping[str, str],
    folder: Path,
    budget: float,
    limit: int | None = None,
    model: Path | None = None,
) -> Verdict:
    """Every node's NDJSON log (impl/runtime/nodelog.py), merged by Lamport clock, is a behaviour
    of the spec (traces/logs/validate.py, as `meshcheck validate`): trace validation of a real
    run. The model is the spec's validation model with the cluster's `constants` (its servers,
    its checkpoint interval) and those the spec fits to the logs, written to the report folder so
    that `meshcheck validate --spec SPEC --model DIR/model.cfg DIR/data/*/node.ndjson` replays
    the verdict. `spec` is a name `meshcheck validate` knows or a .tla file's path; `model` the
    model (default the spec's validation model)."""
    name = f"logs valid ({Path(spec).name if spec.endswith('.tla') else spec + '.tla'})"
    records = logformat.merge([logformat.read(p) for p in logs])
    whole = len(records)
    # the first `limit` in Lamport order: every receive's send is among them (a causal cut)
    records = records[:limit] if limit is not None else records
    cut = (
        f" (the first {len(records)} of {words.count(whole, 'record')})"
        if len(records) < whole
        else ""
    )
    written = folder / "model.cfg"
    written.write_text(
        model_text(spec, records, model or validation_model(spec), constants), encoding="utf-8"
    )
    try:
        verdict = Validator(stepper_for(spec, str(written))).run(records, budget=budget)
    except MeshcheckError as e:  # TLC could not step the model (a state space it cannot build)
        return Verdict(name, None, f"undecided: {e}")
    first = verdict.render().splitlines()[0]
    holds = {"valid": True, "invalid": False}.get(verdict.verdict)
    if holds is not False:  # valid, or unknown: how far it got (the report has the rest)
        # the verdict's head without its timing: "valid: 42 of 42 steps", "unknown at F:12:
        # explained up to line 11 (11 of 42 steps)"
        return Verdict(name, holds, re.split(r"(?: explained)? in [\d.]+ s \(", first)[0] + cut)
    return Verdict(name, holds, " ".join(verdict.render().splitlines()[:2]) + cut)


def raft_logs(persisted: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[int, Entry]]:
    """Each node's log entries by index, from its state file's content."""
    out: dict[str, dict[int, Entry]] = {}
    for node, content in persisted.items():
        snapshot: Snapshot | None = content.get(SNAP)
        base = snapshot.index if snapshot is not None else 0
        out[node] = {base + k + 1: e for k, e in enumerate(content.get(LOG, ()))}
    return out


def log_matching(logs: Mapping[str, Mapping[int, Entry]]) -> Verdict:
    nodes = sorted(logs)
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            shared = sorted(set(logs[a]) & set(logs[b]))
            last = max((k for k in shared if logs[a][k].term == logs[b][k].term), default=0)
            for k in shared:
                if k <= last and logs[a][k] != logs[b][k]:
                    return Verdict(
                        "log matching (state files)",
                        False,
                        f"{a} and {b} agree at index {last} (term {logs[a][last].term}) and "
                        f"differ at {k}: {logs[a][k]} vs {logs[b][k]}",
                    )
    return Verdict("log matching (state files)", True, f"{words.count(len(nodes), 'log')}")


def durable(
    ops: Sequence[Op], logs: Mapping[str, Mapping[int, Entry]], compacted: Collection[str] = ()
) -> Verdict:
    """Every acknowledged write is in the logs of a majority. A node that compacted its log
    (`compacted`: it holds a snapshot, section 7 of the Raft paper) may hold a write inside its
    snapshot, which keeps the state machine's state, not the entries: such a node is counted for
    a write its log lacks (a write missing from a majority then shows only while the logs hold
    it). Counted against it, a long run (the runtime compacts every 10,000 entries) or
    `--core snapshot_interval=50` made every early write look lost."""
    majority = len(logs) // 2 + 1
    held: dict[Any, int] = {}
    values = {node: {e.value for e in log.values()} for node, log in logs.items()}
    for mine in values.values():
        for value in mine:
            held[value] = held.get(value, 0) + 1
    acknowledged = [o for o in ops if o.f == "write" and o.status == "ok"]
    inside = 0  # writes a majority holds only counting the snapshots
    lost: list[tuple[Op, int]] = []  # each write on fewer than a majority, and on how many
    for o in acknowledged:
        count = held.get(o.input, 0)
        could = count + sum(1 for n in compacted if o.input not in values[n])
        if could < majority:
            lost.append((o, count))
        inside += count < majority
    if lost:
        o, count = lost[0]
        more = len(lost) - 1
        return Verdict(
            "acknowledged writes durable",
            False,
            f"{o.process}'s write {dict(o.input) if isinstance(o.input, Mapping) else o.input}"
            f" acknowledged at t={o.ret:.3f}s is on {count} of {len(logs)} disks"
            + (f" ({len(compacted)} with a snapshot)" if compacted else "")
            + (f"; {more} more of the {len(acknowledged)} acknowledged lost" if more else ""),
        )
    said = f"{len(acknowledged)} on a majority of disks"
    if inside:
        said += f" ({inside} of them counting the nodes whose snapshots may hold them)"
    return Verdict("acknowledged writes durable", True, said)


def answered_once(
    ops: Sequence[Op],
    again: Sequence[tuple[int, float, Any]],
    late: Sequence[tuple[int, float, bool]] = (),
) -> Verdict:
    """Each request got one answer at most (the clients saw every answer a node gave: the host
    passes on each, impl/runtime/host.py; meshcheck/cluster/workload.py). A node answers a request
    it took once, when its outcome is known (Raft: the leader that appended the write, once the
    entry is committed and applied, Figure 2; a deposed leader with "outcome unknown"); a second
    answer is one it no longer owed, as from a table of pending writes that outlived a crash.
    The answers that came after their client stopped waiting are counted in the detail (an `ok`
    one ended its operation then: workload.py)."""
    name = "one answer per request"
    if again:
        index, at, answer = again[0]
        o = ops[index]
        said = dict(answer) if isinstance(answer, Mapping) else answer
        return Verdict(
            name,
            False,
            f"{o.process}'s {o.f} {dict(o.input) if isinstance(o.input, Mapping) else o.input} "
            f"(invoked at t={o.call:.3f}s) answered again at t={at:.3f}s: {said}"
            + (f"; {len(again)} second answers in all" if len(again) > 1 else ""),
        )
    detail = f"{len(ops)} requests"
    if late:
        detail += f", {len(late)} answered after their client stopped waiting"
    return Verdict(name, True, detail)


def applied_state(samples: Sequence[Sample]) -> Verdict:
    """Raft's state machines, as the nodes' control channels showed them (impl/runtime/hosted/raft.py
    `raft_inspect`): in every sample the machine applied as many entries as the node's commit
    index says (the core applies each entry as it commits it, section 5.3; an InstallSnapshot
    installs a machine and its index together, section 7: a machine behind its commit index went
    back, as one restored from a snapshot older than what it applied), and any two samples at one
    commit index, of one node or two, hold the same state (equal digests: State Machine Safety,
    Figure 3, seen in the machines rather than the logs). No log or state file shows the machine:
    the logs hold what Raft.tla has, the state files a snapshot only when one is taken."""
    name = "applied state (inspected)"
    seen = [s for s in samples if "digest" in s.seen]
    if not seen:
        return Verdict(name, None, "no node answered an inspection")
    at_index: dict[int, Sample] = {}
    for s in sorted(seen, key=lambda s: s.at):
        commit, applied = s.seen["commit"], s.seen["applied"]
        if applied != commit:
            return Verdict(
                name,
                False,
                f"{s.node} at t={s.at:.2f}s: its state machine applied {words.count(applied, 'entry')}, its "
                f"commit index is {commit}",
            )
        first = at_index.setdefault(commit, s)
        if first.seen["digest"] != s.seen["digest"]:
            return Verdict(
                name,
                False,
                f"two states at commit index {commit}: {first.node}'s at t={first.at:.2f}s "
                f"({first.seen['digest']}), {s.node}'s at t={s.at:.2f}s ({s.seen['digest']})",
            )
    nodes = len({s.node for s in seen})
    return Verdict(
        name,
        True,
        f"{words.count(len(seen), 'sample')} of {words.count(nodes, 'node')}, {len(at_index)} commit indexes",
    )


def pbft_executed(persisted: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Each replica's executed batches, in sequence-number order, from its state file."""
    return {node: tuple(content.get(EXECUTED, ())) for node, content in persisted.items()}


def executed_agree(executed: Mapping[str, Sequence[Any]]) -> Verdict:
    name = "agreement (state files)"
    nodes = sorted(executed)
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            for seq, (x, y) in enumerate(zip(executed[a], executed[b], strict=False), 1):
                if x != y:
                    return Verdict(name, False, f"{a} and {b} executed different batches at {seq}")
    longest = max((len(h) for h in executed.values()), default=0)
    return Verdict(
        name,
        True,
        f"{words.count(len(nodes), 'history')}, the longest {words.count(longest, 'batch')}",
    )


def hotstuff_committed(persisted: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Each replica's committed chain from its state file: the batches of its committed head and
    the head's ancestors, genesis first. A replica whose committed heads fork (two, neither an
    ancestor of the other: what no correct replica holds) gives its first head's chain, and its
    other heads make the chains disagree below."""
    out: dict[str, tuple[Any, ...]] = {}
    for node, content in persisted.items():
        blocks = {b.hash: b for b in content.get(BLOCKS, ())}
        safety = content.get(SAFETY)
        heads: tuple[bytes, ...] = tuple(safety[5]) if safety is not None else ()
        chains = []
        for head in heads:
            chain, h = [], head
            while h != GENESIS.hash and h in blocks:
                chain.append(blocks[h].batch)
                h = blocks[h].parent
            chains.append(tuple(reversed(chain)))
        out[node] = chains[0] if chains else ()
        for k, other in enumerate(chains[1:], 2):
            out[f"{node} (head {k})"] = other
    return out


def _operation(request: Any) -> Any:
    """The operation a request of an executed batch carries (PBFT's or HotStuff's)."""
    if hasattr(request, "body"):
        return request.body.operation
    return request.request.op


def accepted_durable(ops: Sequence[Op], executed: Mapping[str, Sequence[Any]], f: int) -> Verdict:
    name = "accepted writes durable"
    held: dict[Any, int] = {}
    for batches in executed.values():
        for value in {_operation(r) for batch in batches for r in batch}:
            held[value] = held.get(value, 0) + 1
    accepted = [o for o in ops if o.f == "write" and o.status == "ok"]
    for o in accepted:
        if held.get(o.input, 0) < f + 1:
            return Verdict(
                name,
                False,
                f"{o.process}'s write {dict(o.input) if isinstance(o.input, Mapping) else o.input}"
                f" accepted at t={o.ret:.3f}s was executed on {held.get(o.input, 0)} of "
                f"{len(executed)} disks, fewer than f+1 = {f + 1}",
            )
    return Verdict(name, True, f"{len(accepted)} on f+1 disks at least")


def hybrid_epochs(persisted: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """Each epoch's state on the honest nodes' disks, checked as its protocol's (see the module).
    The epochs are the key prefixes on disk (`e<k>/`); an epoch's protocol is read off what its
    instance stored (executed batches: PBFT; blocks: HotStuff; otherwise a Raft log)."""
    name = "every epoch agrees (state files)"
    epochs = sorted(
        {
            int(k[1:].split("/", 1)[0])
            for content in persisted.values()
            for k in content
            if k[:1] == "e" and k[1:].split("/", 1)[0].isdigit() and "/" in k
        }
    )
    shown = []
    for epoch in epochs:
        prefix = f"e{epoch}/"
        own = {
            node: {k.removeprefix(prefix): v for k, v in content.items() if k.startswith(prefix)}
            for node, content in persisted.items()
        }
        held = {k for content in own.values() for k in content}
        if EXECUTED in held:
            proto, verdict = "pbft", executed_agree(pbft_executed(own))
        elif BLOCKS in held:
            proto, verdict = "hotstuff", executed_agree(hotstuff_committed(own))
        else:
            proto, verdict = "raft", log_matching(raft_logs(own))
        if not verdict.holds:
            return Verdict(name, False, f"epoch {epoch} ({proto}): {verdict.detail}")
        shown.append(f"{epoch} {proto}")
    if not shown:
        return Verdict(name, False, "no epoch's state on any honest node's disk")
    return Verdict(name, True, f"epochs {', '.join(shown)}")


def bft_epochs(content: Mapping[str, Any]) -> set[int]:
    """The epochs a hybrid node's disk holds a BFT instance's state of (executed batches: PBFT;
    blocks: HotStuff), by the `e<k>/` key prefixes (impl/hybrid/instance.py)."""
    out = set()
    for key in content:
        epoch, _, rest = key.removeprefix("e").partition("/")
        if key.startswith("e") and epoch.isdigit() and rest in (EXECUTED, BLOCKS):
            out.add(int(epoch))
    return out


def escalated(
    samples: Sequence[Sample], honest: Sequence[str], persisted: Mapping[str, Mapping[str, Any]]
) -> Verdict:
    """With a Byzantine node in the cluster, the threat-level dispatcher moves coordination from
    Raft to BFT (impl/hybrid/node.py): every honest node was in a BFT epoch at some point, as its
    control channel showed it (the epoch and protocol sampled every 0.1 s: inspection.py) or, for
    a BFT epoch too short to be sampled on a loaded machine, as its disk shows (an instance of
    that epoch executed or stored blocks)."""
    name = "Byzantine behaviour moves it to BFT"
    moved = {
        s.node: s.at for s in sorted(samples, key=lambda s: -s.at) if s.seen["protocol"] != "raft"
    }
    on_disk = {n: bft_epochs(persisted.get(n, {})) for n in honest}
    stayed = sorted(n for n in honest if n not in moved and not on_disk[n])
    if stayed:
        return Verdict(name, False, f"{', '.join(stayed)} never seen in a BFT epoch")
    seen = [n for n in honest if n in moved]
    parts = (
        [f"{', '.join(seen)} sampled in one by t={max(moved[n] for n in seen):.2f}s"]
        if seen
        else []
    )
    unseen = [n for n in honest if n not in moved]
    if unseen:
        epochs = sorted(set().union(*(on_disk[n] for n in unseen)))
        parts.append(f"{', '.join(unseen)} by their disks (epochs {', '.join(map(str, epochs))})")
    detail = "every honest node in a BFT epoch: " + "; ".join(parts)
    return Verdict(name, True, detail)


def state_files(protocol: str, ops: Sequence[Op], persisted: Mapping[str, Any]) -> list[Verdict]:
    """The checks of the nodes' state files, read back once every process ended (for the hybrid
    dispatcher, `persisted` holds the honest nodes' only)."""
    f = (len(persisted) - 1) // 3
    if protocol == "hybrid":
        return [hybrid_epochs(persisted)]
    if protocol in ("pbft", "hotstuff"):
        ran = pbft_executed(persisted) if protocol == "pbft" else hotstuff_committed(persisted)
        own = {node: ran[node] for node in persisted}  # a replica's second head is not a disk
        return [executed_agree(ran), accepted_durable(ops, own, f)]
    logs = raft_logs(persisted)
    compacted = [n for n, content in persisted.items() if content.get(SNAP) is not None]
    return [log_matching(logs), durable(ops, logs, compacted)]

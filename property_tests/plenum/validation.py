"""Trace validation of a plenum run (runs.py) against specs/PBFT.tla, TLC judging each step.

A run is mapped onto PBFT.tla's variables step by step, in the order the scheduler saw things
happen (runs.py keeps one index over sends, deliveries, orderings and stable checkpoints):

| plenum (what the run saw) | PBFT.tla |
|---|---|
| a request first handed to the replicas | Request(r), r = "op<id>" |
| the primary's PrePrepare(view, ppSeqNo, digest), a batch of one request | PrePrepare(i, r) |
| a backup's Prepare(view, ppSeqNo, digest) | Prepare(i, v, n) |
| a Commit(view, ppSeqNo) (plenum's names no digest: the request is the one its sender prepared) | Commit(i, v, n) |
| Ordered (then, at every CHK_FREQ-th, its Checkpoint; the Node's Reply to the client is not sent by the consensus services, and is taken as sent with the Ordered) | Execute(i) |
| the replica's stable checkpoint moved to n | StableCheckpoint(i, n) |

The replicas are r1..r4 for Alpha..Delta (plenum's primary of view v is the (v mod 4)-th, as
PBFT.tla's). A batch must hold one request (Schedule.batch = 1): PBFT.tla orders requests, and a
batch of several is a value it does not have. A checkpoint's digest is the history it certifies,
the requests its sender ordered up to it, as in the spec. The model is models/Validate.cfg
(CheckpointEvery = CHK_FREQ = 2, Window = LOG_SIZE = 6); a run's Byzantine replicas are its
Byzantine constant, and their messages, not in msgs, are the spec's ByzMsgs.

What is not mapped yet, and ends the validated part of a run (the rest is judged by checks.py):
plenum's view change. Its InstanceChange votes have no PBFT.tla counterpart (a replica's own timer
starts a view change there; a vote changes none of its variables, so it is no step), its ViewChange carries BatchIDs where PBFT.tla's carries prepared
claims, its ViewChangeAck has none, and its NewView names batches the new primary then pre-prepares
again, one message each (docs/plenum.md, "Where plenum differs from PBFT.tla"). An empty batch
(plenum's freshness batch, every STATE_FRESHNESS_UPDATE_INTERVAL) ends it too: PBFT.tla's primary
pre-prepares only requests.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import attrs

from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests import validation
from meshcheck.property_tests.harness import resource
from meshcheck.property_tests.plenum.runs import NODES
from meshcheck.property_tests.plenum.runs import Run

if TYPE_CHECKING:
    from meshcheck.specs.tlc.stepper import Stepper

SPEC = resource("meshcheck.specs", "PBFT.tla")
MODEL = resource("meshcheck.property_tests.plenum", "models", "Validate.cfg")
VARIABLES = ("requested", "msgs", "view", "status", "executed", "stable", "accepted")
REPLICA = {name: f"r{k + 1}" for k, name in enumerate(NODES)}
# what ends the validated part: a message of plenum's view change, which is not mapped yet
# (InstanceChange, a vote for one, changes none of PBFT.tla's variables: no step)
VIEW_CHANGE = ("ViewChange", "ViewChangeAck", "NewView")
CHECKPOINT_EVERY = 2  # drivers/plenum/driver.py CHK_FREQ


@attrs.frozen
class Verdict:
    """The validation of one run: the first step that is not a spec step (None: all were), how
    many steps were validated of how many mapped, why the validated part ended, TLC's seconds."""

    problem: str | None
    validated: int
    ended: str
    seconds: float


@functools.cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="meshcheck-plenum-validate-"))


@functools.cache
def stepper(byzantine: frozenset[str] = frozenset()) -> Stepper:
    """The Stepper over PBFT.tla with models/Validate.cfg and these Byzantine replicas (r names);
    TLC's start costs seconds, so one per set for the life of the process."""
    from meshcheck.specs.tlc.stepper import Stepper

    if not byzantine:
        return Stepper(SPEC, MODEL)
    names = ", ".join(f'"{b}"' for b in sorted(byzantine))
    lines = MODEL.read_text().splitlines()
    text = "\n".join(
        f"    Byzantine = {{{names}}}" if line.strip().startswith("Byzantine") else line
        for line in lines
    )
    cfg = _folder() / f"Validate_{'_'.join(sorted(byzantine))}.cfg"
    cfg.write_text(text + "\n")
    return Stepper(SPEC, cfg)


class _Mapping:
    """The abstract state as the run unfolds, and the spec steps it takes."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.faulty = run.schedule.faulty()
        self.name = {key: f"op{rid}" for key, rid in run.requests.items()}
        self.requested: set[str] = set()
        self.msgs: set[FrozenDict] = set()
        self.view = dict.fromkeys(NODES, 0)
        self.executed: dict[str, list[str]] = {n: [] for n in NODES}
        self.stable = dict.fromkeys(NODES, 0)
        self.digest: dict[str, str] = {}  # a batch digest -> the request it holds
        self.unmapped: dict[str, int] = {}  # a batch digest -> its size, when not one
        self.prepared: dict[tuple[str, int, int], str] = {}  # (node, view, seq) -> request
        self.steps: list[Step] = [Step(self.state())]

    def state(self) -> FrozenDict:
        honest = [n for n in NODES if n not in self.faulty]
        return FrozenDict(
            {
                "requested": frozenset(self.requested),
                "msgs": frozenset(self.msgs),
                "view": FrozenDict({REPLICA[n]: self.view[n] for n in NODES}),
                "status": FrozenDict({REPLICA[n]: "normal" for n in NODES}),
                "executed": FrozenDict(
                    {REPLICA[n]: tuple(self.executed[n]) if n in honest else () for n in NODES}
                ),
                "stable": FrozenDict(
                    {REPLICA[n]: self.stable[n] if n in honest else 0 for n in NODES}
                ),
                "accepted": frozenset(),
            }
        )

    def _step(self, action: str, params: dict[str, Any], at: int = 0) -> Step:
        return Step(self.state(), action, FrozenDict(params), FrozenDict({"at": at}))

    def message(self, kind: str, view: int, seq: int, req: str, src: str) -> FrozenDict:
        fields = {"type": kind, "view": view, "seq": seq, "req": req, "src": REPLICA[src]}
        return FrozenDict(fields)

    def send(self, at: int, src: str, record: Any) -> str | None:
        """The spec step of one send by an honest replica (None: no step), or why the
        validated part ends ("end: ...")."""
        kind = record["type"]
        if kind in VIEW_CHANGE:
            return f"end: {src} sent {kind} at {at} ms (plenum's view change is not mapped)"
        if kind not in ("PrePrepare", "Prepare", "Commit"):
            return None  # Checkpoint: with Execute; MessageReq, MessageRep: fetching, no step
        view, seq = record["view"], record["seq"]
        if kind == "PrePrepare" and len(record.get("reqs", [])) != 1:
            return f"end: {src} pre-prepared a batch of {len(record.get('reqs', []))} at {at} ms"
        if kind == "Prepare" and record["req"] in self.unmapped:
            size = self.unmapped[record["req"]]
            return f"end: {src} prepared a batch of {size} at {at} ms"
        if kind == "Commit":
            req = self.prepared.get((src, view, seq))
            if req is None:
                return f"Commit({view}, {seq}) by {src} at {at} ms names no batch it prepared"
        else:
            req = self.digest.get(record["req"], str(record["req"]))
            self.prepared[(src, view, seq)] = req
        m = self.message(kind, view, seq, req, src)
        if m in self.msgs:
            return None  # the same message to the next peer
        self.msgs.add(m)
        i = REPLICA[src]
        params: dict[str, Any] = (
            {"i": i, "r": req} if kind == "PrePrepare" else {"i": i, "v": view, "n": seq}
        )
        self.steps.append(self._step(kind, params, at))
        return None

    def name_batch(self, record: Any) -> None:
        """Learn the request a PrePrepare's digest stands for (any sender's, a Byzantine primary's
        and a fetched one's too: it is a name, and each digest is one batch's)."""
        if record["type"] == "MessageRep":
            record = record.get("msg", {})
        reqs = record.get("reqs")
        if record.get("type") != "PrePrepare" or reqs is None:
            return
        if len(reqs) == 1:
            self.digest.setdefault(record["req"], self.name.get(reqs[0], reqs[0]))
        else:  # a batch PBFT.tla has no value for (empty: a freshness batch; or several)
            self.unmapped.setdefault(record["req"], len(reqs))

    def execute(
        self, node: str, seq: int, digest: str, requests: tuple[str, ...], at: int
    ) -> str | None:
        if len(requests) != 1:
            return f"end: {node} ordered a batch of {len(requests)} at {at} ms"
        req = self.name.get(requests[0], requests[0])
        self.executed[node].append(req)
        self.msgs.add(FrozenDict({"type": "Reply", "seq": seq, "req": req, "src": REPLICA[node]}))
        if seq % CHECKPOINT_EVERY == 0:
            history = tuple(self.executed[node])
            record = {"type": "Checkpoint", "seq": seq, "digest": history, "src": REPLICA[node]}
            self.msgs.add(FrozenDict(record))
        self.steps.append(self._step("Execute", {"i": REPLICA[node]}, at))
        return None

    def take_stable(self, node: str, seq: int) -> None:
        self.stable[node] = seq
        self.steps.append(self._step("StableCheckpoint", {"i": REPLICA[node], "n": seq}))

    def request(self, rid: int) -> None:
        self.requested.add(f"op{rid}")
        self.steps.append(self._step("Request", {"r": f"op{rid}"}))


def trace_of(run: Run) -> tuple[Trace, str]:
    """The run as a trace of PBFT.tla's steps, up to what is not mapped, and why it ends there."""
    m = _Mapping(run)
    events: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    for rid, index in run.submitted:
        events[index].append(("request", rid))
    for o in run.ordered:
        events[o.index].append(("ordered", o))
    for node, seq, index in run.stables:
        events[index].append(("stable", (node, seq)))
    ended = "the run's end"
    for index in range(len(run.messages) + 1):
        for kind, what in events.get(index, []):
            if kind == "request":
                m.request(what)
            elif kind == "ordered" and what.node not in m.faulty:
                why = m.execute(what.node, what.seq, what.digest, what.requests, what.at)
                if why:
                    return _trace(m), why.removeprefix("end: ")
            elif kind == "stable" and what[0] not in m.faulty:
                m.take_stable(*what)
        if index == len(run.messages):
            break
        sent = run.messages[index]
        m.name_batch(sent.record)
        if sent.delivered or sent.src in m.faulty:
            continue
        why = m.send(sent.at, sent.src, sent.record)
        if why is not None:
            if why.startswith("end: "):
                ended = why.removeprefix("end: ")
                break
            return _trace(m), why
    return _trace(m), ended


def _trace(m: _Mapping) -> Trace:
    return Trace(VARIABLES, tuple(m.steps), meta=FrozenDict({"spec": "PBFT"}))


def validate(run: Run) -> Verdict:
    """The run's mapped steps judged by TLC: each a successor of the one before by the action
    the trace names, no invariant of the model broken."""
    start = time.monotonic()
    trace, ended = trace_of(run)
    if ended.startswith("Commit("):  # the mapping itself found no step
        return Verdict(ended, len(trace.steps), ended, time.monotonic() - start)
    byzantine = frozenset(REPLICA[n] for n in run.schedule.faulty())
    found = validation.first_bad_step(trace, stepper(byzantine))
    problem = None
    if found is not None:
        k, what = found
        step = trace.steps[k]
        problem = f"step {k} {step.label()} at {step.meta.get('at', 0)} ms: {what}"
    return Verdict(problem, len(trace.steps), ended, time.monotonic() - start)

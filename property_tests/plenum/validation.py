"""Trace validation of a plenum run (runs.py) against specs/PBFT.tla, TLC judging each step.

The spec is specs/PBFTPlenum.tla: PBFT.tla and one action more, ExecuteOnCommits, plenum's rule of
ordering on n - f Commits matching the batch it accepted without a prepared certificate of its own
(docs/plenum.md, "plenum orders a batch without having prepared it").

A run is mapped onto PBFT.tla's variables step by step, in the order the scheduler saw things
happen (runs.py keeps one index over sends, deliveries, orderings and stable checkpoints):

| plenum (what the run saw) | PBFT.tla |
|---|---|
| a request first handed to the replicas | Request(r), r = "op<id>" |
| the primary's PrePrepare(view, ppSeqNo, digest), a batch of one request | PrePrepare(i, r) |
| a backup's Prepare(view, ppSeqNo, digest) | Prepare(i, v, n) |
| a Commit(view, ppSeqNo) (plenum's names no digest: the request is the one its sender prepared) | Commit(i, v, n) |
| Ordered (then, at every CHK_FREQ-th, its Checkpoint; the Node's Reply to the client is not sent by the consensus services, and is taken as sent with the Ordered) | Execute(i), or ExecuteOnCommits(i) when the replica sent no Commit of the batch |
| the replica's stable checkpoint moved to n | StableCheckpoint(i, n) |

The replicas are r1..r4 for Alpha..Delta (plenum's primary of view v is the (v mod 4)-th, as
PBFT.tla's). A batch must hold one request (Schedule.batch = 1): PBFT.tla orders requests, and a
batch of several is a value it does not have. A checkpoint's digest is the history it certifies,
the requests its sender ordered up to it, as in the spec. The model is models/Validate.cfg
(CheckpointEvery = CHK_FREQ = 2, Window = LOG_SIZE = 6); a run's Byzantine replicas are its
Byzantine constant, and their messages, not in msgs, are the spec's ByzMsgs.

Plenum's view change maps onto PBFT.tla's (docs/plenum.md, "Where plenum differs from PBFT.tla"):

| plenum | PBFT.tla |
|---|---|
| InstanceChange (a vote for a view change) and ViewChangeAck (a witness of another's ViewChange) | no step: neither changes the spec's variables (a replica's timer, or F+1 others ahead, starts the spec's view change) |
| a replica's first ViewChange(viewNo, stableCheckpoint, prepared BatchIDs) | StartViewChange(i), its ViewChangeMsg's ckpt and prepared claims read off plenum's message |
| the new primary's NewView(checkpoint, batches) | NewView(i): min-s and O read off plenum's message, with the PrePrepares of O (plenum's replicas re-create those themselves) |
| a backup's first Prepare in the new view | AcceptNewView(i, v), its Prepares of O in its window sent with the step |

TLC then judges whether the ViewChange is the one PBFT.tla's replica sends (its stable checkpoint,
its highest-view prepared certificates) and whether 2F+1 ViewChanges justify the NewView (O as
Select computes it). What ends the validated part: a view change beyond the model's MaxView (1), a
NewView of a Byzantine primary (its Justifications are the spec's, not mapped from a run), and an
empty batch (plenum's freshness batch, every STATE_FRESHNESS_UPDATE_INTERVAL): PBFT.tla's primary
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

SPEC = resource("meshcheck.specs", "PBFTPlenum.tla")
MODEL = resource("meshcheck.property_tests.plenum", "models", "Validate.cfg")
VARIABLES = ("requested", "msgs", "view", "status", "executed", "stable", "accepted")
REPLICA = {name: f"r{k + 1}" for k, name in enumerate(NODES)}
CHECKPOINT_EVERY = 2  # drivers/plenum/driver.py CHK_FREQ
WINDOW = 6  # drivers/plenum/driver.py LOG_SIZE, models/Validate.cfg's Window
MAX_VIEW = 1  # models/Validate.cfg's MaxView: a view change beyond ends the validated part


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
    """The Stepper over PBFTPlenum.tla with models/Validate.cfg and these Byzantine replicas (r names);
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
        self.status = dict.fromkeys(NODES, "normal")
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
                "status": FrozenDict({REPLICA[n]: self.status[n] for n in NODES}),
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
        if kind in ("ViewChange", "NewView") and record["view"] > MAX_VIEW:
            return f"end: {src} sent {kind} for view {record['view']} at {at} ms (beyond MaxView)"
        if kind == "ViewChange":
            return self.view_change(at, src, record)
        if kind == "NewView":
            return self.new_view(at, src, record)
        if kind not in ("PrePrepare", "Prepare", "Commit"):
            # Checkpoint: with Execute; MessageReq, MessageRep: fetching; InstanceChange: a vote,
            # ViewChangeAck: a witness to another's ViewChange; none changes PBFT.tla's variables
            return None
        view, seq = record["view"], record["seq"]
        if kind == "Prepare" and (
            view > self.view[src] or (view == self.view[src] and self.status[src] == "changing")
        ):
            why = self.accept_new_view(at, src, view)
            if why is not None:
                return why
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

    def claims(self, batches: Any) -> frozenset[FrozenDict]:
        """Plenum's BatchIDs [pp_view_no, pp_seq_no, digest] as PBFT.tla's Claims."""
        return frozenset(
            FrozenDict({"view": v, "seq": n, "req": self.digest.get(d, str(d))})
            for v, n, d in batches
        )

    def view_change(self, at: int, src: str, record: Any) -> str | None:
        """StartViewChange(i): plenum's ViewChange, its stable checkpoint and its prepared
        batches as the spec's ViewChangeMsg; TLC judges whether they are the ones PBFT.tla's
        replica would send (its stable checkpoint, its highest-view prepared certificates)."""
        view = record["view"]
        if view == self.view[src] and self.status[src] == "changing":
            return None  # the same message to the next peer
        fields = {
            "type": "ViewChange",
            "view": view,
            "ckpt": record["ckpt"] or 0,
            "prepared": self.claims(record["prepared"]),
            "src": REPLICA[src],
        }
        self.msgs.add(FrozenDict(fields))
        self.view[src], self.status[src] = view, "changing"
        self.steps.append(self._step("StartViewChange", {"i": REPLICA[src]}, at))
        return None

    def new_view(self, at: int, src: str, record: Any) -> str | None:
        """NewView(i): plenum's NewView (its checkpoint and batches as min-s and O) and the
        PrePrepares of O, which plenum's replicas re-create from the NewView and PBFT.tla's
        new primary sends with it; TLC judges whether 2F+1 ViewChanges justify them."""
        view = record["view"]
        if view == self.view[src] and self.status[src] == "normal":
            return None  # the same message to the next peer
        ckpt = record["ckpt"] or 0
        pre = {(n, self.digest.get(d, str(d))) for _, n, d in record["pre"]}
        fields = {
            "type": "NewView",
            "view": view,
            "ckpt": ckpt,
            "pre": frozenset(FrozenDict({"seq": n, "req": r}) for n, r in pre),
            "src": REPLICA[src],
        }
        self.msgs.add(FrozenDict(fields))
        for n, r in pre:
            self.msgs.add(self.message("PrePrepare", view, n, r, src))
            self.prepared[(src, view, n)] = r
        self.adopt(src, ckpt)
        self.status[src] = "normal"
        self.steps.append(self._step("NewView", {"i": REPLICA[src]}, at))
        return None

    def accept_new_view(self, at: int, node: str, view: int) -> str | None:
        """AcceptNewView(i, v), taken at a backup's first Prepare in the new view (its Prepares
        of the re-created PrePrepares in its window are the spec's, sent with the step)."""
        found = [
            m for m in self.msgs if m["type"] == "NewView" and m["view"] == view
        ]  # an honest primary's: a Byzantine primary's NewView is not mapped
        if not found:
            return f"end: {node} prepared in view {view} at {at} ms with no honest NewView"
        nv = found[0]
        h = max(self.stable[node], nv["ckpt"])
        self.adopt(node, nv["ckpt"])
        for o in nv["pre"]:
            if h < o["seq"] <= h + WINDOW:
                self.msgs.add(self.message("Prepare", view, o["seq"], o["req"], node))
                self.prepared[(node, view, o["seq"])] = o["req"]
        self.view[node], self.status[node] = view, "normal"
        self.steps.append(self._step("AcceptNewView", {"i": REPLICA[node], "v": view}, at))
        return None

    def adopt(self, node: str, ckpt: int) -> None:
        """AdoptCheckpoint: the stable checkpoint moves up to ckpt; a replica that executed less
        takes the history another honest replica executed up to it (state transfer)."""
        self.stable[node] = max(self.stable[node], ckpt)
        if len(self.executed[node]) < ckpt:
            longer = [e for n, e in self.executed.items() if n not in self.faulty]
            history = next((e for e in longer if len(e) >= ckpt), self.executed[node])
            self.executed[node] = list(history[:ckpt])

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
        self, node: str, view: int, seq: int, requests: tuple[str, ...], at: int
    ) -> str | None:
        """Execute(i) when the replica sent its Commit of the batch (it prepared it), otherwise
        ExecuteOnCommits(i): plenum orders on n - f Commits without its own (PBFTPlenum.tla)."""
        if len(requests) != 1:
            return f"end: {node} ordered a batch of {len(requests)} at {at} ms"
        req = self.name.get(requests[0], requests[0])
        own = self.message("Commit", view, seq, req, node) in self.msgs
        self.executed[node].append(req)
        self.msgs.add(FrozenDict({"type": "Reply", "seq": seq, "req": req, "src": REPLICA[node]}))
        if seq % CHECKPOINT_EVERY == 0:
            history = tuple(self.executed[node])
            record = {"type": "Checkpoint", "seq": seq, "digest": history, "src": REPLICA[node]}
            self.msgs.add(FrozenDict(record))
        action = "Execute" if own else "ExecuteOnCommits"
        self.steps.append(self._step(action, {"i": REPLICA[node]}, at))
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
                why = m.execute(what.node, what.view, what.seq, what.requests, what.at)
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

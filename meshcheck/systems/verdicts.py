"""The checks of a system's history (meshcheck/systems/run.py): linearizable registers key by key,
what serializable reads owe, mutual exclusion of a lock held by a lease, and what a workload that
writes lost (acknowledged writes, appends, publishes kept)."""

from __future__ import annotations

from pathlib import Path

import attrs

from meshcheck.cluster.checks import Verdict
from meshcheck.traces.history import checker
from meshcheck.traces.history import losses
from meshcheck.traces.history import models
from meshcheck.traces.history import reads
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import where
from meshcheck.traces.history.window import plural

KEYS = 5  # the registers workload's keys (meshcheck/systems/workloads.py)


def linearizable_kv(ops: list[Op], budget: float, noun: str = "operation") -> Verdict:
    """The history against Jepsen's cas-register, key by key (Porcupine's P-compositionality);
    `noun` names what the history holds, for the detail."""
    name = "linearizable (kv)"
    result = checker.check(ops, models.KeyValue(), budget)
    if result.verdict == "linearizable":
        return Verdict(name, True, f"{plural(len(ops), noun)}, {plural(KEYS, 'key')}")
    if result.verdict == "unknown":
        return Verdict(name, None, f"undecided within {budget:.0f} s")
    return Verdict(
        name, False, f"not linearizable: key {result.partition}, cut at t={result.cut:.3f}s"
    )


def writes_kept(ops: list[Op]) -> tuple[Verdict, losses.Account]:
    """Acknowledged writes that a later read disproves (traces/history/losses.py), as a check of
    its own beside linearizability: how many were acknowledged and how many lost, the first lost
    one named with the nodes that served (history.where); and the whole account, for the report
    folder's losses.txt and losses.json (its times the run's seconds)."""
    found = losses.count(ops)
    detail = (
        f"{found.acknowledged} acknowledged, {len(found.lost)} lost, {found.recovered} of "
        f"{found.indeterminate} indeterminate read back"
    )
    if found.lost:
        first = found.lost[0]
        w, r = first.write, first.read
        asked = f" {where(w)}" if w.server else ""
        seen = f" {where(r)}" if r.server else ""
        detail += (
            f"; the first: {w.process} wrote {losses.written(w)!r} to {w.key}{asked} at t={w.ret:.3f}s, "
            f"{r.process} read {'nothing' if r.output is None else repr(r.output)} at "
            f"t={r.call:.3f}s{seen} (losses.txt)"
        )
    return Verdict("acknowledged writes kept (kv)", not found.lost, detail), losses.account(
        found, in_lines=False
    )


def kept_in_file(model: str, path: Path) -> tuple[Verdict, losses.Account] | None:
    """What a history file of a checker's own format lost (traces/history/losses_append.py,
    losses_rw.py, losses_stream.py), as `writes_kept` says it of a register history: the verdict,
    named for what the model writes, and the whole account, for losses.txt and losses.json (its
    times the file's lines); None for a model
    whose workload writes nothing to count (a watch, a lease, a lock). The account names the
    operations by the file's lines."""
    from meshcheck.traces.history import list_append
    from meshcheck.traces.history import losses_append
    from meshcheck.traces.history import losses_rw
    from meshcheck.traces.history import losses_stream
    from meshcheck.traces.history import rw_register

    found: losses.Account
    if model == "list-append":
        found = losses_append.account(losses_append.count(list_append.read(str(path))[1]))
    elif model == "rw-register":
        found = losses_rw.account(losses_rw.count(rw_register.read(str(path))[1]))
    elif model == "stream":
        found = losses_stream.account(losses_stream.read(str(path)))
    else:
        return None
    detail = found.counts()
    if not found.checked:
        detail += f"; {found.note}"
    if found.lost.count:
        detail += f"; the first: {found.lost.shown[0]} (losses.txt)"
    holds = False if found.lost.count else (True if found.checked else None)
    return Verdict(f"acknowledged {found.noun} kept ({model})", holds, detail), found


def serializable_verdicts(ops: list[Op], budget: float) -> tuple[Verdict, ...]:
    """The checks that apply when reads are serializable: a system that offers them (etcd: "API
    guarantees", etcd.io) serves such a read from the node's own store, which may be stale, so the
    history as a whole is not owed linearizability. What is owed: the writes and compare-and-sets
    alone are linearizable (a cas reads the current value: it is linearizable in either mode), and
    every read returns a value some write or cas wrote, invoked before the read returned (or
    nothing, before any), never one from nowhere or from the future. How many reads were stale is
    reported, not judged: a read that returned a value other than the last one written before it
    was invoked (by writes that completed before it)."""
    verdict = linearizable_kv(reads.writes_only(ops), budget, "write")
    first = attrs.evolve(verdict, check="linearizable (kv), writes and cas")
    return first, reads_written(ops)


def reads_written(ops: list[Op]) -> Verdict:
    """Every ok read returns None or a value a write or cas on its key wrote, invoked before the
    read returned; the detail counts the stale reads among them (traces/history/reads.py)."""
    name = "serializable reads return written values"
    found = reads.reads_written(ops)
    r = found.unwritten
    if r is not None:
        return Verdict(
            name,
            False,
            f"a read of {r.key} at t={r.call:.3f}s returned {r.output!r}, which no write "
            "invoked before it wrote",
        )
    return Verdict(
        name,
        True,
        f"{plural(found.reads, 'read')}, {found.stale} of them older than the write last done "
        "before",
    )


def mutual_exclusion(ops: list[Op], budget: float) -> Verdict:
    """The lock history against a lock held by a lease (models.Mutex): no two holders at once."""
    name = "mutual exclusion (mutex)"
    result = checker.check(ops, models.Mutex(), budget)
    taken = sum(1 for o in ops if o.f == "acquire" and o.status == "ok")
    if result.verdict == "linearizable":
        return Verdict(
            name, True, f"{plural(taken, 'acquisition')}, {plural(len(ops), 'operation')}"
        )
    if result.verdict == "unknown":
        return Verdict(name, None, f"undecided within {budget:.0f} s")
    return Verdict(name, False, f"two holders at once: cut at t={result.cut:.3f}s")

"""A run judged by what the system promises (a system file's `[promises]`, docs/systems.md): the
history checked against the model promised and, as information, the stronger models, so that a
system which promises less than linearizability holds its promise while the stronger models fail.

Register and cas histories are judged on the single-object lattice (traces/history/lattice.py:
linearizable, sequential, pram, the four session guarantees), list-append and rw-register ones on
the transactional lattice (traces/history/consistency.py, Elle's models), stream ones on the
stream models (traces/history/stream_models.py: total-order, ordered-at-least-once, exactly-once,
at-least-once, judged by the stream checker's findings). The promise's verdict
is the run's (`Verdict.role` PROMISE); a stronger model's is shown and never judged
(INFORMATION); the models the promise implies are not shown (they hold when it does).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from meshcheck.cluster.checks import INFORMATION
from meshcheck.cluster.checks import PROMISE
from meshcheck.cluster.checks import Verdict
from meshcheck.traces.history import checkers
from meshcheck.traces.history import consistency
from meshcheck.traces.history import events
from meshcheck.traces.history import lattice
from meshcheck.traces.history import models as history_models
from meshcheck.traces.history import stream
from meshcheck.traces.history import stream_models
from meshcheck.traces.history import window
from meshcheck.traces.history.history import Op

OBJECT_WORKLOADS = ("registers", "cas")  # judged on the single-object lattice
TXN_WORKLOADS = ("list-append", "rw-register")  # on the transactional one
STREAM_WORKLOADS = ("stream",)  # on the stream models
WORKLOADS = (*OBJECT_WORKLOADS, *TXN_WORKLOADS, *STREAM_WORKLOADS)
# seconds the models stronger than the one promised are searched, in all: information, not the
# run's verdict, need not cost the run its budget ("unknown (information)" when it runs out)
INFORMATION_BUDGET = 10.0


def models(workload: str) -> list[str]:
    """The model names a promise for `workload` may give: the lattice's own; [] for a workload
    no lattice judges."""
    if workload in OBJECT_WORKLOADS:
        return list(lattice.NAMES)
    if workload in TXN_WORKLOADS:  # those the checkers search every anomaly of
        return [n for n in consistency.names() if consistency.canonical(n) in consistency.CHECKED]
    if workload in STREAM_WORKLOADS:
        return list(stream_models.NAMES)
    return []


def canonical(workload: str, name: str) -> str | None:
    """The model's name as its lattice uses it (an alias resolved), or None when it is none."""
    if workload in OBJECT_WORKLOADS:
        return name if name in lattice.NAMES else None
    if workload in TXN_WORKLOADS:
        found = consistency.canonical(name)
        return found if found in consistency.CHECKED else None
    if workload in STREAM_WORKLOADS:
        return name if name in stream_models.MODELS else None
    return None


def _said(c: lattice.Checked) -> str:
    if c.implied_by:
        return f"implied by {c.implied_by}"
    if c.verdict == "holds":
        return "holds"
    if c.verdict == "unknown":
        return "undecided within the budget"
    part = f" of key {c.key}" if c.key is not None else ""
    return f"broken: a smallest window{part}, {window.plural(len(c.window), 'operation')}"


def registers(ops: Sequence[Op], promised: str, budget: float) -> tuple[tuple[Verdict, ...], str]:
    """The history against `promised` and the models it implies (lattice.run, the whole
    `budget`), then against each model stronger than it, as information, within
    INFORMATION_BUDGET seconds in all (sequential consistency is not local: its search of a
    whole history of a thousand operations may not end in minutes); a verdict for each stronger
    model and one for `promised` (the run's), strongest first, each detail naming
    consistency.txt; and that report (lattice.render)."""
    name = f"{promised} (promised)"
    model = history_models.KeyValue()
    try:
        kept = lattice.run(ops, model, promised, budget)
    except window.NothingToCheck as e:
        return (Verdict(name, None, f"nothing to check: {e}", role=PROMISE),), ""
    start = time.monotonic()
    stronger: list[lattice.Checked] = []
    for other in (n for n in lattice.NAMES if promised in lattice.WEAKER[n]):
        by = next(
            (c.name for c in stronger if c.verdict == "holds" and other in lattice.WEAKER[c.name]),
            "",
        )
        if by:
            stronger.append(lattice.Checked(other, "holds", implied_by=by))
            continue
        left = max(INFORMATION_BUDGET - (time.monotonic() - start), 0.001)
        stronger.append(lattice._check(ops, model, other, left))
    holds = {"holds": True, "broken": False, "unknown": None}
    found = (
        *(Verdict(c.name, holds[c.verdict], f"{_said(c)} (consistency.txt)", role=INFORMATION)
          for c in stronger),
        Verdict(name, holds[kept.verdict], f"{_said(kept.checked[0])} (consistency.txt)",
                role=PROMISE),
    )  # fmt: skip
    checked = (*stronger, *kept.checked)
    seconds = kept.seconds + time.monotonic() - start
    whole = lattice.Outcome(checked[0].name, model.name, len(ops), seconds, checked)
    return found, lattice.render(whole, "history.jsonl")


def transactions(model: str, path: Path, promised: str) -> tuple[tuple[Verdict, ...], str]:
    """The transactional history at `path` checked by `model`'s checker (list-append or
    rw-register, traces/history/checkers.py) against `promised`, the run's verdict, and, when it
    is weaker, against the strongest model checked (consistency.DEFAULT) as information; the
    promise's report."""
    checker = checkers.CHECKERS[model]

    def judged(against: str, role: str) -> tuple[Verdict, str]:
        text, holds = checker.run(str(path), checkers.Options(consistency=against))
        first = text.splitlines()[0].removeprefix(f"{path}: ")
        name = f"{against} (promised)" if role == PROMISE else against
        return Verdict(name, holds, first, role=role), text

    shown = [judged(consistency.DEFAULT, INFORMATION)[0]] if promised != consistency.DEFAULT else []
    verdict, text = judged(promised, PROMISE)
    return (*shown, verdict), text


def streams(path: Path, promised: str) -> tuple[tuple[Verdict, ...], str, str]:
    """The stream history at `path` judged against `promised` (the run's verdict) by the stream
    checker's findings, and each model stronger than it as information, strongest first; the
    promise's report, and the report against the strongest model (every finding, each kind
    named: consistency.txt)."""
    name, evs = events.read(str(path))
    text, holds, kinds = stream.judge(evs, name, promised)
    every = stream.judge(evs, name, stream_models.NAMES[0])[0]
    first = text.splitlines()[0].removeprefix(f"{name}: ")

    def said(other: str) -> str:
        broken = sorted(kinds & stream_models.MODELS[other])
        return f"broken: {', '.join(broken)} (consistency.txt)" if broken else "holds"

    shown = tuple(
        Verdict(other, stream_models.holds(other, kinds), said(other), role=INFORMATION)
        for other in stream_models.stronger(promised)
    )
    return (*shown, Verdict(f"{promised} (promised)", holds, first, role=PROMISE)), text, every


def mirror(verdict: Verdict, promised: str) -> Verdict:
    """The promise's row when the promise is the model the read mode's own check judges
    (linearizable registers, strict serializable transactions): that check's verdict, as the
    promise's; nothing stronger to show."""
    return Verdict(
        f"{promised} (promised)", verdict.holds, f"as {verdict.check} says", role=PROMISE
    )

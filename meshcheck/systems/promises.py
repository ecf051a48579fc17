"""A run judged by what the system promises (a system file's `[promises]`, docs/systems.md): the
history checked against the model promised and, as information, the stronger models, so that a
system which promises less than linearizability holds its promise while the stronger models fail.

Register and cas histories are judged on the single-object lattice (traces/history/lattice.py:
linearizable, sequential, pram, the four session guarantees), list-append and rw-register ones on
the transactional lattice (traces/history/consistency.py, Elle's models). The promise's verdict
is the run's (`Verdict.role` PROMISE); a stronger model's is shown and never judged
(INFORMATION); the models the promise implies are not shown (they hold when it does).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from meshcheck.cluster.checks import INFORMATION
from meshcheck.cluster.checks import PROMISE
from meshcheck.cluster.checks import Verdict
from meshcheck.traces.history import checkers
from meshcheck.traces.history import consistency
from meshcheck.traces.history import lattice
from meshcheck.traces.history import models as history_models
from meshcheck.traces.history import window
from meshcheck.traces.history.history import Op

OBJECT_WORKLOADS = ("registers", "cas")  # judged on the single-object lattice
TXN_WORKLOADS = ("list-append", "rw-register")  # on the transactional one
WORKLOADS = (*OBJECT_WORKLOADS, *TXN_WORKLOADS)


def models(workload: str) -> list[str]:
    """The model names a promise for `workload` may give: the lattice's own; [] for a workload
    no lattice judges."""
    if workload in OBJECT_WORKLOADS:
        return list(lattice.NAMES)
    if workload in TXN_WORKLOADS:  # those the checkers search every anomaly of
        return [n for n in consistency.names() if consistency.canonical(n) in consistency.CHECKED]
    return []


def canonical(workload: str, name: str) -> str | None:
    """The model's name as its lattice uses it (an alias resolved), or None when it is none."""
    if workload in OBJECT_WORKLOADS:
        return name if name in lattice.NAMES else None
    if workload in TXN_WORKLOADS:
        found = consistency.canonical(name)
        return found if found in consistency.CHECKED else None
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
    """The history against every model of the single-object lattice (from linearizable down):
    a verdict for each model stronger than `promised` (information) and one for `promised` (the
    run's), strongest first, each detail naming consistency.txt; and that report
    (lattice.render)."""
    name = f"{promised} (promised)"
    try:
        outcome = lattice.run(ops, history_models.KeyValue(), lattice.NAMES[0], budget)
    except window.NothingToCheck as e:
        return (Verdict(name, None, f"nothing to check: {e}", role=PROMISE),), ""
    shown = [c for c in outcome.checked if c.name == promised or promised in lattice.WEAKER[c.name]]
    holds = {"holds": True, "broken": False, "unknown": None}
    found = tuple(
        Verdict(
            name if c.name == promised else c.name,
            holds[c.verdict],
            f"{_said(c)} (consistency.txt)",
            role=PROMISE if c.name == promised else INFORMATION,
        )
        for c in shown
    )
    return found, lattice.render(outcome, "history.jsonl")


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


def mirror(verdict: Verdict, promised: str) -> Verdict:
    """The promise's row when the promise is the model the read mode's own check judges
    (linearizable registers, strict serializable transactions): that check's verdict, as the
    promise's; nothing stronger to show."""
    return Verdict(
        f"{promised} (promised)", verdict.holds, f"as {verdict.check} says", role=PROMISE
    )

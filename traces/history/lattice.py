"""The single-object consistency models a register history is checked against, strongest first
(Viotti and Vukolić, "Consistency in Non-Transactional Distributed Storage Systems", ACM CSUR
49(1), 2016, figure 2): `linearizable` (checker.py), `sequential` (each process's order instead
of real time: sequential.py), `pram` (read-your-writes, monotonic-reads and monotonic-writes of
one order of the writes) and the four session guarantees, per client (sessions.py):
`read-your-writes`, `monotonic-reads`, `monotonic-writes`, `writes-follow-reads`. Sequential is
decided first by a graph (sequential_order.py: each operation a transaction, each key's serial
order that keeps process order found by rw-register), which says holds or leaves it to the
search, the only one to say broken. Linearizable
implies sequential, which implies pram and writes-follow-reads; pram implies its three. (Between
sequential and pram Viotti and Vukolić place causal consistency, which is not checked here.)

`meshcheck history check --model register|cas-register|kv --consistency NAME` checks the model
named and those it implies: a model is searched only when no stronger one checked holds (one that
does implies it: reported as implied, not searched). Each broken model has its smallest window
(window.py's ddmin, closed under the model's needs), as linearizability has; linearizable and
sequential share the command's budget, and either may be `unknown` when it runs out. The report
ends with the strongest models that hold among those checked ("not linearizable; the strongest
that hold: sequential"); the exit is the model named's: 0 holds, 1 broken, 2 unknown.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Literal

import attrs

from meshcheck.traces.history import sequential_order
from meshcheck.traces.history import sessions
from meshcheck.traces.history import window
from meshcheck.traces.history.checker import Result
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.jepsen import table
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.sequential import Sequential

NAMES = ("linearizable", "sequential", "pram", *sessions.GUARANTEES)
# what each model implies (every model weaker than it, strongest first)
WEAKER: dict[str, tuple[str, ...]] = {
    "linearizable": NAMES[1:],
    "sequential": NAMES[2:],
    "pram": sessions.TOGETHER["pram"],
    **{g: () for g in sessions.GUARANTEES},
}
# the shrinking of a session guarantee's window: candidates checked at most
SHRINK_TESTS = 2000

Verdict = Literal["holds", "broken", "unknown"]


@attrs.frozen
class Checked:
    """One model's outcome. `implied_by`: a stronger model that holds (this one was not searched).
    `window`: a broken model's smallest window (`minimal`: proved 1-minimal); `result`: the
    search's result (linearizable and sequential); `why`: a session guarantee's cycle in words."""

    name: str
    verdict: Verdict
    implied_by: str = ""
    window: tuple[Op, ...] = ()
    minimal: bool = False
    result: Result | None = None
    why: str = ""
    key: Hashable = None


@attrs.frozen
class Outcome:
    named: str
    model: str
    ops: int
    seconds: float
    checked: tuple[Checked, ...]

    @property
    def verdict(self) -> Verdict:
        return self.checked[0].verdict

    def strongest(self) -> list[str]:
        """The models that hold and that no other model that holds implies."""
        held = [c.name for c in self.checked if c.verdict == "holds"]
        return [n for n in held if not any(n in WEAKER[m] for m in held)]


def run(history: Sequence[Op], model: Model, named: str, budget_seconds: float) -> Outcome:
    """Check `named` and every model it implies; see the module's docstring. Raises
    `window.NothingToCheck` on a history with nothing to check."""
    if named not in WEAKER:
        raise ValueError(f"{named}: not a single-object consistency model")
    if not window.items(history, model):
        raise window.NothingToCheck(window.nothing(history))
    start = time.monotonic()
    done: list[Checked] = []
    for name in (named, *WEAKER[named]):
        by = next((c.name for c in done if c.verdict == "holds" and name in WEAKER[c.name]), "")
        if by:
            done.append(Checked(name, "holds", implied_by=by))
            continue
        left = max(budget_seconds - (time.monotonic() - start), 0.001)
        done.append(_check(history, model, name, left))
    seconds = time.monotonic() - start
    return Outcome(named, model.name, len(history), seconds, tuple(done))


def _check(history: Sequence[Op], model: Model, name: str, budget: float) -> Checked:
    if name == "sequential" and sequential_order.holds(history, model):
        return Checked(name, "holds")  # a serial order per key found by rw-register's graph
    if name in ("linearizable", "sequential"):
        searched = model if name == "linearizable" else Sequential(model)
        examined = window.examine(history, searched, budget)
        result = examined.result
        if result.verdict == "linearizable":
            return Checked(name, "holds", result=result)
        if result.verdict == "unknown":
            return Checked(name, "unknown", result=result)
        assert examined.window is not None
        return Checked(
            name,
            "broken",
            window=examined.window.ops,
            minimal=examined.window.minimal,
            result=result,
            key=result.partition,
        )
    broken = sessions.check(history, name, model.keyed)
    if broken is None:
        return Checked(name, "holds")
    ops, minimal = smallest(broken.ops, history, model, name)
    shown = sessions.check(ops, name, model.keyed) or broken
    return Checked(name, "broken", window=ops, minimal=minimal, why=shown.why, key=shown.key)


def smallest(
    found: Sequence[Op], history: Sequence[Op], model: Model, guarantee: str
) -> tuple[tuple[Op, ...], bool]:
    """A 1-minimal window breaking `guarantee`, shrunk from the operations `found` (with what they
    need of `history`, closed under sequential.py's needs: a read with every write of its value)
    by window.py's ddmin; (the window, True), or (the smallest found, False) past SHRINK_TESTS."""
    every = window.items(history, model)
    close = window.closer(every, Sequential(model))
    where = {id(o): i for i, o in enumerate(every)}
    tests = [0]

    def fails(candidate: list[int]) -> bool:
        tests[0] += 1
        return sessions.check([every[i] for i in candidate], guarantee, model.keyed) is not None

    # the cycle's operations and every write of a value they read: closed, and broken
    start = sorted({where[id(o)] for o in found})
    needs = Sequential(model).needs(every)
    start = sorted({*start, *(j for i in start for clause in needs[i] for j in clause)})
    if not fails(start):
        start = list(range(len(every)))
    kept, done = window._ddmin(start, fails, close, lambda: tests[0] > SHRINK_TESTS)
    return tuple(every[i] for i in kept), done


# --- the report ----------------------------------------------------------------------------------


def render(outcome: Outcome, source: str) -> str:
    """The verdict line (the model named; the strongest that hold), a line per model checked, and
    each broken model's smallest window."""
    head = {"holds": "", "broken": "not ", "unknown": "unknown whether "}[outcome.verdict]
    strongest = outcome.strongest()
    lines = [
        f"{source}: {head}{outcome.named} ({outcome.model} model, "
        f"{window.plural(outcome.ops, 'operation')}, {outcome.seconds:.2f} s); "
        + (
            f"the strongest that hold: {', '.join(strongest)}"
            if strongest
            else "none of the models checked holds"
        )
    ]
    width = max(len(c.name) for c in outcome.checked)
    for c in outcome.checked:
        said = {"holds": "holds", "broken": "broken", "unknown": "unknown"}[c.verdict]
        if c.implied_by:
            said += f" (implied by {c.implied_by})"
        elif c.verdict == "broken":
            said += f": {window.plural(len(c.window), 'operation')} below"
        elif c.verdict == "unknown" and c.result is not None:
            said += (
                f": the budget ran out; the first {window.plural(c.result.prefix_ops, 'operation')}"
                " hold, nothing is claimed about the rest"
            )
        lines.append(f"  {c.name.ljust(width)}  {said}")
    for c in outcome.checked:
        if c.verdict != "broken":
            continue
        why = "without any one of them (and what needs it) the rest holds"
        if not c.minimal:
            why = "the budget ran out before it was shrunk to a minimal one"
        part = f" of key {c.key}" if c.key is not None else ""
        lines.append(
            f"smallest window{part} that is not {c.name}: "
            f"{window.plural(len(c.window), 'operation')}; {why}"
        )
        if c.why:
            lines.append(f"  ({c.why})")
        lines.extend(table(c.window))
    return "\n".join(lines) + "\n"

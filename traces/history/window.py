"""The smallest non-linearizable window: a minimal set of a failing history's operations that has
no linearization on its own.

The checker (`checker.check`) finds the failing part (one key of a keyed model) and its shortest
failing prefix. That prefix may still hold hundreds of operations that play no part in the
conflict. Here it is shrunk by delta debugging (Zeller and Hildebrandt, "Simplifying and isolating
failure-inducing input", IEEE TSE 28(2), 2002: `ddmin`) over operations: drop a chunk, keep the
rest if it still has no linearization, and go to finer chunks until no single operation can be
dropped.

Dropping an operation must leave a history that could have been observed, or the window shrinks
to a meaningless one: without the write of 1, "read 1" fails on its own, and the stale read it
took part in is lost; without a lease's acquire its release looks illegal, and without its release
the lock looks held forever. So every candidate is closed under the model's dependencies
(`Model.needs`): an operation goes with what it needs (a read with the write it read, a release
with its acquire, an rsm write with the writes its answer came from). The result is

- closed: every operation in it has what it needs in it;
- not linearizable;
- 1-minimal: without any one of its operations, and what then lacks what it needs (`without`),
  the rest is linearizable.

`examine` is the one entry point of the commands and reports that show a window (`meshcheck
history check`, a cluster run's anomaly report): the same history and model give the same
verdict and the same window, whoever asks. It refuses a history with nothing to check.

Operations that cannot take part in a conflict are left out before the search, as the checker
leaves them out: failed ones (no effect) and pending reads (nothing observed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import checker
from meshcheck.traces.history.checker import Result
from meshcheck.traces.history.checker import _Budget
from meshcheck.traces.history.checker import _search
from meshcheck.traces.history.checker import _Timeout
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import prefix
from meshcheck.traces.history.models import Model
from meshcheck.words import count

# The shrinking's budget is counted in configurations of the search (checker.py), not seconds: the
# checker visits about 150,000 a CPU-second on the machines measured (a loaded 2-core one: 149,000
# to 189,000 on CasRegister histories of 2,000 to 5,000 operations), so a budget of B seconds is
# B * SHRINK_RATE configurations, about B seconds or less. The clock only bounds it at CEILING * B.
SHRINK_RATE = 100_000
CEILING = 10


class NothingToCheck(MeshcheckError):
    """A history without an operation that took or may have taken effect: no verdict is owed,
    and "linearizable" would be silent success on no input."""


@attrs.frozen
class Window:
    """A failing window. `minimal`: proved 1-minimal (every one-operation removal was checked and
    found linearizable); False when the budget ran out first, and the window is then only known to
    fail. `tests`: how many candidate windows were checked."""

    ops: tuple[Op, ...]
    minimal: bool
    tests: int


@attrs.frozen
class Examined:
    """A history's verdict (`result`) and, when it is not linearizable, its smallest failing
    window (`window`) and the failing part it was cut from (`part`)."""

    result: Result
    window: Window | None = None
    part: tuple[Op, ...] = ()


def examine(history: Sequence[Op], model: Model, budget_seconds: float = 10.0) -> Examined:
    """The verdict on `history` and, when it is not linearizable, its smallest failing window,
    within about `budget_seconds` in all. Raises `NothingToCheck` when the history has no
    operation to check (none, or only failed ones and pending reads)."""
    checkable = items(history, model)
    if not checkable:
        raise NothingToCheck(nothing(history))
    start = time.monotonic()
    result = checker.check(list(history), model, budget_seconds)
    if result.verdict != "not linearizable":
        return Examined(result)
    part = part_of(result, history, model)
    found = smallest(part, model, budget_seconds, start=start)
    return Examined(result, found, tuple(part))


def nothing(history: Sequence[Op]) -> str:
    """Why a history has nothing to check, in one line."""
    if not history:
        return "the history has no operations: nothing to check"
    failed = sum(1 for o in history if o.status == "fail")
    return (
        f"the history has nothing to check among its {plural(len(history), 'operation')}: "
        f"{plural(failed, 'failed operation')} (no effect), "
        f"{plural(len(history) - failed, 'pending read')} (observed nothing)"
    )


def plural(n: int, noun: str) -> str:
    """`1 operation`, `2 operations` (meshcheck/words.py's one rule for counted nouns)."""
    return count(n, noun)


def items(ops: Sequence[Op], model: Model) -> list[Op]:
    """The operations a window is made of, in one order (invocation, return, place in the
    history): the same operations give the same window whatever order they came in."""
    kept = [o for o in ops if o.status != "fail" and not (o.pending and model.read_only(o))]
    return sorted(kept, key=lambda o: (o.call, o.ret, o.index))


def part_of(result: Result, history: Sequence[Op], model: Model) -> list[Op]:
    """The failing part's shortest failing prefix: the part as it stood just before the cut, the
    operations running then pending (`history.prefix`). Not its operations as they completed
    later: an acquire that completed after the cut, without the release that followed it, holds
    the lock forever, and a read that completed after it may have read a write invoked after it;
    either would make a window of operations that never conflicted."""
    for key, ops in model.partition(history):
        if key == result.partition:
            return list(prefix(ops, result.cut))
    raise ValueError(f"no part {result.partition!r} in the history")


def smallest(
    ops: Sequence[Op], model: Model, budget_seconds: float = 10.0, start: float | None = None
) -> Window:
    """A closed, 1-minimal non-linearizable sub-history of `ops`, which must not be linearizable.

    Within the budget: `budget_seconds` times `SHRINK_RATE` configurations of the searches in all,
    a count, so that the same history gives the same window on an idle machine and a loaded one (a
    report and its replay agree); the clock, from `start` (default now), is only a ceiling at
    `CEILING` times the budget. Past either, the smallest window found so far, with
    `minimal=False`."""
    deadline = _Budget(
        (time.monotonic() if start is None else start) + budget_seconds * CEILING,
        int(budget_seconds * SHRINK_RATE),
    )
    every = items(ops, model)
    close = closer(every, model)
    counter = [0]
    tests = [0]
    undecided = [False]

    def fails(candidate: list[int]) -> bool:
        tests[0] += 1
        try:
            found = _search([every[i] for i in candidate], model, deadline, counter)
        except _Timeout:
            undecided[0] = True
            return False
        return found is None

    whole = list(range(len(every)))
    if not fails(whole):
        if undecided[0]:  # no time left even to confirm it: the whole of it, not proved minimal
            return Window(tuple(every), False, tests[0])
        raise ValueError("the history is linearizable: there is no failing window")
    found, done = _ddmin(whole, fails, close, lambda: deadline.over(counter))
    return Window(tuple(every[i] for i in found), done and not undecided[0], tests[0])


def closer(ops: Sequence[Op], model: Model) -> Callable[[list[int]], list[int]]:
    """A function from a candidate (positions in `ops`, ascending) to its largest closed subset:
    it removes every operation that lacks what it needs (`Model.needs`), until none does. Each
    clause keeps a count of its members present; a removal lowers the counts of the clauses it is
    in, and a clause at zero removes its owner (time linear in the clauses' size)."""
    needs = model.needs(ops)
    owners: list[int] = []  # clause -> the operation that needs it
    members: list[tuple[int, ...]] = []  # clause -> the operations that satisfy it
    containing: dict[int, list[int]] = {}  # operation -> the clauses it is a member of
    for i, clauses in enumerate(needs):
        for clause in clauses:
            k = len(owners)
            owners.append(i)
            members.append(clause)
            for j in clause:
                containing.setdefault(j, []).append(k)

    # each clause's count when every operation is present; the counts of a candidate are these
    # lowered for each operation it lacks (not summed anew over every clause: a mutex history
    # without leases, where every operation needs each other one, has n * (n - 1) clauses)
    sizes = [len(c) for c in members]
    empty = [k for k, n in enumerate(sizes) if n == 0]

    def close(candidate: list[int]) -> list[int]:
        present = set(candidate)
        count = sizes.copy()
        lacking = [k for k in empty if owners[k] in present]
        for j in range(len(ops)):
            if j not in present:
                for k in containing.get(j, ()):
                    count[k] -= 1
                    if count[k] == 0 and owners[k] in present:
                        lacking.append(k)
        while lacking:
            gone = owners[lacking.pop()]
            if gone not in present:
                continue
            present.discard(gone)
            for k in containing.get(gone, ()):
                count[k] -= 1
                if count[k] == 0 and owners[k] in present:
                    lacking.append(k)
        return [i for i in candidate if i in present]

    return close


def closed(window: Sequence[Op], ops: Sequence[Op], model: Model) -> bool:
    """Whether `window` (operations of `ops`) has everything each of its operations needs."""
    every = items(ops, model)
    where = {id(o): i for i, o in enumerate(every)}
    chosen = sorted(where[id(o)] for o in window)
    return closer(every, model)(chosen) == chosen


def without(window: Sequence[Op], drop: Op, model: Model, ops: Sequence[Op] = ()) -> list[Op]:
    """The window without `drop` and what then lacks what it needs (the removal `smallest` makes),
    the needs taken among `ops` (the history the window came from; default the window itself)."""
    every = items(ops or window, model)
    where = {id(o): i for i, o in enumerate(every)}
    chosen = sorted(where[id(o)] for o in window if o is not drop)
    return [every[i] for i in closer(every, model)(chosen)]


def _ddmin(
    items: list[int],
    fails: Callable[[list[int]], bool],
    close: Callable[[list[int]], list[int]],
    over: Callable[[], bool],
) -> tuple[list[int], bool]:
    """Zeller and Hildebrandt's ddmin, each candidate closed under `close`. Ends 1-minimal (the
    flag True): with n = len(items) chunks, every complement is one removal, and none failed;
    False when the budget (`over`) ran out first."""
    n = 2
    while len(items) >= 2:
        if over():
            return items, False
        chunks = _split(items, n)
        reduced = False
        for chunk in chunks:  # a chunk alone
            candidate = close(chunk)
            if candidate and len(candidate) < len(items) and fails(candidate):
                items, n, reduced = candidate, 2, True
                break
        if not reduced:
            for i in range(len(chunks)):  # everything but a chunk
                dropped = set(chunks[i])
                candidate = close([o for o in items if o not in dropped])
                if len(candidate) < len(items) and fails(candidate):
                    items, n, reduced = candidate, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(items):
                break
            n = min(2 * n, len(items))
    return items, True


def _split(items: list[int], n: int) -> list[list[int]]:
    size, extra = divmod(len(items), n)
    out: list[list[int]] = []
    at = 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(items[at : at + step])
        at += step
    return [c for c in out if c]


# --- showing a window ---------------------------------------------------------------------------


def show_value(value: Hashable) -> str:
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        return "[" + " ".join(show_value(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):  # an rsm operation or result: {op: Custom, key: k1, value: 3}
        return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def label(o: Op) -> str:
    """`f(input)->output`: write(1), read()->1, cas(1 2); an info operation's output is `?`."""
    if isinstance(o.input, tuple) and o.f == "cas":
        args = " ".join(show_value(v) for v in o.input)
    else:
        args = "" if o.input is None else show_value(o.input)
    text = f"{o.f}({args})"
    if o.pending:
        return text + "->?"
    if o.output is not None or o.f == "read":
        text += "->" + show_value(o.output)
    return text


def span(o: Op) -> str:
    """call..ret as numbers; an info operation's return is open: `5..`."""
    ret = "" if o.ret == math.inf else f"{o.ret:g}"
    return f"{o.call:g}..{ret}"


def context(part: Sequence[Op], conflict: Sequence[Op], most: int = 60) -> list[Op]:
    """The window `conflict` and, of the failing part's other completed-or-pending operations,
    the `most` nearest that overlap its time span: what else was going on."""
    lo = min(o.call for o in conflict)
    hi = max(o.ret if o.ret != math.inf else o.call for o in conflict)
    ids = {id(o) for o in conflict}
    mid = (lo + hi) / 2
    others = [
        o for o in part if id(o) not in ids and o.status != "fail" and o.call <= hi and o.ret >= lo
    ]
    others.sort(key=lambda o: abs(o.call - mid))
    return [*conflict, *others[:most]]

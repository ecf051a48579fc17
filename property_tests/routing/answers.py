"""ManagerAnswers: every answer the manager gave, held to the operation it answers, in a client
history checked against the state machine's model.

The routing invariants (observe.py) read which layer an answer names, how it was decided and
whether it was agreed; the layers' own checks read what their clients saw. Neither compares what
the manager told its submitter with the operation it told it about: a manager that answers an
operation with another request's reply (its layer's client answered an earlier request after the
manager had given up on it) passes both. This check does.

The submitter is one client of the manager, and its operations are sequential (`submit` returns
before the next one is made): operation #k is invoked at 2k and returns at 2k+1. Each operation
the submitter saw handed to a consensus layer is one operation of that layer's history, a `write`
of the operation's log value (impl/manager/manager.py `log_value`):

- answered with a result (agreed): `ok`, its output the answer's result;
- answered "not decided" (the hybrid dispatcher rejected it at every try): `fail`, it took effect
  nowhere (AgreedMeansDecided holds the manager to that against the honest nodes' histories);
- no answer within the bound (`NoAnswer`): `info`, never `fail`. Its layer still holds it (the
  PBFT client keeps sending it; a hybrid node may have appended it): it may take effect at any
  time after its invocation, or never, and a later answer may show that it did.

Status writes (gossip: not agreed, not a state machine) and refused unknown types are not in it;
StatusNeverAgreed and UnknownRefused check what their submitters were told.

Which layer took an operation is what the submitter observed, not what the answer says: the layer
whose counter of operations handed to it moved during the submit (`Seen.before`/`after`,
observe.py). Each layer is its own state machine, so each layer's history is checked on its own,
against the `rsm` model of traces/history/models.py (the case store of impl/rsm, stepping its
`StateMachine`; tests/test_history_differential.py holds the checker and this model to a
brute-force oracle). A verdict of unknown within the budget is a failure, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from meshcheck.impl.manager import How
from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import NoAnswer
from meshcheck.impl.manager import log_value
from meshcheck.property_tests.histories import BUDGET
from meshcheck.property_tests.histories import GUARD_SECONDS
from meshcheck.property_tests.routing.observe import Seen
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import MODELS

PROPERTY = "ManagerAnswers"
PROCESS = "manager"  # the submitter, one client of the manager
# the layers a submit hands an operation to, by their counters' places in `Seen.before`/`after`
# (observe.py `counters`: PBFT requests sent, hybrid proposals)
LAYERS = (("PBFT", 2), ("hybrid", 3))


def layer_histories(seen: Sequence[Seen]) -> dict[str, list[Op]]:
    """Each consensus layer's history of the operations the submitter saw handed to it (the module
    doc), in submission order; an operation's `index` is its number among the submits (#k).
    `Unreadable` for an answer none of these."""
    out: dict[str, list[Op]] = {layer: [] for layer, _ in LAYERS}
    for k, s in enumerate(seen, start=1):
        layer = next((name for name, at in LAYERS if s.after[at] != s.before[at]), None)
        if layer is None:
            continue
        call = 2.0 * k
        a = s.answer
        value = log_value(s.data)
        if a is not None and a.agreed:
            o = Op(PROCESS, "write", value, a.result, call, call + 1, "ok", None, k)
        elif a is not None and a.how is How.NOT_DECIDED:
            o = Op(PROCESS, "write", value, None, call, call + 1, "fail", None, k)
        elif a is None and isinstance(s.error, NoAnswer):
            o = Op(PROCESS, "write", value, None, call, math.inf, "info", None, k)
        else:  # an answer a consensus layer's op cannot have: not agreed, yet decided
            got = str(a) if a is not None else f"{type(s.error).__name__}: {s.error}"
            raise Unreadable(f"op #{k}, handed to {layer}, was answered neither a result, nor "
                             f"'not decided', nor no answer: {got}")  # fmt: skip
        out[layer].append(o)
    return out


class Unreadable(ValueError):
    """An answer to an op a consensus layer took that says none of what such an answer says."""


def answers_problem(m: Manager, seen: Sequence[Seen], budget: int = BUDGET) -> str | None:
    """ManagerAnswers over every operation `seen` (the module doc): the first layer whose history
    of the manager's answers is not linearizable against the rsm model, as "ManagerAnswers: what",
    else None. `m` names the layers' seed in the message."""
    try:
        histories = layer_histories(seen)
    except Unreadable as exc:
        return f"{PROPERTY}: {exc}"
    for layer, ops in histories.items():
        if not ops:
            continue
        result = check(ops, MODELS["rsm"], GUARD_SECONDS, configurations=budget)
        if result.verdict == "linearizable":
            continue
        if result.verdict == "unknown":
            return (
                f"{PROPERTY}: the {layer} layer's answers: unknown within {budget:,} "
                f"configurations of the search ({result.ops} operations, seed {m.seed})"
            )
        window = "; ".join(_told(o) for o in result.window)
        return (
            f"{PROPERTY}: the manager's answers of {layer} operations are not linearizable "
            f"against the state machine (seed {m.seed}): {window}"
        )
    return None


def _told(o: Op) -> str:
    if o.status == "info":
        return f"op #{o.index} {o.input!r} no answer (pending)"
    if o.status == "fail":
        return f"op #{o.index} {o.input!r} not decided"
    return f"op #{o.index} {o.input!r} answered {o.output!r}"

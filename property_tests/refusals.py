"""NoWrongRefusal, for every protocol: a refused operation is allowed only when the design allows it.

A refusal is an operation its submitter got no result for: an error reply ("not leader", "not a
member", "rejected", "node down"), or no answer within the layer's bound. Under faults many are
allowed (a crashed node answers nothing, a partitioned quorum decides nothing), and a check that
takes every error for a fault accepts the refusal of an operation the design promises to serve: a
healthy node that answers "node down", a router that gives up on a layer whose quorum is up.

Each protocol's classifier (property_tests/routing/refusals.py for the manager's three layers,
property_tests/gossip/refusals.py for the gossip core) looks at what held when the operation was
submitted, as the fault schedule made it (which nodes were up, which links cut, whether faults
could still strike), and says either why the refusal is allowed (`Allowed`, with the design's
reason and where it is written) or why the operation was promised (`Promised`): a wrong refusal.
The failure names the property first, then the operation, the node, the time and the promise:

    NoWrongRefusal: status op #7 refused by the manager at t=1200 ('node down'): ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import attrs

PROPERTY = "NoWrongRefusal"


@attrs.frozen
class Refusal:
    """One refused operation: what it was, who refused it, when, and what the submitter was told."""

    op: str  # e.g. "status op #7", "read of k1 (request 12)"
    node: str  # the node that answered the error, or the layer that gave no answer
    time: int
    error: str


@attrs.frozen
class Allowed:
    why: str  # the design's reason, e.g. "no gossip member was up"


@attrs.frozen
class Promised:
    why: str  # what made the operation promised, and where the design promises it


Verdict = Allowed | Promised


@attrs.define
class Tally:
    """The refusals a run saw, by verdict: the allowed ones by reason (a test asserts the runs saw
    refusals of each kind, so the classifier is not vacuous)."""

    allowed: Counter[str] = attrs.field(factory=Counter)
    wrong: list[tuple[Refusal, Promised]] = attrs.field(factory=list)


def judge(classified: Iterable[tuple[Refusal, Verdict]], tally: Tally | None = None) -> str | None:
    """The first wrong refusal as "NoWrongRefusal: ...", else None; `tally` counts every verdict."""
    first: str | None = None
    for refusal, verdict in classified:
        if isinstance(verdict, Allowed):
            if tally is not None:
                tally.allowed[verdict.why] += 1
            continue
        if tally is not None:
            tally.wrong.append((refusal, verdict))
        if first is None:
            first = (
                f"{PROPERTY}: {refusal.op} refused by {refusal.node} at t={refusal.time} "
                f"({refusal.error!r}), though {verdict.why}"
            )
    return first

"""What failed, said first: the kind and name of the property a failure violates.

A failure's text (a property test's, a TLC run's, a stored trace's replay) may be long: the
schedule of a free run, the seed, the step. Every report of it (verify's terminal summary and
progress lines, its JSON, JUnit and HTML reports, `trace replay`) puts the violated property
first and never cuts it; the rest may be cut (`lead`).

The trace a failing check writes says the same at its top (`explained`): `#meta.check`, the
check that failed, and `#meta.property`, the name of the property it violates, which
`meshcheck trace show` prints in its header and whose variables it always shows
(traces/show.py, traces/reads.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value

# the JUnit property of a failed property test that names what it violated
# (property_tests/conftest.py writes it, meshcheck/verify.py reads it)
VIOLATED = "violated"

# the kinds of property a failure names
INVARIANT = "invariant"
ACTION_PROPERTY = "action property"
TEMPORAL_PROPERTY = "temporal property"
LIVENESS_BOUND = "liveness bound"
HISTORY_ANOMALY = "history anomaly"
REFINEMENT = "refinement"  # the implementation left its spec (lockstep, trace validation)

# The bounds meshcheck's own checks hold a run to, named as a spec names its properties, so that a
# failure of one says which, wherever it is reported (property_tests/failure.py `named_in`).
# Storm: a run keeps under the messages in flight and node events a correct cluster of its
# protocol never exceeds (property_tests/free_runs.py); RestartCatchUp: a node crashed and
# restarted in a calm cluster catches up on what the others applied while it was down, within
# the scenario's bound (property_tests/scenarios.py `Restarting`). The other waits of the scripted
# scenarios, each within its script's bound (docs/restart-scenarios.md): ClusterProgress, the
# cluster applies (commits, answers the set-up's writes) something new; RestartTarget, a node
# the scenario may crash is found; LeaderElected, a leader (a new one, after its leader's crash)
# is elected; LogCatchUp, a node's log reaches another's (a leader's, with no restart between);
# LeaderReturns, a restarted node is back and leads again; RequestsAnswered, the
# client's requests in flight are answered.
STORM = "Storm"
RESTART_CATCH_UP = "RestartCatchUp"
CLUSTER_PROGRESS = "ClusterProgress"
RESTART_TARGET = "RestartTarget"
LEADER_ELECTED = "LeaderElected"
LEADER_RETURNS = "LeaderReturns"
LOG_CATCH_UP = "LogCatchUp"
REQUESTS_ANSWERED = "RequestsAnswered"
# the bounds a scripted wait names (property_tests/scenarios.py `Script.wait`)
WAIT_BOUNDS = (
    RESTART_CATCH_UP,
    CLUSTER_PROGRESS,
    RESTART_TARGET,
    LEADER_ELECTED,
    LEADER_RETURNS,
    LOG_CATCH_UP,
    REQUESTS_ANSWERED,
)

# the `#meta` keys of a failing check's trace: the check, and the property it violates
CHECK = "check"
PROPERTY = "property"
UNNAMED = "(unnamed)"  # the property of a failure that names none


@attrs.frozen
class Violated:
    """The violated property: its kind (one of this module's) and its name as the spec or check
    says it ("invariant MatchIndexMonotonic")."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"

    @classmethod
    def leading(cls, text: str) -> Violated | None:
        """The Violated a text `lead` wrote starts with ("invariant X violated..."), or None."""
        for kind in KINDS:
            if text.startswith(kind + " "):
                name = text[len(kind) + 1 :].partition(" violated")
                if name[1] and name[0].strip():
                    return cls(kind, name[0].strip())
        return None

    @classmethod
    def parse(cls, text: str) -> Violated | None:
        """The Violated `str()` wrote, or None (an empty text, or no kind of this module's)."""
        for kind in KINDS:
            if text.startswith(kind + " ") and text[len(kind) + 1 :].strip():
                return cls(kind, text[len(kind) + 1 :].strip())
        return None


KINDS = (
    INVARIANT,
    ACTION_PROPERTY,
    TEMPORAL_PROPERTY,
    LIVENESS_BOUND,
    HISTORY_ANOMALY,
    REFINEMENT,
    "property",
    "deadlock",
    "assumption",
)


def lead(violated: Violated | None, text: str, width: int | None = None) -> str:
    """`text` led by the violated property ("invariant X violated: text"; a text that starts
    "X violated ..." gets the kind before it), cut to `width` characters (with "..."), never
    before the property's name ends."""
    head = f"{violated} violated" if violated else ""
    if violated is not None and text.startswith(f"{violated.name} violated"):
        text = text[len(f"{violated.name} violated") :]
        whole = head + text
    elif head and text.startswith(head):  # led already
        whole = text
    else:
        whole = f"{head}: {text}" if head and text else head or text
    if width is None or len(whole) <= width:
        return whole
    keep = max(width - 3, len(head))
    return whole[:keep] + "..."


def explained(meta: Mapping[str, Value], check: str, violated: Violated | None) -> FrozenDict:
    """A failing check's trace's `#meta`, `meta` with the check that failed and the name of the
    property it violates (`UNNAMED` when the failure names none; a check names what it promises,
    so that is a gap to close, said rather than hidden)."""
    named = violated.name if violated is not None and violated.name else UNNAMED
    return FrozenDict({**meta, CHECK: check, PROPERTY: named})


def property_of(meta: Mapping[str, Value]) -> str | None:
    """The name of the property a trace's `#meta` says it violates: `#meta.property`, else the
    name of a model checker's `#meta.violation` (a counterexample written before `property`
    was); None when it names none."""
    named = meta.get(PROPERTY)
    if isinstance(named, str) and named and named != UNNAMED:
        return named
    violation = meta.get("violation")
    if isinstance(violation, Mapping) and isinstance(violation.get("name"), str):
        return str(violation["name"]) or None
    return None

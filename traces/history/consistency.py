"""The lattice of transactional consistency models the list-append and rw-register checkers judge
a history against (traces/history/list_append.py, traces/history/rw_register.py), written as
data: the models by Elle's names (with Adya's as aliases), which model implies which, which
anomalies each model rules out, and which anomalies imply others. From them: the models a set of
anomalies rules out, the weakest of those, and the strongest models still possible.

The data follows Elle's consistency model graph (jepsen-io/elle, src/elle/consistency_model.clj:
`models`, `direct-proscribed-anomalies`, `implied-anomalies`), which cites Adya ("Weak
Consistency", MIT, 1999), Bailis et al. ("Highly Available Transactions", VLDB 2014), Cerone,
Bernardi and Gotsman ("A Framework for Transactional Consistency Models with Atomic Visibility",
CONCUR 2015), Cerone and Gotsman ("Analysing Snapshot Isolation", PODC 2016) and Daudjee and
Salem (strong session serializability and SI). Two choices are meshcheck's own:

- meshcheck's anomaly names map onto Elle's (`ELLE`): all its rw edges are on keys, so its
  G-single and G2 are Elle's G-single-item and G2-item; garbage-read and duplicate writes,
  which no Elle model names, rule out read uncommitted and so every model (no version order can
  hold a value twice, nor a read of a value never written: Elle's `cyclic-versions` and
  `duplicate-elements`, which read uncommitted prohibits).
- a model is checked (`--consistency`) only when meshcheck searches for every anomaly it rules
  out (`CHECKED`); the others (cursor stability, monotonic view, update serializable, ...)
  rule out anomalies meshcheck does not look for (G-cursor, G-monotonic, lost update, ...) or,
  in Elle's graph, none of their own (monotonic atomic view, read atomic, causal): they are
  named among the models ruled out, never claimed possible.

Real-time models (strict serializable, `strong-`) need rt edges, strong session models (`strong-
session-`) process edges: each process's committed transactions in the order it ran them
(`EDGES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

# model -> the models it implies directly (a history that holds under it holds under them)
IMPLIES: Mapping[str, tuple[str, ...]] = {
    "strict-serializable": (
        "serializable",
        "strong-snapshot-isolation",
        "strong-session-serializable",
    ),
    "strong-session-serializable": ("serializable", "strong-session-snapshot-isolation"),
    "strong-snapshot-isolation": ("strong-session-snapshot-isolation", "strong-read-committed"),
    "strong-session-snapshot-isolation": ("snapshot-isolation", "strong-session-read-committed"),
    "serializable": (
        "repeatable-read",
        "snapshot-isolation",
        "update-serializable",
        "view-serializable",
    ),
    "update-serializable": ("forward-consistent-view",),
    "forward-consistent-view": ("consistent-view",),
    "consistent-view": ("cursor-stability", "monotonic-view"),
    "snapshot-isolation": (
        "forward-consistent-view",
        "monotonic-atomic-view",
        "monotonic-snapshot-read",
        "parallel-snapshot-isolation",
        "prefix",
    ),
    "parallel-snapshot-isolation": ("causal-cerone", "ROLA"),
    "prefix": ("causal-cerone",),
    "causal-cerone": ("read-atomic",),
    "ROLA": ("read-atomic",),
    "read-atomic": ("monotonic-atomic-view",),
    "repeatable-read": ("cursor-stability", "monotonic-atomic-view"),
    "cursor-stability": ("read-committed",),
    "monotonic-atomic-view": ("read-committed",),
    "monotonic-view": ("read-committed",),
    "monotonic-snapshot-read": ("read-committed",),
    "strong-read-committed": ("strong-session-read-committed", "strong-read-uncommitted"),
    "strong-session-read-committed": ("read-committed", "strong-session-read-uncommitted"),
    "strong-read-uncommitted": ("strong-session-read-uncommitted",),
    "strong-session-read-uncommitted": ("read-uncommitted",),
    "read-committed": ("read-uncommitted",),
    "read-uncommitted": (),
    "view-serializable": (),
}

# other names of a model (Adya's PL levels; Elle's own aliases) -> the name used here
ALIASES: Mapping[str, str] = {
    "PL-1": "read-uncommitted",
    "PL-2": "read-committed",
    "PL-2.99": "repeatable-read",
    "PL-3": "serializable",
    "conflict-serializable": "serializable",
    "PL-SI": "snapshot-isolation",
    "PL-SS": "strict-serializable",
    "strong-serializable": "strict-serializable",
    "PL-CS": "cursor-stability",
    "PL-2+": "consistent-view",
    "PL-FCV": "forward-consistent-view",
    "PL-MSR": "monotonic-snapshot-read",
    "PL-2L": "monotonic-view",
    "PL-3U": "update-serializable",
}

# model -> the anomalies it rules out itself (beside those of the models it implies)
PROHIBITS: Mapping[str, tuple[str, ...]] = {
    "read-uncommitted": ("G0", "duplicate-elements", "cyclic-versions"),
    "read-committed": ("G1",),
    "repeatable-read": ("G1", "G2-item", "lost-update"),
    "cursor-stability": ("G1", "G-cursor", "lost-update"),
    "monotonic-view": ("G1", "G-monotonic"),
    "monotonic-snapshot-read": ("G1", "G-MSR"),
    "consistent-view": ("G1", "G-single"),
    "forward-consistent-view": ("G1", "G-SIb"),
    "update-serializable": ("G1", "G-update"),
    "snapshot-isolation": ("internal", "G1", "G-SI", "G-nonadjacent"),
    "serializable": ("internal", "G1", "G2"),
    "strict-serializable": ("G1", "G1c-realtime", "G2-realtime"),
    "read-atomic": ("internal", "G1a", "future-read"),
    "causal-cerone": ("internal", "G1a"),
    "prefix": ("internal", "G1a"),
    "parallel-snapshot-isolation": ("internal", "G1a"),
    "ROLA": ("lost-update",),
    "strong-session-read-uncommitted": ("G0-process",),
    "strong-session-read-committed": ("G1c-process",),
    "strong-read-uncommitted": ("G0-realtime",),
    "strong-read-committed": ("G1c-realtime",),
    "strong-session-snapshot-isolation": ("internal", "G1-process", "G-nonadjacent-process"),
    "strong-snapshot-isolation": ("internal", "G1-realtime", "G-nonadjacent-realtime"),
    "strong-session-serializable": ("G1-process", "G2-process"),
}

# anomaly -> the anomalies it is a case of (a history with it has them too)
IMPLIED: Mapping[str, tuple[str, ...]] = {
    "G0": ("G1c", "G0-process"),
    "G0-process": ("G1c-process", "G0-realtime"),
    "G0-realtime": ("G1c-realtime",),
    "G1a": ("G1",),
    "G1b": ("G1",),
    "G1c": ("G1", "G1c-process"),
    "G1c-process": ("G1c-realtime", "G1-process"),
    "G1c-realtime": ("G1-realtime",),
    "G1": ("G1-process",),
    "G1-process": ("G1-realtime",),
    "G-single-item": ("G-single", "G-single-item-process", "G-nonadjacent-item"),
    "G-single-item-process": (
        "G-single-process",
        "G-single-item-realtime",
        "G-nonadjacent-item-process",
    ),
    "G-single-item-realtime": ("G-single-realtime", "G-nonadjacent-item-realtime"),
    "G-single": ("G-nonadjacent", "G-SIb", "G-single-process"),
    "G-single-process": ("G-nonadjacent-process", "G-single-realtime"),
    "G-single-realtime": ("G-nonadjacent-realtime",),
    "G-nonadjacent-item": ("G-nonadjacent", "G2-item", "G-nonadjacent-item-process"),
    "G-nonadjacent-item-process": (
        "G-nonadjacent-process",
        "G2-item-process",
        "G-nonadjacent-item-realtime",
    ),
    "G-nonadjacent-item-realtime": ("G2-item-realtime", "G-nonadjacent-realtime"),
    "G-nonadjacent": ("G2", "G-nonadjacent-process"),
    "G-nonadjacent-process": ("G2-process", "G-nonadjacent-realtime"),
    "G-nonadjacent-realtime": ("G2-realtime",),
    "G2": ("G2-process",),
    "G2-item": ("G2", "G2-item-process"),
    "G2-item-process": ("G2-process", "G2-item-realtime"),
    "G2-item-realtime": ("G2-realtime",),
    "G2-process": ("G2-realtime",),
    "G-SIa": ("G-SI",),
    "G-SIb": ("G-SI",),
    "incompatible-order": ("G1a",),
    "future-read": ("G1c",),
    "lost-update": ("write-skew", "G2-item"),
    "write-skew": ("G2",),
}

# meshcheck's anomaly names (list_append.KINDS, rw_register.KINDS) -> Elle's
ELLE: Mapping[str, str] = {
    **{f"{c}{v}": f"{c}{v}" for c in ("G0", "G1c") for v in ("", "-process", "-realtime")},
    **{f"G-single{v}": f"G-single-item{v}" for v in ("", "-process", "-realtime")},
    **{f"G-nonadjacent{v}": f"G-nonadjacent-item{v}" for v in ("", "-process", "-realtime")},
    **{f"G2{v}": f"G2-item{v}" for v in ("", "-process", "-realtime")},
    "G1a": "G1a",
    "G1b": "G1b",
    "internal": "internal",
    "incompatible-order": "incompatible-order",
    "duplicate-elements": "duplicate-elements",
    "duplicate-append": "cyclic-versions",
    "duplicate-write": "cyclic-versions",
    "garbage-read": "cyclic-versions",
    "cyclic-versions": "cyclic-versions",
}

# the models `--consistency` checks: meshcheck searches for every anomaly each rules out
CHECKED = (
    "read-uncommitted",
    "read-committed",
    "repeatable-read",
    "snapshot-isolation",
    "serializable",
    "strict-serializable",
    "strong-session-read-uncommitted",
    "strong-session-read-committed",
    "strong-session-snapshot-isolation",
    "strong-session-serializable",
    "strong-read-uncommitted",
    "strong-read-committed",
    "strong-snapshot-isolation",
)
DEFAULT = "strict-serializable"

# the edges beyond ww, wr and rw a model's anomalies are found with
RT_EDGES, PROCESS_EDGES = "rt", "process"
EDGES: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "strict-serializable",
            "strong-snapshot-isolation",
            "strong-read-committed",
            "strong-read-uncommitted",
        ),
        RT_EDGES,
    ),
    **dict.fromkeys(
        (
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-session-read-committed",
            "strong-session-read-uncommitted",
        ),
        PROCESS_EDGES,
    ),
}

# models a version order proves without a serial order: any topological order of the edges known
# in every version order (wr; ww of writes following reads; the model's rt or process edges) is
# one, and it makes no cycle of these kinds (G0; G0 and G1c) when they make none. Used where the
# version order is not observed (rw-register).
BY_VERSION_ORDER: Mapping[str, str] = {
    "read-uncommitted": "ww",
    "strong-session-read-uncommitted": "ww",
    "strong-read-uncommitted": "ww",
    "read-committed": "ww wr",
    "strong-session-read-committed": "ww wr",
    "strong-read-committed": "ww wr",
}


def canonical(name: str) -> str | None:
    """The model's name as used here, or None when it is no model of the lattice."""
    name = ALIASES.get(name, name)
    return name if name in IMPLIES else None


def names() -> list[str]:
    """Every name `canonical` accepts, the lattice's first."""
    return [*IMPLIES, *ALIASES]


def _closure(start: Iterable[str], step: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(step.get(x, ()))
    return seen


def _reverse(graph: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a, bs in graph.items():
        for b in bs:
            out.setdefault(b, []).append(a)
    return out


_IMPLIED_BY = _reverse(IMPLIES)  # model -> the models that imply it directly
_PROHIBITED_BY = _reverse(PROHIBITS)  # anomaly -> the models that rule it out directly


def implied(model: str) -> set[str]:
    """The model and every model it implies."""
    return _closure([model], IMPLIES)


def stronger(model: str) -> set[str]:
    """The model and every model that implies it."""
    return _closure([model], _IMPLIED_BY)


def ruled_out(found: Iterable[str]) -> set[str]:
    """The models the anomalies (meshcheck's names) rule out: those that rule out one of them or
    an anomaly it is a case of, and every model stronger."""
    anomalies = _closure((ELLE.get(a, a) for a in found), IMPLIED)
    direct = {m for a in anomalies for m in _PROHIBITED_BY.get(a, ())}
    return _closure(direct, _IMPLIED_BY)


def prohibits(model: str, anomaly: str) -> bool:
    """Whether the model rules out the anomaly (meshcheck's name)."""
    return model in ruled_out([anomaly])


def edges(model: str) -> str | None:
    """The edges beyond ww, wr and rw the model needs: RT_EDGES, PROCESS_EDGES, or None."""
    return EDGES.get(model)


def weakest(models: Iterable[str]) -> list[str]:
    """Those of the models that imply none of the others: the boundary of a set ruled out."""
    ms = set(models)
    return sorted(m for m in ms if not (implied(m) - {m}) & ms)


def strongest(models: Iterable[str]) -> list[str]:
    """Those of the models no other of them implies."""
    ms = set(models)
    return sorted(m for m in ms if not (stronger(m) - {m}) & ms)


def possible(found: Iterable[str], searched: str | None) -> list[str]:
    """The strongest checked models (`CHECKED`) the anomalies found leave possible, among those
    whose edges the search had (`searched`: RT_EDGES, PROCESS_EDGES or None)."""
    out = ruled_out(found)
    return strongest(m for m in CHECKED if m not in out and edges(m) in (None, searched))


def boundary(found: Iterable[str], searched: str | None) -> list[str]:
    """The report's lines on the models: those ruled out (the weakest of them, and how many
    stronger), and the strongest still possible."""
    kinds = list(found)
    out = ruled_out(kinds)
    lines = []
    if out:
        weak = weakest(out)
        lines.append(
            f"ruled out: {', '.join(weak)}"
            + (f" (and {len(out) - len(weak)} stronger models)" if len(out) > len(weak) else "")
        )
    still = possible(kinds, searched)
    lines.append(
        "strongest still possible: " + (", ".join(still) if still else "none of those checked")
    )
    return lines

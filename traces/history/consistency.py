"""The lattice of transactional consistency models the list-append and rw-register checkers judge
a history against (traces/history/list_append.py, traces/history/rw_register.py), written as
data: every model Elle names (its other names as aliases), which model implies which, which
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
- a model holds (`status`) only when the searches show absent every anomaly it rules out: one
  searched and not found, one whose absence others' shows (`COVERS`), or one a case of an
  absent one; or when a model that implies it holds. A model whose anomaly no search finds
  (G-monotonic, G-MSR, G-SIb, G-update), one Elle gives no anomaly of its own (`UNDEFINED`:
  monotonic atomic view, the single-object and session models) or whose anomalies it marks
  incomplete (`INCOMPLETE`: Cerone's) is otherwise not decided, and its verdict says why: never
  claimed. `CHECKED` are the models list-append decides whatever it finds (it searches every
  anomaly they rule out), those a system may promise (meshcheck/systems/promises.py).

Real-time models (strict serializable, `strong-`, linearizable) need rt edges, strong session
models (`strong-session-`) and the session guarantees process edges: each process's committed
transactions in the order it ran them (`EDGES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

# model -> the models it implies directly (a history that holds under it holds under them): Elle's
# `models`, friendly names for canonical ones
IMPLIES: Mapping[str, tuple[str, ...]] = {
    "strict-serializable": (
        "serializable",
        "linearizable",
        "snapshot-isolation",
        "strong-snapshot-isolation",
        "strong-session-serializable",
        "session-serializable",
    ),
    "strong-session-serializable": ("serializable", "strong-session-snapshot-isolation"),
    "strong-snapshot-isolation": ("strong-session-snapshot-isolation", "strong-read-committed"),
    "strong-session-snapshot-isolation": ("snapshot-isolation", "strong-session-read-committed"),
    "session-serializable": ("1SR",),
    "1SR": (),
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
    "parallel-snapshot-isolation": ("causal-cerone", "update-atomic"),
    "prefix": ("causal-cerone",),
    "causal-cerone": ("read-atomic",),
    "update-atomic": ("read-atomic",),
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
    # the single-object models, in Elle's graph below strict serializability
    "linearizable": ("sequential",),
    "sequential": ("causal",),
    "causal": ("writes-follow-reads", "PRAM"),
    "PRAM": ("monotonic-reads", "monotonic-writes", "read-your-writes"),
    "writes-follow-reads": (),
    "monotonic-reads": (),
    "monotonic-writes": (),
    "read-your-writes": (),
}

# other names of a model (Elle's canonical names: Adya's PL levels and the like; ROLA, Elle's
# earlier name of update atomic) -> the name used here
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
    "strong-session-PL-1": "strong-session-read-uncommitted",
    "strong-session-PL-2": "strong-session-read-committed",
    "strong-PL-1": "strong-read-uncommitted",
    "strong-PL-2": "strong-read-committed",
    "ROLA": "update-atomic",
}

# model -> the anomalies it rules out itself (beside those of the models it implies): Elle's
# `direct-proscribed-anomalies`, without its `-cycle-exists` marks (a cycle search that did not
# finish, which meshcheck's searches do not leave)
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
    "serializable": ("internal", "G1", "G2", "predicate-read-miss"),
    "strict-serializable": ("G1", "G1c-realtime", "G2-realtime"),
    "read-atomic": ("internal", "G1a", "future-read"),
    "causal-cerone": ("internal", "G1a"),
    "prefix": ("internal", "G1a"),
    "parallel-snapshot-isolation": ("internal", "G1a"),
    "update-atomic": ("lost-update",),
    "strong-session-read-uncommitted": ("G0-process",),
    "strong-session-read-committed": ("G1c-process",),
    "strong-read-uncommitted": ("G0-realtime",),
    "strong-read-committed": ("G1c-realtime",),
    "strong-session-snapshot-isolation": ("internal", "G1-process", "G-nonadjacent-process"),
    "strong-snapshot-isolation": ("internal", "G1-realtime", "G-nonadjacent-realtime"),
    "strong-session-serializable": ("G1-process", "G2-process"),
}

# models Elle's graph gives no anomaly of their own: never decided by a search, only held when a
# model that implies them is (monotonic atomic view, view serializability, the single-object
# and session models)
UNDEFINED = frozenset(m for m in IMPLIES if m not in PROHIBITS)
# models whose anomalies Elle marks "(incomplete)" (Cerone, Bernardi and Gotsman's models), and
# update atomic, read atomic's and lost update's: never decided by a search either
INCOMPLETE = frozenset(
    ("read-atomic", "causal-cerone", "prefix", "parallel-snapshot-isolation", "update-atomic")
)

# anomaly -> the anomalies it is a case of (a history with it has them too): Elle's
# `implied-anomalies`
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
    "dirty-update": ("G1a",),
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
    "future-read": "future-read",
    "lost-update": "lost-update",
}

# Elle's anomalies meshcheck's checkers find, beside the cycles (`searched`); a checker names
# those it searches (list_append.FINDS, rw_register.FINDS)
CYCLE_ANOMALIES = ("G0", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item")

# anomaly -> sets of anomalies whose absence together shows its absence, in the histories these
# checkers read (keys read and written whole, no predicate read):
# - G1 is G1a, G1b or G1c (Adya), and so with process order or real time;
# - every rw edge is on an item: a G-single, G-nonadjacent or G2 is one of an item;
# - G-SI (and so G-SIa, G-SIb): a history with neither internal, G1 nor G-nonadjacent is
#   snapshot isolated (Cerone and Gotsman, PODC 2016: SI is the acyclicity of
#   (ww | wr) ; rw?), so shows no G-SI;
# - Adya's own implications between his levels: PL-SI implies PL-MSR (no G-MSR), PL-2+ implies
#   PL-2L (no G-monotonic), PL-3 implies PL-3U (no G-update); a G-cursor is a cycle of one rw
#   edge and ww edges on one item, a G-single-item;
# - predicate-read-miss needs a predicate read: none here.
# An anomaly is also absent when one it implies is (`IMPLIED`: lost update is a G2-item).
COVERS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "G1": (("G1a", "G1b", "G1c"),),
    "G1-process": (("G1a", "G1b", "G1c-process"),),
    "G1-realtime": (("G1a", "G1b", "G1c-realtime"),),
    **{
        f"{c}{v}": ((f"{c}-item{v}",),)
        for c in ("G-single", "G-nonadjacent", "G2")
        for v in ("", "-process", "-realtime")
    },
    "G-SI": (("internal", "G1", "G-nonadjacent"),),
    "G-MSR": (("G1", "G-SI"),),
    "G-monotonic": (("G1", "G-single"),),
    "G-update": (("G1", "G2"),),
    "G-cursor": (("G-single-item",),),
    "predicate-read-miss": ((),),
}

# the models list-append decides whatever the history: it searches every anomaly each rules out
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
            "linearizable",
        ),
        RT_EDGES,
    ),
    **dict.fromkeys(
        (
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-session-read-committed",
            "strong-session-read-uncommitted",
            # the session guarantees and sequential consistency: each process's order
            "session-serializable",
            "sequential",
            "causal",
            "PRAM",
            "writes-follow-reads",
            "monotonic-reads",
            "monotonic-writes",
            "read-your-writes",
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


def present(found: Iterable[str]) -> set[str]:
    """Elle's anomalies a history with these (meshcheck's names) has: they, and those they are
    cases of."""
    return _closure((ELLE.get(a, a) for a in found), IMPLIED)


def impossible(anomalies: Iterable[str]) -> set[str]:
    """The models Elle's anomalies (Elle's names) rule out: those that rule out one of them or an
    anomaly it is a case of, and every model stronger (Elle's `anomalies->impossible-models`)."""
    direct = {m for a in _closure(anomalies, IMPLIED) for m in _PROHIBITED_BY.get(a, ())}
    return _closure(direct, _IMPLIED_BY)


def ruled_out(found: Iterable[str]) -> set[str]:
    """The models the anomalies (meshcheck's names, `ELLE`) rule out (`impossible`)."""
    return impossible(ELLE.get(a, a) for a in found)


def forbidden(model: str) -> set[str]:
    """Elle's anomalies the model rules out, with every anomaly that is a case of one of them
    (Elle's `anomalies-prohibited-by`)."""
    return _closure(prohibited(model), _reverse(IMPLIED))


def prohibits(model: str, anomaly: str) -> bool:
    """Whether the model rules out the anomaly (meshcheck's name)."""
    return model in ruled_out([anomaly])


def edges(model: str) -> str | None:
    """The edges beyond ww, wr and rw the model needs: RT_EDGES, PROCESS_EDGES, or None."""
    return EDGES.get(model)


def searched(kinds: Iterable[str], extra: str | None) -> frozenset[str]:
    """Elle's anomalies a checker's searches find when present: `kinds` (its own, Elle's names),
    the cycles, and with `extra` edges (RT_EDGES, PROCESS_EDGES) the cycles named after them."""
    suffix = {RT_EDGES: "-realtime", PROCESS_EDGES: "-process"}.get(extra or "")
    cycles = [*CYCLE_ANOMALIES, *(c + suffix for c in CYCLE_ANOMALIES if suffix)]
    return frozenset((*kinds, *cycles))


def prohibited(model: str) -> set[str]:
    """The anomalies the model rules out: its own and those of every model it implies."""
    return {a for m in implied(model) for a in PROHIBITS.get(m, ())}


class _Absence:
    """Which anomalies a history's searches show absent: one searched and not found, one whose
    covers (`COVERS`) are all absent, or one a case of an absent one (`IMPLIED`)."""

    def __init__(self, found: Iterable[str], searched: Iterable[str]) -> None:
        self.present = present(found)
        self.searched = set(searched)
        self.known: dict[str, bool] = {}

    def absent(self, anomaly: str) -> bool:
        if anomaly not in self.known:
            self.known[anomaly] = False  # while deciding: no cover goes through itself
            self.known[anomaly] = anomaly not in self.present and (
                anomaly in self.searched
                or any(all(self.absent(a) for a in cover) for cover in COVERS.get(anomaly, ()))
                or any(self.absent(a) for a in IMPLIED.get(anomaly, ()))
            )
        return self.known[anomaly]

    def unsearched(self, anomaly: str) -> set[str]:
        """Why the anomaly is not shown absent: the anomalies of its first cover not shown
        absent, down to those with no cover (itself when one of its cover is present)."""
        if self.absent(anomaly):
            return set()
        covers = COVERS.get(anomaly)
        if not covers or not covers[0] or any(a in self.present for a in covers[0]):
            return {anomaly}  # no cover, or one that cannot show it absent: the anomaly itself
        return {x for a in covers[0] for x in self.unsearched(a)}


def status(
    model: str, found: Iterable[str], searched: Iterable[str], proven: Iterable[str] = ()
) -> tuple[bool | None, str]:
    """Whether the model holds given the anomalies found (meshcheck's names) and those the
    searches would have found (`searched`, Elle's names), and why when undecided: False, ruled
    out; True, when it or a model that implies it rules out nothing present and only anomalies
    the searches show absent (and is defined by them: not `UNDEFINED`, not `INCOMPLETE`), or is
    `proven` otherwise (a serial order); None, with what is missing."""
    kinds = list(found)
    if model in ruled_out(kinds):
        return False, ""
    absence = _Absence(kinds, searched)
    if any(model in implied(p) for p in proven):
        return True, ""
    for m in stronger(model):
        if m in UNDEFINED or m in INCOMPLETE or m in ruled_out(kinds):
            continue
        if all(absence.absent(a) for a in prohibited(m)):
            return True, ""
    if model in UNDEFINED:
        return None, "Elle names no anomaly it rules out"
    if model in INCOMPLETE:
        return None, "Elle's anomalies for it are incomplete"
    missing = sorted({x for a in prohibited(model) for x in absence.unsearched(a)})
    if len(missing) == 1:
        return None, f"anomaly {missing[0]} is not searched"
    return None, f"anomalies {', '.join(missing)} are not searched"


def weakest(models: Iterable[str]) -> list[str]:
    """Those of the models that imply none of the others: the boundary of a set ruled out."""
    ms = set(models)
    return sorted(m for m in ms if not (implied(m) - {m}) & ms)


def strongest(models: Iterable[str]) -> list[str]:
    """Those of the models no other of them implies."""
    ms = set(models)
    return sorted(m for m in ms if not (stronger(m) - {m}) & ms)


def _statuses(
    found: Iterable[str], searched: Iterable[str], proven: Iterable[str]
) -> dict[str, tuple[bool | None, str]]:
    kinds, done, shown = list(found), list(searched), list(proven)
    return {m: status(m, kinds, done, shown) for m in IMPLIES}


def possible(
    found: Iterable[str], searched: Iterable[str], proven: Iterable[str] = ()
) -> list[str]:
    """The strongest models that hold (`status`) given the anomalies found and the searches."""
    return strongest(m for m, (h, _) in _statuses(found, searched, proven).items() if h)


def boundary(
    found: Iterable[str], searched: Iterable[str], proven: Iterable[str] = ()
) -> list[str]:
    """The report's lines on the models: those ruled out (the weakest of them, and how many
    stronger), the strongest still possible, and the strongest left undecided for want of a
    search (among those whose edges were searched: not those Elle gives no anomaly of their
    own), each with what is not searched."""
    kinds, done = list(found), frozenset(searched)
    out = ruled_out(kinds)
    lines = []
    if out:
        weak = weakest(out)
        lines.append(
            f"ruled out: {', '.join(weak)}"
            + (f" (and {len(out) - len(weak)} stronger models)" if len(out) > len(weak) else "")
        )
    statuses = _statuses(kinds, done, proven)
    still = strongest(m for m, (h, _) in statuses.items() if h)
    lines.append(
        "strongest still possible: " + (", ".join(still) if still else "none of those checked")
    )
    extra = {e for e in (RT_EDGES, PROCESS_EDGES) if f"G0{_SUFFIX[e]}" in done}
    open_ = strongest(
        m
        for m, (h, _) in statuses.items()
        if h is None and m not in UNDEFINED and edges(m) in (None, *extra)
    )
    if open_:
        lines.append("not decided: " + ", ".join(f"{m} ({statuses[m][1]})" for m in open_))
    return lines


_SUFFIX = {RT_EDGES: "-realtime", PROCESS_EDGES: "-process"}

"""Anomalies of transactional histories, as the list-append and rw-register checkers report them
(traces/history/list_append.py, traces/history/rw_register.py): their names, the searches for
dependency cycles that find them (`cycles.py`), how a cycle is named and explained, and the
report both checkers print.

A cycle is named after Adya ("Weak Consistency: A Generalized Theory and Optimistic
Implementations for Distributed Transactions", MIT, 1999) by its edges, as Elle does (Alvaro and
Kingsbury, "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020): G0,
ww edges only; G1c, ww and wr; G-single, exactly one rw edge; G2, more than one; the same with an
rt edge, `-realtime` (serializable, not strict serializable).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence

import attrs

from meshcheck.traces.history import consistency as lattice
from meshcheck.traces.history import cycles
from meshcheck.traces.history.cycles import RT
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WR
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.txn import Txn

# anomalies that serializability rules out (and so strict serializability); `-realtime` cycles
# only strict serializability
CYCLES = ("G0", "G1c", "G-single", "G2")
# a cycle's names, the most severe first (a -realtime one breaks strict serializability only)
CLASSES = (*CYCLES, *(f"{c}-realtime" for c in CYCLES))
# the cycles without a rw edge next to another; with process order, the classes' `-process` names
NONADJACENT = ("G-nonadjacent", "G-nonadjacent-realtime")
# the order the reports list the cycles in, the most severe first
_ORDER = ("G0", "G1c", "G-single", "G-nonadjacent", "G2")
REPORTED = (*_ORDER, *(f"{c}{s}" for s in ("-realtime", "-process") for c in _ORDER))
CONSISTENCY = lattice.CHECKED
# anomalies of a kind printed in full, at most
SHOWN = 3

Cycle = Sequence[tuple[int, int, int]]  # its edges (u, v, kinds of u -> v)


@attrs.frozen
class Anomaly:
    kind: str
    lines: tuple[str, ...]
    size: int = 1  # transactions it involves (a cycle's length)


class Found:
    """The anomalies found so far, by kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[Anomaly]] = defaultdict(list)

    def add(self, kind: str, *lines: str, size: int = 1) -> None:
        self.by_kind[kind].append(Anomaly(kind, tuple(lines), size))

    def ordered(self, kinds: Sequence[str]) -> dict[str, list[Anomaly]]:
        """Those found, in the order of `kinds`, each kind's smallest first."""
        return {
            kind: sorted(self.by_kind[kind], key=lambda a: a.size)
            for kind in kinds
            if self.by_kind.get(kind)
        }

    def as_process(self) -> None:
        """The cycles found with the process order's edges in the place of rt edges, named as
        such: `-process`, each such edge worded as process order."""
        renamed: dict[str, list[Anomaly]] = defaultdict(list)
        for kind, found in self.by_kind.items():
            for a in found:
                lines = tuple(line.replace("-> rt: ", "-> process order: ") for line in a.lines)
                renamed[kind.replace("-realtime", "-process")].append(
                    Anomaly(kind.replace("-realtime", "-process"), lines, a.size)
                )
        self.by_kind = renamed


@attrs.frozen
class Report:
    """What both checkers report; each adds its verdict (`holds`)."""

    consistency: str
    txns: int
    keys: int
    edges: int
    seconds: float
    anomalies: dict[str, list[Anomaly]]

    def holds_under(self) -> bool:
        """Whether no anomaly found rules the model checked out."""
        out = lattice.ruled_out(self.anomalies)
        return self.consistency not in out

    def searched(self) -> frozenset[str]:
        """Elle's anomalies the checker's searches would have found (consistency.py `searched`)."""
        raise NotImplementedError

    def proven(self) -> tuple[str, ...]:
        """Models shown to hold otherwise than by the searches (a serial order found)."""
        return ()

    def status(self) -> tuple[bool | None, str]:
        """Whether the model checked holds, and why not decided (consistency.py `status`)."""
        return lattice.status(self.consistency, self.anomalies, self.searched(), self.proven())

    def models(self) -> list[str]:
        """The report's lines on the lattice: the anomalies' weakest models ruled out, the
        strongest models still possible, and those the searches leave undecided."""
        return lattice.boundary(self.anomalies, self.searched(), self.proven())

    def what(self, model: str) -> str:
        """The verdict line's parenthesis: what was checked, how large, how fast."""
        return (
            f"{model}, {self.txns:,} transactions on {self.keys:,} keys, "
            f"{self.edges:,} edges, {self.seconds:.2f} s"
        )

    def text(self, name: str, verdict: str, model: str) -> str:
        """The report of the anomalies found: a verdict line naming each kind found and how many,
        then each kind with up to SHOWN of its anomalies explained."""
        kinds = ", ".join(f"{k} ({len(v)})" for k, v in self.anomalies.items())
        out = [f"{name}: {verdict} ({self.what(model)}): {kinds}"]
        for kind, found in self.anomalies.items():
            more = f" (the first {SHOWN} of {len(found)})" if len(found) > SHOWN else ""
            out.append(f"{kind}{more}:")
            for a in found[:SHOWN]:
                out.extend("  " + line for line in a.lines)
        out.extend(self.models())
        return "\n".join(out) + "\n"


def unwritten(found: Found, t: Txn, aborted: Txn | None, read: str, verb: str) -> None:
    """`t` read a value no transaction that took effect wrote (`read`: which, where): an aborted
    read (G1a) when `aborted`, a transaction that failed, wrote it (`verb`: how), else a
    garbage-read."""
    if aborted is not None:
        found.add(
            "G1a",
            f"{t.label()} read {read}, which {aborted.label()} {verb} and failed",
            aborted.show(),
            t.show(),
        )
    else:
        found.add("garbage-read", f"{t.label()} read {read}, which nobody {verb}", t.show())


def classify(cycle: Cycle) -> str:
    rw = cycles.count(cycle, RW)
    wr = cycles.count(cycle, WR)
    base = "G0" if rw == 0 and wr == 0 else "G1c" if rw == 0 else "G-single" if rw == 1 else "G2"
    return base + ("-realtime" if cycles.count(cycle, RT) else "")


def nonadjacent(name: Callable[[Cycle], str]) -> Callable[[Cycle], str | None]:
    """The name of a closed walk `cycles.Graph.nonadjacent_cycle` found, from `name`'s: a G2 of
    it is G-nonadjacent (a less severe name than G2 is not: None)."""

    def named(cycle: Cycle) -> str | None:
        kind = name(cycle)
        return kind.replace("G2", "G-nonadjacent") if kind.startswith("G2") else None

    return named


def searches(strict: bool) -> list[tuple[int, int, int]]:
    """The cycle searches, weakest class first (Elle's order), each with the rt edges beside it
    when strict, so that a cycle is reported under the weakest class that has one in its
    component: (kinds of the components' edges, kinds a cycle may take, kind it goes through)."""
    everything = WW | WR | RW | (RT if strict else 0)
    found = [(WW, WW, WW), (WW | WR, WW | WR, WR), (WW | WR | RW, WW | WR, RW)]
    found.append((WW | WR | RW, WW | WR | RW, RW))
    if strict:
        found += [
            (WW | RT, WW | RT, RT),
            (WW | WR | RT, WW | WR | RT, RT),
            (everything, WW | WR | RT, RW),
            (everything, everything, RT),
        ]
    return found


def search(
    graph: cycles.Graph,
    strict: bool,
    name: Callable[[Cycle], str],
    explain: Callable[[Cycle], list[str]],
    covered: dict[str, set[int]],
    found: Found,
    walk: Callable[[Cycle], str | None] | None = None,
) -> None:
    """The searches (`searches`), one cycle reported per kind and component: per kind, `covered`
    holds the components a cycle of it was reported from (shared by the searches of one history,
    with and without rt edges). `name` names a cycle, `explain` words it; `walk` names a
    G-nonadjacent walk (`nonadjacent(name)` unless given)."""
    full = graph.components(WW | WR | RW | (RT if strict else 0))
    if not full:
        return
    for mask, allowed, through in searches(strict):  # each mask's components inside `full`'s
        for comp in graph.components(mask, full):
            cycle = graph.shortest_cycle(comp, allowed, through)
            if cycle is None:
                continue
            kind = name(cycle)
            if any(u in covered[kind] for u, _, _ in cycle):
                continue
            covered[kind].update(comp)
            found.add(kind, *explain(cycle), size=len(cycle))
    walk = nonadjacent(name) if walk is None else walk
    for extra in (0, RT) if strict else (0,):
        # a G0, G1c or G-single found in the component (with rt edges when `extra`) rules out
        # what a G-nonadjacent would
        worse = [k + s for k in CYCLES[:3] for s in (("", "-realtime") if extra else ("",))]
        for comp in graph.components(WW | WR | RW | extra, full):
            if any(u in covered[k] for k in worse for u in comp):
                continue
            walked = graph.nonadjacent_cycle(comp, WW | WR | extra, RW)
            named = None if walked is None else walk(walked)
            if walked is None or named is None or any(u in covered[named] for u in comp):
                continue
            covered[named].update(comp)
            found.add(named, *explain(walked), size=len(walked))


def explain(
    cycle: Cycle, txns: Mapping[int, Txn], why: Callable[[int, int, int], str]
) -> list[str]:
    """A cycle, each transaction and why the edge out of it is there (`why`, of an edge and its
    weakest kind; an rt edge's is its times)."""
    lines = [f"a cycle of {len(cycle)} transactions:"]
    for u, v, kinds in cycle:
        lines.append("  " + txns[u].show())
        kind_bit = kinds & -kinds  # the weakest kind of the edge
        if kind_bit == RT:
            a, b = txns[u], txns[v]
            text = f"rt: {a.label()} completed (line {int(a.ret)}) before {b.label()} was invoked"
            text += f" (line {int(b.call)})"
        else:
            text = why(u, v, kind_bit)
        lines.append(f"    -> {text}")
    lines.append(f"  back to T{cycle[0][0]}")
    return lines

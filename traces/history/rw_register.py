"""Transactions of writes and reads of registers: is the history serializable, strict
serializable? After Elle's rw-register checker (Alvaro and Kingsbury, "Elle: Inferring Isolation
Anomalies from Experimental Observations", VLDB 2020; jepsen-io/elle, src/elle/rw_register.clj),
with Adya's anomalies ("Weak Consistency: A Generalized Theory and Optimistic Implementations for
Distributed Transactions", MIT, 1999).

A transaction is a list of micro-operations: `["w", k, v]` writes v to the register k, `["r", k,
v]` reads it (v null on the invocation; on the ok completion the value read, null meaning the
key's initial state, never written). Values written to a key are unique, so a read names its
writer. Unlike a list, a register does not show the order its versions were installed in: that
order is inferred, as far as it can be, and the verdict says when it could not be.

What a transaction reads first of a key and what it writes last to it are its external read and
write; only the external writes of transactions that took effect are versions of the key. The
edges of the dependency graph are precedences that hold in every serial order of the
transactions:

- wr: T1 wrote the version T2 read;
- rw from a read of the initial state (null) to every transaction that wrote the key (the
  initial state precedes every version: Elle's initial-state version graph);
- writes follow reads (Elle's wfr-keys; implied by a model that rules out G1c, assumed with
  `--wfr-keys` under the others): a transaction that read v of k and then
  wrote v' put v' after v: ww from v's writer to it, rw from v's other readers to it;
- by elimination, for T2's read of T1's version of k and each other writer T3 of k: T3 came
  either before T1 (ww T3 -> T1) or after T2 (rw T2 -> T3), never between. When one of the two
  would close a cycle the other is an edge, and so on to a fixed point (reachability as a bit set
  per transaction). Elle orders versions by the initial state and, as options, by writes
  following reads, real time (keys assumed linearizable) or process order; the elimination,
  which assumes nothing beyond the consistency checked, finds the edges the first three give
  (real time's under strict serializability) and more;
- for strict serializability also rt (T1 completed before T2 was invoked), and the edges the
  elimination then finds.

A cycle is an anomaly, found and named as list-append's are (`anomalies.py`, `cycles.py`,
weakest class first): G0 (ww only), G1c (ww and wr), G-single (one rw), G2 (more), `-realtime`
with an rt edge. An edge found by elimination is there because the other order would close a
cycle: a cycle through it is named by the less severe of its own class and those of the cycles
the other orders would close (an rw edge may stand for an rw and ww edges: the name never claims
more than the history shows; `rw_edges.py`). Beside the cycles, per transaction: G1a (a read of a failed transaction's write), G1b (a
read of a write its transaction later overwrote), internal (a read that does not show the
transaction's own earlier write or read of the key, or shows a value it writes later),
duplicate-write (a value written twice to a key), garbage-read (a value nobody wrote).

When no cycle is found the verdict rests on a serial order that replays every read: one is built
(`rw_order.py`: a schedule by time, repaired where a read does not replay); when that fails on a
small history, every way of ordering the versions left open is searched (either one is a serial
order, or each closes a cycle: an anomaly named by the less severe side). Otherwise the verdict
is undecided: no anomaly found, the keys whose versions' order was left open named, exit 2,
never a claim of serializability.

Any model of consistency.py's lattice may be judged (`--consistency`; rt edges for a real-time
one, process order for a strong session one): a model an anomaly found rules out does not hold;
one a serial order implies, or (read committed, read uncommitted) a version order made of the
edges known in every version order, holds; otherwise the verdict is undecided. Elle's
version-order options (`--linearizable-keys`, `--sequential-keys`) add the edges they assume
(rw_keys.py).

Transactions that failed took no effect (only G1a looks at them); one whose outcome is unknown
(`info`) took effect when a read saw one of its writes (it then has no completion time: no rt
edge out of it), and is left out otherwise (it may have run last). A history with no committed
transaction has nothing to check.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck.traces.history import alongside
from meshcheck.traces.history import anomalies
from meshcheck.traces.history import consistency as lattice
from meshcheck.traces.history import cycles
from meshcheck.traces.history import losses_rw
from meshcheck.traces.history import lost_update
from meshcheck.traces.history import rw_edges
from meshcheck.traces.history import rw_elimination
from meshcheck.traces.history import rw_history
from meshcheck.traces.history import rw_keys
from meshcheck.traces.history import rw_order
from meshcheck.traces.history import txn
from meshcheck.traces.history.cycles import RT
from meshcheck.traces.history.cycles import WR
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.rw_edges import Fact
from meshcheck.traces.history.rw_edges import State
from meshcheck.traces.history.rw_elimination import Pair
from meshcheck.traces.history.rw_history import History

# The checker's parts are modules of their own (`rw_history.py`: the transactions and what the
# graph is built from; `rw_edges.py`: the edges and the cycles they close; `rw_elimination.py`:
# the edges found by elimination; `rw_order.py`: the serial order), and what it shares with
# list-append is in `anomalies.py` and `txn.py`: their names stay importable from here. A bound is
# read in the module that defines it: a test that changes one patches that module.
CYCLES = anomalies.CYCLES
CLASSES = anomalies.CLASSES
SINGLE = (
    "G1a",
    "G1b",
    "internal",
    "duplicate-write",
    "garbage-read",
    "cyclic-versions",
    "lost-update",
)
KINDS = (*SINGLE, *anomalies.REPORTED)
# Elle's anomalies it searches for whatever the version order (consistency.py `searched`): a
# register read shows one value, so neither duplicate elements nor an incompatible order can be
# read; the cycles are searched too when the version order is known (`Report.complete`). A read
# of the transaction's own later write is internal, as Elle's rw-register names it (it has no
# future-read: src/elle/rw_register.clj `op-internal-case`)
FINDS = (
    "G1a",
    "G1b",
    "internal",
    "cyclic-versions",
    "lost-update",
    "duplicate-elements",
    "incompatible-order",
)
CONSISTENCY = anomalies.CONSISTENCY
SHOWN = anomalies.SHOWN  # also the pairs of versions left unordered that are shown
ELIMINATED = rw_history.ELIMINATED
PAIRS = rw_history.PAIRS
JUDGED = rw_elimination.JUDGED
SEARCHED = rw_history.SEARCHED
BRANCHES = rw_order.BRANCHES
ROUNDS = rw_order.ROUNDS
SINGLY = rw_order.SINGLY
SCANNED = rw_order.SCANNED
DEPTH = rw_edges.DEPTH
Mop = rw_history.Mop
Txn = rw_history.Txn
Anomaly = anomalies.Anomaly
parse = rw_history.parse


@attrs.frozen
class Report(anomalies.Report):
    """The anomalies found, and whether a serial order was found, refuted or left undecided."""

    # a serial order (keeping real time when strict) exists: True, one was found; False, an
    # anomaly shows there is none; None, undecided
    order: bool | None
    serializable: bool | None  # the same, real time aside
    open_keys: tuple[Hashable, ...] = ()  # when undecided: keys whose versions' order was open
    undecided: tuple[str, ...] = ()  # ... and some of the pairs of versions left unordered
    # the model is one a version order proves (consistency.BY_VERSION_ORDER), and the edges
    # known in every version order close no cycle of the kinds it rules out
    ordered: bool = False
    # every key's versions are in one order in every version order: the graph is the history's
    # dependency graph, and the cycles searched are found when present, as list-append's
    complete: bool = False
    # the models of BY_VERSION_ORDER (of the searches' edges) a version order proves
    by_versions: tuple[str, ...] = ()
    # writes follow reads implied by the model checked, not assumed (rw_keys.WFR): the version
    # order they give is one no G1c-free order departs from, but a G0-free one may
    implied_wfr: bool = False

    def searched(self) -> frozenset[str]:
        extra = lattice.edges(self.consistency)
        if not self.complete:
            return frozenset(FINDS)
        found = lattice.searched(FINDS, extra)
        if self.implied_wfr:  # a G0 through such an edge is named G1c: G0 not decided
            found -= {"G0", "G0-process", "G0-realtime"}
        return found

    def proven(self) -> tuple[str, ...]:
        """The serializable model of the searches' edges when a serial order was found; the
        model checked when a version order proves it (`ordered`)."""
        out: tuple[str, ...] = ()
        extra = lattice.edges(self.consistency)
        if self.order:
            out += (SERIAL[extra],)
        if self.serializable:
            out += ("serializable",)
        return out + self.by_versions

    @property
    def holds(self) -> bool | None:
        """Whether the model checked holds: not when an anomaly found rules it out; yes when a
        serial order was found (keeping the real-time or process order the model asks for: a
        serializable model of the same edges) and that model implies it, or a version order
        proves it (`ordered`), or the searches decide it (`complete`); else undecided."""
        return self.status()[0]


# the serializable model a serial order keeping the searches' edges shows
SERIAL = {
    None: "serializable",
    lattice.RT_EDGES: "strict-serializable",
    lattice.PROCESS_EDGES: "strong-session-serializable",
}


def check(
    txns: Sequence[Txn], consistency: str = "strict-serializable", keys: Sequence[str] = ()
) -> Report:
    """Every anomaly of the history (see the module's docstring) the searches `consistency` (a
    model of consistency.py's lattice) asks for find, and whether a serial order was found;
    `keys`, the version orders of Elle's options assumed (rw_keys.py)."""
    start = time.monotonic()
    found = anomalies.Found()
    follows = rw_keys.WFR in keys or lattice.prohibits(consistency, "G1c")
    h, fixed = rw_history.build(txns, found, keys, follows)
    n = max((t.index for t in txns), default=-1) + 1
    serial = State(n)
    serial.wfr = rw_keys.WFR in keys
    for u, v, kind, fact in fixed:
        serial.add(u, v, kind, fact)
    pending = rw_elimination.propagate(serial, list(h.pairs), h.nodes)
    extra = lattice.edges(consistency)
    strict = extra is not None
    final, final_pending = serial, pending
    if strict:
        final = serial.copy()
        took = [h.txns[i] for i in h.nodes]
        if extra == lattice.PROCESS_EDGES:  # in rt's place, named as process order at the end
            rt = list(txn.in_process_order(took, lambda i: h.txns[i].process))
        else:
            rt = list(txn.precedences(took))
        final.add_rt(rt)
        final_pending = rw_elimination.propagate(final, pending, h.nodes)
    lost_update.find(txns, "w", found, rw_edges.shown)
    # the searches, where the elimination found a cycle (`cyclic` is exact once it has run: a
    # graph with none has no component to search, and the serial edges are among the final's)
    covered: dict[str, set[int]] = defaultdict(set)
    if serial.cyclic:
        rw_edges.search(serial, h.txns, False, covered, found)
    if strict and final.cyclic:
        rw_edges.search(final, h.txns, True, covered, found)
    order: bool | None = False if found.by_kind else None
    serializable: bool | None = None
    open_keys: tuple[Hashable, ...] = ()
    undecided: tuple[str, ...] = ()
    if order is None:
        decided = rw_order.settle(final, final_pending, h, strict)
        if decided.result == "order":
            order = serializable = True
        elif decided.result == "refuted":
            found.add(decided.kind, *decided.lines, size=decided.size)
            order = False
        else:
            open_keys, undecided = _open(final_pending, h)
    if any(not k.endswith("-realtime") for k in found.by_kind):
        serializable = False
    elif strict and serializable is None:
        decided = rw_order.settle(serial, pending, h, False)
        if decided.result == "order":
            serializable = True
        elif decided.result == "refuted":
            found.add(decided.kind, *decided.lines, size=decided.size)
            serializable = order = False
        elif order is False:  # a realtime anomaly, and serializability undecided
            open_keys, undecided = _open(pending, h)
    if not strict:
        order = serializable
    if extra == lattice.PROCESS_EDGES:
        found.as_process()
    ordered: list[str] = []
    for model, kinds in lattice.BY_VERSION_ORDER.items():
        if lattice.edges(model) != extra:
            continue
        known = cycles.Graph(n)
        mask = WW | (WR if "wr" in kinds.split() else 0)
        for u, v, kind, _ in fixed:
            if kind & mask:
                known.add(u, v, kind)
        if strict:
            for u, v in rt:
                known.add(u, v, RT)
        if not known.components(WW | WR | RT):
            ordered.append(model)
    complete = _complete(h, fixed, final_pending if strict else pending)
    return Report(
        consistency,
        len(txns),
        txn.keys(txns),
        final.edges(),
        time.monotonic() - start,
        found.ordered(KINDS),
        order,
        serializable,
        open_keys,
        undecided,
        consistency in ordered,
        complete,
        tuple(ordered),
        follows and rw_keys.WFR not in keys,
    )


def _complete(
    h: History, fixed: Sequence[tuple[int, int, int, Fact]], pending: Sequence[Pair]
) -> bool:
    """Whether the version order is known: every pair eliminated (none left, no key skipped), and
    each key's writers in one order by the ww edges every version order has (the initial state,
    writes following reads, Elle's options; not elimination's, which assume the model). The
    graph is then the history's dependency graph, each edge of it there in every version order,
    and its cycles are the history's: list-append's searches decide."""
    if pending or h.skipped:
        return False
    writers: dict[Hashable, set[int]] = defaultdict(set)
    for i in h.nodes:
        for k in h.writes[i]:
            writers[k].add(i)
    after: dict[Hashable, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for u, v, kind, fact in fixed:
        if kind & WW and fact.key in writers and u in writers[fact.key] and v != u:
            after[fact.key][u].add(v)
    for k, ws in writers.items():
        # one order: a topological sort of the ww edges on k that never has two to choose from
        # (Kahn's), over every writer
        into = dict.fromkeys(ws, 0)
        for u in ws:
            for v in after[k][u]:
                if v in into:
                    into[v] += 1
        ready = [w for w, n in into.items() if n == 0]
        placed = 0
        while ready:
            if len(ready) > 1:
                return False
            u = ready.pop()
            placed += 1
            for v in after[k][u]:
                if v in into:
                    into[v] -= 1
                    if into[v] == 0:
                        ready.append(v)
        if placed < len(ws):
            return False  # a cycle of ww edges: no one order
    return True


def _open(pending: Sequence[Pair], h: History) -> tuple[tuple[Hashable, ...], tuple[str, ...]]:
    """The keys whose versions' order was left open, and the first SHOWN pairs of them."""
    keys = list(dict.fromkeys([p[0] for p in pending] + list(h.skipped)))
    lines = []
    for k, r, w, v, o, ov in pending[:SHOWN]:
        tr, tw, to = (h.txns[i].label() for i in (r, w, o))
        lines.append(
            f"key {k}: {to}'s {ov} came before {tw}'s {v} or after {tr} read {v}; neither "
            "closes a cycle"
        )
    if h.skipped:
        lines.append(
            f"not eliminated (too large): {len(h.skipped)} keys, "
            + ", ".join(map(str, h.skipped[:SHOWN]))
            + (" .." if len(h.skipped) > SHOWN else "")
        )
    return tuple(keys), tuple(lines)


def render(report: Report, name: str) -> str:
    """The report: a verdict line, then each kind of anomaly found with up to SHOWN explained, or
    the versions left unordered when undecided."""
    what = report.what("rw-register")
    unknown = f"unknown order on {len(report.open_keys)} keys"
    if report.open_keys:
        shown = ", ".join(map(str, report.open_keys[:SHOWN]))
        unknown += f" ({shown}{' ..' if len(report.open_keys) > SHOWN else ''})"
    consistency = report.consistency.replace("-", " ")
    models = "".join(line + "\n" for line in report.models())
    holds, why = report.status()
    if not report.anomalies and holds is None and (report.order or report.ordered):
        return f"{name}: {consistency} not decided ({what}): no anomaly found, but {why}\n" + models
    if not report.anomalies:
        if report.order:
            return (
                f"{name}: {consistency} ({what}): no anomaly found; a serial order replays "
                "every read\n" + models
            )
        if report.ordered:
            return (
                f"{name}: {consistency} ({what}): no anomaly found; the versions in an order "
                "that keeps every edge known close no cycle it rules out\n" + models
            )
        verdict = (
            "serializable, strict serializability undecided" if report.serializable else "undecided"
        )
        out = [
            f"{name}: {verdict} ({what}): no anomaly found, but {unknown}: "
            f"not proven {consistency}",
            "versions left unordered:",
            *("  " + line for line in report.undecided),
        ]
        return "\n".join(out) + "\n" + models
    if report.consistency not in ("strict-serializable", "serializable"):
        verdict = f"not {consistency}"
        if report.holds:
            verdict = f"{consistency} holds, with anomalies it allows"
        elif report.holds is None:
            verdict = f"{consistency} undecided, with anomalies it allows"
            if report.open_keys:
                verdict += f" ({unknown})"
            elif why:
                verdict += f" ({why})"
    elif report.serializable is False:
        verdict = "not serializable"
    elif report.serializable:
        verdict = "serializable but not strict serializable"
    else:
        verdict = f"not strict serializable, serializability undecided ({unknown})"
    return report.text(name, verdict, "rw-register")


def read(path: str) -> tuple[str, list[Txn]]:
    return txn.read(path, parse)


def run(path: str, options: Any) -> tuple[str, bool | None]:
    """`meshcheck history check --model rw-register`: the report, and whether the history holds
    (None: undecided)."""
    name, txns = read(path)
    txn.committed(name, txns)
    report, account = alongside.alongside(  # what was lost, beside the anomalies
        lambda: check(txns, options.consistency, options.keys),
        lambda: losses_rw.render(losses_rw.count(txns)),
        size=len(txns),
    )
    return render(report, name) + account, report.holds

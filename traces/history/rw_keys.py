"""The version orders Elle's rw-register checker takes as options (jepsen-io/elle,
src/elle/rw_register.clj: `:linearizable-keys?`, `:sequential-keys?`), as edges of
rw-register's dependency graph (traces/history/rw_register.py): assumptions about the store's
keys, not about its transactions, so that a history of a store whose keys are linearizable
registers is judged as such under any model.

- linearizable keys: each key's versions follow real time. When a transaction that read or
  wrote k completed before another that reads or writes k was invoked, the version the first
  left (its write, else what it read) is no later than the one the second saw first (its read,
  else its write);
- sequential keys: the same in each process's order (txn.py `in_process_order`).

A later version gives a ww edge from the writer of the earlier one, and an rw edge from each of
the earlier version's readers. A read of the initial state (null) after a version of the key is
a contradiction of the assumption itself: Elle's cyclic-versions, which no model allows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.traces.history import anomalies
from meshcheck.traces.history import txn
from meshcheck.traces.history.cycles import RW
from meshcheck.traces.history.cycles import WW
from meshcheck.traces.history.rw_edges import Fact
from meshcheck.traces.history.rw_edges import shown

LINEARIZABLE, SEQUENTIAL = "linearizable-keys", "sequential-keys"
OPTIONS = (LINEARIZABLE, SEQUENTIAL)
# writes follow reads (Elle's `:wfr-keys?`): within a transaction, a write of a key after a read of
# it comes after the version read. rw_history.py adds its edges (`follows`): under any model
# that rules out G1c they hold in every version order the model allows (the other order closes
# T1 -wr-> T2 -ww-> T1), and this option assumes them under the others too (read uncommitted)
WFR = "wfr-keys"


def edges(
    keys: Sequence[str],
    txns: Mapping[int, txn.Txn],
    nodes: Sequence[int],
    reads: Mapping[int, Mapping[Hashable, Hashable]],
    writes: Mapping[int, Mapping[Hashable, Hashable]],
    found: anomalies.Found,
) -> list[tuple[int, int, int, Fact]]:
    """The edges the options `keys` assume (and the contradictions of them, into `found`)."""
    if not keys:
        return []
    writer = {(k, v): i for i in nodes for k, v in writes[i].items()}
    readers: dict[tuple[Hashable, Hashable], list[int]] = defaultdict(list)
    touching: dict[Hashable, list[int]] = defaultdict(list)
    for i in nodes:
        for k, v in reads[i].items():
            readers[(k, v)].append(i)
        for k in {*reads[i], *writes[i]}:
            touching[k].append(i)
    out: list[tuple[int, int, int, Fact]] = []
    contradicted: set[Hashable] = set()
    for option in keys:
        for k, ids in touching.items():
            for x, y in _pairs(option, [txns[i] for i in ids]):
                p = writes[x].get(k, reads[x].get(k))  # the version x left
                q = reads[y][k] if k in reads[y] else writes[y][k]  # the one y saw first
                if p == q or p is None:
                    continue
                if q is None:
                    if k not in contradicted:
                        contradicted.add(k)
                        _contradiction(option, k, p, txns[x], txns[y], found)
                    continue
                earlier, later = writer.get((k, p)), writer.get((k, q))
                if earlier is None or later is None or earlier == later:
                    continue
                fact = Fact(option, k, p, x, q, y)
                out.append((earlier, later, WW, fact))
                out.extend((r, later, RW, fact) for r in readers[(k, p)] if r != later)
    return out


def _pairs(option: str, txns: Sequence[txn.Txn]) -> Iterator[tuple[int, int]]:
    if option == LINEARIZABLE:
        return txn.precedences(txns)
    return txn.in_process_order(txns, {t.index: t.process for t in txns}.__getitem__)


def _contradiction(
    option: str, k: Hashable, p: Hashable, x: txn.Txn, y: txn.Txn, found: anomalies.Found
) -> None:
    found.add(
        "cyclic-versions",
        f"{y.label()} read {k} = null (never written) after {x.label()} left {k} = {shown(p)}: "
        f"{because(option, x, y)}",
        x.show(),
        y.show(),
    )


def because(option: str, x: txn.Txn, y: txn.Txn) -> str:
    """Why x's version of a key comes no later than what y saw, in the option's words."""
    if option == LINEARIZABLE:
        return f"{x.label()} completed before {y.label()} was invoked (linearizable keys)"
    return f"{x.label()} ran before {y.label()} in process {x.process} (sequential keys)"

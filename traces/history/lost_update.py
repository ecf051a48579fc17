"""Lost update, as Elle finds it (jepsen-io/elle, src/elle/txn.clj `lost-update-cases`): two or
more committed transactions that read the same version of a key and then wrote the key. Adya
defines it only by its example history (H_lu: r1(x0) r2(x0) w2(x2) c2 w1(x1) c1); what matters,
Elle observes, is that both read x0 and wrote x, whatever the version order: one of the writes
was made without the other in view. Found without the version order, so rw-register, which does
not observe it, finds every lost update list-append does.

A transaction's read of a key counts when it is its first read of the key and comes before its
first write of it (as in Elle's scan); the value read is the version (a list, for list-append;
null is the initial state).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any

from meshcheck.traces.history import anomalies
from meshcheck.traces.history.txn import Txn


def find(
    txns: Sequence[Txn], write: str, found: anomalies.Found, show: Callable[[Any], str] = str
) -> None:
    """Each group of committed transactions that read one version of a key, then wrote it
    (`write`: the checker's f of a write), into `found` as a lost-update; `show` words a value."""
    groups: dict[tuple[Hashable, Hashable], list[Txn]] = defaultdict(list)
    for t in txns:
        if t.status != "ok":
            continue
        first: dict[Hashable, Hashable] = {}
        wrote: set[Hashable] = set()
        for f, k, v in t.mops:
            if f == write:
                if k in first and k not in wrote:
                    wrote.add(k)
                    groups[(k, first[k])].append(t)
            elif k not in first and k not in wrote:
                first[k] = v
    for (k, v), ts in groups.items():
        if len(ts) > 1:
            who = ", ".join(t.label() for t in ts)
            found.add(
                "lost-update",
                f"{who} each read {k} = {show(v)} and then wrote {k}",
                *(t.show() for t in ts),
                size=len(ts),
            )

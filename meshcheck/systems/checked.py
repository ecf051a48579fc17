"""The workloads checked by a checker of their own kind, not a linearizability search
(docs/history-checkers.md): which clients drive each (its `Clients`), which checker of `meshcheck
history check --model` judges its history.jsonl, and the run's verdicts from it. Any plug-in that
lists a workload here in its `workloads` runs it: etcd's the first four, the SQL plug-ins the
last two."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.nemesis import Fault
from meshcheck.systems.append_workload import AppendClients
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.fenced_workload import FencedClients
from meshcheck.systems.lease_workload import LeaseClients
from meshcheck.systems.rw_workload import RwClients
from meshcheck.systems.watch_workload import WatchClients
from meshcheck.traces.history import checkers

# seconds a lease may outlive its last renewal's TTL, or lapse before it, with no clock fault:
# etcd's leader looks for expired leases every 500 ms and revokes them through the log
# (lease/lessor.go's revoke loop), and extends every lease by an election timeout (1 s) when it
# takes office (Lessor.Promote)
LEASE_SLACK = 1.5


@attrs.frozen
class Kind:
    workload: str
    model: str  # the checker's name (traces/history/checkers.py)
    clients: type[Clients]
    check: str  # the verdict's name
    mutants: tuple[str, ...]  # the `broken` values the workload (or a plug-in) knows


KINDS: dict[str, Kind] = {
    k.workload: k
    for k in (
        Kind("watch", "watch", WatchClients, "watch: every change, in order", ("watch-skip",)),
        Kind("lease", "lease", LeaseClients, "lease: never gone while kept alive",
             ("stalled-keepalive",)),
        Kind("fenced-lock", "fenced-lock", FencedClients, "fenced lock", ("unfenced",)),
        Kind("list-append", "list-append", AppendClients, "list-append (Elle)",
             ("unguarded-txn",)),
        Kind("rw-register", "rw-register", RwClients, "rw-register (Elle)", ()),
    )
}  # fmt: skip


def clock_bound(workload: str, plan: Sequence[Fault]) -> float:
    """The lease checker's slack both ways: LEASE_SLACK plus the largest clock fault of the plan
    (its jump, and what its rate gains or loses over how long it lasts); 0 for other workloads."""
    if workload != "lease":
        return 0.0
    skew = max(
        (abs(f.offset) / 1000 + abs(f.rate - 1.0) * f.lasts for f in plan if f.kind == "clock"),
        default=0.0,
    )
    return round(LEASE_SLACK + skew, 2)


def replay_command(workload: str, folder: Path, bound: float) -> str:
    kind = KINDS[workload]
    extra = f" --clock-bound {bound:g}" if workload == "lease" else ""
    path = shlex.quote(str(folder / "history.jsonl"))  # a folder may hold a space
    return f"meshcheck history check {path} --model {kind.model}{extra}"


def verdicts(workload: str, path: Path, bound: float) -> tuple[tuple[Verdict, ...], str]:
    """The checker's verdicts on the history at `path`, and its whole report. The fenced lock's
    are two: mutual exclusion, and fencing (the register kept safe), as its report says them; so
    are the lease's: no key gone while its lease was kept alive (what a holder relies on), and
    every key gone once its lease lapsed (which a leader change postpones: etcd's new leader
    renews every lease when it takes office, lease/lessor.go `Promote`)."""
    kind = KINDS[workload]
    text, holds = checkers.CHECKERS[kind.model].run(str(path), checkers.Options(clock_bound=bound))
    first = text.splitlines()[0].removeprefix(f"{path}: ")
    if workload == "lease":  # early is unsafe; late is what a new leader's extension allows
        found = first.rsplit("): ", 1)[-1] if not holds else ""
        return (
            Verdict(kind.check, "vanished-early" not in found, first),
            Verdict("lease: gone once lapsed", "outlived" not in found, first),
        ), text
    if workload != "fenced-lock":
        return (Verdict(kind.check, holds, first),), text
    overlap = re.search(r"mutual exclusion: (held|no \([^)]*\))", first)
    fenced = re.search(r"fencing: (held|failed)", first)
    exclusive = overlap is not None and overlap.group(1) == "held"
    safe = fenced is not None and fenced.group(1) == "held"
    what = first.split(";")[0].split("(", 1)[-1]
    return (
        Verdict("fenced lock: mutual exclusion", exclusive,
                f"{what}; {overlap.group(1) if overlap else '?'}"),
        Verdict("fenced lock: fencing kept the register safe", safe,
                f"{what}; {fenced.group(1) if fenced else '?'}"),
    ), text  # fmt: skip

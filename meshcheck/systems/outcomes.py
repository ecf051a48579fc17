"""The one rule every client plug-in records an error by (docs/plugins.md, "System plug-ins: what
an error is recorded as"). A plug-in sorts each error its client library gives into one of these
classes; `outcome` says what the operation completes as, from the class and whether the operation
writes.

- `refused`: the connection could not be made (nobody listens: the node is down); the request
  never left;
- `lost-before-send`: the connection was closed or lost before the request was sent;
- `rejected`: the system answered that it did not do it (a compare that failed, a token refused,
  no server taking the subject);
- `timeout`: the request was sent and no answer came in time;
- `lost-during-commit`: the connection was lost after the request was sent, before its answer;
- `error`: the system answered an error that does not say whether the request took effect
  (etcd's "leader changed", a session expired with the request pending).

The first three are `fail`: the operation certainly did not take effect. The last three are
`info` for an operation that writes: it may have taken effect, or may yet (Jepsen's client
contract, jepsen/src/jepsen/client.clj: an indeterminate completion). An operation that writes
nothing (a read, a transaction of reads) is `fail` whatever stopped it: it changed nothing. A
write recorded `fail` that did take effect tells the checker it did not: a lost write, or a read
of its value, becomes an anomaly the system never had, and one the system did have may pass."""

from __future__ import annotations

from typing import Literal

from meshcheck.systems.plugin import Status

Failure = Literal[
    "refused", "lost-before-send", "rejected", "timeout", "lost-during-commit", "error"
]
FAILURES: tuple[Failure, ...] = (
    "refused",
    "lost-before-send",
    "rejected",
    "timeout",
    "lost-during-commit",
    "error",
)
# the classes after which the operation certainly did not take effect
CERTAIN: frozenset[Failure] = frozenset({"refused", "lost-before-send", "rejected"})


def outcome(failure: Failure, *, writes: bool) -> Status:
    """What an operation stopped by `failure` completes as: `fail` when it certainly took no
    effect (it writes nothing, or the class says so), else `info`."""
    if not writes or failure in CERTAIN:
        return "fail"
    return "info"

"""The refinement mapping: a simulated PBFT group as a state of specs/PBFT.tla.

`abstract_state` says what the implementation's state means in the spec's terms; lockstep replay and
trace validation compare it with TLC's states using `==`, so it gives exactly the values of
impl/base/values.py for the spec's variables (`VARIABLES`, in the spec's order):

- `requested`: the operations the client sent; `accepted`: [seq |-> n, req |-> r] it accepted.
- `msgs`: the record of every message an honest replica ever sent (`History`, kept by the plugin
  from each step's sends; the spec's msgs only grows, and loss, duplication and reordering are free
  in it). A new-view message counts with the pre-prepares of its O, which the spec's NewView sends
  as messages of their own. Byzantine replicas' messages are not in it: the spec has them as
  ByzMsgs, a constant.
- `view`, `status`, `executed`, `stable` of each honest replica; a Byzantine replica's stay at their
  initial values (0, "normal", <<>>, 0).

A request is named by its operation (`request_name`). A batch is its one request's name with
batch_size 1, which is what spec-checked runs use; a larger batch maps to the tuple of its
requests' names, a value the spec does not have (such runs are checked by the Python invariants,
not by TLC). A checkpoint's digest maps to the history it certifies, a tuple of those names, as in
the spec. The names behind digests come from messages.py, which remembers what it hashed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.growth import Msgs
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_for_digest
from meshcheck.impl.pbft.messages import batch_name
from meshcheck.impl.pbft.messages import batches_for_state
from meshcheck.impl.pbft.messages import request_name
from meshcheck.impl.pbft.replica import NORMAL
from meshcheck.impl.pbft.replica import Replica

VARIABLES: tuple[str, ...] = (
    "requested",
    "msgs",
    "view",
    "status",
    "executed",
    "stable",
    "accepted",
)

CONTRACT_TYPES = (PrePrepare, Prepare, Commit, Reply, Checkpoint, ViewChange, NewView)


def digest_name(digest: bytes) -> Value:
    """The spec's `req` for a batch digest (its hex text if this process never hashed it: only a
    Byzantine replica sends such digests, and their messages are not in msgs)."""
    batch = batch_for_digest(digest)
    return batch_name(batch) if batch is not None else digest.hex()


# Globals that keep no replica's state (property_tests/restarts.py, core purity): `state_name` and
# `_cached_record` are memos of pure functions of the refinement mapping, which no replica reads.
PURE_GLOBALS = ("state_name", "_cached_record")


@functools.lru_cache(maxsize=1 << 14)
def state_name(digest: bytes) -> Value:
    """The spec's checkpoint digest: the history a state digest certifies, as request names."""
    batches = batches_for_state(digest)
    if batches is None:
        return digest.hex()
    return tuple(digest_name(b) for b in batches)


def _record(m: Signed[Any]) -> Value:
    body = m.body
    if isinstance(body, PrePrepare | Prepare | Commit):
        return FrozenDict(
            {
                "type": type(body).__name__,
                "view": body.view,
                "seq": body.seq,
                "req": digest_name(body.digest),
                "src": body.src,
            }
        )
    if isinstance(body, Reply):
        return FrozenDict(
            {"type": "Reply", "seq": body.seq, "req": request_name(body.request), "src": body.src}
        )
    if isinstance(body, Checkpoint):
        return FrozenDict(
            {
                "type": "Checkpoint",
                "seq": body.seq,
                "digest": state_name(body.digest),
                "src": body.src,
            }
        )
    if isinstance(body, ViewChange):
        claims = frozenset(
            FrozenDict({"view": p.view, "seq": p.seq, "req": digest_name(p.digest)})
            for p in body.prepared
        )
        return FrozenDict(
            {
                "type": "ViewChange",
                "view": body.view,
                "ckpt": body.ckpt,
                "prepared": claims,
                "src": body.src,
            }
        )
    if isinstance(body, NewView):
        pre = frozenset(
            FrozenDict({"seq": pp.body.seq, "req": digest_name(pp.body.digest)})
            for pp in body.pre_prepares
        )
        ckpt = max((vc.body.ckpt for vc in body.view_changes), default=0)  # min-s
        return FrozenDict(
            {"type": "NewView", "view": body.view, "ckpt": ckpt, "pre": pre, "src": body.src}
        )
    if isinstance(body, Request):
        return FrozenDict({"type": "Request", "req": request_name(body), "src": body.client})
    if isinstance(body, Status):
        return FrozenDict({"type": "Status", "view": body.view, "src": body.src})
    return FrozenDict({"type": type(body).__name__})


@functools.lru_cache(maxsize=1 << 16)
def _cached_record(m: Signed[Any]) -> Value:
    return _record(m)


def message_record(m: Any) -> Value:
    """The message as the spec's record (for a message the spec does not have: a record with its
    `type`, so that the simulator's bag of messages in flight can count it)."""
    if not isinstance(m, Signed):
        return FrozenDict({"type": type(m).__name__})
    try:
        return _cached_record(m)
    except (TypeError, AttributeError):
        # Garbage a Byzantine node sent: unhashable, or of the wrong shape inside (the fuzzer,
        # impl/pbft/byzantine/fuzz.py, puts a signed request where a view-change message's
        # prepared certificate holds a pre-prepare; the replicas check each part's type,
        # viewchange.py's `_signed`, and reject it)
        return FrozenDict({"type": type(m.body).__name__})


def sent_records(m: Any, sender: str) -> tuple[Value, ...]:
    """What sending `m` adds to the spec's msgs when the honest `sender` sends it: its record if it
    is a message of the spec that `sender` signed (a forwarded message was sent by its signer
    already), and for a new-view message the pre-prepares of O too."""
    if not (isinstance(m, Signed) and m.signer == sender and isinstance(m.body, CONTRACT_TYPES)):
        return ()
    if isinstance(m.body, NewView):
        return (message_record(m), *(message_record(pp) for pp in m.body.pre_prepares))
    return (message_record(m),)


class History(Msgs):
    """What the spec remembers and no replica holds: every record honest replicas sent. The mapping
    runs after every step, so values that rarely change are built once and reused (equal states
    then compare by identity)."""

    def __init__(self) -> None:
        super().__init__()
        self._executed: dict[str, tuple[int, int, tuple[Value, ...]]] = {}
        self._client: tuple[int, int, frozenset[Value], frozenset[Value]] = (
            -1,
            -1,
            frozenset(),
            frozenset(),
        )

    def executed(self, replica: Replica) -> tuple[Value, ...]:
        epoch, length = replica.history_epoch, len(replica.executed)
        cached = self._executed.get(replica.id)
        if cached is not None and cached[0] == epoch and cached[1] == length:
            return cached[2]
        if cached is not None and cached[0] == epoch and cached[1] < length:
            value = cached[2] + tuple(batch_name(b) for b in replica.executed[cached[1] :])
        else:
            value = tuple(batch_name(b) for b in replica.executed)
        self._executed[replica.id] = (epoch, length, value)
        return value

    def client(self, client: Client | None) -> tuple[frozenset[Value], frozenset[Value]]:
        if client is None:
            return frozenset(), frozenset()
        sizes = (len(client.requested), len(client.accepted))
        if sizes != self._client[:2]:
            accepted = frozenset(FrozenDict({"seq": n, "req": r}) for n, r in client.accepted)
            self._client = (*sizes, frozenset(client.requested), accepted)
        return self._client[2], self._client[3]


def abstract_state(
    nodes: Mapping[str, Any],
    replicas: tuple[str, ...],
    honest: frozenset[str],
    client: str | None,
    history: History,
) -> FrozenDict:
    """The spec's variables for a group: `nodes` by id (replicas and the client), which replicas
    are `honest`, and the run's history."""

    def per_replica(f: Any, initial: Value) -> FrozenDict:
        return FrozenDict({r: f(nodes[r]) if r in honest else initial for r in replicas})

    client_node = nodes.get(client) if client is not None else None
    requested, accepted = history.client(client_node if isinstance(client_node, Client) else None)
    return FrozenDict(
        {
            "requested": requested,
            "msgs": history.msgs(),
            "view": per_replica(lambda n: n.view, 0),
            "status": per_replica(lambda n: n.status, NORMAL),
            "executed": per_replica(history.executed, ()),
            "stable": per_replica(lambda n: n.stable, 0),
            "accepted": accepted,
        }
    )

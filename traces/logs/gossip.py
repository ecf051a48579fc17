"""What the validation of gossip nodes' logs (impl/runtime/gossip_log.py) decides from the logs
themselves: the constants of specs/GossipLogs.tla a run fixes (validate.py's LogSpec `fit`).

- `Key`: every key a record names (a node logs the entries it holds, a push and a pull the keys
  they carry, an update the key it writes). A node cannot log keys it never heard of, so it logs
  `entries` and `own` as partial functions, completed with Nil (validate.py LogSpec `sparse`).
- `PushKeys`: the key sets the logged pushes carry (GossipLogs.tla: Push narrowed to them, which
  keeps TLC from enumerating every subset of what a node holds).
- `NumNodes` and `NumSeeds`: the nodes are "n1".."nN", every one a member from the start (as
  impl/runtime starts a gossip cluster).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.format import LogRecord

_NODE = re.compile(r"n([1-9])")


def _keys(value: Value) -> Iterable[str]:
    """The keys of a logged function of keys (an empty one reads as `()`)."""
    if isinstance(value, FrozenDict):
        return [k for k in value if isinstance(k, str)]
    return []


def _tla_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=True)


def _node_number(name: Value, where: str) -> int:
    found = _NODE.fullmatch(name) if isinstance(name, str) else None
    if found is None:
        raise LogFormatError(
            where, "node", f"{format_value(name)}: Gossip.tla's nodes are n1 .. n9"
        )
    return int(found.group(1))


def fit_gossip(records: Sequence[LogRecord], constants: Mapping[str, Value]) -> dict[str, str]:
    """GossipLogs.tla's Key, PushKeys, NumNodes and NumSeeds for these records."""
    keys: set[str] = set()
    pushed: set[frozenset[str]] = set()
    nodes = 1
    for r in records:
        nodes = max(nodes, _node_number(r.node, r.source))
        for var in ("entries", "own"):
            keys.update(_keys(r.state.get(var)))
        k = r.params.get("k")
        if isinstance(k, str):
            keys.add(k)
        m = r.params.get("m")
        if isinstance(m, FrozenDict):
            for end in ("from", "to"):
                if end in m:
                    nodes = max(nodes, _node_number(m[end], r.source))
            carried = list(_keys(m.get("entries"))) + list(_keys(m.get("digest")))
            keys.update(carried)
            if r.action == "Push":
                pushed.add(frozenset(_keys(m.get("entries"))))
        elif r.action == "Push":
            raise LogFormatError(
                r.source,
                "params.m",
                "a Push record must give the push it sent (m): the validation takes the keys it "
                "carries from it",
            )
    if not keys:
        keys.add("k")  # Key must not be empty; a run that wrote nothing holds no key
    sets = sorted("{" + ", ".join(_tla_string(k) for k in sorted(s)) + "}" for s in pushed if s)
    return {
        "Key": "{" + ", ".join(_tla_string(k) for k in sorted(keys)) + "}",
        "PushKeys": "{" + ", ".join(sets) + "}",
        "NumNodes": str(nodes),
        "NumSeeds": str(nodes),
    }

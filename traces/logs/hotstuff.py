"""What the validation of HotStuff replicas' logs (impl/runtime/hotstuff_log.py) decides from the
logs themselves, and how it reads their blocks (validate.py's LogSpec `fit` and `decode`).

A block of specs/HotStuff.tla is its chain from genesis, a sequence of `[view |-> v, cmd |-> "a"]`
records (impl/hotstuff/refinement.py). Written out in full it is as long as the run: a run of
seconds goes through hundreds of views, and every `Vote` record would carry hundreds of entries
three times over (its block, `highQC`, `locked`), and `committed` every prefix of the committed
chain. So a log names a block by its view and its parent's view, `{"view": 5, "parent": 3}`
(genesis `{"view": 0, "parent": 0}`), and `committed` by its committed heads; the validation
rebuilds the chains (`decode`). That is exact for HotStuff.tla with every replica honest: a view
has at most one block (Propose and NewView, once per view, by its leader), so views name blocks.
Logs that name two parents for one view are refused (no behaviour of the spec has two blocks of
one view).

- `MaxView` and `GST`: one above the highest view a record names (a timeout into the next view is
  a step the spec takes before GST);
- `LogEdges`: every {parent view, view} the records name (specs/HotStuffLogs.tla narrows Vote's
  and FormQC's blocks to these chains).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.hotstuff.refinement import CMD
from meshcheck.impl.hotstuff.refinement import GENESIS_CHAIN
from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.format import LogRecord

BLOCK_PARAMS = ("b",)  # the parameters that are blocks (Vote(i, b), FormQC(i, b))
BLOCK_VARS = ("highQC", "locked")  # the variables that are blocks
HEADS_VARS = ("committed",)  # the variables logged as the heads of a set of chains


def _block(value: Value, where: str, field: str) -> tuple[int, int]:
    """(view, parent view) of a logged block."""
    if (
        isinstance(value, FrozenDict)
        and set(value) == {"view", "parent"}
        and all(isinstance(value[k], int) and not isinstance(value[k], bool) for k in value)
        and (value["parent"] < value["view"] or value["view"] == value["parent"] == 0)
        and value["parent"] >= 0
    ):
        return value["view"], value["parent"]
    raise LogFormatError(
        where,
        field,
        f"{format_value(value)}: a block is {{view, parent}}, the parent's view below the "
        'block\'s ({"view": 0, "parent": 0} for genesis)',
    )


def _heads(value: Value, where: str, field: str) -> list[tuple[int, int]]:
    if value == ():
        return []
    if not isinstance(value, frozenset):
        raise LogFormatError(where, field, f"{format_value(value)}: the committed heads, a set")
    return [_block(v, where, field) for v in value]


def _blocks_of(record: LogRecord) -> Iterable[tuple[tuple[int, int], str]]:
    for name in BLOCK_PARAMS:
        if name in record.params:
            yield _block(record.params[name], record.source, f"params.{name}"), f"params.{name}"
    for name in BLOCK_VARS:
        if name in record.state:
            yield _block(record.state[name], record.source, f"state.{name}"), f"state.{name}"
    for name in HEADS_VARS:
        if name in record.state:
            for b in _heads(record.state[name], record.source, f"state.{name}"):
                yield b, f"state.{name}"


def parents(records: Sequence[LogRecord]) -> dict[int, int]:
    """view -> its block's parent's view, for every block the records name (LogFormatError for a
    view named with two parents)."""
    found: dict[int, tuple[int, str]] = {0: (0, "")}
    for r in records:
        for (view, parent), field in _blocks_of(r):
            seen = found.setdefault(view, (parent, r.source))
            if seen[0] != parent:
                raise LogFormatError(
                    r.source,
                    field,
                    f"the block of view {view} has parent {parent} here and {seen[0]} at "
                    f"{seen[1]}: HotStuff.tla with every replica honest has one block per view",
                )
    return {v: p for v, (p, _) in found.items()}


def fit_hotstuff(records: Sequence[LogRecord], constants: Mapping[str, Value]) -> dict[str, str]:
    """HotStuffLogs.tla's MaxView, GST and LogEdges for these records."""
    table = parents(records)
    views = [0, *table]
    for r in records:
        for key in ("v",):
            if isinstance(r.params.get(key), int):
                views.append(r.params[key])
        for var in ("view", "lastVoted"):
            if isinstance(r.state.get(var), int):
                views.append(r.state[var])
    top = str(max(views) + 1)
    edges = ", ".join(f"{{{p}, {v}}}" for v, p in sorted(table.items()) if v > 0)
    return {"MaxView": top, "GST": top, "LogEdges": "{" + edges + "}"}


class Chains:
    """The spec's chains of the logged blocks, each built once from its parent's."""

    def __init__(self, table: Mapping[int, int]) -> None:
        self._table = table
        self._chains: dict[int, tuple[Value, ...]] = {0: GENESIS_CHAIN}
        self._prefixes: dict[int, frozenset[Value]] = {0: frozenset()}

    def chain(self, view: int) -> tuple[Value, ...]:
        found = self._chains.get(view)
        if found is not None:
            return found
        todo = []
        while view not in self._chains:
            todo.append(view)
            view = self._table[view]
        chain = self._chains[view]
        for v in reversed(todo):
            chain = (*chain, FrozenDict({"view": v, "cmd": CMD}))
            self._chains[v] = chain
        return chain

    def prefixes(self, view: int) -> frozenset[Value]:
        """Every non-empty prefix of the chain of `view` (refinement.py's `committed`)."""
        found = self._prefixes.get(view)
        if found is None:
            found = self.prefixes(self._table[view]) | {self.chain(view)}
            self._prefixes[view] = found
        return found


def decode(records: Sequence[LogRecord]) -> list[LogRecord]:
    """The records with their blocks as HotStuff.tla's chains, `committed` as every prefix of its
    heads' chains."""
    table = parents(records)
    chains = Chains(table)
    out = []
    for r in records:
        params = dict(r.params)
        state = dict(r.state)
        for name in BLOCK_PARAMS:
            if name in params:
                params[name] = chains.chain(_block(params[name], r.source, name)[0])
        for name in BLOCK_VARS:
            if name in state:
                state[name] = chains.chain(_block(state[name], r.source, name)[0])
        for name in HEADS_VARS:
            if name in state:
                heads = _heads(state[name], r.source, name)
                state[name] = frozenset().union(*(chains.prefixes(v) for v, _ in heads))
        out.append(
            LogRecord(
                r.node, r.action, FrozenDict(params), FrozenDict(state), r.clock, r.run, r.source
            )
        )
    return out


def _is_chain(value: Value) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(e, FrozenDict) and set(e) == {"view", "cmd"} for e in value
    )


def spelled(value: Value) -> Value:
    """A spec value as the log spells it (the diagnosis shows it so): a chain as its block's view
    and parent view, a set of chains as its heads (those no other one extends; `committed` holds
    every prefix of each, so a head is no other chain's parent)."""
    if _is_chain(value):
        views = [0, 0, *(e["view"] for e in value)]
        return FrozenDict({"view": views[-1], "parent": views[-2]})
    if isinstance(value, frozenset) and value and all(_is_chain(c) for c in value):
        parents = {c[:-1] for c in value}
        return frozenset(spelled(c) for c in value if c not in parents)
    if isinstance(value, FrozenDict):
        return FrozenDict({k: spelled(v) for k, v in value.items()})
    return value

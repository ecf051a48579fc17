"""The operations of the replicated state machine, and their encoding as log entry values.

Every protocol replicates the same operations: cases (an incident or work item with an id, a state and
JSON-like data), policies (named rule sets with a version), overlays (a policy deployed, at a pinned
version, onto a set of cases) and a custom key/value space. A log entry holds an operation as a plain
value (`to_value`: a record with an "op" field), so the entry is also a TLA+ value (impl/base/values.py) and
the refinement mapping can put it in the spec's `log` unchanged.

Payloads are JSON-like without null and floats (strings, integers, booleans, lists, objects with
string keys), frozen into tuples and FrozenDicts: hashable, and one canonical JSON text per value,
which is what makes snapshots byte-for-byte deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import TypeAlias

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value


def freeze_json(value: Any, where: str = "value") -> Value:
    """JSON-like data (no null, no floats) as a frozen value; ImplError naming the bad part."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Value] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ImplError(f"{where}: object keys must be strings, not {k!r}")
            out[k] = freeze_json(v, f"{where}.{k}")
        return FrozenDict(out)
    if isinstance(value, list | tuple):
        return tuple(freeze_json(v, f"{where}[{n}]") for n, v in enumerate(value))
    raise ImplError(
        f"{where}: {type(value).__name__} is not JSON-like data (use str, int, bool, list, dict)"
    )


def _name(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ImplError(f"{attribute.name} must be a non-empty string, not {value!r}")


def _data(value: Any) -> Value:
    return freeze_json(value, "data")


def _rules(value: Any) -> Value:
    return freeze_json(value, "rules")


def _cases(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(c, str) and c for c in value):
        raise ImplError(f"cases must be a list of case ids, not {value!r}")
    return tuple(sorted(set(value)))


def _custom(value: Any) -> Value | None:
    return None if value is None else freeze_json(value, "value")


@attrs.frozen
class CreateCase:
    """Open case `case_id` in `state` with `data`; fails if the id is taken."""

    case_id: str = attrs.field(validator=_name)
    state: str = attrs.field(default="open", validator=_name)
    data: Value = attrs.field(factory=FrozenDict, converter=_data)


@attrs.frozen
class UpdateCaseState:
    """Move a case to `state`; with `expected`, only if it is in that state now (compare-and-set).
    A case in state "closed" is final."""

    case_id: str = attrs.field(validator=_name)
    state: str = attrs.field(validator=_name)
    expected: str | None = attrs.field(default=None)

    @expected.validator
    def _check_expected(self, _attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None and (not isinstance(value, str) or not value):
            raise ImplError(f"expected must be a non-empty string or None, not {value!r}")


@attrs.frozen
class ApplyPolicy:
    """Install or replace policy `name` with `rules`; its version goes up by one."""

    name: str = attrs.field(validator=_name)
    rules: Value = attrs.field(factory=FrozenDict, converter=_rules)


@attrs.frozen
class DeployOverlay:
    """Deploy overlay `name`: policy `policy` at its current version, onto existing `cases`."""

    name: str = attrs.field(validator=_name)
    policy: str = attrs.field(validator=_name)
    cases: tuple[str, ...] = attrs.field(default=(), converter=_cases)


@attrs.frozen
class Custom:
    """Set the custom key `key` to `value` (None deletes it)."""

    key: str = attrs.field(validator=_name)
    value: Value | None = attrs.field(default=None, converter=_custom)


Op: TypeAlias = CreateCase | UpdateCaseState | ApplyPolicy | DeployOverlay | Custom

NOOP = "NoOp"  # the value of a leader's no-op entry (Raft paper section 8): applied as nothing


def to_value(op: Op) -> FrozenDict:
    """The operation as a log entry value: a record whose "op" field names it."""
    if isinstance(op, CreateCase):
        fields: dict[str, Value] = {"case": op.case_id, "state": op.state, "data": op.data}
    elif isinstance(op, UpdateCaseState):
        fields = {"case": op.case_id, "state": op.state}
        if op.expected is not None:
            fields["expected"] = op.expected
    elif isinstance(op, ApplyPolicy):
        fields = {"name": op.name, "rules": op.rules}
    elif isinstance(op, DeployOverlay):
        fields = {"name": op.name, "policy": op.policy, "cases": op.cases}
    else:
        fields = {"key": op.key}
        if op.value is not None:
            fields["value"] = op.value
    return FrozenDict({"op": type(op).__name__, **fields})


_FIELDS: dict[str, tuple[type[Any], dict[str, str], frozenset[str]]] = {
    # op name -> (class, record field -> constructor argument, required record fields)
    "CreateCase": (
        CreateCase,
        {"case": "case_id", "state": "state", "data": "data"},
        frozenset({"case"}),
    ),
    "UpdateCaseState": (
        UpdateCaseState,
        {"case": "case_id", "state": "state", "expected": "expected"},
        frozenset({"case", "state"}),
    ),
    "ApplyPolicy": (ApplyPolicy, {"name": "name", "rules": "rules"}, frozenset({"name"})),
    "DeployOverlay": (
        DeployOverlay,
        {"name": "name", "policy": "policy", "cases": "cases"},
        frozenset({"name", "policy"}),
    ),
    "Custom": (Custom, {"key": "key", "value": "value"}, frozenset({"key"})),
}


def from_value(value: Value) -> Op:
    """The operation a log entry value encodes; ImplError if it encodes none."""
    if not isinstance(value, Mapping) or not isinstance(value.get("op"), str):
        raise ImplError(f"not an operation: {value!r}")
    name = value["op"]
    if name not in _FIELDS:
        raise ImplError(f"unknown operation {name!r} (known: {', '.join(_FIELDS)})")
    cls, fields, required = _FIELDS[name]
    missing = required - value.keys()
    extra = value.keys() - fields.keys() - {"op"}
    if missing or extra:
        raise ImplError(f"{name}: missing fields {sorted(missing)}, unknown fields {sorted(extra)}")
    op: Op = cls(**{fields[k]: v for k, v in value.items() if k != "op"})
    return op

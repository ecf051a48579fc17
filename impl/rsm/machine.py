"""The replicated state machine every protocol drives: deterministic, snapshot-able, pure Python.

Determinism is the whole contract of state machine replication (Raft paper section 5.3 / thesis
chapter 2): replicas that apply the same commands in the same order must end in the same state and
return the same results. So `apply` reads nothing but its argument and the state, an operation that
cannot be carried out (a missing case, a failed compare-and-set) is a result with "ok": false and not
an exception, and `snapshot()` is canonical JSON (sorted keys, no whitespace): the same operations give
the same bytes on every replica, which is what InstallSnapshot ships and what the tests compare.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.base.values import freeze
from meshcheck.impl.rsm import mutants
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.impl.rsm.ops import ApplyPolicy
from meshcheck.impl.rsm.ops import CreateCase
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import DeployOverlay
from meshcheck.impl.rsm.ops import Op
from meshcheck.impl.rsm.ops import UpdateCaseState
from meshcheck.impl.rsm.ops import from_value

FORMAT = "meshcheck-rsm/1"
CLOSED = "closed"  # the final state of a case


def _ok(**fields: Value) -> FrozenDict:
    return FrozenDict({"ok": True, **fields})


def _error(message: str) -> FrozenDict:
    return FrozenDict({"ok": False, "error": message})


class StateMachine:
    """Cases, policies, overlays and custom keys; `applied` counts the entries applied so far.
    `bugs` switches on mutants of impl/rsm/mutants.py (none in any core: the determinism check
    across processes, property_tests/determinism.py, switches them on, and a real Raft cluster's
    `--bugs`, impl/runtime/hosted/raft.py)."""

    def __init__(self, bugs: frozenset[str] = frozenset()) -> None:
        unknown = sorted(set(bugs) - mutants.BUGS.keys())
        if unknown:
            raise ImplError(
                f"{', '.join(unknown)}: not a mutant of the state machine "
                f"(impl/rsm/mutants.py: {', '.join(mutants.BUGS)})"
            )
        self.rsm_bugs = frozenset(bugs)  # not `bugs`: a HybridMachine keeps its layer's there
        self.applied = 0
        self.cases: dict[str, FrozenDict] = {}  # id -> {state, data, version}
        self.policies: dict[str, FrozenDict] = {}  # name -> {rules, version}
        # name -> {policy, policy_version, cases, version}
        self.overlays: dict[str, FrozenDict] = {}
        self.custom: dict[str, Value] = {}

    @property
    def final(self) -> bool:
        """Whether this machine takes no more entries (a hybrid epoch its switch entry closed:
        impl/hybrid/machine.py). A PBFT replica checkpoints where its machine became final
        (impl/pbft/replica.py `_execute`), so that a replica that fell behind can still transfer
        the last state the group will ever agree on. A plain machine never is."""
        return False

    # -- applying -----------------------------------------------------------------------------------

    def apply_entry(self, value: Value) -> FrozenDict:
        """Apply one committed log entry: an encoded operation, the leader's no-op, or an opaque value
        (the spec's "v1", "v2" in lockstep runs), which changes nothing but is still counted."""
        if value == NOOP:
            self.applied += 1
            return _ok(noop=True)
        if isinstance(value, FrozenDict) and "op" in value:
            try:
                op = from_value(value)
            except ImplError as exc:
                self.applied += 1
                return _error(str(exc))
            return self.apply(op)
        self.applied += 1
        return _ok(opaque=True)

    def apply(self, op: Op) -> FrozenDict:
        """Apply one operation; the result says whether it took effect."""
        self.applied += 1
        if isinstance(op, CreateCase):
            return self._create_case(op)
        if isinstance(op, UpdateCaseState):
            return self._update_case(op)
        if isinstance(op, ApplyPolicy):
            return self._apply_policy(op)
        if isinstance(op, DeployOverlay):
            return self._deploy_overlay(op)
        return self._custom(op)

    def _create_case(self, op: CreateCase) -> FrozenDict:
        if op.case_id in self.cases:
            return _error(f"case {op.case_id} exists")
        self.cases[op.case_id] = FrozenDict({"state": op.state, "data": op.data, "version": 1})
        return _ok(case=op.case_id, version=1)

    def _update_case(self, op: UpdateCaseState) -> FrozenDict:
        case = self.cases.get(op.case_id)
        if case is None:
            return _error(f"no case {op.case_id}")
        if case["state"] == CLOSED:
            return _error(f"case {op.case_id} is closed")
        if op.expected is not None and case["state"] != op.expected:
            return _error(f"case {op.case_id} is {case['state']}, not {op.expected}")
        version = case["version"] + 1
        self.cases[op.case_id] = FrozenDict({**case, "state": op.state, "version": version})
        return _ok(case=op.case_id, state=op.state, version=version)

    def _apply_policy(self, op: ApplyPolicy) -> FrozenDict:
        old = self.policies.get(op.name)
        version = 1 if old is None else old["version"] + 1
        self.policies[op.name] = FrozenDict({"rules": op.rules, "version": version})
        return _ok(policy=op.name, version=version)

    def _deploy_overlay(self, op: DeployOverlay) -> FrozenDict:
        policy = self.policies.get(op.policy)
        if policy is None:
            return _error(f"no policy {op.policy}")
        missing = [c for c in op.cases if c not in self.cases]
        if missing:
            return _error(f"no case {missing[0]}")
        old = self.overlays.get(op.name)
        version = 1 if old is None else old["version"] + 1
        cases = op.cases  # deduplicated and sorted (ops.py `_cases`): one order on every replica
        if mutants.OVERLAY_CASES_IN_SET_ORDER in self.rsm_bugs:
            cases = tuple(set(op.cases))  # the bug: a set's order, the process's hash seed's
        # The overlay pins the policy's version: a later ApplyPolicy does not change what is deployed.
        self.overlays[op.name] = FrozenDict(
            {
                "policy": op.policy,
                "policy_version": policy["version"],
                "cases": cases,
                "version": version,
            }
        )
        return _ok(overlay=op.name, version=version)

    def _custom(self, op: Custom) -> FrozenDict:
        existed = op.key in self.custom
        if op.value is None:
            self.custom.pop(op.key, None)
        else:
            self.custom[op.key] = op.value
        return _ok(key=op.key, existed=existed)

    # -- reading ------------------------------------------------------------------------------------

    def read(self, query: Value) -> FrozenDict:
        """Answer a read: "" (how many entries were applied), or a pair (kind, name) with kind one of
        "case", "policy", "overlay", "custom"."""
        if query == "":
            return _ok(value=self.applied)
        tables: dict[str, dict[str, Any]] = {
            "case": self.cases,
            "policy": self.policies,
            "overlay": self.overlays,
            "custom": self.custom,
        }
        if not (isinstance(query, tuple) and len(query) == 2 and query[0] in tables):
            return _error(
                f"bad query {query!r}: use '' or (kind, name) with kind in {sorted(tables)}"
            )
        kind, name = query
        table = tables[kind]
        if name not in table:
            return _error(f"no {kind} {name}")
        value: Value = table[name]
        return _ok(value=value)

    # -- snapshots ----------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state as canonical JSON bytes (equal states give equal bytes)."""
        doc = {
            "format": FORMAT,
            "applied": self.applied,
            "cases": self.cases,
            "policies": self.policies,
            "overlays": self.overlays,
            "custom": self.custom,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def digest(self) -> bytes:
        """A digest of the whole state (SHA-256 of `snapshot()`): equal states, equal digests."""
        return hashlib.sha256(self.snapshot()).digest()

    def restore(self, data: bytes) -> None:
        """Replace the state with a snapshot's; ImplError (and the state unchanged) if it is not one."""
        try:
            doc = json.loads(data.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImplError(f"not a state machine snapshot: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ImplError(f"not a state machine snapshot (format is not {FORMAT})")
        tables = ("cases", "policies", "overlays", "custom")
        if not isinstance(doc.get("applied"), int) or not all(
            isinstance(doc.get(t), dict) for t in tables
        ):
            raise ImplError(
                "state machine snapshot is missing 'applied' or one of " + ", ".join(tables)
            )
        try:
            cases, policies, overlays, custom = (
                {k: freeze(v) for k, v in doc[t].items()} for t in tables
            )
        except TypeError as exc:
            raise ImplError(
                f"state machine snapshot holds a value that is not JSON-like data: {exc}"
            ) from None
        self.applied = doc["applied"]
        self.cases, self.policies, self.overlays, self.custom = cases, policies, overlays, custom

    @classmethod
    def from_snapshot(cls, data: bytes) -> StateMachine:
        machine = cls()
        machine.restore(data)
        return machine

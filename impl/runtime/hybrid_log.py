"""What a hybrid dispatcher's node in a process writes to its NDJSON log (nodelog.py), for
`meshcheck validate --spec Hybrid` (meshcheck/traces/logs/validate.py, through
specs/HybridLogs.tla).

The node reports Hybrid.tla's actions itself (impl/hybrid/node.py): for each committed entry the
spec sees, the Order that puts it in its epoch's chain (`OrderOp(e, o)`, `OrderEvidence(e, k)`,
`OrderQuiet(e)`: the entries as impl/hybrid/refinement.py maps them, the node's machine naming each
one, machine.py `spec_entry`), then `Apply(i)` when the entry is its current epoch's; `Switch(i)`
when it enters the next epoch; and the client's steps (`Submit`, `Reply`, `Reject`). The log keeps:

- each Order that an Apply follows, as the node's own (its `i` added: HybridLogs.tla's Order names
  the entry the node applies next, which the first honest node to get there orders and every other
  finds in the chain), with the Apply after it. An Order no Apply follows is a replay: an epoch the
  node already left, catching up again after a restart, or the current epoch's instance replaying
  what it executed while the node restarts (the Restart record then gives where it stands);
- `Switch(i)`, and the host's `Restart(i)` after a reboot (nodelog.py);
- none of the client's steps: what a client proposed and was answered is the history checks' to
  judge (meshcheck/cluster/checks.py), and the validator infers the proposal an OrderOp needs
  (validate.py LogSpec `implied`).

The state. One event may apply several entries and switch, and the node reports every action of it
after the whole step, so its state then is the step's last. An Apply record gives the node's
`epoch` and `applied` (how many of the epoch's chain it has applied, counted here: the Orders before
it since the node entered the epoch or restarted), and its `level` when it is the last Apply of the
step in the node's current epoch (the level the node holds then). A Switch or Restart record gives
`epoch`, `level`, `applied` and `history` (the client ops applied, in order). `protocol` is not
logged: the spec's is a function of 1..MaxEpoch, which the logs decide (traces/logs/hybrid.py), and
Switch(i) gives the next epoch the other protocol, the only other there is.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshcheck.impl.hybrid.machine import HybridMachine
from meshcheck.impl.hybrid.machine import op_name
from meshcheck.impl.hybrid.node import HybridNode
from meshcheck.impl.runtime.nodelog import NodeLog
from meshcheck.impl.runtime.nodelog import Params
from meshcheck.impl.runtime.nodelog import State
from meshcheck.impl.runtime.nodelog import same_params

ORDERS = frozenset({"OrderOp", "OrderEvidence", "OrderQuiet"})


def applied_entries(machine: HybridMachine) -> int:
    """How many entries of its epoch's chain (Hybrid.tla's) a machine has applied."""
    return sum(1 for entry in machine.spec_entries if entry is not None)


def log_state(core: Any, action: str = "", nth: int = 0) -> Mapping[str, Any]:
    """The node's `epoch`, `level`, `applied` and `history` (the refinement mapping's at this node:
    impl/hybrid/refinement.py `abstract_state`)."""
    assert isinstance(core, HybridNode)
    machine = core.machine
    return {
        "epoch": core.epoch,
        "level": core.level.title,
        "applied": applied_entries(machine),
        "history": tuple(op_name(k) for k in machine.history),
    }


def fingerprint(core: Any) -> Hashable:
    """What of the node Hybrid.tla sees, cheaply: its epoch, its level, and how many entries each
    of its instances' machines applied (which machine: a PBFT state transfer replaces it)."""
    assert isinstance(core, HybridNode)
    if not core.started:
        return None  # before its Restart: nothing restored yet
    return (
        core.epoch,
        core.level,
        tuple((e, id(i.machine), len(i.machine.spec_entries)) for e, i in core.instances.items()),
    )


class HybridNodeLog(NodeLog):
    """nodelog.py's NodeLog, with the records the module says: an Order is written with the Apply
    that follows it, or not at all."""

    def __init__(
        self,
        path: Path,
        run: str,
        node: str,
        state: State = log_state,
        params: Params = same_params,
        *,
        restarts: bool = True,
        actions: frozenset[str] | None = None,
    ) -> None:
        super().__init__(path, run, node, state, params, restarts=restarts, actions=actions)
        self._order: tuple[int, str, dict[str, Any]] | None = None  # awaiting its Apply
        self._applied = 0  # the entries of the current epoch applied, as the records count them
        self._counted: tuple[HybridMachine | None, int, int] = (None, 0, 0)  # see `_count`

    def line(
        self,
        clock: int,
        action: str,
        params: Mapping[str, Any],
        core: Any,
        sent: tuple[Any, ...] = (),
        nth: int = 0,
    ) -> str | None:
        assert isinstance(core, HybridNode)
        if action in ORDERS:
            self._order = (clock, action, {"i": self._node, **params})
            return None
        order, self._order = self._order, None
        if action == "Apply":
            if order is None:
                raise ValueError(f"{self._node}: Apply with no Order reported before it")
            at, name, ordered = order
            self._applied += 1
            e = ordered["e"]
            state: dict[str, Any] = {"epoch": e, "applied": self._applied}
            if core.epoch == e and self._count(core.machine) == self._applied:
                state["level"] = core.level.title
            return self.record(at, name, ordered, {}) + self.record(clock, action, params, state)
        if action in ("Switch", "Restart"):
            self._applied = applied_entries(core.machine)
            return self.record(clock, action, params, log_state(core))
        return None  # the client's steps

    def _count(self, machine: HybridMachine) -> int:
        """`applied_entries(machine)`, counting only the entries added since the last call on the
        same machine (an Apply record asks after every entry)."""
        seen, counted, count = self._counted
        if seen is not machine or counted > len(machine.spec_entries):
            seen, counted, count = machine, 0, 0
        count += sum(1 for entry in machine.spec_entries[counted:] if entry is not None)
        self._counted = (seen, len(machine.spec_entries), count)
        return count

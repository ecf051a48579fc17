"""What the cores' simulator plug-ins share (impl/*/simulation.py): the spec step a fault is, the
faults of a group that tolerates f crashed members, and the honest replicas of a BFT group."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.config import Faults
from meshcheck.impl.sim.config import Phases


def fault_step(
    kind: str, subject: Value, *, drop: str = "DropMessage", names_message: bool = True
) -> tuple[str, FrozenDict]:
    """The spec's step for a restart, a dropped or a duplicated message: stutters of the specs that
    have them (the simulator records nothing when the state does not change). `drop` is the spec's
    name for a lost message; `names_message`: its actions take the message as a parameter `m`."""
    if kind == "restart":
        return "Restart", FrozenDict({"i": subject})
    name = {"drop": drop, "duplicate": "DuplicateMessage"}[kind]
    return name, FrozenDict({"m": subject}) if names_message else FrozenDict()


def f_down_at_most(
    faults: Faults | Phases | None, n: int, spare: Iterable[str] = ()
) -> Faults | Phases:
    """`faults` (none: the default ones) for a group of n that tolerates f = (n - 1) // 3 faulty
    members: at most f down at once unless `faults.max_down` says otherwise; chaos crashes spare
    the nodes `spare` names."""
    faults = faults if faults is not None else Faults()
    if faults.max_down is None:
        faults = attrs.evolve(faults, max_down=(n - 1) // 3)
    spared = frozenset(spare)
    if spared:
        faults = attrs.evolve(faults, spare=faults.spare | spared)
    return faults


def honest_replicas(replicas: Sequence[str], byzantine: Iterable[str]) -> frozenset[str]:
    """The replicas not named Byzantine; naming a node that is no replica is an error."""
    byzantine = set(byzantine)
    unknown = byzantine - set(replicas)
    if unknown:
        raise ValueError(f"byzantine names non-replicas: {sorted(unknown)}")
    return frozenset(r for r in replicas if r not in byzantine)

"""The two specs the hybrid layer is checked against, as the property tests reach them: one Stepper
per spec and model per process (building one takes seconds), a successor cache each, and a spec
path written as an ITF trace that replays on the spec (`meshcheck verify`'s traces row) and on the
implementation (stored.py).

- `THREAT`: specs/ThreatLevel.tla under models/ThreatLockstep.cfg (threat_driver.py follows it);
- `HYBRID`: specs/Hybrid.tla under models/HybridLockstep.cfg (driver.py follows it).
"""

from __future__ import annotations

import functools
from pathlib import Path

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.property_tests.lockstep import SuccessorCache
from meshcheck.specs.tlc.stepper import Stepper
from meshcheck.traces.model import Step, Trace

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(__file__).resolve().parent / "models"


@functools.cache
def _stepper(spec: Path, config: Path) -> Stepper:
    return Stepper(spec, config)


@attrs.frozen(eq=False)
class Spec:
    """One spec under one lockstep model; `name` is what the traces' `#meta.spec_name` says."""

    name: str
    spec: Path
    config: Path
    successors: SuccessorCache = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "successors", SuccessorCache(self.stepper))

    def stepper(self) -> Stepper:
        return _stepper(self.spec, self.config)

    def trace(
        self, path: list[Step], bugs: frozenset[str], problem: tuple[str, ...], source: str
    ) -> Trace:
        """A spec path as an ITF-ready trace (the initial state, then one step per action)."""
        meta = {
            "source": source,
            "protocol": "hybrid",
            "spec_name": self.name,
            "spec": str(self.spec.relative_to(ROOT)),
            "config": str(self.config.relative_to(ROOT)),
            "bugs": tuple(sorted(bugs)),
            "divergence": problem,
        }
        return Trace(vars=self.stepper().vars, steps=tuple(path), meta=FrozenDict(meta))


THREAT = Spec("ThreatLevel", ROOT / "specs" / "ThreatLevel.tla", MODELS / "ThreatLockstep.cfg")
HYBRID = Spec("Hybrid", ROOT / "specs" / "Hybrid.tla", MODELS / "HybridLockstep.cfg")
SPECS = {s.name: s for s in (THREAT, HYBRID)}

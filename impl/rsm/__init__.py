"""The replicated state machine shared by every protocol: its operations and the machine itself."""

from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.rsm.ops import (
    NOOP,
    ApplyPolicy,
    CreateCase,
    Custom,
    DeployOverlay,
    Op,
    UpdateCaseState,
    freeze_json,
    from_value,
    to_value,
)

__all__ = [
    "NOOP",
    "ApplyPolicy",
    "CreateCase",
    "Custom",
    "DeployOverlay",
    "Op",
    "StateMachine",
    "UpdateCaseState",
    "freeze_json",
    "from_value",
    "to_value",
]

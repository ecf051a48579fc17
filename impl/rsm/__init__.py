"""The replicated state machine shared by every protocol: its operations and the machine itself."""

from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.rsm.ops import NOOP
from meshcheck.impl.rsm.ops import ApplyPolicy
from meshcheck.impl.rsm.ops import CreateCase
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.rsm.ops import DeployOverlay
from meshcheck.impl.rsm.ops import Op
from meshcheck.impl.rsm.ops import UpdateCaseState
from meshcheck.impl.rsm.ops import freeze_json
from meshcheck.impl.rsm.ops import from_value
from meshcheck.impl.rsm.ops import to_value

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

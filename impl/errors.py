"""Errors of the reference implementation.

Two kinds, kept apart on purpose (meshcheck/errors.py): bad input from a user (a cluster configuration
that cannot work, an unknown mutant name, a malformed operation or snapshot) is an `ImplError`, a
`MeshcheckError` that the command line reports as one line; a broken invariant of the code itself (an
illegal role change, effects that break the persist-before-send contract) is a plain exception that keeps
its traceback, like etcd's panics: it is a bug in meshcheck, not in what the user gave it.
"""

from __future__ import annotations

from meshcheck.errors import MeshcheckError


class ImplError(MeshcheckError):
    """A configuration, operation or stored state of the implementation that cannot be used."""


class IllegalTransition(RuntimeError):
    """A protocol core tried a role change its state machine does not have (names both roles)."""

    def __init__(self, node: str, current: str, wanted: str) -> None:
        self.node = node
        self.current = current
        self.wanted = wanted
        super().__init__(f"{node}: illegal role change {current} -> {wanted}")


class ContractViolation(RuntimeError):
    """A core returned effects that break a rule the simulator enforces (e.g. a send before a persist)."""

"""Errors, for every layer of meshcheck (the base layer: it imports nothing of the project).

Errors the user can act on.

Every error that comes from bad input or a missing tool derives from `MeshcheckError`. The command line
prints its message (one or a few lines, no traceback) and exits 2. Anything else is a bug in meshcheck and
keeps its traceback.
"""

from __future__ import annotations

EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2


class MeshcheckError(Exception):
    """Bad input or a tool problem: reported as its message, exit code 2."""


class Terminated(KeyboardInterrupt):
    """A SIGTERM turned into an interrupt (meshcheck.interrupts.sigterm_interrupts), so that a run
    stops its child processes as Ctrl-C does; the command line exits 143 (128 + SIGTERM)."""


class JavaError(MeshcheckError):
    """Java is missing, too old, or the JVM cannot start."""


class JarError(MeshcheckError):
    """tla2tools.jar cannot be found or opened."""


class SpecError(MeshcheckError):
    """A TLA+ module that does not parse or does not make sense (SANY or TLC said so).

    `file`, `line` and `column` locate the problem when the tool reported a location.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        if self.file is None:
            return self.message
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class ConfigError(MeshcheckError):
    """A TLC model configuration (.cfg) that is missing, unreadable or names what the spec lacks."""


class UnknownProtocol(MeshcheckError):
    """A protocol name that no installed `meshcheck.protocols` entry point (or test) declares."""


class TraceFormatError(MeshcheckError):
    """A trace file that is not valid ITF, or not a trace of what it claims to be.

    `where` is a path into the document, e.g. ``states[3].log`` or ``vars``.
    """

    def __init__(self, path: str, where: str, problem: str) -> None:
        self.path = path
        self.where = where
        self.problem = problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


# ---------------------------------------------------------------------------------------------------
# The reference implementation's errors. Two kinds, kept apart on purpose: bad input from a user (a
# cluster configuration that cannot work, an unknown mutant name, a malformed operation or snapshot) is
# an `ImplError`, a `MeshcheckError` that the command line reports as one line; a broken invariant of the
# code itself (an illegal role change, effects that break the persist-before-send contract) is a plain
# exception that keeps its traceback, like etcd's panics: it is a bug in meshcheck, not in what the user
# gave it.


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

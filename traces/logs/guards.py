"""Which condition of an action is false in a state: the first guard, by its TLA+ text.

An action's body (TLC's `Action.pred`, with the instance's parameters bound in `Action.con`) is a
conjunction; its conjuncts that mention no primed variable (directly or through the operators they
apply) are guards, evaluated by TLC in the state (`Tool.eval`). The walk goes into a conjunct that
has primes only through the structure a guard can sit under: a conjunction, a LET, and an `\\E x \\in
S : body` (for each x of S in turn; the element that gets furthest is reported, and when the log
gave the message `m` only that message). A false guard that applies a user operator (`CanAppend(i,
j)`) is opened up to name its own first false conjunct. The text is the spec's, from the location
SANY recorded for the expression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from meshcheck.specs.tlc.stepper import ActionInstance
from meshcheck.specs.tlc.stepper import State
from meshcheck.specs.tlc.stepper import Stepper

_CONJ = frozenset({"$ConjList", "\\land"})
_PRIMED = frozenset({"'", "UNCHANGED"})
_USER_OP = 5  # tla2sany.semantic.ASTConstants.UserDefinedOpKind


@attrs.frozen
class FalseGuard:
    """The first false condition: its text, and inside it (an operator's body) the part that is."""

    text: str
    line: int
    file: str = ""
    inner: str = ""
    note: str = ""

    def render(self) -> str:
        out = f"{self.text} ({self.file}:{self.line})" if self.line else self.text
        if self.inner:
            out += f", because {self.inner}"
        if self.note:
            out += f" {self.note}"
        return out


class _Walker:
    def __init__(self, stepper: Stepper, state: State, message: Any) -> None:
        self.tool = stepper.tool
        self.state = state.java
        self.message = message  # TLC value of the logged message, or None
        self.spec = stepper.spec
        self.source = _lines(stepper.spec)
        self._primed: dict[int, bool] = {}

    # -- text
    def module(self, node: Any) -> Path | None:
        """The file of the module `node` is written in: the spec, or a module it instantiates
        beside it (specs/HybridLogs.tla's Hybrid.tla); None for another."""
        source = str(node.getLocation().source())
        if source == self.spec.stem:
            return self.spec
        beside = self.spec.with_name(f"{source}.tla")
        return beside if beside.exists() else None

    def file(self, node: Any) -> str:
        found = self.module(node)
        return found.name if found is not None else self.spec.name

    def text(self, node: Any) -> tuple[str, int]:
        loc = node.getLocation()
        module = self.module(node)
        if module is None:
            return str(node), 0
        b, e = int(loc.beginLine()), int(loc.endLine())
        bc, ec = int(loc.beginColumn()), int(loc.endColumn())
        lines = _lines(module)[b - 1 : e]
        if not lines:
            return str(node), b
        if len(lines) == 1:
            lines = [lines[0][bc - 1 : ec]]
        else:
            lines[0] = lines[0][bc - 1 :]
            lines[-1] = lines[-1][:ec]
        return " ".join(" ".join(lines).split()), b

    # -- primes
    def primed(self, node: Any) -> bool:
        uid = int(node.getUid())
        found = self._primed.get(uid)
        if found is not None:
            return found
        self._primed[uid] = False  # recursion guard
        result = False
        cls = str(node.getClass().getSimpleName())
        if cls == "OpApplNode":
            op = node.getOperator()
            if str(op.getName()) in _PRIMED:
                result = True
            elif int(op.getKind()) == _USER_OP and op.getBody() is not None:
                result = self.primed(op.getBody())
        if not result:
            children = node.getChildren()
            result = children is not None and any(
                c is not None and self.primed(c) for c in children
            )
        self._primed[uid] = result
        return result

    # -- evaluation
    def holds(self, node: Any, ctx: Any) -> bool | None:
        import jpype

        try:
            v = self.tool.eval(node, ctx, self.state)
        except jpype.JException:
            return None
        if str(v.getClass().getSimpleName()) != "BoolValue":
            return None
        return bool(v.val)

    def walk(
        self, node: Any, ctx: Any, at: tuple[int, ...]
    ) -> tuple[tuple[int, ...], FalseGuard] | None:
        cls = str(node.getClass().getSimpleName())
        if cls == "LetInNode":
            return self.walk(node.getBody(), ctx, at)
        if cls == "SubstInNode":  # the body of an instantiated module's operator
            inner = ctx
            for sub in node.getSubsts():
                try:
                    inner = inner.cons(sub.getOp(), self.tool.eval(sub.getExpr(), ctx, self.state))
                except Exception:  # a substitution that is no value here: leave it alone
                    return None
            return self.walk(node.getBody(), inner, at)
        if cls != "OpApplNode":
            return None
        op = str(node.getOperator().getName())
        if op in _CONJ:
            for k, arg in enumerate(node.getArgs()):
                found = self.conjunct(arg, ctx, (*at, k))
                if found is not None:
                    return found
            return None
        if op == "$BoundedExists":
            return self.exists(node, ctx, at)
        opened = self.instanced(node, ctx)
        if opened is not None:  # an action of a module the spec instantiates: its own guards
            return self.walk(opened[0], opened[1], at)
        return None

    def instanced(self, node: Any, ctx: Any) -> tuple[Any, Any] | None:
        """(body, context) of an application of an operator written in another module than the
        spec (`H!Switch(i)` in specs/HybridLogs.tla), its parameters bound; None otherwise."""
        op = node.getOperator()
        body = op.getBody() if int(op.getKind()) == _USER_OP else None
        if body is None or str(body.getClass().getSimpleName()) != "SubstInNode":
            return None
        inner = ctx
        for formal, actual in zip(op.getParams(), node.getArgs(), strict=False):
            try:
                inner = inner.cons(formal, self.tool.eval(actual, ctx, self.state))
            except Exception:  # an operator argument: leave the body alone
                return None
        return body, inner

    def conjunct(
        self, arg: Any, ctx: Any, at: tuple[int, ...]
    ) -> tuple[tuple[int, ...], FalseGuard] | None:
        if self.primed(arg):
            return self.walk(arg, ctx, at)
        if self.holds(arg, ctx) is False:
            text, line = self.text(arg)
            return at, FalseGuard(text, line, self.file(arg), self.inside(arg, ctx))
        return None

    def inside(self, node: Any, ctx: Any) -> str:
        """The first false conjunct of a false operator application's body, as text."""
        if str(node.getClass().getSimpleName()) != "OpApplNode":
            return ""
        op = node.getOperator()
        if int(op.getKind()) != _USER_OP or op.getBody() is None:
            return ""
        inner = ctx
        for formal, actual in zip(op.getParams(), node.getArgs(), strict=False):
            try:
                inner = inner.cons(formal, self.tool.eval(actual, ctx, self.state))
            except Exception:  # an operator argument: leave the body alone
                return ""
        found = self.walk(op.getBody(), inner, ())
        return found[1].text if found is not None else ""

    def exists(
        self, node: Any, ctx: Any, at: tuple[int, ...]
    ) -> tuple[tuple[int, ...], FalseGuard] | None:
        import jpype

        symbols = node.getBdedQuantSymbolLists()
        bounds = node.getBdedQuantBounds()
        if len(symbols) != 1 or len(symbols[0]) != 1:
            return None
        symbol, bound = symbols[0][0], bounds[0]
        body = node.getArgs()[0]
        name = str(symbol.getName())
        text, line = self.text(bound)
        file = self.file(bound)
        try:
            domain = self.tool.eval(bound, ctx, self.state)
        except jpype.JException:
            return None
        if name == "m" and self.message is not None:
            if not bool(domain.member(self.message)):
                return at, FalseGuard(
                    f"m \\in {text}",
                    line,
                    file,
                    note="(the logged message is not in flight: not sent yet, or already received)",
                )
            return self.walk(body, ctx.cons(symbol, self.message), (*at, 0))
        elems = domain.toSetEnum().elems
        if elems.size() == 0:
            return at, FalseGuard(f"\\E {name} \\in {text}", line, file, note=f"({text} is empty)")
        best: tuple[tuple[int, ...], FalseGuard] | None = None
        for k in range(elems.size()):
            found = self.walk(body, ctx.cons(symbol, elems.elementAt(k)), (*at, 0))
            if found is None:
                return None  # this element passes every guard
            if best is None or found[0] > best[0]:
                best = found
        if best is None:
            return None
        guard = best[1]
        return best[0], attrs.evolve(guard, note=f"for every {name} \\in {text}")


def first_false(
    stepper: Stepper, action: ActionInstance, state: State, message: Any = None
) -> FalseGuard | None:
    """The first guard of `action` that is false in `state` (None: every guard the walk reached
    holds). `message`: the TLC value of the message the log names, if it named one."""
    walker = _Walker(stepper, state, message)
    best: tuple[tuple[int, ...], FalseGuard] | None = None
    for act in stepper.java_actions(action):
        found = walker.walk(act.pred, act.con, ())
        if found is None:
            continue
        # of an action split in disjuncts (TLC's actions of one instance), the one that gets
        # furthest: specs/HybridLogs.tla's Order is "found in the chain" or "ordered first"
        if best is None or found[0] > best[0]:
            best = found
    return best[1] if best is not None else None


_SOURCES: dict[Path, list[str]] = {}


def _lines(spec: Path) -> list[str]:
    if spec not in _SOURCES:
        _SOURCES[spec] = spec.read_text(encoding="utf-8").splitlines()
    return _SOURCES[spec]

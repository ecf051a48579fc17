"""TLC model configuration files (`.cfg`), read the way TLC 2.15 reads them.

A `.cfg` names the behaviour spec (INIT and NEXT, or SPECIFICATION), what to check (INVARIANT(S),
PROPERTY(IES)), the values of the spec's constants (CONSTANT(S) with `=`, or `<-` to substitute a
definition of the spec), and the model's bounds (CONSTRAINT(S), ACTION_CONSTRAINT(S), SYMMETRY, VIEW).
meshcheck reads it itself, before TLC does, for two reasons: a syntax error then comes back as
`file:line:column` with the offending token instead of TLC's "expecting a keyword", and the checker needs
the names (which property a temporal violation can only belong to, which invariants exist).

Faithful to `tlc2.tool.impl.ModelConfig` of TLC 2.15 (measured against it):

- Keywords may repeat; the list keywords take any number of names, whitespace separated. A comma is not
  a separator: TLC would take "," for an invariant's name, so it is an error here.
- INIT, NEXT, SPECIFICATION, SYMMETRY, VIEW (and the legacy TYPE, TYPE_CONSTRAINT) take exactly one name
  and may appear once.
- Values: natural numbers, strings, TRUE, FALSE, identifiers (model values) and sets `{...}` of values.
  TLC 2.15 rejects negative numbers and tuples in a .cfg, so they are errors here, with the workaround.
- `\\*` comments to the end of the line, `(* ... *)` comments that nest.

Python values follow impl/base/values.py: a model value is the str of its name (`model_values` lists them).

Soundness rules the model runner (specs/tlc/check.py) applies to every model, read from the .cfg here:

- A model that checks a PROPERTY runs on one TLC worker (`checked_workers`). TLC 2.15 can miss a
  violation of a temporal property when several workers build the behaviour graph at once
  (tlaplus/tlaplus#971: present since 2011, fixed upstream in 2024, after 2.15). Every PROPERTY counts,
  action properties `[][A]_v` too: TLC 2.15 may hand them to the same liveness machinery, and one
  worker is always sound.
- A PROPERTY together with SYMMETRY or VIEW is refused (`unsound_reduction`): TLC explores one state of
  each symmetry class or view, and a behaviour graph built over those representatives can miss a
  violation of a temporal property (tlaplus/tlaplus#59, which extends the warning to VIEW) or report
  one that does not exist (tlaplus/tlaplus#644). A model checks its invariants under the reduction and
  its properties in a second model without it (specs/Hybrid.cfg and specs/Hybrid_deescalation.cfg).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.impl.base.values import Value

__all__ = [
    "ONE_WORKER_NOTE",
    "Assignment",
    "ModelConfig",
    "Substitution",
    "checked_workers",
    "parse_cfg",
    "read_cfg",
    "unsound_reduction",
    "with_constants",
]


@attrs.frozen
class Assignment:
    """`N = 3` under CONSTANTS: a constant given a value (`F(a, b) = v` overrides an operator)."""

    name: str
    value: Value
    args: tuple[Value, ...] = ()
    line: int = 0


@attrs.frozen
class Substitution:
    """`N <- Op` (or `N <- [M] Op`): a constant or operator replaced by a definition of the spec."""

    name: str
    target: str
    module: str | None = None
    line: int = 0


@attrs.frozen
class ModelConfig:
    """What a .cfg says, by keyword. Names keep the order of the file."""

    path: Path | None = None
    init: str | None = None
    next: str | None = None
    specification: str | None = None
    invariants: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    constants: tuple[Assignment, ...] = ()
    substitutions: tuple[Substitution, ...] = ()
    constraints: tuple[str, ...] = ()
    action_constraints: tuple[str, ...] = ()
    symmetry: str | None = None
    view: str | None = None
    type_name: str | None = None
    type_constraint: str | None = None
    model_values: frozenset[str] = frozenset()

    def assigned(self) -> frozenset[str]:
        """The constants and operators the file gives a value or a substitute."""
        return frozenset(a.name for a in self.constants) | frozenset(
            s.name for s in self.substitutions
        )

    def values(self) -> dict[str, Value]:
        """The plain constant assignments (`N = v`, no arguments) as name -> value."""
        return {a.name: a.value for a in self.constants if not a.args}


_SINGLE = {
    "INIT": "init",
    "NEXT": "next",
    "SPECIFICATION": "specification",
    "SYMMETRY": "symmetry",
    "VIEW": "view",
    "TYPE": "type_name",
    "TYPE_CONSTRAINT": "type_constraint",
}
_LISTS = {
    "INVARIANT": "invariants",
    "INVARIANTS": "invariants",
    "PROPERTY": "properties",
    "PROPERTIES": "properties",
    "CONSTRAINT": "constraints",
    "CONSTRAINTS": "constraints",
    "ACTION_CONSTRAINT": "action_constraints",
    "ACTION_CONSTRAINTS": "action_constraints",
}
_CONSTANTS = frozenset({"CONSTANT", "CONSTANTS"})
KEYWORDS = frozenset(_SINGLE) | frozenset(_LISTS) | _CONSTANTS


@attrs.frozen
class _Token:
    kind: str  # "id", "num", "str", "sym", "eof"
    text: str
    line: int
    col: int
    value: Value = None

    def show(self) -> str:
        return "the end of the file" if self.kind == "eof" else repr(self.text)


# TLA+ identifiers are letters, digits and _ with at least one letter; a run of digits is a number.
_WORD = re.compile(r"[A-Za-z0-9_]+")
_SYMBOLS = ("<<", ">>", "<-", "==", "=", "{", "}", "(", ")", "[", "]", ",", "-")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "f": "\f"}


class _Lexer:
    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def error(self, line: int, col: int, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}:{line}:{col}: {problem}")

    def _advance(self, n: int) -> None:
        end = self.pos + n
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rindex("\n", self.pos, end) + 1
        self.pos = end

    def _col(self) -> int:
        return self.pos - self.line_start + 1

    def _skip_space_and_comments(self) -> None:
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r\n\f":
                self._advance(1)
            elif text.startswith("\\*", self.pos):
                end = text.find("\n", self.pos)
                self._advance((len(text) if end < 0 else end) - self.pos)
            elif text.startswith("(*", self.pos):
                line, col = self.line, self._col()
                depth = 0
                i = self.pos
                while i < len(text):
                    if text.startswith("(*", i):
                        depth += 1
                        i += 2
                    elif text.startswith("*)", i):
                        depth -= 1
                        i += 2
                        if depth == 0:
                            break
                    else:
                        i += 1
                if depth:
                    raise self.error(line, col, "comment (* ... never ends with *)")
                self._advance(i - self.pos)
            else:
                return

    def tokens(self) -> Iterator[_Token]:
        text = self.text
        while True:
            self._skip_space_and_comments()
            line, col = self.line, self._col()
            if self.pos >= len(text):
                yield _Token("eof", "", line, col)
                return
            word = _WORD.match(text, self.pos)
            if word is not None:
                w = word.group()
                self._advance(len(w))
                if w.isdigit():
                    yield _Token("num", w, line, col, int(w))
                else:
                    yield _Token("id", w, line, col)
                continue
            if text[self.pos] == '"':
                yield self._string(line, col)
                continue
            sym = next((s for s in _SYMBOLS if text.startswith(s, self.pos)), None)
            if sym is None:
                sym = text[self.pos]
            self._advance(len(sym))
            yield _Token("sym", sym, line, col)

    def _string(self, line: int, col: int) -> _Token:
        text = self.text
        i = self.pos + 1
        out: list[str] = []
        while i < len(text) and text[i] != '"':
            if text[i] == "\n":
                break
            if text[i] == "\\" and i + 1 < len(text):
                esc = _ESCAPES.get(text[i + 1])
                if esc is None:
                    raise self.error(line, col + i - self.pos, f"unknown escape \\{text[i + 1]}")
                out.append(esc)
                i += 2
            else:
                out.append(text[i])
                i += 1
        if i >= len(text) or text[i] != '"':
            raise self.error(line, col, "string never ends (missing closing quote on its line)")
        raw = text[self.pos : i + 1]
        self._advance(i + 1 - self.pos)
        return _Token("str", raw, line, col, "".join(out))


class _Parser:
    def __init__(self, text: str, path: Path | None) -> None:
        self.where = str(path) if path is not None else "<cfg>"
        self.lexer = _Lexer(text, self.where)
        self.tokens = list(self.lexer.tokens())
        self.i = 0
        self.path = path
        self.single: dict[str, tuple[str, int]] = {}
        self.lists: dict[str, list[str]] = {v: [] for v in _LISTS.values()}
        self.constants: list[Assignment] = []
        self.substitutions: list[Substitution] = []
        self.model_values: set[str] = set()
        self.assigned_at: dict[str, int] = {}

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        t = self.tokens[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def error(self, t: _Token, problem: str) -> ConfigError:
        return self.lexer.error(t.line, t.col, problem)

    def is_keyword(self, t: _Token) -> bool:
        return t.kind == "id" and t.text in KEYWORDS

    def parse(self) -> ModelConfig:
        while True:
            t = self.take()
            if t.kind == "eof":
                break
            if not self.is_keyword(t):
                raise self.error(
                    t,
                    f"expected a keyword (CONSTANTS, INIT, NEXT, SPECIFICATION, INVARIANT, "
                    f"PROPERTY, ...), found {t.show()}",
                )
            if t.text in _SINGLE:
                self.single_name(t)
            elif t.text in _LISTS:
                self.name_list(t)
            else:
                self.constant_entries(t)
        fields = {field: name for field, (name, _) in self.single.items()}
        return ModelConfig(
            path=self.path,
            init=fields.get("init"),
            next=fields.get("next"),
            specification=fields.get("specification"),
            invariants=tuple(self.lists["invariants"]),
            properties=tuple(self.lists["properties"]),
            constants=tuple(self.constants),
            substitutions=tuple(self.substitutions),
            constraints=tuple(self.lists["constraints"]),
            action_constraints=tuple(self.lists["action_constraints"]),
            symmetry=fields.get("symmetry"),
            view=fields.get("view"),
            type_name=fields.get("type_name"),
            type_constraint=fields.get("type_constraint"),
            model_values=frozenset(self.model_values),
        )

    def single_name(self, kw: _Token) -> None:
        field = _SINGLE[kw.text]
        if field in self.single:
            first = self.single[field][1]
            raise self.error(kw, f"{kw.text} appears twice (first on line {first})")
        name = self.take()
        if name.kind != "id" or self.is_keyword(name):
            raise self.error(name, f"{kw.text} needs the name of an operator, found {name.show()}")
        self.single[field] = (name.text, kw.line)
        extra = self.peek()
        if extra.kind == "id" and not self.is_keyword(extra) and extra.line == name.line:
            raise self.error(extra, f"{kw.text} takes one name; found a second: {extra.text}")

    def name_list(self, kw: _Token) -> None:
        names = self.lists[_LISTS[kw.text]]
        while True:
            t = self.peek()
            if t.kind == "eof" or self.is_keyword(t):
                return
            if t.kind == "sym" and t.text == ",":
                raise self.error(t, f"names after {kw.text} are separated by spaces, not commas")
            if t.kind != "id":
                raise self.error(t, f"{kw.text} takes operator names, found {t.show()}")
            names.append(self.take().text)

    def constant_entries(self, kw: _Token) -> None:
        while True:
            t = self.peek()
            if t.kind == "eof" or self.is_keyword(t):
                return
            if t.kind != "id":
                if t.kind == "sym" and t.text == ",":
                    raise self.error(
                        t, f"entries after {kw.text} are separated by spaces, not commas"
                    )
                raise self.error(t, f"expected the name of a constant, found {t.show()}")
            self.constant_entry(self.take())

    def constant_entry(self, name: _Token) -> None:
        args: list[Value] = []
        t = self.take()
        if t.kind == "sym" and t.text == "(":
            args = self.values(")", f"the arguments of {name.text}")
            t = self.take()
        if name.text in self.assigned_at:
            raise self.error(
                name,
                f"{name.text} is given a value twice (first on line {self.assigned_at[name.text]})",
            )
        self.assigned_at[name.text] = name.line
        if t.kind == "sym" and t.text == "=":
            value = self.value()
            self.constants.append(Assignment(name.text, value, tuple(args), name.line))
        elif t.kind == "sym" and t.text == "<-":
            if args:
                raise self.error(t, f"write `{name.text} <- Op` without arguments")
            module: str | None = None
            target = self.take()
            if target.kind == "sym" and target.text == "[":
                mod = self.take()
                close = self.take()
                if mod.kind != "id" or close.text != "]":
                    raise self.error(mod, "expected [Module] Op after <-")
                module = mod.text
                target = self.take()
            if target.kind != "id" or self.is_keyword(target):
                raise self.error(
                    target, f"expected an operator name after <-, found {target.show()}"
                )
            self.substitutions.append(Substitution(name.text, target.text, module, name.line))
        elif t.kind == "sym" and t.text == "==":
            raise self.error(t, f"write `{name.text} = value` (one =) in a .cfg")
        else:
            raise self.error(t, f"expected = or <- after {name.text}, found {t.show()}")

    def values(self, close: str, within: str) -> list[Value]:
        """Values separated by commas up to the bracket `close`, the opening one taken already."""
        out: list[Value] = []
        while True:
            out.append(self.value())
            sep = self.take()
            if sep.kind == "sym" and sep.text == ",":
                continue
            if sep.kind == "sym" and sep.text == close:
                return out
            raise self.error(sep, f"expected , or {close} in {within}, found {sep.show()}")

    def value(self) -> Value:
        t = self.take()
        if t.kind == "num" or t.kind == "str":
            return t.value
        if t.kind == "id":
            if self.is_keyword(t):
                raise self.error(t, f"expected a value, found the keyword {t.text}")
            if t.text in ("TRUE", "FALSE"):
                return t.text == "TRUE"
            self.model_values.add(t.text)
            return t.text
        if t.kind == "sym" and t.text == "{":
            if self.peek().text == "}" and self.peek().kind == "sym":
                self.take()
                return frozenset()
            return frozenset(self.values("}", "a set"))
        if t.kind == "sym" and t.text == "-":
            raise self.error(
                t,
                "TLC 2.15 does not accept negative numbers in a .cfg: define the value in the spec "
                "(or a model module) and substitute it with `<-`",
            )
        if t.kind == "sym" and t.text == "<<":
            raise self.error(
                t,
                "TLC 2.15 does not accept tuples in a .cfg: define the value in the spec "
                "(or a model module) and substitute it with `<-`",
            )
        raise self.error(
            t,
            f"expected a value (number, string, TRUE, FALSE, model value or {{set}}), found {t.show()}",
        )


def parse_cfg(text: str, path: Path | None = None) -> ModelConfig:
    """The model configuration in `text` (ConfigError at `path:line:column` if it is not valid)."""
    return _Parser(text, path).parse()


def read_cfg(path: str | Path) -> ModelConfig:
    """Read and parse a .cfg file (ConfigError if it is missing, unreadable or not valid)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"model configuration {p} not found")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {p}: {reason}") from None
    return parse_cfg(text, p)


def with_constants(text: str, overrides: dict[str, str], path: Path | None = None) -> str:
    """The .cfg `text` with the plain constants named in `overrides` given new values (TLA+ text:
    `FALSE`, `3`, `{s1, s2}`), each checked to parse. ConfigError for a name the model does not
    give a plain value, or a value that is not one, or an assignment that shares its line."""
    model = parse_cfg(text, path)
    where = path or Path("<cfg>")
    plain = {a.name: a for a in model.constants if not a.args}
    lines = text.splitlines(keepends=True)
    for name, value in overrides.items():
        found = plain.get(name)
        if found is None:
            given = ", ".join(sorted(plain)) or "none"
            raise ConfigError(f"{where}: no constant {name} to set (the model sets {given})")
        try:
            parse_cfg(f"CONSTANTS\n    {name} = {value}\n")
        except ConfigError:
            raise ConfigError(f"{name}={value}: {value!r} is not a value a .cfg can give") from None
        k = found.line - 1
        if sum(1 for a in model.constants if a.line == found.line) != 1:
            raise ConfigError(
                f"{where}:{found.line}: {name} shares its line; give it one of its own"
            )
        indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
        lines[k] = f"{indent}{name} = {value}\n"
    return "".join(lines)


# ------------------------------------------------------------------------------------------- soundness

ONE_WORKER_NOTE = (
    "1 worker: temporal properties are checked on one worker (TLC 2.15, tlaplus/tlaplus#971)"
)


def checked_workers(model: ModelConfig, requested: int) -> tuple[int, str]:
    """The TLC workers a check of `model` runs on, and a note when that is fewer than `requested`.

    One worker whenever the model lists a PROPERTY (the module docstring says why), whatever was asked.
    """
    if model.properties and requested > 1:
        return 1, ONE_WORKER_NOTE
    return requested, ""


def unsound_reduction(model: ModelConfig) -> str | None:
    """Why TLC cannot check `model` soundly (a PROPERTY under SYMMETRY or VIEW), in one line, or None."""
    if not model.properties:
        return None
    reductions = [
        f"{keyword} {name}"
        for keyword, name in (("SYMMETRY", model.symmetry), ("VIEW", model.view))
        if name is not None
    ]
    if not reductions:
        return None
    where = f"{model.path}: " if model.path is not None else ""
    keyword = "PROPERTY" if len(model.properties) == 1 else "PROPERTIES"
    return (
        f"{where}{keyword} {' '.join(model.properties)} with {' and '.join(reductions)}: TLC checks "
        "temporal properties unsoundly under SYMMETRY or VIEW (tlaplus/tlaplus#59); check the "
        "invariants under the reduction and the properties in a model without it"
    )

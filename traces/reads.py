"""The variables a spec's property reads, derived from its definition in the spec's text.

`trace show` always shows what the violated property is about (traces/show.py): a counterexample
of an action property such as Raft.tla's MatchIndexMonotonic ends in a step whose change is in
`matchIndex`, which the compact view leaves out unless asked. Which variables a property reads is
written once, in the spec, so it is read from there rather than kept in a second table: the
operator's body, and, through it, the bodies of the operators it uses, as the TLA+ text says them.

The reading is lexical, as far as it needs to go (Lamport, "Specifying Systems", chapter 15, for
the syntax): comments and strings are dropped; a definition runs from `Name ==` or `Name(p, q) ==`
at the start of a line to the next such line or the module's next section; its identifiers that
name a variable of the trace are the variables it reads, and each one that names another operator
is followed into that operator's body. Two things are not followed, because they are not what the
property is about: the subscript of `[][A]_vars` and `<<A>>_vars` (the variables a step may leave unchanged, for stuttering)
and an action an action property excuses (`commitIndex'[i] >= commitIndex[i] \\/ Restart(i)`: the
body of an operator holding a primed variable, which says what a whole step does). A record's
field (`m.log`, `[log |-> ...]`) is not the variable of that name. The modules a spec EXTENDS are
read from its folder, when there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from pathlib import PurePath

_BLOCK_COMMENT = re.compile(r"\(\*.*?\*\)", re.DOTALL)  # TLA+ nests them; specs here do not
_LINE_COMMENT = re.compile(r"\\\*[^\n]*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_DEFINITION = re.compile(r"^([A-Za-z_]\w*)\s*(?:\([^)]*\))?\s*==", re.MULTILINE)
# where a definition ends when no other starts: a separator, the module's end, another section
_SECTION = re.compile(
    r"^(?:-{4,}|={4,}|VARIABLES?\b|CONSTANTS?\b|ASSUME\b|THEOREM\b|INSTANCE\b|LOCAL\b)",
    re.MULTILINE,
)
_EXTENDS = re.compile(r"^EXTENDS\s+([\w\s,]+?)\s*$", re.MULTILINE)
_SUBSCRIPT = re.compile(r"[\]>]_\s*(?:[A-Za-z_]\w*|<<[^>]*>>)")  # [A]_vars, <<A>>_<<x, y>>
_FIELD = re.compile(r"\.\s*[A-Za-z_]\w*|[A-Za-z_]\w*\s*\|->")  # r.field, [field |-> ...]
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _clean(text: str) -> str:
    return _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", _STRING.sub('""', text)))


def definitions(text: str) -> dict[str, str]:
    """Each operator a module's text defines, to its body's text (comments and strings dropped)."""
    text = _clean(text)
    starts = [(m.start(), m.end(), m.group(1)) for m in _DEFINITION.finditer(text)]
    ends = sorted([s for s, _, _ in starts] + [m.start() for m in _SECTION.finditer(text)])
    found: dict[str, str] = {}
    for start, body, name in starts:
        end = next((e for e in ends if e > start), len(text))
        found.setdefault(name, text[body:end])
    return found


@functools.cache
def _module(path: Path) -> dict[str, str]:
    """The definitions of a spec and of the modules it extends that sit beside it (its own first)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    found = definitions(text)
    extends = _EXTENDS.search(_clean(text))
    for name in extends.group(1).replace("\n", " ").split(",") if extends else ():
        other = path.with_name(f"{name.strip()}.tla")
        if name.strip() and other != path and other.is_file():
            for k, v in _module(other).items():
                found.setdefault(k, v)
    return found


def reads(spec: Path, name: str, variables: Iterable[str]) -> frozenset[str] | None:
    """The `variables` the operator `name` of `spec` reads (see the module's docstring); None when
    the spec defines no such operator (a property of a check, not of the spec)."""
    defined = _module(spec)
    if name not in defined:
        return None
    wanted = frozenset(variables)
    found: set[str] = set()
    seen = {name}
    todo = [defined[name]]
    while todo:
        body = _FIELD.sub(" ", _SUBSCRIPT.sub("]", todo.pop()))
        for ident in _IDENT.findall(body):
            if ident in wanted:
                found.add(ident)
            elif ident in defined and ident not in seen:
                seen.add(ident)
                if "'" not in defined[ident]:  # an action (a whole step) is not followed
                    todo.append(defined[ident])
    return frozenset(found)


def spec_file(name: str) -> Path | None:
    """The spec a trace names (`#meta.spec`, or a protocol's spec file name): the path itself when
    it exists, else the spec of that file name among meshcheck's own (specs/)."""
    given = Path(name)
    if given.suffix == ".tla" and given.is_file():
        return given
    own = Path(str(files("meshcheck").joinpath("specs", PurePath(name.replace("\\", "/")).name)))
    return own if own.suffix == ".tla" and own.is_file() else None

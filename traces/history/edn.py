"""A small reader of EDN (https://github.com/edn-format/edn), enough for Jepsen's history.edn.

Jepsen writes a history as EDN maps, one per line (`{:type :invoke, :f :read, :value nil,
:process 0, :time 123, :index 0}`), or as one vector of them; values hold keywords, nil, strings,
numbers, vectors (a cas's `[1 2]`, jepsen.independent's `[k v]` tuples), lists, sets and maps (a
nemesis's partition), and records print tagged (`#jepsen.history.Op{...}`). This reader keeps the
line each form starts on, so an error names the line, and reads a history of 10,000 events in a
fraction of a second.

Values come back as Python values: nil None, booleans, int and float, strings; keywords and
symbols as their name without the colon (`:read` -> "read"; a history's keywords and strings do
not mean different things to the checker); vectors and lists as lists, sets as frozensets, maps as
dicts; a tagged form as the form it tags (`#inst "..."` -> the string). Characters, ratios and
big-number suffixes (`N`, `M`) are read as their nearest Python value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from collections.abc import Iterator
from typing import Any

from meshcheck.impl.base.errors import MeshcheckError

_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+)
  | (?P<comment>;[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,\[\](){}"]*)
  | (?P<char>\\(?:newline|space|tab|return|u[0-9A-Fa-f]{4}|.))
  | (?P<atom>[^\s,\[\](){}"\\;]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_RATIO = re.compile(r"[+-]?\d+/\d+")
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_CLOSER = {"[": "]", "(": ")", "{": "}", "#{": "}"}


class _Close:
    def __init__(self, text: str, line: int) -> None:
        self.text, self.line = text, line


def elements(text: str, name: str) -> list[tuple[int, Any]]:
    """The events of a history file, each with its line: the top-level forms, or, when the file
    is one vector or list, the forms in it (Jepsen writes either). Raises `MeshcheckError` naming
    the line of the first thing that is not EDN."""
    tokens = _tokens(text, name)
    first = next(tokens, None)
    if first is None:
        return []
    kind, token, line = first
    if kind == "open" and token in ("[", "("):
        out: list[tuple[int, Any]] = []
        while True:
            form = _form(tokens, name)
            if form is None:
                raise MeshcheckError(f"{name}:{line}: not EDN: {token} is not closed")
            if isinstance(form[1], _Close):
                if form[1].text != _CLOSER[token]:
                    raise MeshcheckError(
                        f"{name}:{form[0]}: not EDN: {form[1].text} where {_CLOSER[token]} "
                        f"closes the {token} of line {line}"
                    )
                break
            out.append(form)
        rest = _form(tokens, name)
        if rest is not None:
            raise MeshcheckError(f"{name}:{rest[0]}: not EDN: more after the vector of events")
        return out

    def again() -> Iterator[tuple[str, str, int]]:
        yield first
        yield from tokens

    return list(_top_level(again(), name))


def forms(text: str, name: str) -> list[tuple[int, Any]]:
    """The top-level forms of `text`, each with the line it starts on."""
    return list(_top_level(_tokens(text, name), name))


def _top_level(tokens: Iterator[tuple[str, str, int]], name: str) -> Iterator[tuple[int, Any]]:
    while True:
        form = _form(tokens, name)
        if form is None:
            return
        line, value = form
        if isinstance(value, _Close):
            raise MeshcheckError(f"{name}:{value.line}: not EDN: {value.text} closes nothing")
        yield line, value


def _tokens(text: str, name: str) -> Iterator[tuple[str, str, int]]:
    line = 1
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # an unterminated string is the only thing nothing matches
            raise MeshcheckError(f"{name}:{line}: not EDN: a string is not closed")
        kind = m.lastgroup
        assert kind is not None
        token = m.group()
        if kind not in ("ws", "comment"):
            yield kind, token, line
        line += token.count("\n")
        pos = m.end()


def _form(tokens: Iterator[tuple[str, str, int]], name: str) -> tuple[int, Any] | None:
    """The next form (None at the end); a closing bracket comes back as a `_Close`."""
    for kind, token, line in tokens:
        if kind == "open":
            return line, _collection(token, line, tokens, name)
        if kind == "close":
            return line, _Close(token, line)
        if kind == "discard":
            if _form(tokens, name) is None:
                raise MeshcheckError(f"{name}:{line}: not EDN: #_ discards nothing")
            continue
        if kind == "tag":
            tagged = _form(tokens, name)
            if tagged is None or isinstance(tagged[1], _Close):
                raise MeshcheckError(f"{name}:{line}: not EDN: the tag {token} tags nothing")
            return line, tagged[1]
        if kind == "string":
            return line, _string(token, line, name)
        if kind == "char":
            body = token[1:]
            if body.startswith("u") and len(body) == 5:
                return line, chr(int(body[1:], 16))
            return line, _CHARS.get(body, body)
        return line, _atom(token, line, name)
    return None


def _collection(opener: str, line: int, tokens: Iterator[tuple[str, str, int]], name: str) -> Any:
    items: list[Any] = []
    closer = _CLOSER[opener]
    while True:
        form = _form(tokens, name)
        if form is None:
            raise MeshcheckError(f"{name}:{line}: not EDN: {opener} is not closed")
        value = form[1]
        if isinstance(value, _Close):
            if value.text != closer:
                raise MeshcheckError(
                    f"{name}:{value.line}: not EDN: {value.text} where {closer} closes "
                    f"the {opener} of line {line}"
                )
            break
        items.append(value)
    if opener == "{":
        if len(items) % 2:
            raise MeshcheckError(
                f"{name}:{line}: not EDN: the map has a key without a value ({len(items)} forms)"
            )
        out: dict[Hashable, Any] = {}
        for k, v in zip(items[::2], items[1::2], strict=True):
            key = hashable(k)
            if key in out:
                raise MeshcheckError(f"{name}:{line}: not EDN: the map has the key {k!r} twice")
            out[key] = v
        return out
    if opener == "#{":
        return frozenset(hashable(v) for v in items)
    return items


def _string(token: str, line: int, name: str) -> str:
    try:  # EDN's escapes are JSON's (\t \r \n \\ \" \uXXXX); raw newlines are allowed
        value = json.loads(token, strict=False)
    except ValueError:
        raise MeshcheckError(f"{name}:{line}: not EDN: bad escape in {token[:40]}") from None
    assert isinstance(value, str)
    return value


def _atom(token: str, line: int, name: str) -> Any:
    if token == "nil":
        return None
    if token == "true":
        return True
    if token == "false":
        return False
    if token[0] == ":":
        if len(token) == 1:
            raise MeshcheckError(f"{name}:{line}: not EDN: a keyword without a name")
        return token[1:]
    if token[0].isdigit() or (token[0] in "+-" and len(token) > 1 and token[1].isdigit()):
        if _INT.fullmatch(token):
            return int(token.rstrip("N"))
        if _FLOAT.fullmatch(token):
            return float(token.rstrip("M"))
        if _RATIO.fullmatch(token):
            num, den = token.split("/")
            return int(num) / int(den)
        raise MeshcheckError(f"{name}:{line}: not EDN: {token[:40]} is not a number")
    return token  # a symbol


def hashable(value: Any) -> Hashable:
    """`value` with lists as tuples and maps as sorted tuples of pairs (a history's values must be
    hashable: the checker caches states)."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((str(k), hashable(v)) for k, v in value.items()), key=repr))
    return value  # type: ignore[no-any-return]

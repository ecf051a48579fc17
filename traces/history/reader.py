"""Reading a history file's events: JSON lines (one object a line, Jepsen's shape) or Jepsen's own
history.edn (edn.py), by the extension `.edn` or by content (a first form that opens an EDN map or
a vector of them). Every checker reads through here (jepsen.py for the linearizability models,
events.py for the others), so a file that cannot be read or parsed is refused in the same one line
whatever the model: `FILE:LINE: what is wrong` (`meshcheck history check` exits 2 on it)."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import re
from collections import Counter
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import edn

TYPES = ("invoke", "ok", "fail", "info")  # an event's "type"
Events = Iterator[tuple[float, dict[str, Any]]]  # each event with its time (its line)

_EDN_START = re.compile(r"\A(?:\s|;[^\n]*\n)*(?:[\[(]\s*)?(?:#\S+\s*)?\{\s*[:}]")
# every digit as 0, to find a run of 19 (an integer orjson may read as a float)
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG = b"0" * 19


def read(path: str | Path, *, spread: bool = False) -> Events:
    """The events of the file at `path`, each with its line: JSON lines lazily (a malformed line
    is refused when it is reached, after the events before it), EDN at once. `spread`: EDN events
    sharing a line get distinct times (`spread_lines`). Raises `MeshcheckError` (one line)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MeshcheckError(f"{name}: cannot read: {exc}") from None
    if is_edn(name, text):
        maps = edn_maps(text, name)
        return spread_lines(maps) if spread else iter(maps)
    return json_objects(text.splitlines(), name, exact=_orjson_exact(text))


class Irregular(Exception):
    """A line `plain` leaves to `read`: one orjson refuses, or not an object."""


def plain(path: str | Path) -> Events | None:
    """The events of a JSON lines file of ASCII text, each with its line, read by orjson alone;
    None for any other file (or one that cannot be read), and `Irregular` raised at a line orjson
    refuses or that holds no object: then `read` reads the file, and names what is wrong. For a
    caller that refuses a float wherever it reads the events, and so can take what orjson gives
    (an integer of more than 64 bits as a float, which `read` reads with the standard library,
    `_orjson_exact`): a history of 100,000 transactions (48 MB) is read in less time, without
    decoding the file nor a second pass over it to look for long integers. ASCII and JSON make the lines the same as `read`'s: str.splitlines
    splits at more characters than bytes.splitlines, but none of them can stand in a line of
    JSON, nor, but \\v and \\f, in a blank one (a blank line holding either: `Irregular`)."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.isascii():
        return None
    if not name.endswith((".json", ".jsonl")) and is_edn(name, data.decode("ascii")):
        return None
    if b"\r" in data:
        return _plain(data.splitlines())
    # without \r the lines split at \n alone, as BytesIO gives them (each with its \n, which JSON
    # takes for white space), one at a time: no list of them all (a tenth less memory)
    return _plain(io.BytesIO(data))


def _plain(lines: Iterable[bytes]) -> Events:
    loads = orjson.loads
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            if b"\v" in line or b"\f" in line:  # str.splitlines splits there: more lines
                raise Irregular(number)
            continue
        try:
            value = loads(line)
        except orjson.JSONDecodeError:
            raise Irregular(number) from None
        if type(value) is not dict:
            raise Irregular(number)
        yield float(number), value


def is_edn(name: str, text: str) -> bool:
    if name.endswith(".edn"):
        return True
    if name.endswith((".json", ".jsonl")):
        return False
    return _EDN_START.match(text) is not None


def json_objects(lines: Sequence[str], name: str, *, exact: bool | None = None) -> Events:
    """The objects of JSON lines with their line numbers; blank lines skipped. `exact`: whether
    orjson reads them as the standard library does (`_orjson_exact`), when known already."""
    if exact is None:
        exact = _orjson_exact("\n".join(lines))
    loads = orjson.loads if exact else json.loads
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        try:
            value = loads(line)
        except json.JSONDecodeError:  # orjson's too: then the standard library's verdict
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MeshcheckError(f"{name}:{number}: not JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise MeshcheckError(f"{name}:{number}: expected a JSON object")
        yield float(number), value


def _orjson_exact(text: str) -> bool:
    """Whether orjson reads the lines as the standard library does, where both read them. orjson
    (three times the standard library's speed on a large history) is used where it is: a line it
    refuses goes to the standard library, so that every error message is the standard library's
    (which also reads NaN, Infinity, lone surrogates); but orjson reads an integer beyond 64 bits
    as a float, so a file with a run of 19 digits or more is read by the standard library alone."""
    return _LONG not in text.encode("utf-8", "surrogatepass").translate(_DIGITS)


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """While many objects are built at once (a history's events, its transactions), none of them
    in a reference cycle: the cyclic garbage collector paused, as it would walk all those built so
    far again and again (half the time of reading a history of 100,000 transactions); restored
    after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def edn_maps(text: str, name: str) -> list[tuple[float, dict[str, Any]]]:
    """Jepsen's history.edn: maps one after another, or one vector (or list) of them, each with
    the line it starts on."""
    out: list[tuple[float, dict[str, Any]]] = []
    for line, value in edn.elements(text, name):
        if not isinstance(value, dict):
            raise MeshcheckError(
                f"{name}:{line}: expected an EDN map (one event), not {_kind(value)}"
            )
        out.append((float(line), {str(k): v for k, v in value.items()}))
    return out


def spread_lines(events: Sequence[tuple[float, dict[str, Any]]]) -> Events:
    """Events with distinct times: their lines, and when several share a line, fractions of it
    in their order (line 3's two events at 3.33 and 3.67)."""
    per_line = Counter(line for line, _ in events)
    seen: Counter[float] = Counter()
    for line, event in events:
        if per_line[line] == 1:
            yield line, event
        else:
            seen[line] += 1
            yield line + seen[line] / (per_line[line] + 1), event


def hashable(value: Any) -> Hashable:
    """JSON or EDN data as a hashable value: lists as tuples, maps as sorted pairs."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    return value  # type: ignore[no-any-return]


_EDN_KINDS = (
    (type(None), "nil"),
    (list, "a vector"),
    (frozenset, "a set"),
    (str, "a keyword or string"),
)


def _kind(value: Any) -> str:
    """What an EDN value is, as an error message says what it found."""
    return next(
        (name for t, name in _EDN_KINDS if isinstance(value, t)), f"a {type(value).__name__}"
    )

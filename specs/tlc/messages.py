"""TLC's `-tool` output, read back as the messages TLC framed.

With `-tool`, TLC 2.15 wraps every message in

    @!@!@STARTMSG <code>:<severity> @!@!@
    ...text...
    @!@!@ENDMSG <code> @!@!@

where `code` is one of `tlc2.output.EC` and `severity` one of `tlc2.output.MP` (0 none, 1 error, 2 TLC
bug, 3 warning, 4 state). Frames nest: a `ConfigFileException` wrapped in "TLC threw an unexpected
exception" carries the 5001 frame on the line of the outer message (`: @!@!@STARTMSG 5001:0 @!@!@`).
What SANY prints (parse and semantic errors, "Parsing file ...") is not framed: it is kept as `plain`.

This module only reads structure and TLC's fixed phrases (counts, state headers, lasso markers); it never
reads a TLA+ value. States stay text, matched against the Stepper's `State.tla()` by `specs.tlc.check`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator

import attrs

__all__ = [
    "EC",
    "Message",
    "PrintedState",
    "PrintedTrace",
    "Stats",
    "ToolOutput",
    "one_line",
    "parse",
    "printed_trace",
    "stats",
]


class EC(enum.IntEnum):
    """The codes of tlc2.output.EC (TLC 2.15) that meshcheck reads (`javap -constants tlc2.output.EC`)."""

    GENERAL = 1000
    TLC_NESTED_EXPRESSION = 2103
    TLC_ASSUMPTION_FALSE = 2104
    TLC_ASSUMPTION_EVALUATION_ERROR = 2105
    TLC_STATE_NOT_COMPLETELY_SPECIFIED_INITIAL = 2106
    TLC_INVARIANT_VIOLATED_INITIAL = 2107
    TLC_PROPERTY_VIOLATED_INITIAL = 2108
    TLC_STATE_NOT_COMPLETELY_SPECIFIED_NEXT = 2109
    TLC_INVARIANT_VIOLATED_BEHAVIOR = 2110
    TLC_INVARIANT_EVALUATION_FAILED = 2111
    TLC_ACTION_PROPERTY_VIOLATED_BEHAVIOR = 2112
    TLC_ACTION_PROPERTY_EVALUATION_FAILED = 2113
    TLC_DEADLOCK_REACHED = 2114
    TLC_TEMPORAL_PROPERTY_VIOLATED = 2116
    TLC_NO_STATES_SATISFYING_INIT = 2118
    TLC_BEHAVIOR_UP_TO_THIS_POINT = 2121
    TLC_BACK_TO_STATE = 2122
    TLC_VALUE_ASSERT_FAILED = 2132
    TLC_INVARIANT_VIOLATED_LEVEL = 2146
    TLC_FINGERPRINT_EXCEPTION = 2147
    TLC_PARSING_FAILED2 = 2171
    TLC_SUCCESS = 2193
    TLC_SEARCH_DEPTH = 2194
    TLC_STATS = 2199
    TLC_PROGRESS_STATS = 2200
    TLC_STATE_PRINT1 = 2216
    TLC_STATE_PRINT2 = 2217
    TLC_STATE_PRINT3 = 2218
    TLC_COUNTER_EXAMPLE = 2264
    TLC_PARSING_FAILED = 3002
    CFG_ERROR_READING_FILE = 5001


# Messages TLC prints around a counterexample rather than about the problem itself.
TRACE_CODES = frozenset(
    {
        EC.TLC_BEHAVIOR_UP_TO_THIS_POINT,
        EC.TLC_BACK_TO_STATE,
        EC.TLC_STATE_PRINT1,
        EC.TLC_STATE_PRINT2,
        EC.TLC_STATE_PRINT3,
        EC.TLC_COUNTER_EXAMPLE,
    }
)

ERROR = 1  # tlc2.output.MP.ERROR: the severity of a message that reports a problem
STATE = 4  # tlc2.output.MP.STATE


@attrs.frozen
class Message:
    """One framed message. `text` is its body with the frames of nested messages removed."""

    code: int
    severity: int
    text: str
    nested: tuple[Message, ...] = ()

    def walk(self) -> Iterator[Message]:
        """This message, then its nested messages, depth first."""
        yield self
        for m in self.nested:
            yield from m.walk()


@attrs.frozen
class ToolOutput:
    """Everything TLC printed: its framed messages in order, and the unframed rest (SANY's report)."""

    messages: tuple[Message, ...]
    plain: str

    def all(self) -> Iterator[Message]:
        """Every message, nested ones included, in the order TLC printed them."""
        for m in self.messages:
            yield from m.walk()

    def first(self, *codes: int) -> Message | None:
        """The first message (nested ones included) with one of `codes`."""
        return next((m for m in self.all() if m.code in codes), None)

    def codes(self) -> frozenset[int]:
        return frozenset(m.code for m in self.all())


_MARK = re.compile(r"@!@!@STARTMSG (\d+):(-?\d+) @!@!@\n?|@!@!@ENDMSG (\d+) @!@!@\n?")


@attrs.define
class _Open:
    code: int
    severity: int
    parts: list[str] = attrs.field(factory=list)
    nested: list[Message] = attrs.field(factory=list)

    def close(self) -> Message:
        return Message(self.code, self.severity, "".join(self.parts), tuple(self.nested))


def parse(output: str) -> ToolOutput:
    """Split TLC's output into framed messages (nesting kept) and the plain text between them.

    Tolerant: a frame that never ends is closed at the end of the output, an ENDMSG without its
    STARTMSG is dropped; output without any frame (TLC run without `-tool`) is all `plain`.
    """
    top: list[Message] = []
    plain: list[str] = []
    stack: list[_Open] = []

    def emit(text: str) -> None:
        if text:
            (stack[-1].parts if stack else plain).append(text)

    def finish() -> None:
        message = stack.pop().close()
        if stack:
            stack[-1].nested.append(message)
            stack[-1].parts.append(message.text)  # the outer text reads as TLC meant it
        else:
            top.append(message)

    pos = 0
    for m in _MARK.finditer(output):
        emit(output[pos : m.start()])
        pos = m.end()
        if m.group(1) is not None:
            stack.append(_Open(int(m.group(1)), int(m.group(2))))
        else:
            code = int(m.group(3))
            if any(o.code == code for o in stack):
                while stack[-1].code != code:
                    finish()
                finish()
    emit(output[pos:])
    while stack:
        finish()
    return ToolOutput(tuple(top), "".join(plain))


def one_line(text: str) -> str:
    """Text with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------- counts


@attrs.frozen
class Stats:
    """TLC's own counts at the end of a run (0 when it never reached exploring)."""

    generated: int = 0
    distinct: int = 0
    queue: int = 0
    depth: int = 0


_STATS = re.compile(
    r"([\d,]+) states? generated.*?([\d,]+) distinct states? found.*?([\d,]+) states? left on queue",
    re.DOTALL,
)
_DEPTH = re.compile(r"depth of the complete state graph search is ([\d,]+)")
_PROGRESS_DEPTH = re.compile(r"Progress\(([\d,]+)\)")


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def stats(out: ToolOutput) -> Stats:
    """The final counts: the last 2199 message (or the last progress report), and the search depth."""
    generated = distinct = queue = depth = 0
    for m in out.all():
        if m.code in (EC.TLC_STATS, EC.TLC_PROGRESS_STATS):
            s = _STATS.search(m.text)
            if s is not None:
                generated, distinct, queue = _int(s.group(1)), _int(s.group(2)), _int(s.group(3))
            d = _PROGRESS_DEPTH.search(m.text)
            if d is not None:
                depth = _int(d.group(1))
        elif m.code == EC.TLC_SEARCH_DEPTH:
            d = _DEPTH.search(m.text)
            if d is not None:
                depth = _int(d.group(1))
    return Stats(generated, distinct, queue, depth)


# ---------------------------------------------------------------------------------------------- traces


@attrs.frozen
class PrintedState:
    """One state of a counterexample as TLC printed it.

    `action` is the operator name TLC put in `<Name line ..., col ... of module M>`, None for the initial
    state; `text` is the state's `/\\ var = value` lines, untouched.
    """

    number: int
    action: str | None
    location: str | None
    text: str


@attrs.frozen
class PrintedTrace:
    """A counterexample as TLC printed it.

    `loop` is the 0-based index of the state a lasso returns to: "N: Back to state" gives N-1, and
    "N: Stuttering" the last state (the behaviour stays there forever). `loop_action` is the action of
    the step back, when TLC named one.
    """

    states: tuple[PrintedState, ...]
    loop: int | None = None
    stuttering: bool = False
    loop_action: str | None = None


_HEADER = re.compile(r"\A\s*(\d+):[ \t]*(.*)$", re.MULTILINE)
_ANGLE = re.compile(r"\A<(.*)>\Z", re.DOTALL)
_LOCATED = re.compile(
    r"\A(.*?) (line \d+, col \d+ to line \d+, col \d+ of module \S+)\Z", re.DOTALL
)
_BACK = re.compile(r"\A\s*(\d+):\s*Back to state(?::\s*(.*?))?\s*\Z", re.DOTALL)


def _action(label: str) -> tuple[str | None, str | None]:
    """("Inc", "line 5, col 8 to ... of module M") from "<Inc line 5, ... of module M>"."""
    a = _ANGLE.match(label.strip())
    inner = a.group(1).strip() if a else label.strip()
    if not inner or inner == "Initial predicate":
        return None, None
    loc = _LOCATED.match(inner)
    if loc is not None:
        return loc.group(1).strip(), loc.group(2)
    return inner, None


def _state(m: Message) -> PrintedState | None:
    h = _HEADER.match(m.text)
    if h is None:
        return None
    label = h.group(2).strip()
    action, location = _action(label)
    body = m.text[h.end() :].strip("\n")
    return PrintedState(int(h.group(1)), action, location, body.rstrip())


def printed_trace(out: ToolOutput) -> PrintedTrace | None:
    """The counterexample of a run, or None when TLC printed no state.

    Only the first trace counts (TLC prints one per run; with `-continue` it could print more).
    """
    states: list[PrintedState] = []
    loop: int | None = None
    stuttering = False
    loop_action: str | None = None
    for m in out.all():
        if m.code in (EC.TLC_STATE_PRINT1, EC.TLC_STATE_PRINT2):
            if loop is not None:
                break  # a second trace
            s = _state(m)
            if s is not None:
                states.append(s)
        elif m.code == EC.TLC_STATE_PRINT3 and states:
            stuttering = True
            loop = len(states) - 1
            break
        elif m.code == EC.TLC_BACK_TO_STATE and states:
            b = _BACK.match(m.text)
            if b is not None:
                loop = int(b.group(1)) - 1
                if b.group(2):
                    loop_action, _ = _action(b.group(2))
            break
    if not states:
        return None
    if loop is not None and not 0 <= loop < len(states):
        loop = None
    return PrintedTrace(tuple(states), loop, stuttering, loop_action)

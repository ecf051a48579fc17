"""What a register history lost, in Jepsen's words and numbers: acknowledged writes, lost,
recovered, unexpected (the counts of Jepsen's set checker, jepsen.checker/set-full, brought to
registers whose writes carry unique values).

- acknowledged: writes (and compare-and-sets) that completed ok;
- lost: an acknowledged write `w` to key `k` that a later read disproves: an ok read of `k`,
  invoked after `w` returned, of a value that only writes which had all returned before `w` was
  invoked could have put (or of no value at all). Linearizability orders `w` after those writes
  and before the read, so the read had to show `w`'s value or a later one: `w` is gone. A write
  no later read disproves is not counted, nor one overwritten before any read: the count is a
  floor, which a failed write (it did nothing) never raises;
- recovered: a write whose outcome was unknown (`info`) whose value a read returned;
- unexpected: a read of a value no write or cas invoked before the read returned could have
  written (a value from nowhere, or from a write that failed); it decides no loss.

Each lost write is named with its process, key, value and times, and the read that disproves it,
with the node that served each where the history says (`Op.served`), else the node asked
(`Op.node`), in history.where's words. The counts are printed by
`meshcheck history check` for the register models and by a cluster run for its register
workloads, beside the linearizability verdict, which they do not replace: a history can lose
nothing by this count and still not be linearizable.

The other models that write count in the same words and print the same table (`Account`):
list-append (losses_append.py), rw-register (losses_rw.py, with this module's count) and stream
(losses_stream.py), each with `duplicated` where the model can duplicate.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

import attrs

from meshcheck.traces.history import history
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.window import plural

WRITES = ("write", "cas")
T = TypeVar("T")


@attrs.frozen
class Lost:
    write: Op
    read: Op  # the read that disproves it


@attrs.frozen
class Losses:
    acknowledged: int
    lost: tuple[Lost, ...]
    indeterminate: int  # writes whose outcome is unknown (info)
    recovered: int  # of those, read back
    unexpected: tuple[Op, ...]  # reads of values nothing could have written
    recovered_writes: tuple[Op, ...] = ()  # the `recovered` writes themselves


def written(o: Op) -> Hashable:
    """The value a write or compare-and-set puts."""
    if o.f == "cas" and isinstance(o.input, tuple) and len(o.input) == 2:
        value: Hashable = o.input[1]
        return value
    return o.input


def count(ops: Sequence[Op]) -> Losses:
    """The counts and the lost writes of a register history (the module's docstring).

    A read `r` of value `x` disproves every acknowledged write `w` that returned before `r` was
    invoked and was invoked after every write that could have put `x` had returned (`bound`, the
    latest return among them; none: before any write, when `x` is nothing): `w` is ordered after
    them and before `r`, so `r` must show `w`'s value or a later one. Per key, with the reads
    sorted by invocation and the least bound of the reads after each moment, this is
    O((reads + writes) log reads)."""
    writes: dict[Hashable, list[Op]] = defaultdict(list)
    reads: dict[Hashable, list[Op]] = defaultdict(list)
    for o in ops:
        if o.f in WRITES and o.status != "fail":
            writes[o.key].append(o)
        elif o.f == "read" and o.status == "ok":
            reads[o.key].append(o)
    lost: list[Lost] = []
    unexpected: list[Op] = []
    for key, seen in reads.items():
        writers: dict[Hashable, list[Op]] = defaultdict(list)
        for w in writes.get(key, ()):
            writers[written(w)].append(w)
        decided: list[tuple[float, float, Op]] = []  # (call, bound, read)
        for r in seen:
            if r.output is None:
                decided.append((r.call, -math.inf, r))
                continue
            possible = [w for w in writers.get(r.output, ()) if w.call < r.ret]
            if not possible:
                unexpected.append(r)  # decides nothing: the history is broken another way
                continue
            decided.append((r.call, max(w.ret for w in possible), r))
        decided.sort(key=lambda d: d[0])
        calls = [d[0] for d in decided]
        least: list[tuple[float, Op] | None] = [None] * (len(decided) + 1)
        for k in range(len(decided) - 1, -1, -1):  # the least bound among reads k, k+1, ...
            here = (decided[k][1], decided[k][2])
            after = least[k + 1]
            least[k] = here if after is None or here[0] < after[0] else after
        for w in writes.get(key, ()):
            if w.status != "ok":
                continue
            found = least[bisect.bisect_right(calls, w.ret)]
            if found is not None and found[0] < w.call:
                lost.append(Lost(w, found[1]))
    indeterminate = [w for ws in writes.values() for w in ws if w.status == "info"]
    shown = {(r.key, r.output) for rs in reads.values() for r in rs}  # once, not per info write
    recovered = sorted(
        (w for w in indeterminate if (w.key, written(w)) in shown), key=lambda w: w.call
    )
    acknowledged = sum(1 for ws in writes.values() for w in ws if w.status == "ok")
    lost.sort(key=lambda x: x.write.call)
    unexpected.sort(key=lambda r: r.call)
    return Losses(
        acknowledged,
        tuple(lost),
        len(indeterminate),
        len(recovered),
        tuple(unexpected),
        tuple(recovered),
    )


SHOWN = 10  # lost writes and unexpected reads named in the text, each (the JSON file has all)


def _at(o: Op, lines: bool) -> str:
    end = "..." if o.ret == math.inf else f"{o.ret:g}"
    where = f"lines {o.call:g}..{end}" if lines else f"t={o.call:.3f}..{o.ret:.3f}s"
    on = history.where(o)
    return where + (f" {on}" if on else "")


def _to(o: Op, word: str = "to") -> str:
    return "" if o.key is None else f" {word} {o.key!r}"


def _read(r: Op) -> str:
    return "nothing" if r.output is None else repr(r.output)


def _why(r: Op) -> str:
    return "" if r.output is None else ", a value only writes done before it could have put"


@attrs.frozen
class Named:
    """How many of one kind were found, the first SHOWN of them in words (the text's), and every
    one of them as a record (`plain`: the JSON file's, losses.json beside a run's losses.txt)."""

    count: int
    shown: tuple[str, ...]
    records: tuple[dict[str, Any], ...] = attrs.field(default=(), eq=False)


def named(items: Sequence[T], word: Callable[[T], str]) -> Named:
    """`items` counted, the first SHOWN worded for the text (a history may lose thousands), and
    every one kept as a record, in words and in fields, for the full list."""
    return Named(
        len(items), tuple(word(x) for x in items[:SHOWN]), tuple(record(x, word) for x in items)
    )


def record(item: T, word: Callable[[T], str]) -> dict[str, Any]:
    """One found item for the full list: `said`, its line in words, and its fields (`plain`)."""
    fields = plain(item)
    return {"said": word(item), **(fields if isinstance(fields, dict) else {"item": fields})}


def plain(value: Any) -> Any:
    """`value` as JSON data: an operation as `operation` gives it, any other attrs record field by
    field, sequences as lists, a time never reached (math.inf) as null, anything else by repr."""
    if isinstance(value, Op):
        return operation(value)
    if attrs.has(type(value)):
        return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, float) and math.isinf(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return repr(value)


def operation(o: Op) -> dict[str, Any]:
    """An operation of the full list: its process, verb, key, input and output, status, times
    (`ret` null for one whose outcome is unknown), the node asked and the node that served it
    (null where the history does not say), and its index in the history."""
    return {
        "process": plain(o.process),
        "f": o.f,
        "key": plain(o.key),
        "value": plain(o.input),
        "output": plain(o.output),
        "status": o.status,
        "call": o.call,
        "ret": None if o.ret == math.inf else o.ret,
        "asked": o.node or None,
        "served": o.served or None,
        "index": o.index,
    }


@attrs.frozen
class Account:
    """The one account every model's count prints (this module's, losses_append.py's,
    losses_rw.py's, losses_stream.py's): `noun` what was written, `unit` what an unexpected one
    is (a read, an element, a message), `duplicated` where the model can duplicate, `note` said
    in brackets, `checked` False when loss could not be judged (a stream never read back)."""

    noun: str
    acknowledged: int
    lost: Named
    indeterminate: int
    recovered: int
    unexpected: Named
    unit: str
    duplicated: Named | None = None
    note: str = ""
    checked: bool = True
    recovered_named: Named | None = None  # the recovered ones, where the model names them

    def counts(self) -> str:
        """A cluster run's verdict detail: `3 acknowledged, 1 lost, 0 of 1 indeterminate read
        back[, 2 duplicated]` (systems/verdicts.py)."""
        out = (
            f"{self.acknowledged} acknowledged, {self.lost.count} lost, {self.recovered} of "
            f"{self.indeterminate} indeterminate read back"
        )
        return out + self._duplicated()

    def _duplicated(self) -> str:
        return "" if self.duplicated is None else f", {self.duplicated.count} duplicated"

    def render(self, full: str = "") -> str:
        """The counts on one line, then each lost, unexpected and duplicated one named (the first
        SHOWN of each); `full` says where every one of them is, when some are not named here."""
        head = (
            f"{self.noun}: {self.acknowledged} acknowledged, {self.lost.count} lost, "
            f"{self.recovered} of {self.indeterminate} indeterminate recovered, "
            f"{plural(self.unexpected.count, self.unit)} unexpected{self._duplicated()}"
        )
        if self.note:
            head += f" ({self.note})"
        lines = [head]
        hidden = 0
        kinds = (("lost", self.lost), ("unexpected", self.unexpected))
        for kind, found in (*kinds, ("duplicated", self.duplicated)):
            if found is not None:
                lines.extend(f"  {kind}: {text}" for text in found.shown)
                hidden += found.count - len(found.shown)
        if hidden:
            lines.append(f"  ... and {hidden} more" + (f" ({full})" if full else ""))
        return "\n".join(lines) + "\n"

    def records(self, times: str) -> dict[str, Any]:
        """The whole account as JSON data (losses.json): the counts, and every lost, unexpected,
        duplicated and recovered one as a record, `count` always the number of its `items` (the
        recovered ones' items null where the model counts them without naming them); `times`
        says what an operation's `call` and `ret` are ("seconds" of the run, or the history
        file's "lines")."""

        def kind(found: Named | None) -> dict[str, Any] | None:
            if found is None:
                return None
            return {"count": found.count, "items": list(found.records)}

        recovered = kind(self.recovered_named) or {"count": self.recovered, "items": None}
        return {
            "noun": self.noun,
            "times": times,
            "checked": self.checked,
            "note": self.note,
            "acknowledged": self.acknowledged,
            "indeterminate": self.indeterminate,
            "lost": kind(self.lost),
            "unexpected": kind(self.unexpected),
            "duplicated": kind(self.duplicated),
            "recovered": recovered,
        }


def render(found: Losses, in_lines: bool = True, full: str = "") -> str:
    """The counts on one line, then each lost write and each unexpected read (the first ten);
    their times as the history file's line numbers (`in_lines`) or in seconds of a run; `full`
    says where every one is (Account.render)."""
    return account(found, in_lines).render(full)


def account(found: Losses, in_lines: bool = True) -> Account:
    """The register history's Account: lost writes, unexpected reads, recovered writes."""

    def lost(item: Lost) -> str:
        w, r = item.write, item.read
        return (
            f"{w.process} wrote {written(w)!r}{_to(w)} ({_at(w, in_lines)}); "
            f"{r.process} read {_read(r)} after it ({_at(r, in_lines)}){_why(r)}"
        )

    def unexpected(r: Op) -> str:
        return (
            f"{r.process} read {r.output!r}{_to(r, 'from')} ({_at(r, in_lines)}), "
            "which no write could have written"
        )

    def recovered(w: Op) -> str:
        at = _at(w, in_lines)
        return f"{w.process} wrote {written(w)!r}{_to(w)} ({at}), outcome unknown, read back"

    return Account(
        "writes",
        found.acknowledged,
        named(found.lost, lost),
        found.indeterminate,
        found.recovered,
        named(found.unexpected, unexpected),
        "read",
        recovered_named=named(found.recovered_writes, recovered),
    )

"""What `meshcheck verify` prints when it ends, read in one screen: per protocol, each kind of check
passed out of run and the seconds its checks took; then each failure in full with the command that
runs it again. The full table of every row (hundreds) is for the reports (JSON, JUnit, HTML) and
for `--table`. Lines stay under `WIDE` characters: a failure's detail is wrapped, never cut; a
progress line is clipped (its row is whole in the reports).
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Protocol

import attrs

from meshcheck import table
from meshcheck import words
from meshcheck.exercise import VACUOUS

WIDE = table.WIDE
KINDS = ("tlc", "z3", "tests", "coverage", "traces", "mutants")
FAILED = ("FAIL", "error")


class Row(Protocol):
    """The fields of meshcheck.verify.Row this module reads."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def result(self) -> str: ...
    @property
    def seconds(self) -> float: ...
    @property
    def detail(self) -> str: ...
    @property
    def violated(self) -> str: ...
    @property
    def source(self) -> str: ...


def nothing_checked(rows: Sequence[Row]) -> bool:
    """Whether a run checked nothing: no row, or every row a skip (a plug-in whose descriptor
    names none of the checks asked for). Nothing checked is not verified: verify exits 2 on it,
    as `meshcheck mutants` does on a catalogue of no mutants and `history check` on a history
    with nothing to check."""
    return all(r.result == "skip" for r in rows)


def passed_line(rows: Sequence[Row]) -> str:
    """How many of the run's checks passed: "12 of 12 checks passed". A skipped row is counted
    among the checks, never among those that passed ("2 of 6 checks passed, 4 skipped"), nor is a
    vacuous one, whose runs held having exercised (almost) nothing ("5 of 6 checks passed, 1
    vacuous": meshcheck/exercise.py), and a
    run of skips alone says it checked nothing ("0 of 1 check passed, 1 skipped: nothing
    checked")."""
    passed = sum(r.result == "pass" for r in rows)
    skipped = sum(r.result == "skip" for r in rows)
    empty = sum(r.result == VACUOUS for r in rows)
    line = f"{passed} of {words.count(len(rows), 'check')} passed"
    if empty:  # held, having exercised (almost) nothing: apart from the passes (exercise.py)
        line += f", {empty} {VACUOUS}"
    if skipped:
        line += f", {skipped} skipped"
    if nothing_checked(rows):
        line += ": nothing checked"
    return line


def nothing_checked_line(rows: Sequence[Row]) -> str:
    """The one line a run that checked nothing ends with (on stderr; exit 2)."""
    if not rows:
        return "meshcheck: nothing checked: no check ran"
    every = "its one row was" if len(rows) == 1 else f"all {len(rows)} rows were"
    return f"meshcheck: nothing checked: {every} skipped (a skip's line above says why)"


def what_failed(row: Row) -> str:
    """What a failed row violated, said first ("invariant ElectionSafety violated"), or ""."""
    if not row.violated:
        return ""
    return f"{row.violated} violated" if " " in row.violated else f"violated: {row.violated}"


def rest_of(row: Row) -> str:
    """A row's detail without what_failed at its start (said once, first, where both are shown)."""
    head = what_failed(row)
    if head and row.detail.startswith(head):
        return row.detail[len(head) :].lstrip(": ")
    return row.detail


@attrs.frozen
class Areas:
    """Where the summary puts each row, as data, so that this module names no protocol or system:
    `specs`, each registered spec's module name -> the protocol that registers it first
    (`spec_areas`); `systems`, a spec no protocol registers that a system's checks validate
    against -> the system (RaftEtcd -> etcd: meshcheck/verify_systems.py `areas`); `rows`, a row
    a protocol's descriptor or a system's file declares, by its name -> that protocol or system
    (a protocol's `log_checks`, a system's `[verify]` rows). meshcheck/verify.py `summary_areas`
    gathers them; a project of specs alone (`--root`) has none."""

    specs: Mapping[str, str] = attrs.field(factory=dict)
    systems: Mapping[str, str] = attrs.field(factory=dict)
    rows: Mapping[str, str] = attrs.field(factory=dict)


def spec_areas() -> dict[str, str]:
    """Each registered spec's module name -> the protocol that registers it first (Raft -> raft,
    FailureDetector -> gossip, RaftPipelined -> pysyncobj)."""
    from meshcheck import registry

    areas: dict[str, str] = {}
    for name, protocol in registry.protocols().items():
        for models in protocol.all_models():
            areas.setdefault(models.spec, name)
    return areas


def _spec_of(model: str, specs: Iterable[str]) -> str:
    """The spec a model's stem belongs to: the longest spec name it starts with, then `_` or end."""
    fits = [s for s in specs if model == s or model.startswith(s + "_")]
    return max(fits, key=len) if fits else model.split("_")[0]


def area(row: Row, areas: Areas) -> str:
    """The protocol or system a row checks (a spec's name for a project of specs alone, `--root`)."""
    name = row.name
    if row.kind == "tlc":
        spec = _spec_of(name, [*areas.specs, *areas.systems])
        return areas.specs.get(spec) or areas.systems.get(spec, spec)
    if row.kind in ("z3", "mutants"):
        return name
    if row.kind == "tests":  # "raft/test_lockstep::...": a plug-in's tests name no protocol
        return name.split("/", 1)[0] if "/" in name else "other"
    if row.kind == "coverage":  # "raft", "hotstuff client histories"
        return name.split(" ", 1)[0]
    # traces: the rows declared as data (a protocol's log checks, a system's `[verify]` rows),
    # traces/<protocol>/..., traces/counterexamples/<protocol>/..., histories, clusters
    if name in areas.rows:
        return areas.rows[name]
    parts = name.split("/")
    if name.startswith("traces/counterexamples/") and len(parts) > 3:
        return parts[2]
    if name.startswith("traces/") and len(parts) > 2:
        return parts[1]
    if name.startswith("history "):
        return "histories"
    if name.startswith("cluster of processes: "):  # meshcheck/verify_cluster.py's rows
        return name.split(": ", 1)[1].split(",", 1)[0]
    return "other"


def overview(rows: Sequence[Row], areas: Areas, only: str | None = None) -> str:
    """One line per protocol (`only`: the one protocol the run was restricted to, all rows its):
    passed/run for each kind of check, the failures, the vacuous rows (a column of its own when
    there are any: held, having exercised almost nothing, so neither passed nor failed), the
    seconds."""
    cells: dict[str, dict[str, list[int]]] = {}
    seconds: dict[str, float] = {}
    empty: dict[str, int] = {}
    for r in rows:
        if r.result == "skip":
            continue
        where = only or area(r, areas)
        count = cells.setdefault(where, {}).setdefault(r.kind, [0, 0])
        count[0] += r.result not in (*FAILED, VACUOUS)
        count[1] += 1
        empty[where] = empty.get(where, 0) + (r.result == VACUOUS)
        seconds[where] = seconds.get(where, 0.0) + r.seconds
    kinds = [k for k in KINDS if any(k in c for c in cells.values())]
    kinds += sorted({k for c in cells.values() for k in c} - set(kinds))
    apart = any(empty.values())
    body = []
    for where in sorted(cells):
        mine = cells[where]
        failed = sum(c[1] - c[0] for c in mine.values()) - empty[where]
        body.append(
            (
                where,
                *(f"{mine[k][0]}/{mine[k][1]}" if k in mine else "" for k in kinds),
                str(failed) if failed else "",
                *([str(empty[where]) if empty[where] else ""] if apart else []),
                table.seconds(seconds[where]),
            )
        )
    columns = ("protocol", *kinds, "failed", *([VACUOUS] if apart else []), "seconds")
    right = tuple(range(1, len(columns)))
    return table.format_table(columns, body, right=right)


def again(row: Row, profile: str, seed: int | None, areas: Areas) -> str:
    """The command that runs a row's check again, alone, as verify ran it: a property test with
    its Hypothesis profile, seed and fixed string hashes; a TLC model with `meshcheck check` on its
    .cfg (its directives: workers, deadlock), which says the same violation."""
    where = row.name
    if row.kind == "tests":
        from meshcheck.property_tests.record import pytest_command

        module, _, test = where.partition("::")
        # its file as verify found it (a plug-in's is outside property_tests/, often outside the
        # project: whole), else where meshcheck's own tests are
        file = row.source or f"property_tests/{module}.py"
        outside = not file.startswith("property_tests/")
        node = f"{file}::{test}" if test else file
        return pytest_command(node, _hypothesis(profile), seed, outside=outside)
    if row.kind == "z3":
        return f"meshcheck prove {shlex.quote(where)}"
    if row.kind == "mutants":
        return f"meshcheck mutants {shlex.quote(where)} --profile {profile}"
    if row.kind == "traces" and where.startswith("traces/"):
        return f"meshcheck trace replay {shlex.quote(where.split(' ', 1)[0])}"
    if row.kind == "tlc" and row.source:
        return f"meshcheck check {shlex.quote(row.source)}"
    if row.kind == "tlc":
        mine = area(row, areas)
        only = f" --protocol {mine}" if mine in areas.specs.values() else ""
        return f"meshcheck verify --only tlc{only} --profile {profile}  # its model {where}"
    return run_again(profile, [row.kind] if row.kind in ("traces", "tests") else None, None, seed)


def run_again(
    profile: str,
    only: Iterable[str] | None = None,
    chosen: Iterable[str] | None = None,
    seed: int | None = None,
) -> str:
    """The command that runs a verify run's checks again: its profile (the default is `fast`, so
    a run of another must say it), the kinds and protocols it was limited to, and its seed."""
    argv = ["meshcheck", "verify", "--profile", profile]
    for kind in only or ():
        argv += ["--only", kind]
    for name in chosen or ():
        argv += ["--protocol", name]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return shlex.join(argv)


def _hypothesis(profile: str) -> str:
    from meshcheck.property_tests.profiles import HYPOTHESIS

    return HYPOTHESIS.get(profile, profile)


def failures(
    rows: Sequence[Row],
    profile: str,
    seed: int | None,
    areas: Areas,
    results: tuple[str, ...] = (*FAILED, VACUOUS),
) -> list[str]:
    """Each failed row in full, then each vacuous one (`results`: the results shown): what, why
    (wrapped, not cut), and how to run it again."""
    out: list[str] = []
    for r in sorted(rows, key=lambda r: r.result == VACUOUS):
        if r.result not in results:
            continue
        head = what_failed(r)
        out.append(
            f"{r.result} {head}, in {r.kind} {r.name}" if head else f"{r.result} {r.kind} {r.name}"
        )
        for line in (rest_of(r) or ("" if head else r.result)).splitlines():
            out += textwrap.wrap(line, WIDE - 4, initial_indent="    ", subsequent_indent="    ")
        out.append(f"  again: {again(r, profile, seed, areas)}")
    return out


def clip(line: str, width: int = WIDE, keep: int = 0) -> str:
    """A progress line no wider than `width`: the end of a long one is left to the reports; its
    first `keep` characters (what failed) are never cut."""
    return line if len(line) <= width else line[: max(width - 3, keep)] + "..."

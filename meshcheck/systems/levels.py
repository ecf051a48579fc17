"""A database's isolation levels judged as a published table says they behave: the control that
keeps the transactional checkers honest (docs/sql.md, "PostgreSQL as the control"). A levels file
(meshcheck/systems/levels/NAME.toml) names, for each level the system file's client can be set
to, the anomalies Hermitage's table says it prevents and allows (github.com/ept/hermitage,
README: G0, G1a, G1b, G1c, OTV, PMP, P4, G-single, G2-item, G2) and the lattice's model it is
(traces/history/consistency.py). Random list-append and rw-register runs at each level
(levels_run.py) are checked for every anomaly the searches of serializability find, and each
anomaly found is put in Hermitage's column it is a case of (`COLUMNS`):

- a column the level prevents, or an anomaly the level's model rules out (internal, G1a ...):
  forbidden, and a run that shows one breaks the control;
- a column the level allows: counted, "seen in N of M runs"; one never seen is said, not passed
  over (the runs did not show what the level lets through);
- Hermitage's columns the workloads cannot show, each with why (`UNSEEN`): no predicate reads
  (PMP, G2), and what meshcheck names by its cycle instead (OTV, P4: G-single).

Where the names differ: Hermitage's G2-item is meshcheck's G2 on keys and G-nonadjacent (every rw
edge here is on a key, consistency.py `ELLE`); its G2 is of predicate reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.traces.history import consistency
from meshcheck.words import count

HERE = Path(__file__).with_name("levels")
# Hermitage's columns, in its table's order
HERMITAGE = ("G0", "G1a", "G1b", "G1c", "OTV", "PMP", "P4", "G-single", "G2-item", "G2")
# Hermitage's column -> the anomalies (meshcheck's names, real time aside) that are cases of it
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "G0": ("G0",),
    "G1a": ("G1a",),
    "G1b": ("G1b",),
    "G1c": ("G1c",),
    "G-single": ("G-single",),
    "G2-item": ("G2", "G-nonadjacent"),
}
# Hermitage's columns no anomaly is put in, and why
UNSEEN: Mapping[str, str] = {
    "OTV": "not told apart: a read of a transaction another overwrote shows as a G-single",
    "PMP": "predicate reads: the workloads read keys, never a predicate",
    "P4": "not told apart: two transactions that read a key and both wrote it make a G-single",
    "G2": "predicate reads: none here (meshcheck's G2 is on keys: Hermitage's G2-item)",
}
LEGEND = (
    "each cell: Hermitage's mark (✓ the level prevents it, — it does not), then the runs that "
    "showed it of those judged (n/a: these workloads cannot show it)"
)
WORKLOADS = ("list-append", "rw-register")
SEARCHED = "serializable"  # a history is searched as for serializability: every cycle, no rt edge


@attrs.frozen
class Level:
    name: str  # the system's own name of it, as the setting takes it
    called: str  # what Hermitage calls it
    model: str  # the lattice's model (consistency.py)
    prevents: tuple[str, ...]
    allows: tuple[str, ...]

    def column(self, anomaly: str) -> str | None:
        """Hermitage's column the anomaly is a case of, or None."""
        return next((c for c, names in COLUMNS.items() if anomaly in names), None)

    def forbidden(self, anomaly: str) -> bool:
        """Whether the level rules the anomaly out: its column prevented, or its model (for an
        anomaly Hermitage has no column for) ruling it out."""
        column = self.column(anomaly)
        if column is not None and column in self.prevents:
            return True
        return consistency.prohibits(self.model, anomaly)


@attrs.frozen
class Levels:
    path: Path
    system: str
    setting: str
    source: str
    levels: tuple[Level, ...]

    def named(self, names: Iterable[str]) -> tuple[Level, ...]:
        by = {lv.name: lv for lv in self.levels}
        for n in names:
            if n not in by:
                raise ConfigError(f"--level {n}: {self.path.name} has {', '.join(by)}")
        wanted = set(names)
        return tuple(lv for lv in self.levels if lv.name in wanted)


def find(system: str) -> Path:
    """The levels file shipped for `system` (levels/NAME.toml); one line when none is."""
    path = HERE / f"{system}.toml"
    if not path.exists():
        have = ", ".join(sorted(p.stem for p in HERE.glob("*.toml")))
        raise ConfigError(f"--system {system}: no levels file (meshcheck ships: {have})")
    return path


def _strings(where: str, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}{key}: expected a list of strings")
    return tuple(value)


def _string(where: str, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}{key}: expected a string")
    return value


def _unknown(where: str, data: Mapping[str, Any], known: Sequence[str]) -> None:
    extra = sorted(set(data) - set(known))
    if extra:
        raise ConfigError(f"{where}{extra[0]}: unknown key")


def load(path: Path) -> Levels:
    """The levels file at `path`, checked: each level's columns Hermitage's, each once, and its
    model one the checkers search every anomaly of (ConfigError, one line, otherwise)."""
    from meshcheck.systems.system_file import read_toml

    data = read_toml(path, "levels file")
    top = f"{path}: "
    _unknown(top, data, ("system", "setting", "source", "levels"))
    table = data.get("levels")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{top}levels: expected a table of levels")
    out = []
    for name, level in table.items():
        where = f"{top}levels.{name}."
        if not isinstance(level, dict):
            raise ConfigError(f"{where[:-1]}: expected a table")
        _unknown(where, level, ("called", "model", "prevents", "allows"))
        model = consistency.canonical(_string(where, level, "model"))
        if model is None or model not in consistency.CHECKED:
            raise ConfigError(
                f"{where}model: {level['model']!r} is none of {', '.join(consistency.CHECKED)}"
            )
        prevents, allows = _strings(where, level, "prevents"), _strings(where, level, "allows")
        for c in (*prevents, *allows):
            if c not in HERMITAGE:
                raise ConfigError(f"{where}: {c!r} is none of Hermitage's {', '.join(HERMITAGE)}")
        if sorted((*prevents, *allows)) != sorted(HERMITAGE):
            raise ConfigError(f"{where}: prevents and allows name each of Hermitage's columns once")
        out.append(Level(name, _string(where, level, "called"), model, prevents, allows))
    return Levels(
        path,
        _string(top, data, "system"),
        _string(top, data, "setting"),
        _string(top, data, "source"),
        tuple(out),
    )


@attrs.frozen
class Run:
    """One run at a level: the anomalies found (kind -> how many), or why it was not judged."""

    level: str
    workload: str
    folder: Path
    found: Mapping[str, int]
    judged: bool = True
    why: str = ""  # when not judged
    code: int = 0  # its `cluster test`'s exit status (1: a check of its own failed or undecided)


def anomalies(workload: str, history: Path) -> dict[str, int]:
    """The anomalies of the history, as the searches for serializability find them (no rt edge,
    no process order): kind -> how many."""
    if workload == "list-append":
        from meshcheck.traces.history import list_append

        _, appends = list_append.read(str(history))
        found = list_append.check(appends, SEARCHED).anomalies
    else:
        from meshcheck.traces.history import rw_register

        _, registers = rw_register.read(str(history))
        found = rw_register.check(registers, SEARCHED).anomalies
    return {kind: len(each) for kind, each in found.items()}


@attrs.frozen
class Judged:
    """A level over its runs."""

    level: Level
    runs: tuple[Run, ...]

    @property
    def judged(self) -> tuple[Run, ...]:
        return tuple(r for r in self.runs if r.judged)

    def seen(self, column: str, workload: str = "") -> int:
        """In how many judged runs (of `workload`, or all) an anomaly of Hermitage's column was
        found."""
        names = COLUMNS.get(column, ())
        runs = [r for r in self.judged if workload in ("", r.workload)]
        return sum(1 for r in runs if any(r.found.get(a) for a in names))

    def by_workload(self, column: str) -> str:
        """`seen` of each workload: "list-append 3/3, rw-register 0/3"."""
        workloads = dict.fromkeys(r.workload for r in self.judged)
        return ", ".join(
            f"{w} {self.seen(column, w)}/{sum(1 for r in self.judged if r.workload == w)}"
            for w in workloads
        )

    def forbidden(self) -> list[tuple[Run, str]]:
        """Each forbidden anomaly found, with its run."""
        return [(r, a) for r in self.judged for a in r.found if self.level.forbidden(a)]

    def others(self) -> dict[str, int]:
        """Anomalies in no Hermitage column that the level's model allows: kind -> runs."""
        out: dict[str, int] = {}
        for r in self.judged:
            for a in r.found:
                if self.level.column(a) is None and not self.level.forbidden(a):
                    out[a] = out.get(a, 0) + 1
        return out

    def never_seen(self) -> list[str]:
        """The allowed columns the workloads can show that no run showed."""
        return [c for c in self.level.allows if c in COLUMNS and not self.seen(c)]

    def cell(self, column: str) -> str:
        """The table's cell: Hermitage's mark (✓ prevents, — allows), then in how many runs the
        column was seen, or n/a: the workloads cannot show it."""
        mark = "✓" if column in self.level.prevents else "—"
        if column not in COLUMNS:
            return f"{mark} n/a"
        return f"{mark} {self.seen(column)}/{len(self.judged)}"

    def lines(self) -> list[str]:
        """The level's verdict: the forbidden anomalies found, or none; each allowed one seen in
        how many runs, and those never seen."""
        lv, m = self.level, len(self.judged)
        head = f"{lv.name} ({lv.called}; promised {lv.model})"
        bad = self.forbidden()
        if not m:
            out = [f"{head}: NOT JUDGED: no run was judged"]
        elif bad:
            said = ", ".join(sorted({f"{a} ({r.workload}, {r.folder.name})" for r, a in bad}))
            out = [f"{head}: FORBIDDEN ANOMALY FOUND in {count(m, 'run')}: {said}"]
        else:
            out = [f"{head}: none of the anomalies it prevents found, in {count(m, 'run')}"]
        for c in lv.allows if m else ():
            if c in COLUMNS:
                out.append(
                    f"  {c} allowed, seen in {self.seen(c)} of {count(m, 'run')} ({self.by_workload(c)})"
                )
        for a, n in sorted(self.others().items()):
            out.append(
                f"  {a} allowed by {lv.model} (no column of Hermitage's), seen in {n} of {count(m, 'run')}"
            )
        never = self.never_seen()
        if never and m:
            out.append(
                f"  not shown: {', '.join(never)} allowed, never seen: the runs did not show it"
            )
        own = [r for r in self.judged if r.code]
        if own:
            out.append(
                f"  cluster test's own checks failed or were undecided in {len(own)} of {count(m, 'run')} "
                f"(each run's test.txt says which): {', '.join(f'{r.workload} {r.folder.name}' for r in own)}"
            )
        for r in self.runs:
            if not r.judged:
                out.append(f"  not judged: {r.workload} {r.folder.name}: {r.why}")
        return out

    @property
    def holds(self) -> bool:
        return bool(self.judged) and not self.forbidden()

    @property
    def shown(self) -> bool:
        """Whether every allowed anomaly the workloads can show was seen."""
        return not self.never_seen()


def table(judged: Sequence[Judged]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The level x anomaly table: each cell Hermitage's mark and what the runs showed."""
    header = ("level", *HERMITAGE)  # LEGEND says what a cell holds
    rows = [(j.level.name, *(j.cell(c) for c in HERMITAGE)) for j in judged]
    return header, rows

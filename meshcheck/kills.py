"""The kill record: which catalogue mutants each property check has killed, kept across runs.

`meshcheck mutants` (first killer per mutant, or with `--all` every check on every mutant) and
the `mutants` rows of `meshcheck verify` know which check killed which mutant; this keeps it, per
protocol and check, with the Hypothesis runs the check is made of (property_tests/saturation.py's
`identity` of each test function it ran, as `...free_run_safety.<locals>.free_run_is_safe(nodes=3)`).
Kills are only ever added (a union over runs: what a check has ever caught), in
reports/kills.json of the folder the command runs in (`PATH`), the same folder as verify's other
reports.

`meshcheck verify` shows the record beside each row's cost: a `mutants` row lists the mutants it
killed; a property-test row, the mutants killed by the checks whose Hypothesis runs it ran too
(pytest reports a test's runs: property_tests/conftest.py), so a new test of an existing check is
matched with no list to keep. A check with no Hypothesis run (a stored corpus replayed) matches no
test row: its kills show in its protocol's `mutants` row and the trace rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.errors import MeshcheckError

VERSION = 1
PATH = Path("reports") / "kills.json"


@attrs.frozen
class Killer:
    """One check of one protocol: the Hypothesis runs it is made of and the mutants it killed."""

    runs: frozenset[str] = frozenset()
    killed: frozenset[str] = frozenset()

    def merged(self, other: Killer) -> Killer:
        return Killer(self.runs | other.runs, self.killed | other.killed)


Record = dict[str, dict[str, Killer]]  # protocol -> check name -> what it is made of and killed


def of_outcomes(protocol: str, outcomes: Sequence[Any]) -> Record:
    """The record of one `meshcheck mutants` run (mutants_cmd.Outcome's): every check tried, with
    its runs, and the mutants it killed (TLC on the spec mutant is not the implementation's
    check, and is left out)."""
    checks: dict[str, Killer] = {}
    for outcome in outcomes:
        for attempt in outcome.attempts:
            if attempt.spec:
                continue
            killed = frozenset({outcome.mutant}) if attempt.killed else frozenset()
            found = Killer(frozenset(attempt.runs), killed)
            checks[attempt.check] = checks.get(attempt.check, Killer()).merged(found)
    return {protocol: checks}


def merge(records: Iterable[Record]) -> Record:
    total: Record = {}
    for record in records:
        for protocol, checks in record.items():
            mine = total.setdefault(protocol, {})
            for check, killer in checks.items():
                mine[check] = mine.get(check, Killer()).merged(killer)
    return total


def load(path: Path) -> Record:
    """The record in `path` (empty when there is none); MeshcheckError (exit 2) when it is not one."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, not {VERSION}")
        return {
            str(protocol): {
                str(check): Killer(frozenset(map(str, k["runs"])), frozenset(map(str, k["killed"])))
                for check, k in checks.items()
            }
            for protocol, checks in data["protocols"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MeshcheckError(f"{path}: not a kill record: {exc}") from exc


def save(record: Record, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        protocol: {
            check: {"runs": sorted(k.runs), "killed": sorted(k.killed)}
            for check, k in sorted(checks.items())
        }
        for protocol, checks in sorted(record.items())
    }
    path.write_text(json.dumps({"version": VERSION, "protocols": body}, indent=1) + "\n")
    return path


def add(record: Record, path: Path = PATH) -> Record:
    """`record` merged into the one kept in `path`, saved; the merged record."""
    merged = merge([load(path), record])
    save(merged, path)
    return merged


def killed_by_runs(record: Record, runs: Iterable[str]) -> tuple[str, ...]:
    """The mutants killed by any check that ran one of `runs` (Hypothesis test functions, by
    identity), as `protocol:mutant`, sorted."""
    wanted = set(runs)
    if not wanted:
        return ()
    return tuple(
        sorted(
            {
                f"{protocol}:{mutant}"
                for protocol, checks in record.items()
                for killer in checks.values()
                if killer.runs & wanted
                for mutant in killer.killed
            }
        )
    )


def killed_in(record: Mapping[str, Mapping[str, Killer]], protocol: str) -> tuple[str, ...]:
    """Every mutant of `protocol` some check killed, as `protocol:mutant`, sorted."""
    return tuple(
        sorted({f"{protocol}:{m}" for k in record.get(protocol, {}).values() for m in k.killed})
    )

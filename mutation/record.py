"""The campaign's verdicts kept in the repository, so that a campaign longer than any one run can be
finished across runs, sessions and machines.

mutmut keeps its verdicts in mutants/ (one `.py.meta` JSON file per mutated source file), which is
rebuilt from nothing on a fresh clone: a full campaign over the protocol cores is about 20 hours of
one worker, so without a record in the repository it could never end. mutation/results/ keeps,
per core file (`mutation/results/raft/node.json` for impl/raft/node.py), each mutant's exit code and
wall seconds under the hash of its function that mutmut computes (SHA-256 of the function's syntax
tree: comments and layout do not change it). `seed` writes them back into freshly generated meta
files before a run, for the functions whose hash is still the same, so that a run tests only the
mutants never tested or of functions that changed since; `save` writes the record from the meta
files after a run. StrykerJS's incremental mode keeps its results the same way
(https://stryker-mutator.io/docs/stryker-js/incremental/).

What the record does not see: a change of a test. A verdict stays until its function changes, as in
mutmut's own cache; after tests are added, `mutation/run.py run --rerun gaps` tests the survivors
again, and `--rerun all` everything. Mutants set aside as equivalent (mutmut's "skipped", 34) are
not recorded: mutation/run.py classifies them again on every run.

This module reads and writes mutmut's meta files as JSON and does not import mutmut, so that
`make test` (which does not install the `mutation` extra) tests it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "mutation" / "results"
MUTMUT = "3.8.1"  # the version whose mutant numbering the record's numbers are (pyproject.toml)
SKIPPED = 34  # mutmut's "skipped": set aside as equivalent, classified again on every run
FORMAT = 1


def split_name(mutant: str) -> tuple[str, str, str]:
    """A mutant's module, function key and number: meshcheck.impl.raft.log.xǁRaftLogǁterm_at__mutmut_3
    -> ("meshcheck.impl.raft.log", "xǁRaftLogǁterm_at", "3")."""
    head, _, number = mutant.rpartition("__mutmut_")
    module, _, function = head.rpartition(".")
    if not head or not number.isdigit() or not module or not function:
        raise ValueError(f"not a mutmut mutant name: {mutant!r}")
    return module, function, number


def record_path(source: Path, results: Path = RESULTS) -> Path:
    """The record of a core file, from its path under mutants/ (meshcheck/impl/raft/node.py)."""
    parts = source.parts
    if len(parts) < 4 or parts[:2] != ("meshcheck", "impl") or source.suffix != ".py":
        raise ValueError(f"not a core file under mutants/: {source}")
    return results.joinpath(*parts[2:]).with_suffix(".json")


def meta_files(mutants: Path) -> Iterator[tuple[Path, Path]]:
    """(meta file, source path under mutants/) of every mutated core file."""
    base = mutants / "meshcheck" / "impl"
    for meta in sorted(base.rglob("*.py.meta")):
        yield meta, meta.relative_to(mutants).with_suffix("")


def _load(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _load_times(mutants: Path) -> dict[str, float]:
    found = _load(mutants / "seconds.json") or {}
    return {str(k): float(v) for k, v in found.items() if isinstance(v, int | float)}


def seed(mutants: Path, results: Path = RESULTS) -> int:
    """Write the recorded verdicts into the meta files under `mutants` for every mutant not yet
    tested whose function has the recorded hash; also their times into mutants/seconds.json.
    Returns the number of verdicts taken from the record."""
    times = _load_times(mutants)
    taken = 0
    for meta, source in meta_files(mutants):
        record = _load(record_path(source, results))
        data = _load(meta)
        if record is None or data is None or record.get("mutmut") != MUTMUT:
            continue
        hashes: dict[str, str] = data.get("hash_by_function_name", {})
        codes: dict[str, int | None] = data.get("exit_code_by_key", {})
        functions: dict[str, Any] = record.get("functions", {})
        changed = False
        for name, code in codes.items():
            if code is not None:
                continue
            _, function, number = split_name(name)
            kept = functions.get(function)
            if kept is None or kept.get("hash") != hashes.get(function):
                continue
            verdict = kept.get("mutants", {}).get(number)
            if verdict is None:
                continue
            codes[name] = int(verdict[0])
            if verdict[1] is not None:
                times[name] = float(verdict[1])
            taken += 1
            changed = True
        if changed:
            meta.write_text(json.dumps(data, indent=4))
    if taken:
        (mutants / "seconds.json").write_text(json.dumps(times, indent=0, sort_keys=True))
    return taken


def save(mutants: Path, results: Path = RESULTS) -> int:
    """Write the record of every core file under `mutants` that has a verdict, from its meta file:
    the record of a file is replaced, so a function's stale verdicts go with it. Returns the number
    of verdicts recorded."""
    times = _load_times(mutants)
    written = 0
    for meta, source in meta_files(mutants):
        data = _load(meta)
        if data is None:
            continue
        hashes: dict[str, str] = data.get("hash_by_function_name", {})
        functions: dict[str, dict[str, Any]] = {}
        for name, code in sorted(data.get("exit_code_by_key", {}).items()):
            if code is None or code == SKIPPED:
                continue
            _, function, number = split_name(name)
            if function not in hashes:
                continue
            kept = functions.setdefault(function, {"hash": hashes[function], "mutants": {}})
            kept["mutants"][number] = [code, times.get(name)]
        path = record_path(source, results)
        if not functions:
            continue
        for kept in functions.values():
            kept["mutants"] = dict(sorted(kept["mutants"].items(), key=lambda kv: int(kv[0])))
        body = {
            "format": FORMAT,
            "file": str(Path("impl", *source.parts[2:])),
            "mutmut": MUTMUT,
            "functions": dict(sorted(functions.items())),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(body))
        written += sum(len(f["mutants"]) for f in functions.values())
    return written


def _dump(body: dict[str, Any]) -> str:
    """One line per function, so that a record's diff shows which functions were tested again."""
    head = {k: v for k, v in body.items() if k != "functions"}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "functions": {']
    items = list(body["functions"].items())
    for i, (function, kept) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"  {json.dumps(function, ensure_ascii=False)}: {json.dumps(kept)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"

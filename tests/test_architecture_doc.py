"""docs/architecture.md's table "The house" against the code: every package of meshcheck and every
top-level folder has a row, and no package imports a room its row does not list (the imports as
import-linter's graph, grimp, sees them, annotations under TYPE_CHECKING left out as the contracts
leave them out)."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
COMMANDS = "the commands"
CORES = ("impl.raft", "impl.pbft", "impl.hotstuff", "impl.gossip", "impl.hybrid")
OUTSIDE = ("impl", "meshcheck")  # installed as rooms of their own, or the package itself


def room(module: str) -> str:
    """The room a module is in: `impl.<package>`, a package of meshcheck, or the commands."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "impl":
        return f"impl.{parts[2]}"
    if len(parts) > 2 or (len(parts) == 2 and (ROOT / "meshcheck" / parts[1]).is_dir()):
        return parts[1]
    return COMMANDS


def imports() -> dict[str, set[str]]:
    graph = grimp.build_graph("meshcheck", exclude_type_checking_imports=True)
    found: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if room(module) != room(imported):
                found[room(module)].add(room(imported))
    return found


def table() -> dict[str, str]:
    """Each row's room cell, split where a cell names several, to its last cell."""
    text = PAGE.read_text()
    section = text.split("## The house", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("room", "---"):
            continue
        for name in re.findall(r"`([^`]+)`", cells[0]) or [cells[0]]:
            rows[name] = cells[2]
    return rows


def allowed(cell: str, every: set[str]) -> set[str]:
    if cell == "nothing" or cell.startswith("("):
        return set()
    if cell == "every room":
        return set(every)
    out: set[str] = set()
    for part in (p.strip() for p in cell.split(",")):
        if part == COMMANDS:
            out.add(COMMANDS)
        elif part == "every core":
            out.update(CORES)
        elif part == "every core but the hybrid's":
            out.update(c for c in CORES if c != "impl.hybrid")
        elif part == "every impl room":
            out.update(r for r in every if r.startswith("impl."))
        else:
            out.add(part.rstrip("/").replace("/", "."))
    return out


def key(name: str) -> str:
    """A row's room cell as `room` names it: `impl/raft` -> impl.raft, `meshcheck/*.py` -> the
    commands; a top-level folder keeps its slash."""
    if name.startswith("meshcheck/"):
        return COMMANDS
    if name.endswith("/"):
        return name
    return name.replace("/", ".")


def test_every_room_has_a_row_and_imports_only_what_it_lists() -> None:
    rows = {key(name): cell for name, cell in table().items()}
    found = imports()
    every = set(found) | {r for targets in found.values() for r in targets}
    assert every - set(rows) == set(), "rooms with no row in docs/architecture.md"
    wrong = {
        r: sorted(found[r] - allowed(rows[r], every))
        for r in sorted(found)
        if found[r] - allowed(rows[r], every)
    }
    assert wrong == {}, f"imports docs/architecture.md's table does not list: {wrong}"


def test_every_top_level_folder_has_a_row() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = {p.split("/", 1)[0] for p in tracked if "/" in p and not p.startswith(".")}
    rows = {key(name) for name in table()}
    installed = {f for f in folders if f in rows or any(r.startswith(f"{f}.") for r in rows)}
    missing = sorted(f for f in folders - installed - set(OUTSIDE) if f"{f}/" not in rows)
    assert missing == [], f"top-level folders with no row in docs/architecture.md: {missing}"


def test_a_room_importing_what_its_row_omits_fails() -> None:
    """The check can fail: without impl/sim in the cores' row, their simulator plug-ins break it."""
    rows = {key(name): cell for name, cell in table().items()}
    found = imports()
    every = set(found) | {r for targets in found.values() for r in targets}
    narrowed = allowed(rows["impl.raft"], every) - {"impl.sim"}
    assert found["impl.raft"] - narrowed == {"impl.sim"}

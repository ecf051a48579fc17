"""The stored client histories (traces/histories/index.toml) and the verdict each must get.

Each entry names a history file (JSON lines or Jepsen's history.edn), the model it is checked
against and the verdict expected. `make verify` checks each as a row; tests/test_history_corpus.py
does in `make test`. A malformed index is a `MeshcheckError` naming the entry and the field.
"""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import checker
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.models import MODELS

INDEX = "index.toml"
EXPECTS = ("linearizable", "not linearizable")
BUDGET = 30.0  # seconds per history


@attrs.frozen
class Stored:
    path: Path
    model: str
    expect: str
    why: str

    @property
    def name(self) -> str:
        return f"history {self.path.name} ({self.model})"


@attrs.frozen
class Outcome:
    ok: bool
    verdict: str
    ops: int
    seconds: float


def folder(root: Path) -> Path:
    return root / "traces" / "histories"


def entries(where: Path) -> list[Stored]:
    """The entries of `where`/index.toml; none when the folder has no index."""
    index = where / INDEX
    if not index.exists():
        return []
    try:
        doc = tomllib.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MeshcheckError(f"{index}: cannot read: {exc}") from None
    out = []
    for n, item in enumerate(doc.get("history", []), 1):
        where_ = f"{index}: entry {n}"
        for field in ("file", "model", "expect"):
            if not isinstance(item.get(field), str):
                raise MeshcheckError(f"{where_}: field {field!r} is missing or not a string")
        if item["model"] not in MODELS:
            raise MeshcheckError(
                f"{where_}: model {item['model']!r} is not one of {', '.join(sorted(MODELS))}"
            )
        if item["expect"] not in EXPECTS:
            raise MeshcheckError(f"{where_}: expect must be one of {', '.join(EXPECTS)}")
        path = where / item["file"]
        if not path.is_file():
            raise MeshcheckError(f"{where_}: no file {path}")
        out.append(Stored(path, item["model"], item["expect"], str(item.get("why", ""))))
    return out


def check(entry: Stored, budget: float = BUDGET) -> Outcome:
    """Check one stored history; it holds when the verdict is the one expected."""
    model = MODELS[entry.model]
    start = time.perf_counter()
    history = jepsen.read(entry.path, model)
    result = checker.check(history, model, budget)
    seconds = time.perf_counter() - start
    return Outcome(result.verdict == entry.expect, result.verdict, len(history), seconds)

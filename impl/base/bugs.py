"""A catalogue of switchable bugs (impl/<core>/mutants.py, models/threat/bugs.py): each bug declared
once, its name and what it does together, by `Bugs.declare`, which gives back the name for the
constant the core tests it by (`if RULE in self.bugs:`).

The catalogue is a read-only mapping, name -> description, in the order of declaration: what the
configurations check a switch against, `meshcheck mutants` lists and the kill matrices run.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping


class Bugs(Mapping[str, str]):
    """One core's switchable bugs, name -> what switching it on does, in the order declared."""

    def __init__(self) -> None:
        self._described: dict[str, str] = {}

    def declare(self, name: str, description: str) -> str:
        """Add the bug `name` with its description; give back `name` (for its constant)."""
        if name in self._described:
            raise ValueError(f"the bug {name!r} is declared twice")
        self._described[name] = description
        return name

    def __getitem__(self, name: str) -> str:
        return self._described[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._described)

    def __len__(self) -> int:
        return len(self._described)

    def __repr__(self) -> str:
        return f"Bugs({', '.join(self._described)})"

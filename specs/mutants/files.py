"""What every spec mutant module's `mutate` writes: the spec with the mutant's textual changes, and a
TLC model file (Mutant.cfg) of constants and the property that must fail."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path


def write_spec(folder: Path, source: Path, mutant: str, changes: Iterable[tuple[str, str]]) -> None:
    """`source` with each (old, new) of `changes` made, into `folder` under its own name; an `old`
    that the spec no longer reads exactly once is an error naming the mutant."""
    text = source.read_text()
    for old, new in changes:
        if text.count(old) != 1:
            raise ValueError(f"{mutant}: {source.name} no longer reads {old!r} (once)")
        text = text.replace(old, new)
    (folder / source.name).write_text(text)


def constants(values: Mapping[str, object]) -> list[str]:
    """The CONSTANTS section of a .cfg, one `name = value` line each (a TLA+ value as written)."""
    return ["CONSTANTS"] + [f"    {k} = {v}" for k, v in values.items()]


def what_fails(catches: str, *, liveness: bool, action: bool) -> list[str]:
    """The specification and what must fail in it: a temporal property under LiveSpec, an action
    property or an invariant under Spec (with TypeOK)."""
    if liveness:
        return ["SPECIFICATION LiveSpec", f"PROPERTY {catches}"]
    if action:
        return ["SPECIFICATION Spec", "INVARIANTS TypeOK", f"PROPERTY {catches}"]
    return ["SPECIFICATION Spec", f"INVARIANTS TypeOK {catches}"]


class Fails:
    """What a mutant's run must show failing, for the spec mutant classes (each an attrs class
    with these two fields): `liveness`, a temporal property; `action`, an action property
    ([][A]_vars); neither, an invariant."""

    liveness: bool
    action: bool

    @property
    def kind(self) -> str:
        """What TLC reports failing: a property (temporal or action) or an invariant (the kill
        matrix's TLC column, specs/mutants/__init__.py `run_tlc`, compares it)."""
        return "property" if self.liveness or self.action else "invariant"


def write_cfg(folder: Path, lines: Iterable[str]) -> Path:
    """Mutant.cfg in `folder`, of `lines`."""
    cfg = folder / "Mutant.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg

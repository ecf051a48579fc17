"""docs/hybrid.md's threat-level diagram is the one meshcheck.diagram draws from impl/hybrid/levels.py."""

from __future__ import annotations

from pathlib import Path

from meshcheck import diagram
from meshcheck.impl.hybrid.levels import Level
from meshcheck.impl.hybrid.levels import Thresholds

PAGE = Path(__file__).resolve().parent.parent / "docs" / "hybrid.md"


def test_the_page_holds_the_generated_diagram() -> None:
    text = PAGE.read_text(encoding="utf-8")
    start, end = text.index(diagram.BEGIN), text.index(diagram.END) + len(diagram.END)
    assert text[start:end] == diagram.block(), (
        "docs/hybrid.md's diagram is stale: python -m meshcheck.diagram"
    )


def test_the_edges_are_the_rule() -> None:
    edges = diagram.edges(Thresholds.for_f(1))
    # down: one level at a time, from every level but None, and only on the quiet cause
    downs = {(a, b): labels for (a, b), labels in edges.items() if b < a}
    assert set(downs) == {(Level(i), Level(i - 1)) for i in range(1, 5)}
    assert all(labels == ["quiet period and dwell, no evidence"] for labels in downs.values())
    # Critical is entered only on equivocation
    assert {labels[0] for (a, b), labels in edges.items() if b is Level.CRITICAL} == {
        "equivocation"
    }
    # every level below Critical escalates somewhere; nothing leaves Critical upwards
    assert {a for (a, b) in edges if b > a} == set(Level) - {Level.CRITICAL}


def test_the_diagram_groups_levels_by_protocol() -> None:
    text = diagram.mermaid()
    raft = text[text.index("state RAFT {") : text.index("}")]
    assert all(name in raft for name in ("None", "Low", "Medium"))
    assert "High" not in raft and "Critical" not in raft

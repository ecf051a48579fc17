"""PBFT's rare conditions (meshcheck/coverage.py): two read off PBFT.tla's variables (the same
function for a lockstep step and a free run's step), two reported by the replica (probes,
impl/base/probes.py), where the abstract state cannot see them.

- reproposed_after_view_change: a pre-prepare in view v > 0 (a NEW-VIEW's O, or a new primary's
  own) for a request that a pre-prepare, prepare or commit of an earlier view already carried
  (section 4.4: the request must not run twice);
- view_change_with_prepared: a VIEW-CHANGE carries a non-empty set of prepared certificates P;
- checkpoint_at_window_edge (probe): a replica takes a checkpoint at its high watermark h + L: its
  window is full until a checkpoint becomes stable (section 4.3);
- retry_of_executed (probe): a request arrives again at a replica that already executed it (a
  client's retry): the replica re-sends its reply and must not execute it again (section 4.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.coverage import CoverageSpec
from meshcheck.coverage import Rare

NOOP = "noop"
PHASES = ("PrePrepare", "Prepare", "Commit")

CONDITIONS = (
    Rare("reproposed_after_view_change", "a request pre-prepared again in a later view"),
    Rare("view_change_with_prepared", "a VIEW-CHANGE carries prepared certificates"),
    Rare("checkpoint_at_window_edge", "a checkpoint at the high watermark h + L", "probe"),
    Rare("retry_of_executed", "a client's request arrives again after it was executed", "probe"),
)


def detect(
    before: Mapping[str, Any], action: str, params: Mapping[str, Any], after: Mapping[str, Any]
) -> Iterable[str]:
    old, new = before["msgs"], after["msgs"]
    if len(new) == len(old):
        return ()
    added = new - old
    found = []
    for m in added:
        if m["type"] == "ViewChange" and m["prepared"]:
            found.append("view_change_with_prepared")
        elif m["type"] == "PrePrepare" and m["view"] > 0 and m["req"] != NOOP:
            earlier = (x for x in old if x["type"] in PHASES and x["view"] < m["view"])
            if any(x["req"] == m["req"] for x in earlier):
                found.append("reproposed_after_view_change")
    return found


def score(state: Mapping[str, Any]) -> float:
    """Views reached and prepared certificates carried: the view-change paths are the rare ones."""
    views = len(set(state["view"].values())) + max(state["view"].values())
    carried = sum(1 for m in state["msgs"] if m["type"] == "ViewChange" and m["prepared"])
    return float(views + carried)


COVERAGE = CoverageSpec(CONDITIONS, detect, score)  # score: not yet used to steer PBFT

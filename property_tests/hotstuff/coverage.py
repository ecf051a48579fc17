"""HotStuff's rare conditions (meshcheck/coverage.py), reported by the replica where they happen
(probes, impl/base/probes.py), and one read off the spec's variables:

- vote_by_liveness_clause (probe): a replica votes for a block that does not extend its lock, let
  by safeNode's liveness clause (its justify is newer than the lock): the path the mutant
  safe_node_without_liveness_clause closes;
- second_block_of_view_refused (probe): a proposal of the view the replica last voted in, for
  another block (an equivocating leader's second block), refused;
- blocks_fetched (probe): a replica that missed proposals fetched a chain of ancestors;
- new_view_on_higher_qc: a new leader's NewView raised its highQC (a NEW-VIEW carried a QC above
  its own: the rule propose_from_lower_qc breaks).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from meshcheck.coverage import CoverageSpec
from meshcheck.coverage import Rare

CONDITIONS = (
    Rare("vote_by_liveness_clause", "a vote let by safeNode's liveness clause alone", "probe"),
    Rare("second_block_of_view_refused", "an equivocating leader's second block refused", "probe"),
    Rare("blocks_fetched", "a replica fetched the ancestors it missed", "probe"),
    Rare("new_view_on_higher_qc", "a new leader adopts a higher QC from its NEW-VIEWs"),
)


def detect(
    before: Mapping[str, Any], action: str, params: Mapping[str, Any], after: Mapping[str, Any]
) -> Iterable[str]:
    if action == "NewView":
        i = params["i"]
        if len(after["highQC"][i]) > len(before["highQC"][i]):
            return ("new_view_on_higher_qc",)
    return ()


COVERAGE = CoverageSpec(CONDITIONS, detect)

"""The regression corpus (traces/counterexamples/README.md): every stored counterexample of the
implementation holds on the fixed implementation and fails on its mutant."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from meshcheck.property_tests.corpus import FIXED
from meshcheck.property_tests.corpus import Entry
from meshcheck.property_tests.corpus import entries
from meshcheck.property_tests.corpus import replay
from meshcheck.traces import itf

ENTRIES = entries()
IDS = [e.name for e in ENTRIES]


def test_the_corpus_has_every_kind_of_entry() -> None:
    packages = {e.package for e in ENTRIES if not e.fixed}
    assert {"raft", "pbft"} <= packages
    assert any(e.fixed for e in ENTRIES), "no bug found and fixed is kept"
    for e in ENTRIES:
        assert e.fixed or e.bugs, f"{e.name}: a mutant's counterexample names no mutant"


def test_the_index_lists_every_fixed_bug() -> None:
    index = (FIXED / "README.md").read_text()
    for e in ENTRIES:
        if e.fixed:
            assert f"`{e.path.relative_to(FIXED)}`" in index, f"{e.name} is not in the index"
            assert itf.read(e.path).meta.get("fixed"), f"{e.name}: #meta.fixed says nothing"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_the_fixed_implementation_holds(entry: Entry) -> None:
    replayed = replay(entry, frozenset())
    assert replayed.holds, f"{entry.name}: {replayed.problem}"


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e.bugs], ids=[e.name for e in ENTRIES if e.bugs]
)
def test_its_mutant_fails(entry: Entry) -> None:
    replayed = replay(entry, entry.bugs)
    assert not replayed.holds, f"{entry.name} no longer catches {sorted(entry.bugs)}: renew it"


def test_a_fixed_bug_is_re_run_not_read_back(tmp_path: Path) -> None:
    """The fixed bug's entry is a free run: replaying it runs the liveness check again on its
    schedule. No mutant switch brings the old bug back, so break the schedule instead: with r2
    silent too (two of four replicas, more than f) no request can commit, and the replay fails."""
    (entry,) = [e for e in ENTRIES if e.path.name == "view_change_split_across_two_views.itf.json"]
    doc = json.loads(entry.path.read_text())
    schedule = doc["#meta"]["rerun"]["schedule"]
    doc["#meta"]["rerun"]["schedule"] = schedule.replace(
        "byzantine={'r1': (Silent(share=1.0),)}",
        "byzantine={'r1': (Silent(share=1.0),), 'r2': (Silent(share=1.0),)}",
    )
    assert doc["#meta"]["rerun"]["schedule"] != schedule
    broken = tmp_path / entry.path.name
    broken.write_text(json.dumps(doc))
    replayed = replay(attrs.evolve(entry, path=broken), frozenset())
    assert not replayed.holds and "is not accepted" in replayed.problem

"""mutation/record.py: the campaign's verdicts kept in the repository and written back into a fresh
mutants/ for the functions that did not change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mutation import record

LOG = "meshcheck.impl.raft.log.xǁRaftLogǁ"


def _meta(
    mutants: Path, codes: dict[str, int | None], hashes: dict[str, str], file: str = "raft/log.py"
) -> Path:
    """A meta file as mutmut 3.8 writes it."""
    path = mutants / "meshcheck" / "impl" / f"{file}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "exit_code_by_key": codes,
                "hash_by_function_name": hashes,
                "type_check_error_by_key": {},
                "durations_by_key": {},
                "estimated_durations_by_key": {},
            },
            indent=4,
        )
    )
    return path


HASHES = {"xǁRaftLogǁterm_at": "aaaaaaaaaaaa", "xǁRaftLogǁappend": "bbbbbbbbbbbb"}


def _campaign(mutants: Path) -> None:
    """A finished campaign: killed (1), survived (0), no tests (33), set aside (34)."""
    _meta(
        mutants,
        {
            LOG + "term_at__mutmut_1": 1,
            LOG + "term_at__mutmut_2": 0,
            LOG + "term_at__mutmut_10": 33,
            LOG + "append__mutmut_1": 1,
            LOG + "append__mutmut_2": record.SKIPPED,
        },
        HASHES,
    )
    (mutants / "seconds.json").write_text(
        json.dumps({LOG + "term_at__mutmut_1": 0.5, LOG + "term_at__mutmut_2": 61.25})
    )


def _fresh(mutants: Path, hashes: dict[str, str]) -> Path:
    names = ["term_at__mutmut_1", "term_at__mutmut_2", "term_at__mutmut_10"]
    names += ["append__mutmut_1", "append__mutmut_2"]
    return _meta(mutants, {LOG + n: None for n in names}, hashes)


def _codes(meta: Path) -> dict[str, int | None]:
    found: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return {name.removeprefix(LOG): code for name, code in found.items()}


def test_a_fresh_mutants_folder_gets_the_recorded_verdicts_back(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _campaign(tmp_path / "before")
    assert record.save(tmp_path / "before", results) == 4  # the set-aside one is not recorded
    kept = json.loads((results / "raft" / "log.json").read_text())
    assert kept["file"] == "impl/raft/log.py"
    assert kept["functions"]["xǁRaftLogǁterm_at"]["mutants"]["2"] == [0, 61.25]

    meta = _fresh(tmp_path / "after", HASHES)
    assert record.seed(tmp_path / "after", results) == 4
    assert _codes(meta) == {
        "term_at__mutmut_1": 1,
        "term_at__mutmut_2": 0,
        "term_at__mutmut_10": 33,
        "append__mutmut_1": 1,
        "append__mutmut_2": None,  # classified again by the run, not taken from the record
    }
    times = json.loads((tmp_path / "after" / "seconds.json").read_text())
    assert times[LOG + "term_at__mutmut_2"] == 61.25


def test_a_changed_function_is_tested_again(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _campaign(tmp_path / "before")
    record.save(tmp_path / "before", results)
    meta = _fresh(tmp_path / "after", {**HASHES, "xǁRaftLogǁterm_at": "cccccccccccc"})
    assert record.seed(tmp_path / "after", results) == 1
    codes = _codes(meta)
    assert codes["append__mutmut_1"] == 1
    assert [codes[f"term_at__mutmut_{n}"] for n in (1, 2, 10)] == [None, None, None]

    # the next save replaces the file's record: the changed function's old verdicts are gone
    record.save(tmp_path / "after", results)
    kept = json.loads((results / "raft" / "log.json").read_text())
    assert set(kept["functions"]) == {"xǁRaftLogǁappend"}


def test_a_verdict_already_in_mutants_is_not_overwritten(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _campaign(tmp_path / "before")
    record.save(tmp_path / "before", results)
    meta = _fresh(tmp_path / "after", HASHES)
    codes = json.loads(meta.read_text())
    codes["exit_code_by_key"][LOG + "term_at__mutmut_2"] = 1  # killed by a rerun after a new test
    meta.write_text(json.dumps(codes))
    record.seed(tmp_path / "after", results)
    assert _codes(meta)["term_at__mutmut_2"] == 1


def test_a_record_of_another_mutmut_version_is_not_used(tmp_path: Path) -> None:
    # another version may number a function's mutants differently
    results = tmp_path / "results"
    _campaign(tmp_path / "before")
    record.save(tmp_path / "before", results)
    path = results / "raft" / "log.json"
    path.write_text(path.read_text().replace(record.MUTMUT, "9.9.9"))
    meta = _fresh(tmp_path / "after", HASHES)
    assert record.seed(tmp_path / "after", results) == 0
    assert set(_codes(meta).values()) == {None}


def test_names_and_paths() -> None:
    assert record.split_name(LOG + "term_at__mutmut_12") == (
        "meshcheck.impl.raft.log",
        "xǁRaftLogǁterm_at",
        "12",
    )
    assert record.record_path(Path("meshcheck/impl/pbft/replica.py"), Path("r")) == Path(
        "r/pbft/replica.json"
    )
    with pytest.raises(ValueError):
        record.split_name("meshcheck.impl.raft.log")
    with pytest.raises(ValueError):
        record.record_path(Path("meshcheck/simulator/net.py"))


def test_the_committed_record_is_of_the_pinned_mutmut_and_of_files_that_exist() -> None:
    pyproject = (record.ROOT / "pyproject.toml").read_text()
    assert f'"mutmut=={record.MUTMUT}"' in pyproject
    for path in record.RESULTS.rglob("*.json"):
        kept = json.loads(path.read_text())
        assert kept["mutmut"] == record.MUTMUT, path
        assert (record.ROOT / kept["file"]).is_file(), path
        for function in kept["functions"].values():
            assert len(function["hash"]) == 12
            assert all(int(n) > 0 and len(v) == 2 for n, v in function["mutants"].items())

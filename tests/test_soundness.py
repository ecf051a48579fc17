"""Sound model checking, enforced by the model runner (specs/tlc/cfg.py, specs/tlc/check.py).

Two rules: a model that lists a PROPERTY (temporal or action) runs on one TLC worker whatever was asked
(TLC 2.15 can miss a temporal violation with several workers, tlaplus/tlaplus#971), and a PROPERTY
under SYMMETRY or VIEW is refused before TLC runs (tlaplus/tlaplus#59). The spec is
tests/specs/soundness.tla; the repository's own models are held to both rules at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshcheck.catalog import load_model
from meshcheck.catalog import read_directives
from meshcheck.impl.base.errors import ConfigError
from meshcheck.specs.tlc.cfg import ONE_WORKER_NOTE
from meshcheck.specs.tlc.cfg import read_cfg
from meshcheck.specs.tlc.cfg import unsound_reduction
from meshcheck.specs.tlc.check import Outcome
from meshcheck.specs.tlc.check import check
from meshcheck.verify import project_root
from meshcheck.verify import select_models
from tests.command import meshcheck

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "specs"
SPEC = HERE / "soundness.tla"


def ran_on(output: str) -> str:
    """The worker count TLC itself reports in its start-up line ("... with 1 worker on 2 cores")."""
    m = re.search(r"Model-Checking with .* with (\d+ workers?) on ", output)
    assert m is not None, f"TLC printed no worker count:\n{output[:2000]}"
    return m.group(1)


# ------------------------------------------------------------------------------- one worker


@pytest.mark.parametrize("cfg", ["soundness.cfg", "soundness_action.cfg"])
def test_a_model_with_a_property_runs_on_one_worker_when_two_are_asked(cfg: str) -> None:
    r = check(SPEC, HERE / cfg, workers=2, deadlock=False)
    assert r.outcome is Outcome.HOLDS, r.message
    assert r.distinct == 8
    assert (r.workers, r.note) == (1, ONE_WORKER_NOTE)
    assert ran_on(r.output) == "1 worker"


def test_invariants_only_still_run_on_the_workers_asked() -> None:
    r = check(SPEC, HERE / "soundness_invariants.cfg", workers=2, deadlock=False)
    assert (r.outcome, r.distinct) == (Outcome.HOLDS, 8)
    assert (r.workers, r.note) == (2, "")
    assert ran_on(r.output) == "2 workers"


def test_one_worker_asked_is_no_note() -> None:
    r = check(SPEC, HERE / "soundness.cfg", workers=1, deadlock=False)
    assert (r.outcome, r.workers, r.note) == (Outcome.HOLDS, 1, "")


def test_check_command_says_once_that_it_ran_on_one_worker(tmp_path: Path) -> None:
    done = meshcheck(
        "check", str(SPEC), "--config", str(HERE / "soundness.cfg"), "--workers", "2", "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(ONE_WORKER_NOTE) == 1
    assert f"note: {ONE_WORKER_NOTE}" in done.stderr.splitlines()
    assert "| holds " in done.stdout


# ------------------------------------------------------------------------------- no reduction


@pytest.mark.parametrize(
    ("cfg", "reduction"),
    [
        ("soundness_view_property.cfg", "VIEW Count"),
        ("soundness_symmetry_property.cfg", "SYMMETRY Sym"),
    ],
)
def test_a_property_under_a_reduction_is_refused_before_tlc_runs(cfg: str, reduction: str) -> None:
    with pytest.raises(ConfigError, match="tlaplus/tlaplus#59") as info:
        check(SPEC, HERE / cfg, deadlock=False)
    assert f"PROPERTY AllFinish with {reduction}" in str(info.value)


@pytest.mark.parametrize(
    ("cfg", "reduction"),
    [
        ("soundness_view_property.cfg", "VIEW Count"),
        ("soundness_symmetry_property.cfg", "SYMMETRY Sym"),
    ],
)
def test_check_command_refuses_a_property_under_a_reduction_with_one_line(
    tmp_path: Path, cfg: str, reduction: str
) -> None:
    done = meshcheck("check", str(SPEC), "--config", str(HERE / cfg), "-q", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""  # no table: TLC never ran
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"meshcheck: {HERE / cfg}: PROPERTY AllFinish with {reduction}: ")
    assert "unsoundly" in line and "tlaplus/tlaplus#59" in line
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cfg", ["soundness_view.cfg", "soundness_symmetry.cfg"])
def test_a_reduction_with_invariants_only_still_runs_reduced(cfg: str) -> None:
    r = check(SPEC, HERE / cfg, workers=2, deadlock=False)
    assert r.outcome is Outcome.HOLDS, r.message
    assert r.distinct == 4  # the 8 states of soundness_invariants.cfg, folded by x
    assert r.workers == 2


# ------------------------------------------------------------------------------- the repository


def repository_models() -> list[Path]:
    return sorted(
        [
            *(ROOT / "specs").glob("*.cfg"),
            *(ROOT / "property_tests").glob("*/models/*.cfg"),
            *(ROOT / "bench" / "specs").glob("*.cfg"),
        ]
    )


def test_the_guard_sees_a_property_under_a_reduction() -> None:
    bad = [p for p in HERE.glob("soundness*.cfg") if unsound_reduction(read_cfg(p)) is not None]
    assert sorted(p.name for p in bad) == [
        "soundness_symmetry_property.cfg",
        "soundness_view_property.cfg",
    ]


def test_no_repository_model_checks_a_property_under_symmetry_or_view() -> None:
    models = repository_models()
    assert len(models) > 20
    assert [str(p) for p in models if unsound_reduction(read_cfg(p)) is not None] == []


def test_no_repository_model_with_a_property_claims_more_workers() -> None:
    claims = [
        f"{p.name}: workers={read_directives(p)['workers']}"
        for p in (ROOT / "specs").glob("*.cfg")
        if read_cfg(p).properties and int(read_directives(p).get("workers", "1")) > 1
    ]
    assert claims == []


@pytest.mark.parametrize("profile", ["quick", "default", "deep"])
def test_every_property_of_a_spec_is_checked_in_every_profile(profile: str) -> None:
    """Splitting a model (invariants under the VIEW, properties without it) keeps every property of
    every spec checked: each PROPERTY named in any of a spec's models is in a model the profile runs.
    """
    every: dict[str, set[str]] = {}
    for p in (ROOT / "specs").glob("*.cfg"):
        every.setdefault(load_model(p).spec.name, set()).update(read_cfg(p).properties)
    # what `meshcheck verify` runs: the registered protocols' models, then the unclaimed ones
    found, problems = select_models(project_root(), profile)
    assert problems == []
    run: dict[str, set[str]] = {}
    for m in found:
        run.setdefault(m.spec.name, set()).update(read_cfg(m.config).properties)
    missing = {spec: sorted(props - run.get(spec, set())) for spec, props in every.items()}
    assert {spec: props for spec, props in missing.items() if props} == {}
    assert "DeescalationOneLevel" in run["Hybrid.tla"]

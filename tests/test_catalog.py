"""The model catalogue: which .cfg a profile runs, and the meshcheck directives in a .cfg."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.catalog import load_model
from meshcheck.catalog import models
from meshcheck.impl.base.errors import ConfigError


def _touch(d: Path, *names: str, text: str = "INIT Init\nNEXT Next\n") -> None:
    for n in names:
        (d / n).write_text(text)


def test_profiles_pick_their_models_and_fall_back(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "A.tla",
        "A.cfg",
        "A_quick.cfg",
        "A_deep.cfg",
        "A_liveness.cfg",
        "B.tla",
        "B_quick.cfg",
    )
    names = {p: [m.name for m in models(tmp_path, p)] for p in ("fast", "quick", "default", "deep")}
    assert names["fast"] == ["A_quick", "B_quick"]  # one model per spec, no temporal property
    assert names["quick"] == ["A_quick", "A_liveness", "B_quick"]
    assert names["default"] == ["A", "A_liveness", "B_quick"]
    assert names["deep"] == ["A_deep", "A_liveness", "B_quick"]
    assert all(m.spec.name in ("A.tla", "B.tla") for m in models(tmp_path, "deep"))


def test_directives(tmp_path: Path) -> None:
    _touch(tmp_path, "A.tla")
    cfg = tmp_path / "A.cfg"
    cfg.write_text(
        "\\* meshcheck: deadlock=false expect-distinct=1234 workers=2\nINIT Init\nNEXT Next\n"
    )
    m = load_model(cfg)
    assert (m.deadlock, m.expect_distinct, m.workers, m.kind) == (False, 1234, 2, "default")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("\\* meshcheck: colour=blue", "unknown meshcheck directive colour"),
        ("\\* meshcheck: deadlock=maybe", "expected true or false"),
        ("\\* meshcheck: workers", "is not key=value"),
        ("\\* meshcheck: expect-distinct=many", "bad meshcheck directive value"),
    ],
)
def test_bad_directives(tmp_path: Path, line: str, message: str) -> None:
    _touch(tmp_path, "A.tla")
    cfg = tmp_path / "A.cfg"
    cfg.write_text(line + "\nINIT Init\n")
    with pytest.raises(ConfigError, match=message):
        load_model(cfg)


def test_model_without_spec_and_unknown_profile(tmp_path: Path) -> None:
    _touch(tmp_path, "Lonely_quick.cfg")
    with pytest.raises(ConfigError, match=r"no spec Lonely\.tla"):
        load_model(tmp_path / "Lonely_quick.cfg")
    with pytest.raises(ConfigError, match="unknown profile 'quik'"):
        models(tmp_path, "quik")


def test_named_models_run_in_every_profile_and_bad_ones_are_reported(tmp_path: Path) -> None:
    from meshcheck.catalog import scan

    _touch(tmp_path, "A.tla", "A.cfg")
    (tmp_path / "A_figure8.cfg").write_text("\\* meshcheck: spec=A.tla\nINIT Init\n")
    (tmp_path / "Stray.cfg").write_text("INIT Init\n")
    (tmp_path / "Typo.cfg").write_text("\\* meshcheck: spec=Nope.tla\nINIT Init\n")
    for profile in ("fast", "quick", "default", "deep"):
        found, problems = scan(tmp_path, profile)
        named = [] if profile == "fast" else [("A_figure8", "A.tla")]  # fast: one model a spec
        assert [(m.name, m.spec.name) for m in found] == [("A", "A.tla"), *named]
        assert sorted(str(p).split(":")[0].rsplit("/", 1)[-1] for p in problems) == [
            "Stray.cfg",
            "Typo.cfg",
        ]
    with pytest.raises(ConfigError, match=r"spec=Nope\.tla names no file"):
        load_model(tmp_path / "Typo.cfg")

"""Which TLC models exist, and which of them a verification profile runs.

A model is a `.cfg` file in `specs/`. Its spec is the `.tla` file with the same name before the profile
suffix: `Raft_quick.cfg` checks `Raft.tla`, `MCRaft.cfg` checks `MCRaft.tla`. The suffix says which
profile runs it:

    Name.cfg            default   (what `make verify-full` runs)
    Name_quick.cfg      quick     (seconds; what the test suite runs), and fast
    Name_deep.cfg       deep      (long runs)
    Name_liveness.cfg   every profile but fast (small configs for temporal properties)
    Other.cfg with `spec=Name.tla` (below): every profile but fast

A spec without a model for the profile falls back to the next smaller one (deep -> default -> quick).
`fast` (`make verify`, the 3-minute gate) runs one model per spec, its quick one: each spec's
safety at its smallest size; its temporal properties and its other models are left to the other
profiles and to `make test` (docs/reference/profiles.md).

TLC 2.15 takes no CHECK_DEADLOCK in a .cfg, and a model's expected size should be recorded with it, so a
`.cfg` may carry meshcheck directives in a TLA+ comment, which TLC ignores:

    \\* meshcheck: deadlock=false expect-distinct=1234 workers=2 spec=Raft.tla

`spec=` names the spec of a model whose name does not say it (`Raft_figure8.cfg`, `spec=Raft.tla`).
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import attrs

from meshcheck import words
from meshcheck.impl.base.errors import ConfigError
from meshcheck.protocol import Models

PROFILES = ("fast", "quick", "default", "deep")
# profile -> the kinds of main model it runs, the first found
_ORDER = {
    "fast": ("quick", "default"),
    "quick": ("quick", "default"),
    "default": ("default", "quick"),
    "deep": ("deep", "default", "quick"),
}
_SUFFIXES = {"_quick": "quick", "_deep": "deep", "_liveness": "liveness"}
_DIRECTIVE = re.compile(r"\\\*\s*meshcheck:\s*(.*)$")


@attrs.frozen
class Model:
    spec: Path
    config: Path
    kind: str  # "quick" | "default" | "deep" | "liveness"
    deadlock: bool = True
    workers: int | None = None
    expect_distinct: int | None = None

    @property
    def name(self) -> str:
        return self.config.stem

    def count_changed(self, distinct: int) -> str | None:
        """Why a run that held still fails: TLC found another number of distinct states than the
        model's `expect-distinct` directive records (the spec or the model changed), or None.
        `meshcheck check` and `meshcheck verify` both say it in these words."""
        if self.expect_distinct is None or distinct == self.expect_distinct:
            return None
        recorded = words.count(self.expect_distinct, "distinct state", commas=True)
        return (
            f"{self.name} records {recorded} (expect-distinct), "
            f"TLC found {distinct:,}: the spec or the model changed"
        )


def _kind_and_stem(cfg: Path) -> tuple[str, str]:
    for suffix, kind in _SUFFIXES.items():
        if cfg.stem.endswith(suffix):
            return kind, cfg.stem[: -len(suffix)]
    return "default", cfg.stem


def read_directives(cfg: Path) -> dict[str, str]:
    """The `\\* meshcheck: key=value` settings of a .cfg file."""
    found: dict[str, str] = {}
    try:
        text = cfg.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {cfg}: {exc.strerror}") from None
    for line in text.splitlines():
        m = _DIRECTIVE.search(line)
        if m is None:
            continue
        for word in m.group(1).split():
            key, sep, value = word.partition("=")
            if not sep:
                raise ConfigError(f"{cfg}: meshcheck directive {word!r} is not key=value")
            found[key] = value
    return found


def load_model(cfg: Path, spec: Path | None = None) -> Model:
    """The model `cfg` (its spec found by name unless given), with its meshcheck directives."""
    kind, stem = _kind_and_stem(cfg)
    d = read_directives(cfg)
    if spec is None and "spec" in d:
        spec = cfg.with_name(d["spec"])
        if not spec.is_file():
            raise ConfigError(f"{cfg}: its directive spec={d['spec']} names no file beside it")
    if spec is None:
        spec = cfg.with_name(stem + ".tla")
        if not spec.exists():
            spec = cfg.with_suffix(".tla")
        if not spec.exists():
            raise ConfigError(
                f"{cfg}: no spec {stem}.tla beside it (name it with '\\* meshcheck: spec=NAME.tla')"
            )
    known = {"deadlock", "workers", "expect-distinct", "spec"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(
            f"{cfg}: unknown meshcheck directive {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    try:
        return Model(
            spec=spec,
            config=cfg,
            kind=kind,
            deadlock=_bool(d.get("deadlock", "true"), cfg),
            workers=int(d["workers"]) if "workers" in d else None,
            expect_distinct=int(d["expect-distinct"]) if "expect-distinct" in d else None,
        )
    except ValueError as exc:
        raise ConfigError(f"{cfg}: bad meshcheck directive value: {exc}") from None


def _bool(text: str, cfg: Path) -> bool:
    if text.lower() in ("true", "yes", "on"):
        return True
    if text.lower() in ("false", "no", "off"):
        return False
    raise ConfigError(f"{cfg}: expected true or false, got {text!r}")


def models(spec_dir: Path, profile: str) -> list[Model]:
    """The models `profile` runs, in a stable order; ConfigError on the first bad .cfg."""
    found, problems = scan(spec_dir, profile)
    if problems:
        raise problems[0]
    return found


def scan(spec_dir: Path, profile: str) -> tuple[list[Model], list[ConfigError]]:
    """The models `profile` runs (by spec, liveness last), and the .cfg files that are not models."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (profiles: {', '.join(PROFILES)})")
    by_spec: dict[Path, dict[str, Model]] = {}
    problems: list[ConfigError] = []
    for cfg in sorted(spec_dir.glob("*.cfg")):
        try:
            model = load_model(cfg)
        except ConfigError as exc:
            problems.append(exc)
            continue
        kinds = by_spec.setdefault(model.spec, {})
        if model.kind == "liveness" or model.spec.stem != _kind_and_stem(cfg)[1]:
            kinds[f"extra:{cfg.name}"] = model  # liveness and named models run in every profile
        else:
            kinds.setdefault(model.kind, model)
    chosen: list[Model] = []
    for spec in sorted(by_spec):
        kinds = by_spec[spec]
        main = next((kinds[k] for k in _ORDER[profile] if k in kinds), None)
        if main is not None:
            chosen.append(main)
        if profile != "fast":
            chosen.extend(m for key, m in sorted(kinds.items()) if key.startswith("extra:"))
    return chosen, problems


def folder_of(models: Models) -> Path:
    """The folder that holds a spec and its models (`models.package`'s, through importlib.resources,
    so an installed copy finds its own)."""
    try:
        return Path(str(importlib.resources.files(models.package)))
    except ModuleNotFoundError:
        raise ConfigError(f"{models.spec}: no package {models.package} holds its models") from None


def protocol_models(models: Models, profile: str) -> list[Model]:
    """The models of a descriptor's spec that `profile` runs: the profile's own (or the next smaller
    one's, as `scan` falls back), then, but in `fast`, its liveness model and the models every
    other profile runs (`Models.every`); ConfigError when a named .cfg is missing."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (profiles: {', '.join(PROFILES)})")
    folder = folder_of(models)
    spec = folder / f"{models.spec}.tla"
    by_profile = models.by_profile()
    main = next((by_profile[k] for k in _ORDER[profile] if k in by_profile), None)
    others = () if profile == "fast" else (by_profile.get("liveness"), *models.every)
    stems = [s for s in (main, *others) if s is not None]
    chosen = []
    for stem in stems:
        cfg = folder / f"{stem}.cfg"
        if not cfg.is_file():
            raise ConfigError(f"{cfg}: the model {stem} of {models.spec} is not there")
        chosen.append(load_model(cfg, spec))
    return chosen

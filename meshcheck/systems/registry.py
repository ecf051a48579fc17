"""The systems meshcheck knows: client plug-ins, each an entry point of the group `meshcheck.systems`
(pyproject's `[project.entry-points."meshcheck.systems"]`, as meshcheck/registry.py finds
protocols), the built-in `jsonl` client, and the system files shipped in meshcheck/systems/known/.

`--system NAME` is, in order: a file known/NAME.toml (`cores/raft`: the project's own cores, in
known/cores/, which `names` leaves out), unless NAME ends in .toml or names a file; a path to a
system file; a plug-in NAME that ships a file (`SystemPlugin.file`) or runs its system itself
(`SystemPlugin.runner`). Each error is one line (ConfigError, exit 2)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems.plugin import SystemPlugin
from meshcheck.systems.system_file import SystemFile
from meshcheck.systems.system_file import load

GROUP = "meshcheck.systems"
KNOWN = Path(__file__).with_name("known")
BUILT_IN = "jsonl"

_loaded: dict[str, SystemPlugin] | None = None


@attrs.frozen
class System:
    """A system file and the client plug-in it names, checked against each other."""

    file: SystemFile
    plugin: SystemPlugin


def _load() -> dict[str, SystemPlugin]:
    from meshcheck.systems.jsonl import JSONL

    found: dict[str, SystemPlugin] = {BUILT_IN: JSONL}
    for entry in importlib.metadata.entry_points(group=GROUP):
        where = f"{GROUP}: entry point {entry.name} = {entry.value}"
        try:
            plugin = entry.load()
        except Exception as exc:  # a plug-in's import failed: say which, not a traceback
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(f"{where} does not load: {type(exc).__name__}: {first}") from None
        if not isinstance(plugin, SystemPlugin):
            raise ConfigError(f"{where} is a {type(plugin).__name__}, not a SystemPlugin")
        if plugin.name != entry.name:
            raise ConfigError(f"{where} declares the system {plugin.name!r} under another name")
        found.setdefault(entry.name, plugin)  # the same distribution twice on the path: the first
    return found


def plugins() -> Mapping[str, SystemPlugin]:
    global _loaded
    if _loaded is None:
        _loaded = _load()
    return _loaded


def names() -> list[str]:
    """Every name `--system NAME` takes: the shipped files', and the plug-ins' that ship a file or
    run their system."""
    files = {p.stem for p in KNOWN.glob("*.toml")}
    runnable = {n for n, p in plugins().items() if p.file is not None or p.runner is not None}
    return sorted(files | runnable)


def files() -> dict[str, Path]:
    """The file of every known system that has one, by name, as `resolve` finds it: known/NAME.toml,
    else the file its plug-in ships. What `meshcheck verify` reads the `[verify]` tables of
    (meshcheck/verify_systems.py)."""
    found = {p.stem: p for p in KNOWN.glob("*.toml")}
    for name, plugin in plugins().items():
        if plugin.file is not None:
            found.setdefault(name, plugin.file)
    return dict(sorted(found.items()))


def checked(file: SystemFile) -> System:
    """`file` with its plug-in: installed, with a client, supporting the file's workloads."""
    where = f"{file.path}: client.plugin"
    plugin = plugins().get(file.client.plugin)
    if plugin is None:
        raise ConfigError(
            f"{where}: no plug-in {file.client.plugin!r} is installed (the entry points of "
            f"{GROUP}: {', '.join(sorted(plugins()))})"
        )
    if plugin.client is None:
        raise ConfigError(f"{where}: the plug-in {plugin.name!r} has no client")
    unsupported = [w for w in file.client.workloads if w not in plugin.workloads]
    if unsupported:
        raise ConfigError(
            f"{file.path}: client.workloads: the plug-in {plugin.name!r} does not run "
            f"{unsupported[0]!r} (it runs {', '.join(plugin.workloads) or 'none'})"
        )
    return System(file, plugin)


def resolve(text: str, sets: Sequence[str] = ()) -> System | SystemPlugin:
    """What `--system TEXT` names: a system (a file and its plug-in, each of `sets`, `--set
    KEY=VALUE`, applied over its file), or a plug-in that runs its system itself."""
    path = Path(text)
    known = KNOWN / f"{text}.toml"  # cores/raft too: the project's own cores (known/cores/)
    if not text.endswith(".toml") and not path.is_file() and known.is_file():
        return checked(load(known, sets))
    if text.endswith(".toml") or "/" in text or path.is_file():
        return checked(load(path, sets))
    plugin = plugins().get(text)
    if plugin is not None and plugin.file is not None:
        return checked(load(plugin.file, sets))
    if plugin is not None and plugin.runner is not None:
        if sets:
            raise ConfigError(f"--set: only for a system run from its file; {text} has none")
        return plugin
    raise ConfigError(
        f"--system {text}: neither a system file nor a known system; choose from "
        f"{', '.join(names())}, or give a path to a .toml file (docs/systems.md)"
    )

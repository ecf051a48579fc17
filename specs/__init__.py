"""The TLA+ specs of meshcheck (`*.tla`, `*.cfg` beside this file) and the bridge to TLC (`specs.tlc`)."""

from importlib.resources import files
from pathlib import Path


def spec_file(name: str) -> Path:
    """A file of the specs (`spec_file("Raft.tla")`), read through importlib.resources so an
    installed copy finds it too; a path, since TLC reads files by path."""
    return Path(str(files("meshcheck.specs").joinpath(name)))

"""The placeholders of a system file's templates (`{name}`, `{port.client}`, ...): which ones a
template names, and the template filled. `{{` and `}}` stand for literal braces. `{env.NAME}` is
meshcheck's environment variable NAME, in any template (the loader refused one that is not set)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
ENV = "env."  # `{env.NAME}`: the environment variable NAME of meshcheck's own environment


def fields(template: str) -> list[str]:
    """The placeholders `template` names, in order (`port.client` for `{port.client}`)."""
    return [m.group(1) for m in _FIELD.finditer(template) if m.group(1) is not None]


def fill(template: str, values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> str:
    """`template` with each placeholder replaced by its value (every one must be in `values`, or
    be `{env.NAME}`, NAME's value in `environ`, by default this process's: the loader refused any
    other)."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        name = m.group(1)
        if name.startswith(ENV) and name not in values:
            return (os.environ if environ is None else environ)[name[len(ENV) :]]
        return values[name]

    return _FIELD.sub(one, template)

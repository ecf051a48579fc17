"""The placeholders of a system file's templates (`{name}`, `{port.client}`, ...): which ones a
template names, and the template filled. `{{` and `}}` stand for literal braces."""

from __future__ import annotations

import re
from collections.abc import Mapping

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def fields(template: str) -> list[str]:
    """The placeholders `template` names, in order (`port.client` for `{port.client}`)."""
    return [m.group(1) for m in _FIELD.finditer(template) if m.group(1) is not None]


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` with each placeholder replaced by its value (every one must be in `values`: the
    loader refused any other)."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return values[m.group(1)]

    return _FIELD.sub(one, template)

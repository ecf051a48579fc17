"""What the protocols' signed-field checks share (property_tests/pbft/signed_fields.py,
property_tests/hotstuff/signed_fields.py, property_tests/hybrid/signed_fields.py): one position of a
message changed by the message fuzzer's value mutations (impl/base/mutation.py)."""

from __future__ import annotations

import random
from typing import Any

from meshcheck.impl.base import mutation


def changed_at(
    value: Any,
    path: mutation.Path,
    rng: random.Random,
    donors: mutation.Donors,
    errors: tuple[type[Exception], ...] = (TypeError, ValueError),
) -> tuple[Any, str] | None:
    """`value` with the position `path` changed (`mutation.mutate_value`, drawing from `donors`),
    and how it changed; None when no change applies there, or the changed value does not fit the
    position (the rebuilding raised one of `errors`)."""
    changed = mutation.mutate_value(mutation.get(value, path), rng, donors)
    if changed is None:
        return None
    try:
        return mutation.replace(value, path, changed[0]), changed[1]
    except errors:
        return None

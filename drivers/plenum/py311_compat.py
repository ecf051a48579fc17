"""Names that indy-plenum 1.13.1 and its pinned dependencies import and Python 3.10+ no longer has.

Installed into the plenum venv's site-packages with a .pth line that imports it, so that every process
of that venv (the smoke, plenum's own test suites) starts with the aliases in place. Each alias points
at the object its name meant before it was removed: the abstract base classes moved to
collections.abc in Python 3.3 (removed from collections in 3.10), and asyncio.coroutine, the
generator-based coroutine decorator, was removed in 3.11 (types.coroutine is what it wrapped).
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import types

for _name in collections.abc.__all__:
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

if not hasattr(asyncio, "coroutine"):
    asyncio.coroutine = types.coroutine  # type: ignore[attr-defined]

if not hasattr(asyncio.coroutines, "CoroWrapper"):
    # Removed in 3.11 with debug-mode coroutine wrapping; stp_core names it only in type hints
    # (stp_core/loop/looper.py, eventually.py), so any class will do.
    class CoroWrapper:
        """Stands for asyncio.coroutines.CoroWrapper in annotations."""

    asyncio.coroutines.CoroWrapper = CoroWrapper  # type: ignore[attr-defined]

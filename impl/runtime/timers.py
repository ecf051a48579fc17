"""A hosted core's timers (the `SetTimer` and `CancelTimer` effects) on the running event loop, by
name: setting a timer replaces the one of that name, and one that fires is told to `fire`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Timers:
    def __init__(self, fire: Callable[[str], None]) -> None:
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._fire = fire

    def set(self, name: str, seconds: float) -> None:
        self.cancel(name)
        self._handles[name] = asyncio.get_running_loop().call_later(seconds, self._fired, name)

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _fired(self, name: str) -> None:
        self._handles.pop(name, None)
        self._fire(name)

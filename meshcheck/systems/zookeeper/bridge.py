"""Kazoo's calls awaited from asyncio. Kazoo (the Python client of ZooKeeper, kazoo.readthedocs.io)
runs its own threads; its `*_async` calls return an IAsyncResult whose `rawlink` callback fires on
kazoo's thread when the server answers. `answer` turns one into an awaitable with a deadline, so that
an answer that never comes is a timeout here, not a thread stuck in `get()`."""

from __future__ import annotations

import asyncio
from typing import Any


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():  # the deadline passed first: the late answer is dropped
        return
    try:
        future.set_result(result.get_nowait())
    except Exception as e:  # kazoo's answer was an error: raise it in the awaiting task
        future.set_exception(e)


async def answer(pending: Any, timeout: float) -> Any:
    """What the IAsyncResult `pending` resolves to, within `timeout` seconds (TimeoutError
    otherwise); an error kazoo answered with is raised as it is."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    pending.rawlink(lambda result: loop.call_soon_threadsafe(_settle, future, result))
    return await asyncio.wait_for(future, timeout)

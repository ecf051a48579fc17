"""Length-prefixed frames on a TCP stream: four bytes of big-endian length, then the payload.

A frame longer than `MAX_FRAME` is refused before its payload is read, so a peer cannot make a node
buffer without bound; a stream that ends inside a frame is a `FrameError`, a stream that ends
between frames is the peer closing (None).
"""

from __future__ import annotations

import asyncio
import struct

from meshcheck.impl.base.errors import MeshcheckError

MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class FrameError(MeshcheckError):
    """A stream that does not hold well-formed frames."""


def frame(payload: bytes) -> bytes:
    """The bytes on the wire for one payload."""
    if len(payload) > MAX_FRAME:
        raise FrameError(f"a frame of {len(payload)} bytes is over the limit of {MAX_FRAME}")
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's payload; None when the peer closed the stream between frames."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise FrameError("the stream ended inside a frame's header") from None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise FrameError(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise FrameError(f"the stream ended inside a frame of {size} bytes") from None

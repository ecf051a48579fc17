"""The runtime's codec (impl/runtime/codec.py) and frames (impl/runtime/frames.py): every value a
Raft node sends or persists comes back equal, and everything else is refused with a CodecError."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.raft import messages
from meshcheck.impl.raft.messages import AppendEntriesRequest
from meshcheck.impl.raft.messages import Entry
from meshcheck.impl.raft.messages import Snapshot
from meshcheck.impl.rsm.ops import Custom
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.codec import CodecError
from meshcheck.impl.runtime.codec import classes_in
from meshcheck.impl.runtime.frames import MAX_FRAME
from meshcheck.impl.runtime.frames import FrameError
from meshcheck.impl.runtime.frames import frame
from meshcheck.impl.runtime.frames import read_frame
from meshcheck.impl.runtime.protocols import protocol

CODEC = protocol("raft").codec()

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.binary(max_size=8)
hashables = st.recursive(
    scalars,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=8,
)
values = st.recursive(
    scalars | hashables,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.builds(tuple, st.lists(inner, max_size=3))
        | st.builds(FrozenDict, st.dictionaries(hashables, inner, max_size=3))
        | st.builds(Entry, st.integers(0, 9), inner)
        | st.builds(Custom, st.text(min_size=1, max_size=4), st.integers())
    ),
    max_leaves=12,
)


@given(values)
def test_every_value_comes_back_equal_and_of_its_type(value: object) -> None:
    back = CODEC.decode(CODEC.encode(value))
    assert back == value
    assert type(back) is type(value)


def test_every_raft_message_class_is_known() -> None:
    sent = [
        c
        for c in vars(messages).values()
        if isinstance(c, type) and c.__module__ == messages.__name__
    ]
    assert len(sent) >= 8
    assert all(CODEC.knows(c) for c in sent)
    m = AppendEntriesRequest("n1", "n2", 3, 4, 2, (Entry(2, Custom("k", 1)), Entry(3, None)), 4)
    assert CODEC.decode(CODEC.encode(m)) == m
    s = Snapshot(4, 2, b"\x00\xff")
    assert CODEC.decode(CODEC.encode(s)) == s


class Stranger:
    pass


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\xff\xfe", "not a frame"),
        (b'{"c": "os.system", "f": {}}', "unknown class"),
        (b'{"c": "raft.messages.Entry", "f": {"term": 1}}', "has fields"),
        (b'{"c": "raft.messages.Entry", "f": {"term": 1, "value": 2, "x": 3}}', "has fields"),
        (b'{"q": []}', "unknown tag"),
        (b'{"b": "***"}', "not base64"),
        (b'{"s": [[1]]}', "cannot be hashed"),
        (b'{"d": [[1]]}', "pair"),
        (b"[" * 100_000 + b"]" * 100_000, "recursion|deep"),
    ],
)
def test_what_it_does_not_know_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(CodecError, match=why):
        CODEC.decode(data)


def test_it_refuses_to_encode_a_class_it_does_not_know() -> None:
    with pytest.raises(CodecError, match="Stranger"):
        CODEC.encode((1, Stranger()))
    with pytest.raises(CodecError, match="not an attrs class"):
        Codec([Stranger])


def test_frames_round_trip_and_refuse_what_is_over_the_limit_or_cut() -> None:
    async def read(data: bytes) -> list[bytes | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out: list[bytes | None] = []
        while (got := await read_frame(reader)) is not None:
            out.append(got)
        return out

    assert asyncio.run(read(frame(b"ab") + frame(b"") + frame(b"c"))) == [b"ab", b"", b"c"]
    with pytest.raises(FrameError, match="inside a frame of 5"):
        asyncio.run(read(frame(b"hello")[:-1]))
    with pytest.raises(FrameError, match="header"):
        asyncio.run(read(b"\x00\x00"))
    with pytest.raises(FrameError, match="over the limit"):
        asyncio.run(read(struct.pack(">I", MAX_FRAME + 1)))
    with pytest.raises(FrameError, match="over the limit"):
        frame(bytes(MAX_FRAME + 1))


def test_a_derived_field_is_computed_again_never_taken_from_the_wire() -> None:
    """HotStuff's Block hash is no init argument (impl/hotstuff/messages.py): the codec sends the
    block's content, the receiver's constructor computes the hash again, and a frame that carries
    a hash of the sender's choosing is refused."""
    import json

    from meshcheck.impl.hotstuff.messages import GENESIS
    from meshcheck.impl.hotstuff.messages import GENESIS_QC
    from meshcheck.impl.hotstuff.messages import Block

    codec = protocol("hotstuff").codec()
    block = Block(GENESIS.hash, 1, GENESIS_QC, "r1")
    back = codec.decode(codec.encode(block))
    assert back == block and back.hash == block.hash
    raw = json.loads(codec.encode(block))
    raw["f"]["hash"] = {"b": "AAAA"}
    with pytest.raises(CodecError, match="has fields"):
        codec.decode(json.dumps(raw).encode())


def test_an_enum_of_its_modules_comes_back_a_member_and_any_other_is_refused() -> None:
    """The hybrid layer persists its threat level, an IntEnum: written as a plain int it would
    come back an int, and the node would restart with a level that is no Level."""
    from meshcheck.impl.hybrid.levels import Level
    from meshcheck.impl.pbft.votes import Vote

    codec = Codec(classes_in("meshcheck.impl.hybrid.levels"))
    back = codec.decode(codec.encode((Level.HIGH, 3)))
    assert back == (Level.HIGH, 3) and type(back[0]) is Level and type(back[1]) is int
    with pytest.raises(CodecError, match="not a known enum"):
        codec.encode(Vote.APPROVE)
    with pytest.raises(CodecError, match="unknown enum"):
        codec.decode(b'{"e": ["pbft.votes.Vote", 1]}')
    with pytest.raises(CodecError, match="not a value of"):
        codec.decode(b'{"e": ["hybrid.levels.Level", 9]}')

"""What an honest HotStuff replica and client do with a message whose fields are not of their
declared types (impl/hotstuff/messages.py `malformed`): it is recorded against its sender and not
read. Property_tests/hotstuff/byzantine_input.py found these, sent by a Byzantine r4 (shrunk):
most stopped the step of every honest replica they reached (AttributeError, TypeError: a view
compared with a number, a request hashed into the set of checked ones); the last ones (a block
response with a string among its blocks, a proposal with True for its view, a value that is no
message) were dropped or blamed as a bad signature, not as what they are.
"""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hotstuff.client import Client
from meshcheck.impl.hotstuff.client import ClientConfig
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import GENESIS
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import BlockResponse
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import Request
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import malformed
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.replica import MALFORMED
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica

REPLICAS = ("r1", "r2", "r3", "r4")
KEYS = KeyRing(0, (*REPLICAS, "c1"))

MESSAGES: list[Any] = [
    SignedRequest(None, b""),  # type: ignore[arg-type]
    Proposal(None, b""),  # type: ignore[arg-type]
    Vote(b"", None, "r4", b""),  # type: ignore[arg-type]
    NewView(26, -3, "r4"),  # type: ignore[arg-type]
    NewView(0, QC(GENESIS.hash, "2"), "r4"),  # type: ignore[arg-type]
    NewView(6, QC(b"A", 2, (True,)), "r4"),  # type: ignore[arg-type]
    BlockResponse(b"\xef\x08\xc7\xff"),  # type: ignore[arg-type]
    # a list for a request's operation: signed by its client, and no set can hold it
    SignedRequest(
        Request("c1", 1, [1]), KEYS.signer("c1").sign(request_bytes(Request("c1", 1, [1])))
    ),
    Vote(GENESIS.hash, 1 << 63, "r4", b"s" * 64),  # no eight bytes hold the view
    NewView(2, QC(GENESIS.hash, -(1 << 63) - 1, (("r1", b"s" * 64),)), "r4"),
    BlockResponse((GENESIS, "r2")),  # type: ignore[arg-type]
    Proposal(Block(GENESIS.hash, True, QC(GENESIS.hash, 0), "r4"), b""),
    "a string",
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_a_message_of_other_types_is_held_against_its_sender_not_read(message: Any) -> None:
    assert malformed(message) is not None
    replica = Replica(HotStuffConfig("r1", REPLICAS), KEYS)
    replica.step(Restart())
    replica.step(Deliver("r4", message))
    assert [(a.accused, a.kind) for a in replica.accusations] == [("r4", MALFORMED)]
    assert replica.pending == {} and replica.waiting == {} and replica.new_views == {}


def test_a_reply_with_a_flag_or_a_list_for_its_timestamp_is_no_reply() -> None:
    client = Client(ClientConfig("c1", REPLICAS), KEYS)
    client.step(Restart())
    client._request("op")
    for timestamp in (True, [1]):
        for src in ("r3", "r4"):
            client.step(Deliver(src, ReplyMsg("c1", timestamp, "ok", src)))  # type: ignore[arg-type]
    assert client.accepted == {} and 1 in client.outstanding


def test_every_message_an_honest_run_sends_is_well_formed() -> None:
    qc = QC(GENESIS.hash, 0)
    request = SignedRequest(Request("c1", 1, ("put", 1)), b"s" * 64)
    block = Block(GENESIS.hash, 1, qc, "r2", (request,))
    for message in (
        Proposal(block, b"s" * 64),
        Vote(block.hash, 1, "r3", b"s" * 64),
        NewView(2, qc, "r1"),
        request,
        ReplyMsg("c1", 1, ("ok", None), "r1"),
        BlockResponse((block,)),
    ):
        assert malformed(message) is None, message

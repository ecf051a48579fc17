"""PBFT messages signed by hand for the peers of one replica under test, and what its effects
send: the four replicas r1..r4 (f = 1) and the client c1, with the keys of seed 0. The primary of
view v is r(v mod 4 + 1)."""

from __future__ import annotations

from typing import Any

import attrs

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.pbft import Checkpoint
from meshcheck.impl.pbft import Commit
from meshcheck.impl.pbft import KeyRing
from meshcheck.impl.pbft import Prepare
from meshcheck.impl.pbft import PreparedProof
from meshcheck.impl.pbft import PrePrepare
from meshcheck.impl.pbft import Request
from meshcheck.impl.pbft import Signed
from meshcheck.impl.pbft import ViewChange
from meshcheck.impl.pbft import batch_digest
from meshcheck.impl.pbft import history_digest
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import signing_bytes

REPLICAS = ("r1", "r2", "r3", "r4")
KEYS = KeyRing(0, (*REPLICAS, "c1"))


def signed(holder: str, body: Any) -> Signed[Any]:
    return Signed(body, holder, KEYS.signer(holder).sign(signing_bytes(body)))


def forged(m: Signed[Any]) -> Signed[Any]:
    """The same message with one bit of its signature flipped."""
    return attrs.evolve(m, signature=bytes([m.signature[0] ^ 1]) + m.signature[1:])


def request(op: str, timestamp: int = 1) -> Signed[Request]:
    return signed("c1", Request("c1", timestamp, op))


def primary(view: int) -> str:
    return REPLICAS[view % 4]


def pre_prepare(
    seq: int, *requests: Signed[Request], view: int = 0, src: str | None = None
) -> Signed[PrePrepare]:
    src = src or primary(view)
    batch: Batch = tuple(requests)
    return signed(src, PrePrepare(view, seq, batch_digest(batch), src, batch))


def prepare(pp: Signed[PrePrepare], src: str, digest: bytes | None = None) -> Signed[Prepare]:
    return signed(src, Prepare(pp.body.view, pp.body.seq, digest or pp.body.digest, src))


def commit(pp: Signed[PrePrepare], src: str, view: int | None = None) -> Signed[Commit]:
    v = pp.body.view if view is None else view
    return signed(src, Commit(v, pp.body.seq, pp.body.digest, src))


def checkpoint(history: tuple[Batch, ...], src: str) -> Signed[Checkpoint]:
    return signed(src, Checkpoint(len(history), history_digest(history), src, history))


def certificate(pp: Signed[PrePrepare]) -> PreparedProof:
    """A prepared certificate: the pre-prepare and 2f prepares of backups."""
    backups = [r for r in REPLICAS if r != pp.signer][:2]
    return PreparedProof(pp, tuple(prepare(pp, b) for b in backups))


def view_change(
    view: int, src: str, *claims: PreparedProof, ckpt: tuple[Batch, ...] = ()
) -> Signed[ViewChange]:
    proof = tuple(checkpoint(ckpt, r) for r in REPLICAS[1:]) if ckpt else ()
    digest = history_digest(ckpt) if ckpt else GENESIS
    return signed(src, ViewChange(view, len(ckpt), digest, proof, claims, src))


def sent(effects: list[Effect]) -> list[Any]:
    """The bodies sent, once per message (a broadcast is one)."""
    out: list[Any] = []
    for e in effects:
        if isinstance(e, Send) and (not out or out[-1] is not e.message.body):
            out.append(e.message.body)
    return out


def timers(effects: list[Effect]) -> dict[str, int]:
    return {e.timer: e.after for e in effects if isinstance(e, SetTimer)}


def changed_on_its_way(pp: Signed[PrePrepare]) -> tuple[Signed[ViewChange], Signed[ViewChange]]:
    """r4's view change to view 1 claiming `pp`'s certificate, and the same message as a relayer
    changed it: another batch in the certificate's pre-prepare, which no signature covers."""
    honest = view_change(1, "r4", certificate(pp))
    other = attrs.evolve(pp, body=attrs.evolve(pp.body, batch=(request("b", 2),)))
    proof = attrs.evolve(certificate(pp), pre_prepare=other)
    return honest, attrs.evolve(honest, body=attrs.evolve(honest.body, prepared=(proof,)))

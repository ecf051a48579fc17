"""PBFT's messages (Castro and Liskov, OSDI 1999, section 4), their signed envelope, and digests.

The bodies carry the fields of the paper's messages and are named as the spec's records
(specs/PBFT.tla, and the contract every part of meshcheck shares): `PrePrepare`, `Prepare`, `Commit`,
`Reply`, `Checkpoint`, `ViewChange`, `NewView`, plus the client's `Request`. Every one travels inside
a `Signed` envelope: the body, who signed it, and an Ed25519 signature over the body's canonical
bytes (`signing_bytes`). A field marked `UNSIGNED` is left out of those bytes because it is checked
another way: a pre-prepare's batch against its signed digest (as in the paper, where the request
travels next to the signed pre-prepare), a checkpoint's state against its signed digest.

Digests are SHA-256. A request's digest covers the client's signature too, so a primary that signs a
pre-prepare of a forged request has signed the forgery (self-proving evidence). A batch's digest
covers its requests' digests in order; the empty batch is the null request of a view change (the
spec's Noop). The state digest of a checkpoint is a hash chain over the batches executed so far: the
history determines the replicated state, and the spec's checkpoint digest is that history.

Digests are one-way, but the refinement mapping must say which request a `Prepare`'s digest stands
for. Every digest a run uses is computed here, so this module remembers what it hashed
(`batch_for_digest`, `batches_for_state`): a cache of a pure function, read only by
impl/pbft/refinement.py, never by a replica.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from typing import Final
from typing import Generic
from typing import TypeAlias
from typing import TypeVar

import attrs

from meshcheck.impl.base.shape import mismatch
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.crypto import sha256

UNSIGNED: Final = {"unsigned": True}  # field metadata: not part of the signed bytes

NOOP: Final = "noop"  # the spec's Noop: the name of the empty batch


def _hex(data: object) -> str:
    if not isinstance(data, bytes):
        # a Byzantine signer's value where bytes belong: evidence of a malformed message holds
        # it, and the hybrid layer's machine state, which such evidence is part of, is read
        # through repr (impl/hybrid/machine.py `snapshot`)
        return repr(data)
    return f"<{data[:4].hex()}…>" if data else "<unsigned>"


B = TypeVar("B")


@attrs.frozen(cache_hash=True)
class Signed(Generic[B]):
    """A body, its signer, and the signer's signature over `signing_bytes(body)`."""

    body: B
    signer: str
    signature: bytes = attrs.field(repr=_hex)


@attrs.frozen(cache_hash=True)
class Request:
    """<REQUEST, o, t, c> (section 4.1): operation o, the client's timestamp t, client c."""

    client: str
    timestamp: int
    operation: Value


Batch: TypeAlias = tuple[Signed[Request], ...]


@attrs.frozen(cache_hash=True)
class PrePrepare:
    """<PRE-PREPARE, v, n, d> from the primary of view v, with the batch whose digest is d."""

    view: int
    seq: int
    digest: bytes = attrs.field(repr=_hex)
    src: str
    batch: Batch = attrs.field(default=(), metadata=UNSIGNED)


@attrs.frozen(cache_hash=True)
class Prepare:
    view: int
    seq: int
    digest: bytes = attrs.field(repr=_hex)
    src: str


@attrs.frozen(cache_hash=True)
class Commit:
    view: int
    seq: int
    digest: bytes = attrs.field(repr=_hex)
    src: str


@attrs.frozen(cache_hash=True)
class Reply:
    """<REPLY, v, t, c, i, r>, with the sequence number it was executed at and the whole request
    (the spec's Reply record names the request and its sequence number)."""

    view: int
    seq: int
    request: Request
    result: Value
    src: str


@attrs.frozen(cache_hash=True)
class Checkpoint:
    """<CHECKPOINT, n, d, i> (section 4.3). `history` is the state itself (every batch executed up
    to n), unsigned, checked against the digest by a replica that needs it for a state transfer."""

    seq: int
    digest: bytes = attrs.field(repr=_hex)
    src: str
    history: tuple[Batch, ...] | None = attrs.field(
        default=None, eq=False, repr=False, metadata=UNSIGNED
    )


@attrs.frozen(cache_hash=True)
class PreparedProof:
    """A prepared certificate (section 4.2): the primary's pre-prepare and 2f matching prepares
    from distinct backups. The set P of a view-change message holds these."""

    pre_prepare: Signed[PrePrepare]
    prepares: tuple[Signed[Prepare], ...]

    @property
    def view(self) -> int:
        return self.pre_prepare.body.view

    @property
    def seq(self) -> int:
        return self.pre_prepare.body.seq

    @property
    def digest(self) -> bytes:
        return self.pre_prepare.body.digest


@attrs.frozen(cache_hash=True)
class ViewChange:
    """<VIEW-CHANGE, v+1, n, C, P, i> (section 4.4): the new view, the sender's stable checkpoint
    (sequence number, digest and its 2f+1 signed checkpoints C), and its prepared certificates P."""

    view: int
    ckpt: int
    ckpt_digest: bytes = attrs.field(repr=_hex)
    ckpt_proof: tuple[Signed[Checkpoint], ...] = attrs.field(repr=False)
    prepared: tuple[PreparedProof, ...]
    src: str


@attrs.frozen(cache_hash=True)
class NewView:
    """<NEW-VIEW, v+1, V, O> (section 4.4): 2f+1 view-change messages V and the pre-prepares O
    computed from them, which every backup recomputes."""

    view: int
    view_changes: tuple[Signed[ViewChange], ...] = attrs.field(repr=False)
    pre_prepares: tuple[Signed[PrePrepare], ...]
    src: str


@attrs.frozen(cache_hash=True)
class Status:
    """What a replica has got to (TOCS 2002 section 5.2, status messages), sent now and then to
    every peer, which answers with what the sender lacks: lost messages are made good this way."""

    view: int
    changing: bool
    stable: int
    executed: int
    src: str


Body: TypeAlias = (
    Request | PrePrepare | Prepare | Commit | Reply | Checkpoint | ViewChange | NewView | Status
)
Message: TypeAlias = Signed[Any]


# -- canonical bytes ---------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    return n.to_bytes(4, "big")


def _encode(value: Any, out: bytearray) -> None:
    """Append a type-tagged, length-prefixed encoding of `value` (injective on the value domain)."""
    if value is None:
        out += b"N"
    elif isinstance(value, bool):
        out += b"T" if value else b"F"
    elif isinstance(value, int):
        try:
            text = str(value).encode()
        except ValueError:  # more digits than Python converts (4,300): no honest signer's number
            raise TypeError(f"cannot encode an integer of {value.bit_length()} bits") from None
        out += b"i" + _length(len(text)) + text
    elif isinstance(value, str):
        text = value.encode()
        out += b"s" + _length(len(text)) + text
    elif isinstance(value, bytes):
        out += b"b" + _length(len(value)) + value
    elif isinstance(value, Signed):
        out += b"S"
        out += signing_bytes(value.body)
        _encode(value.signer, out)
        _encode(value.signature, out)
    elif attrs.has(type(value)):
        out += signing_bytes(value)
    elif isinstance(value, tuple | list):
        out += b"t" + _length(len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, frozenset | set):
        items = sorted(encode(item) for item in value)
        out += b"f" + _length(len(items)) + b"".join(items)
    elif isinstance(value, Mapping):
        pairs = sorted((encode(k), encode(v)) for k, v in value.items())
        out += b"d" + _length(len(pairs)) + b"".join(k + v for k, v in pairs)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} for signing: {value!r}")


def encode(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def malformed(value: Any) -> str | None:
    """Why a signed message is not of its declared types (None: it is): a signer can sign any
    value it likes, a string where a sequence number belongs, a client's request where a
    certificate's pre-prepare belongs, and a receiver that read it as what it claims to be would
    fail. The declared types are walked all the way down (impl/base/shape.py): every message
    inside (a certificate's, a view change's) is looked at, to the class of each signed body;
    unsigned fields are not, since a relayer may change them and they are checked where used. A
    client's operation is its own business (`Value`: anything)."""
    hint = Signed[Body] if isinstance(value, Signed) else type(value)
    return mismatch(value, hint, skip="unsigned")


@functools.lru_cache(maxsize=1 << 16)
def signing_bytes(body: Any) -> bytes:
    """The bytes a signature covers: the type's name and every field not marked `UNSIGNED`
    (TypeError for a body that is no message: nothing can have signed it)."""
    cls = type(body)
    if not attrs.has(cls):
        raise TypeError(f"cannot sign a {cls.__name__}: not a message")
    out = bytearray(b"M")
    _encode(cls.__name__, out)
    for field in attrs.fields(cls):
        if not field.metadata.get("unsigned"):
            _encode(getattr(body, field.name), out)
    return bytes(out)


# -- digests, and what they stand for ----------------------------------------------------------------

NULL_DIGEST: Final = sha256(b"meshcheck-pbft null request")
GENESIS: Final = sha256(b"meshcheck-pbft genesis")  # the state digest before any execution

_BATCHES: dict[bytes, Batch] = {NULL_DIGEST: ()}
_STATES: dict[
    bytes, tuple[bytes, bytes]
] = {}  # state digest -> (previous state digest, batch digest)

# Globals that keep no replica's state (property_tests/restarts.py, core purity): `_BATCHES` and
# `_STATES` are preimages of SHA-256 digests this process computed, read only by the refinement
# mapping (batch_for_digest, batches_for_state: impl/pbft/refinement.py), never by a replica; a
# digest names one value, so an entry is never wrong. `signing_bytes`, `request_digest` and
# `batch_digest` are memos of pure functions (encodings and digests of frozen values).
PURE_GLOBALS = ("_BATCHES", "_STATES", "signing_bytes", "request_digest", "batch_digest")


@functools.lru_cache(maxsize=1 << 16)
def request_digest(request: Signed[Request]) -> bytes:
    return sha256(encode(request))


@functools.lru_cache(maxsize=1 << 16)
def batch_digest(batch: Batch) -> bytes:
    """The digest of a batch of requests (NULL_DIGEST for the empty batch, the null request)."""
    if not batch:
        return NULL_DIGEST
    digest = sha256(b"batch" + b"".join(request_digest(r) for r in batch))
    _BATCHES.setdefault(digest, batch)
    return digest


def next_state_digest(previous: bytes, batch: bytes) -> bytes:
    """The state digest after executing the batch with digest `batch` on state `previous`."""
    digest = sha256(previous + batch)
    _STATES.setdefault(digest, (previous, batch))
    return digest


def history_digest(history: tuple[Batch, ...]) -> bytes:
    """The state digest after executing `history` from the start."""
    digest = GENESIS
    for batch in history:
        digest = next_state_digest(digest, batch_digest(batch))
    return digest


def state_matches(history: Any, seq: int, digest: bytes) -> bool:
    """Whether `history`, as a message carried it (unsigned: whatever its relayer put there), is a
    state of `seq` batches of signed requests whose digest is `digest`."""
    well_formed = isinstance(history, tuple) and all(
        isinstance(batch, tuple)
        and all(isinstance(r, Signed) and isinstance(r.body, Request) for r in batch)
        for batch in history
    )
    return well_formed and len(history) == seq and history_digest(history) == digest


def batch_for_digest(digest: bytes) -> Batch | None:
    """The batch this process hashed to `digest` (None: never seen)."""
    return _BATCHES.get(digest)


def batches_for_state(digest: bytes) -> tuple[bytes, ...] | None:
    """The batch digests of the history whose state digest is `digest` (None: never seen)."""
    found: list[bytes] = []
    while digest != GENESIS:
        step = _STATES.get(digest)
        if step is None:
            return None
        digest, batch = step
        found.append(batch)
    return tuple(reversed(found))


# -- names in the spec's vocabulary ------------------------------------------------------------------


def request_name(request: Request) -> Value:
    """The spec's name of a request: its operation, as a string (lockstep runs use "a", "b", ...)."""
    op = request.operation
    return op if isinstance(op, str) else repr(op)


def batch_name(batch: Batch) -> Value:
    """The spec's `req` of a batch: Noop for the empty batch, the request's name for a batch of one
    (what spec-checked runs use), the tuple of its requests' names for a larger batch."""
    if not batch:
        return NOOP
    if len(batch) == 1:
        return request_name(batch[0].body)
    return tuple(request_name(r.body) for r in batch)

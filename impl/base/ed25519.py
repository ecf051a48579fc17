"""Ed25519 signatures and SHA-256 digests for the signed protocols (PBFT, HotStuff), with a memo
their lockstep harnesses run under.

Keys are derived from a run's seed, a protocol's domain and the holder's id (`key_pair`), so that a
simulation is reproducible from its seed alone. That is a property of the simulation, not of a
deployment: anyone who knows the seed knows every private key, and a real system would generate
keys at random and distribute only the public halves.

Ed25519 is deterministic (RFC 8032, section 5.1.6: the nonce is a hash of the key and the message),
so within one process a signature and a verification are pure functions of their inputs, and
remembering them is exact. `memoised()` switches that on for the code it runs: the lockstep
harnesses do, where every example starts the same cluster from the same keys and signs the same
messages again. It is off by default, so the simulator's measurements (`meshcheck claims
bft-compare`, bench/bench_pbft.py) pay for every signature as a deployment does.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from collections.abc import Iterator
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_BYTES = 64  # an Ed25519 signature


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def derive_private_key(domain: str, seed: int, holder: str) -> Ed25519PrivateKey:
    """The holder's key for this seed: an Ed25519 key whose 32 secret bytes are a SHA-256 of the
    domain (which protocol), the seed and the holder."""
    return Ed25519PrivateKey.from_private_bytes(sha256(f"{domain}:{seed}:{holder}".encode()))


class _Memo:
    """Keys, signatures and verifications remembered while `memoised()` runs. Key objects cannot
    be hashed, so results are filed by the key's id and kept with the key itself, and a hit counts
    only when it is the same key object (an id reused after a key was freed is not a hit)."""

    LIMIT = 200_000  # entries before the memo starts afresh

    def __init__(self) -> None:
        self.depth = 0
        self.keys: dict[tuple[str, int, str], tuple[Ed25519PrivateKey, Ed25519PublicKey]] = {}
        self.signed: dict[tuple[int, bytes], tuple[Ed25519PrivateKey, bytes]] = {}
        self.verified: dict[tuple[int, bytes, bytes], tuple[Ed25519PublicKey, bool]] = {}

    def clear(self) -> None:
        self.keys.clear()
        self.signed.clear()
        self.verified.clear()

    def sign(self, key: Ed25519PrivateKey, data: bytes) -> bytes:
        if len(self.signed) >= self.LIMIT:
            self.signed.clear()
        hit = self.signed.get((id(key), data))
        if hit is None or hit[0] is not key:
            hit = self.signed[id(key), data] = (key, key.sign(data))
        return hit[1]

    def verify(self, key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
        if len(self.verified) >= self.LIMIT:
            self.verified.clear()
        hit = self.verified.get((id(key), signature, data))
        if hit is None or hit[0] is not key:
            hit = self.verified[id(key), signature, data] = (key, _verify(key, signature, data))
        return hit[1]


MEMO = _Memo()

# Globals that keep no node's state (property_tests/restarts.py, core purity): `MEMO` remembers
# keys, signatures and verifications exactly (Ed25519 is deterministic) while `memoised()` runs,
# and forgets them when it ends; a hit returns what the computation would.
PURE_GLOBALS = ("MEMO",)


@contextlib.contextmanager
def memoised() -> Iterator[None]:
    """Remember keys, signatures and verifications (exact: see the module doc) until the outermost
    `memoised()` ends."""
    MEMO.depth += 1
    try:
        yield
    finally:
        MEMO.depth -= 1
        if not MEMO.depth:
            MEMO.clear()


def key_pair(domain: str, seed: int, holder: str) -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    """The holder's private and public key (remembered under `memoised()`)."""
    pair = MEMO.keys.get((domain, seed, holder)) if MEMO.depth else None
    if pair is None:
        key = derive_private_key(domain, seed, holder)
        pair = (key, key.public_key())
        if MEMO.depth:
            MEMO.keys[domain, seed, holder] = pair
    return pair


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return MEMO.sign(key, data) if MEMO.depth else key.sign(data)


def verify(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is the key's over `data`."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    return MEMO.verify(key, signature, data) if MEMO.depth else _verify(key, signature, data)


def _verify(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


class KeyRing:
    """The keys of everyone in one run (replicas and clients), derived from `seed` in the protocol's
    `domain` (a subclass names it). `signed` and `checked` count the signatures made and checked
    in the run (for measurements)."""

    domain: ClassVar[str]

    def __init__(self, seed: int, holders: Iterable[str]) -> None:
        self.seed = seed
        pairs = {h: key_pair(self.domain, seed, h) for h in holders}
        self._private = {h: pair[0] for h, pair in pairs.items()}
        self._public: dict[str, Ed25519PublicKey] = {h: pair[1] for h, pair in pairs.items()}
        self.signed = 0
        self.checked = 0

    @property
    def holders(self) -> tuple[str, ...]:
        return tuple(self._public)

    def knows(self, holder: str) -> bool:
        return holder in self._public

    def signer(self, holder: str) -> Signer:
        """What `holder` signs with (its private key); KeyError for a stranger."""
        return Signer(self, holder, self._private[holder])

    def verify(self, holder: str, signature: bytes, data: bytes) -> bool:
        """Whether `signature` is `holder`'s over `data` (False for an unknown holder)."""
        key = self._public.get(holder)
        if key is None or len(signature) != SIGNATURE_BYTES:
            return False
        self.checked += 1
        return verify(key, signature, data)


class Signer:
    """One holder's private key."""

    def __init__(self, ring: KeyRing, holder: str, key: Ed25519PrivateKey) -> None:
        self._ring = ring
        self.holder = holder
        self._key = key

    def sign(self, data: bytes) -> bytes:
        self._ring.signed += 1
        return sign(self._key, data)

"""Keys, signatures and digests: Ed25519 (the `cryptography` package) and SHA-256.

PBFT's safety rests on two cryptographic facts (Castro and Liskov, OSDI 1999, section 2): a faulty
replica cannot produce a correct replica's signature, and it cannot find two messages with one
digest. Both are real here: every message is signed with Ed25519 and checked on receipt, and every
digest is SHA-256.

Keys are derived from a seed and the holder's id (`KeyRing`), so that a simulation is reproducible
from its seed alone. That is a property of the simulation, not of a deployment: anyone who knows the
seed knows every private key, and a real system would generate keys at random and distribute only
the public halves. A replica is handed a `KeyRing` and uses only its own private key (`signer`) and
everyone's public keys (`verify`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_BYTES = 64  # an Ed25519 signature


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def derive_private_key(seed: int, holder: str) -> Ed25519PrivateKey:
    """The holder's key for this seed: an Ed25519 key whose 32 secret bytes are a SHA-256 of both."""
    return Ed25519PrivateKey.from_private_bytes(sha256(f"meshcheck-pbft:{seed}:{holder}".encode()))


class KeyRing:
    """The keys of everyone in one run (replicas and clients), derived from `seed`."""

    def __init__(self, seed: int, holders: Iterable[str]) -> None:
        self.seed = seed
        self._private = {h: derive_private_key(seed, h) for h in holders}
        self._public: dict[str, Ed25519PublicKey] = {
            h: k.public_key() for h, k in self._private.items()
        }

    @property
    def holders(self) -> tuple[str, ...]:
        return tuple(self._public)

    def knows(self, holder: str) -> bool:
        return holder in self._public

    def signer(self, holder: str) -> Signer:
        """What `holder` signs with (its private key); KeyError for a stranger."""
        return Signer(holder, self._private[holder])

    def verify(self, holder: str, signature: bytes, data: bytes) -> bool:
        """Whether `signature` is `holder`'s over `data` (False for an unknown holder)."""
        key = self._public.get(holder)
        if key is None or len(signature) != SIGNATURE_BYTES:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Signer:
    """One holder's private key."""

    def __init__(self, holder: str, key: Ed25519PrivateKey) -> None:
        self.holder = holder
        self._key = key

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

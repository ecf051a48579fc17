"""Keys and signatures of a HotStuff run: Ed25519 (the `cryptography` package) and SHA-256.

HotStuff's safety rests on a replica being unable to produce another's vote (a QC is 2f+1 distinct
replicas' signed votes, section 4 of the paper) and on block hashes naming blocks (a block's
parent and its justify QC are hashes). Both are real here.

Keys are derived from the run's seed and the holder's id, so a simulation is reproducible from its
seed alone; a deployment would generate keys at random and share only the public halves. A replica
uses its own private key (`signer`) and everyone's public keys (`verify`). Verified (holder, data,
signature) triples are remembered (`verified`): a QC travels in many messages, and each replica
checks each of its signatures once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_BYTES = 64


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class KeyRing:
    """The keys of everyone in one run (replicas and clients), derived from `seed`."""

    def __init__(self, seed: int, holders: Iterable[str]) -> None:
        self.seed = seed
        self._private = {
            h: Ed25519PrivateKey.from_private_bytes(
                sha256(f"meshcheck-hotstuff:{seed}:{h}".encode())
            )
            for h in holders
        }
        self._public: dict[str, Ed25519PublicKey] = {
            h: k.public_key() for h, k in self._private.items()
        }
        self.signed = 0  # signatures made and checked in the run (for measurements)
        self.checked = 0

    def signer(self, holder: str) -> Signer:
        """What `holder` signs with; KeyError for a stranger."""
        return Signer(self, holder, self._private[holder])

    def verify(self, holder: str, signature: bytes, data: bytes) -> bool:
        """Whether `signature` is `holder`'s over `data` (False for an unknown holder)."""
        key = self._public.get(holder)
        if key is None or len(signature) != SIGNATURE_BYTES:
            return False
        self.checked += 1
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Signer:
    """One holder's private key."""

    def __init__(self, ring: KeyRing, holder: str, key: Ed25519PrivateKey) -> None:
        self._ring = ring
        self.holder = holder
        self._key = key

    def sign(self, data: bytes) -> bytes:
        self._ring.signed += 1
        return self._key.sign(data)

"""Keys and signatures of a HotStuff run: Ed25519 and SHA-256 (impl/base/ed25519.py).

HotStuff's safety rests on a replica being unable to produce another's vote (a QC is 2f+1 distinct
replicas' signed votes, section 4 of the paper) and on block hashes naming blocks (a block's
parent and its justify QC are hashes). Both are real here.

Keys are derived from the run's seed and the holder's id, so a simulation is reproducible from its
seed alone (impl/base/ed25519.py says why that is a simulation's choice only). A replica uses its
own private key (`signer`) and everyone's public keys (`verify`). `memoised()` remembers
signatures and verifications, exactly (Ed25519 is deterministic): the lockstep harness
(property_tests/hotstuff/lockstep.py) runs under it. The counts `signed` and `checked` count every
call either way.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from meshcheck.impl.base import ed25519
from meshcheck.impl.base.ed25519 import SIGNATURE_BYTES, memoised, sha256

__all__ = ["SIGNATURE_BYTES", "KeyRing", "Signer", "memoised", "sha256"]

DOMAIN = "meshcheck-hotstuff"


class KeyRing:
    """The keys of everyone in one run (replicas and clients), derived from `seed`."""

    def __init__(self, seed: int, holders: Iterable[str]) -> None:
        self.seed = seed
        pairs = {h: ed25519.key_pair(DOMAIN, seed, h) for h in holders}
        self._private = {h: pair[0] for h, pair in pairs.items()}
        self._public: dict[str, Ed25519PublicKey] = {h: pair[1] for h, pair in pairs.items()}
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
        return ed25519.verify(key, signature, data)


class Signer:
    """One holder's private key."""

    def __init__(self, ring: KeyRing, holder: str, key: Ed25519PrivateKey) -> None:
        self._ring = ring
        self.holder = holder
        self._key = key

    def sign(self, data: bytes) -> bytes:
        self._ring.signed += 1
        return ed25519.sign(self._key, data)

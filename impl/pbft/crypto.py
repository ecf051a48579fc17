"""Keys, signatures and digests of a PBFT run: Ed25519 and SHA-256 (impl/base/ed25519.py).

PBFT's safety rests on two cryptographic facts (Castro and Liskov, OSDI 1999, section 2): a faulty
replica cannot produce a correct replica's signature, and it cannot find two messages with one
digest. Both are real here: every message is signed with Ed25519 and checked on receipt, and every
digest is SHA-256.

Keys are derived from a seed and the holder's id (`KeyRing`), so that a simulation is reproducible
from its seed alone (impl/base/ed25519.py says why that is a simulation's choice only). A replica is
handed a `KeyRing` and uses only its own private key (`signer`) and everyone's public keys
(`verify`). `memoised()` remembers signatures and verifications, exactly (Ed25519 is
deterministic): the lockstep harness (property_tests/pbft/lockstep.py) runs under it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshcheck.impl.base import ed25519
from meshcheck.impl.base.ed25519 import SIGNATURE_BYTES
from meshcheck.impl.base.ed25519 import Signer
from meshcheck.impl.base.ed25519 import memoised
from meshcheck.impl.base.ed25519 import sha256

__all__ = ["SIGNATURE_BYTES", "KeyRing", "Signer", "derive_private_key", "memoised", "sha256"]

DOMAIN = "meshcheck-pbft"


def derive_private_key(seed: int, holder: str) -> Ed25519PrivateKey:
    """The holder's key for this seed: an Ed25519 key whose 32 secret bytes are a SHA-256 of both."""
    return ed25519.derive_private_key(DOMAIN, seed, holder)


class KeyRing(ed25519.KeyRing):
    """The keys of everyone in a PBFT run (replicas and clients), derived from `seed`."""

    domain = DOMAIN

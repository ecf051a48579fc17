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

from meshcheck.impl.base import ed25519
from meshcheck.impl.base.ed25519 import SIGNATURE_BYTES
from meshcheck.impl.base.ed25519 import Signer
from meshcheck.impl.base.ed25519 import memoised
from meshcheck.impl.base.ed25519 import sha256

__all__ = ["SIGNATURE_BYTES", "KeyRing", "Signer", "memoised", "sha256"]

DOMAIN = "meshcheck-hotstuff"


class KeyRing(ed25519.KeyRing):
    """The keys of everyone in a HotStuff run (replicas and clients), derived from `seed`."""

    domain = DOMAIN

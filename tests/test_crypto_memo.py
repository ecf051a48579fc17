"""The Ed25519 memo the lockstep harness runs PBFT and HotStuff under (impl/base/ed25519.py, as
impl/pbft/crypto.py and impl/hotstuff/crypto.py use it: `memoised`): exact (a remembered answer is the answer Ed25519 gives), off
outside `memoised()`, and counted by HotStuff's measurements either way."""

from __future__ import annotations

from types import ModuleType

import pytest

from meshcheck.impl.base import ed25519
from meshcheck.impl.hotstuff import crypto as hotstuff_crypto
from meshcheck.impl.pbft import crypto as pbft_crypto

pytestmark = pytest.mark.real_crypto  # these tests switch the memo on and off themselves

MODULES = (pbft_crypto, hotstuff_crypto)


@pytest.mark.parametrize("crypto", MODULES, ids=("pbft", "hotstuff"))
def test_memo_answers_as_ed25519_does(crypto: ModuleType) -> None:
    plain = crypto.KeyRing(3, ("a", "b"))
    want = plain.signer("a").sign(b"hello")
    with crypto.memoised():
        ring = crypto.KeyRing(3, ("a", "b"))
        for _ in range(2):  # the second time from the memo
            sig = ring.signer("a").sign(b"hello")
            assert sig == want
            assert ring.verify("a", sig, b"hello")
            assert not ring.verify("b", sig, b"hello")  # another holder's key
            assert not ring.verify("a", sig, b"hellO")  # other bytes
            assert not ring.verify("a", bytes(64), b"hello")  # a forged signature
        # another seed: other keys, so neither the signature nor its check may come from the memo
        other = crypto.KeyRing(4, ("a",))
        assert other.signer("a").sign(b"hello") != want
        assert not other.verify("a", want, b"hello")
        assert ed25519.MEMO.signed and ed25519.MEMO.verified
    assert not ed25519.MEMO.depth
    assert not (ed25519.MEMO.signed or ed25519.MEMO.verified or ed25519.MEMO.keys)


@pytest.mark.parametrize("crypto", MODULES, ids=("pbft", "hotstuff"))
def test_memo_is_off_by_default(crypto: ModuleType) -> None:
    ring = crypto.KeyRing(3, ("a",))
    assert ring.verify("a", ring.signer("a").sign(b"x"), b"x")
    assert not (ed25519.MEMO.signed or ed25519.MEMO.verified or ed25519.MEMO.keys)


def test_memo_ignores_a_freed_keys_id() -> None:
    """Results are filed by the key object's id: a different key object with a recycled id must
    not be answered from the memo."""
    with pbft_crypto.memoised():
        key = pbft_crypto.derive_private_key(1, "a")
        sig = ed25519.MEMO.sign(key, b"m")
        stranger = pbft_crypto.derive_private_key(2, "a")
        # pretend the stranger took the first key's id
        ed25519.MEMO.signed[id(stranger), b"m"] = ed25519.MEMO.signed[id(key), b"m"]
        assert ed25519.MEMO.sign(stranger, b"m") == stranger.sign(b"m") != sig


def test_hotstuff_counts_every_signature_and_check_under_the_memo() -> None:
    with hotstuff_crypto.memoised():
        ring = hotstuff_crypto.KeyRing(0, ("a",))
        for _ in range(3):
            ring.verify("a", ring.signer("a").sign(b"x"), b"x")
    assert (ring.signed, ring.checked) == (3, 3)

"""Every test runs with the exact Ed25519 memo on, as the property tests do
(property_tests/crypto_memo.py; a test marked `real_crypto` runs without it)."""

from meshcheck.property_tests.crypto_memo import exact_ed25519_memo as exact_ed25519_memo

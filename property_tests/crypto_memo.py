"""Every test runs with the exact Ed25519 memo on (impl/base/ed25519.py `memoised`).

Ed25519 is deterministic (RFC 8032, section 5.1.6), so a remembered signature or verification is
the answer the library gives: the memo changes what a test costs, never what it sees. In a
simulated PBFT, HotStuff or hybrid cluster every broadcast is verified by each of its receivers and
every example starts from the same keys, so most checks repeat; measured on the free runs of PBFT
and Raft and on the hybrid and PBFT simulation tests, Ed25519 was a tenth of their CPU time.

The conftests of property_tests/ and tests/ use this fixture, so `make test` and the property tests
`meshcheck verify` runs both have it. Measurements do not run under pytest (`meshcheck claims`,
bench/), so they still pay for every signature as a deployment does. A test that needs the memo
off (tests/test_crypto_memo.py, which checks that it is off by default) is marked `real_crypto`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meshcheck.impl.base.ed25519 import memoised


@pytest.fixture(autouse=True)
def exact_ed25519_memo(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("real_crypto") is not None:
        yield
        return
    with memoised():
        yield

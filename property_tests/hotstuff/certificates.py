"""HotStuff's quorum certificates: `Replica.valid_qc` takes a QC exactly when its votes are good
signatures over the QC's (block, view) by 2f+1 distinct replicas, and nothing else counts
(docs/certificates.md).

What a Byzantine leader (or a NEW-VIEW's sender) can put in a QC it builds (HotStuff, Yin et al.
PODC 2019, section 4: a QC is 2f+1 votes of distinct replicas): one vote twice, a vote of a client
or of an unknown key, a vote for another block or another view, a vote whose signature is broken.
The oracle counts by the rule, with 2f+1 written here, not read from the code under test: the QC
holds when every vote is a replica's good signature over (block, view), no voter appears twice,
and the voters reach 2f+1 (a QC with a repeated voter may be refused whole: it is never taken for
more than its distinct voters).

`certificates(bugs, settings)` is the `Check` (property_tests/hotstuff/checks.py) that runs it
with the catalogue's `bugs` switched on; tests/test_hotstuff_certificates.py runs it with none.
"""

from __future__ import annotations

from typing import Final

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.property_tests.failure import CheckFailed

SIZES: Final = (4, 7)
BLOCK: Final = b"\x01" * 32
VIEW: Final = 3
HOW: Final = ("good", "good", "good", "block", "view", "broken")
EXAMPLES: Final = 300
OUTSIDER: Final = "r99"  # a replica name of no configuration (and no key)


def replicas(n: int) -> tuple[str, ...]:
    return tuple(f"r{k}" for k in range(1, n + 1))


def vote(keys: KeyRing, voter: str, how: str) -> tuple[str, bytes]:
    block, view = (b"\x02" * 32, VIEW) if how == "block" else (BLOCK, VIEW + (how == "view"))
    if voter == OUTSIDER:  # no key: a signature no check accepts
        return voter, b"\0" * 64
    signature = keys.signer(voter).sign(vote_bytes(block, view))
    if how == "broken":
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return voter, signature


def votes(n: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Distinct good votes around the threshold, and at most two others of any kind (a client's
    or a stranger's as often as a replica's), in any order."""
    q = 2 * ((n - 1) // 3) + 1
    size = st.one_of(st.integers(q - 1, n), st.integers(0, n))
    honest = size.flatmap(
        lambda k: st.permutations(replicas(n)).map(lambda vs: [(v, "good") for v in vs[:k]])
    )
    voters = st.one_of(st.sampled_from(("c1", OUTSIDER)), st.sampled_from(replicas(n)))
    extra = st.lists(st.tuples(voters, st.sampled_from(HOW)), max_size=2)
    return st.tuples(honest, extra).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))


def qc_taken(n: int, found: list[tuple[str, str]], bugs: frozenset[str]) -> bool:
    names = replicas(n)
    keys = KeyRing(0, (*names, "c1"))
    replica = Replica(HotStuffConfig(names[0], names, bugs=bugs), keys)
    return replica.valid_qc(QC(BLOCK, VIEW, tuple(vote(keys, v, how) for v, how in found)))


def certificates(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The Check: the QC property with `bugs` switched on; CheckFailed when it fails."""

    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), data=st.data())
    def quorum_certificate(n: int, data: st.DataObject) -> None:
        found = data.draw(votes(n), "votes")
        taken = qc_taken(n, found, bugs)
        q = 2 * ((n - 1) // 3) + 1
        good = all(v in replicas(n) and how == "good" for v, how in found)
        distinct = {v for v, _ in found}
        if not good:
            holds: bool | None = False  # a vote that is no replica's good vote: refused
        elif len(distinct) < len(found):
            holds = None if len(distinct) >= q else False  # refused whole, or taken for its voters
        else:
            holds = len(distinct) >= q
        if holds is not None and taken != holds:
            raise CheckFailed(
                f"a QC at n={n} {'taken' if taken else 'refused'}: {found}", steps=len(found)
            )

    quorum_certificate()

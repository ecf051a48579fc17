"""HotStuff's quorum certificates: `Replica.valid_qc` takes a QC exactly when its votes are good
signatures over the QC's (block, view) by 2f+1 distinct replicas, and nothing else counts.

What a Byzantine leader can put in a QC it builds (HotStuff, Yin et al. PODC 2019, section 4: a
QC is 2f+1 votes of distinct replicas): one vote twice, a vote of a client or of an unknown key, a
vote for another block or another view, a vote whose signature is broken. The oracle counts by
the rule: the QC holds when every vote is a replica's good signature over (block, view), no voter
appears twice, and the voters reach 2f+1 (a QC with a repeated voter may be refused whole: it is
never taken for more than its distinct voters).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import QC, vote_bytes
from meshcheck.impl.hotstuff.replica import HotStuffConfig, Replica

SIZES = (4, 7)
BLOCK = b"\x01" * 32
VIEW = 3
HOW = ("good", "good", "good", "block", "view", "broken")


def _replicas(n: int) -> tuple[str, ...]:
    return tuple(f"r{k}" for k in range(1, n + 1))


def _vote(keys: KeyRing, voter: str, how: str) -> tuple[str, bytes]:
    block, view = (b"\x02" * 32, VIEW) if how == "block" else (BLOCK, VIEW + (how == "view"))
    if voter == "r99":  # no key: a signature no check accepts
        return voter, b"\0" * 64
    signature = keys.signer(voter).sign(vote_bytes(block, view))
    if how == "broken":
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return voter, signature


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(n=st.sampled_from(SIZES), data=st.data())
def test_a_qc_counts_distinct_replicas_good_votes_and_nothing_else(
    n: int, data: st.DataObject
) -> None:
    replicas = _replicas(n)
    keys = KeyRing(0, (*replicas, "c1"))
    replica = Replica(HotStuffConfig(replicas[0], replicas), keys)
    # distinct good votes around the threshold, and at most two others of any kind
    q = replica.config.quorum
    size = st.one_of(st.integers(q - 1, n), st.integers(0, n))
    honest = size.flatmap(
        lambda k: st.permutations(replicas).map(lambda vs: [(v, "good") for v in vs[:k]])
    )
    # an extra is as often a client's or a stranger's as a replica's
    voters = st.one_of(st.sampled_from(("c1", "r99")), st.sampled_from(replicas))
    extra = st.lists(st.tuples(voters, st.sampled_from(HOW)), max_size=2)
    drawn = st.tuples(honest, extra).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))
    items = data.draw(drawn, "votes")
    qc = QC(BLOCK, VIEW, tuple(_vote(keys, v, how) for v, how in items))
    taken = replica.valid_qc(qc)
    good = all(v in replicas and how == "good" for v, how in items)
    distinct = {v for v, _ in items}
    if not good:
        assert not taken, (items, "a vote that is no replica's good vote was taken")
        return
    if len(distinct) < len(items):
        assert not taken or len(distinct) >= replica.config.quorum, items
        return
    assert taken == (len(distinct) >= replica.config.quorum), items

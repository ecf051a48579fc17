"""PBFT's certificates: every check that accepts a set of signed messages as a quorum counts each
eligible signer once, and nothing else.

A certificate is a claim that 2f (or 2f+1) *distinct eligible* replicas signed matching messages.
What a Byzantine sender (a replica, or a client: PBFT tolerates any number of faulty clients,
Castro and Liskov OSDI 1999 section 2) can put in one: the same message twice, two messages of
one signer, the primary's prepare where only backups count (section 4.2), a message signed by a
key outside the replicas (a client's), messages of another view, sequence number or digest.
Each check is held against an oracle that counts by the rule itself: the certificate holds
exactly when every message in it is a matching message of an eligible signer with a good
signature, and the distinct eligible signers reach the threshold.

The checks: a prepared certificate (`check_prepared`, carried in view changes), a view change's
stable-checkpoint proof (`check_view_change`), and a new view's view-change messages
(`check_new_view`).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from meshcheck.impl.pbft import PreparedProof
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.log import prepares_needed, stable_quorum
from meshcheck.impl.pbft.messages import (
    GENESIS,
    Checkpoint,
    NewView,
    Prepare,
    PrePrepare,
    Request,
    Signed,
    ViewChange,
    batch_digest,
    history_digest,
    signing_bytes,
)
from meshcheck.impl.pbft.viewchange import check_new_view, check_prepared, check_view_change

SIZES = (4, 7)
OUTSIDER = "r99"  # a replica name of no configuration (and no key)


def _keys(n: int) -> KeyRing:
    return KeyRing(0, (*_replicas(n), "c1", "c2"))


def _replicas(n: int) -> tuple[str, ...]:
    return tuple(f"r{k}" for k in range(1, n + 1))


def _sign(keys: KeyRing, holder: str, body: Any) -> Signed[Any]:
    if not keys.knows(holder):  # no key: a signature that verifies under none
        return Signed(body, holder, b"\0" * 64)
    return Signed(body, holder, keys.signer(holder).sign(signing_bytes(body)))


def _verify(keys: KeyRing) -> Any:
    def verify(m: Signed[Any]) -> bool:
        return keys.knows(m.signer) and keys.verify(m.signer, m.signature, signing_bytes(m.body))

    return verify


# one drawn item of a certificate: (who signs, how it differs from a matching message)
HOW = ("matching", "view", "seq", "digest")


def _items(n: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Distinct replicas' matching messages, as many as a threshold needs give or take one (2f
    to 2f+1 of n), and at most two more of any kind, in any order."""
    f = (n - 1) // 3
    size = st.one_of(st.integers(max(2 * f - 1, 0), n), st.integers(0, n))
    honest = size.flatmap(
        lambda k: st.permutations(_replicas(n)).map(lambda rs: [(r, "matching") for r in rs[:k]])
    )
    # an extra is as often a client's or a stranger's as a replica's, as often matching as not
    signers = st.one_of(st.sampled_from(("c1", OUTSIDER)), st.sampled_from(_replicas(n)))
    how = st.one_of(st.just("matching"), st.sampled_from(HOW))
    extra = st.lists(st.tuples(signers, how), max_size=2)
    return st.tuples(honest, extra).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))


def _eligible(item: tuple[str, str], replicas: tuple[str, ...], excluded: str | None) -> bool:
    signer, how = item
    return how == "matching" and signer in replicas and signer != excluded


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(n=st.sampled_from(SIZES), data=st.data())
def test_a_prepared_certificate_counts_distinct_backups_and_nothing_else(
    n: int, data: st.DataObject
) -> None:
    keys, replicas = _keys(n), _replicas(n)
    config = PbftConfig(replicas[0], replicas, clients=("c1", "c2"))
    view = data.draw(st.integers(0, 2), "view")
    primary = config.primary(view)
    request = _sign(keys, "c1", Request("c1", 1, "a"))
    batch = (request,)
    pp = _sign(keys, primary, PrePrepare(view, 5, batch_digest(batch), primary, batch))
    items = data.draw(_items(n), "items")
    prepares = tuple(_sign(keys, signer, _prepare(pp.body, signer, how)) for signer, how in items)
    verdict = check_prepared(PreparedProof(pp, prepares), config, _verify(keys))
    if not all(_eligible(i, replicas, None) or _counts_nothing(i, primary) for i in items):
        assert verdict is not None, (items, "a message no eligible replica signed was taken")
        return
    backups = {s for (s, how) in items if _eligible((s, how), replicas, primary)}
    holds = len(backups) >= prepares_needed(config)
    assert (verdict is None) == holds, (items, verdict)


def _counts_nothing(item: tuple[str, str], primary: str) -> bool:
    """The primary's own matching prepare: allowed in a certificate, counted for nothing (its
    vote is the pre-prepare)."""
    return item == (primary, "matching")


def _prepare(pp: PrePrepare, signer: str, how: str) -> Prepare:
    view, seq, digest = pp.view, pp.seq, pp.digest
    if how == "view":
        view += 1
    elif how == "seq":
        seq += 1
    elif how == "digest":
        digest = batch_digest(())
    return Prepare(view, seq, digest, signer)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(n=st.sampled_from(SIZES), data=st.data())
def test_a_stable_checkpoint_proof_counts_distinct_replicas_and_nothing_else(
    n: int, data: st.DataObject
) -> None:
    keys, replicas = _keys(n), _replicas(n)
    config = PbftConfig(replicas[0], replicas, clients=("c1", "c2"))
    history = ((_sign(keys, "c1", Request("c1", 1, "a")),), ())
    seq, digest = len(history), history_digest(history)
    items = data.draw(_items(n), "items")
    proof = tuple(_sign(keys, s, _checkpoint(seq, digest, s, how)) for s, how in items)
    sender = replicas[-1]
    vc = _sign(keys, sender, ViewChange(1, seq, digest, proof, (), sender))
    verdict = check_view_change(vc, config, _verify(keys))
    if not all(_eligible(i, replicas, None) for i in items):
        assert verdict is not None, (items, "a message no eligible replica signed was taken")
        return
    signers = {s for s, _ in items}
    assert (verdict is None) == (len(signers) >= stable_quorum(config)), (items, verdict)


def _checkpoint(seq: int, digest: bytes, signer: str, how: str) -> Checkpoint:
    if how == "seq":
        seq += 1
    elif how in ("digest", "view"):  # a checkpoint has no view: another digest instead
        digest = GENESIS
    return Checkpoint(seq, digest, signer)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(n=st.sampled_from(SIZES), data=st.data())
def test_a_new_view_counts_distinct_view_changes_and_nothing_else(
    n: int, data: st.DataObject
) -> None:
    keys, replicas = _keys(n), _replicas(n)
    config = PbftConfig(replicas[0], replicas, clients=("c1", "c2"))
    view = 1
    primary = config.primary(view)
    items = data.draw(_items(n), "items")
    changes = tuple(
        _sign(keys, s, ViewChange(view + (how == "view"), 0, GENESIS, (), (), s))
        for s, how in items
    )
    nv = _sign(keys, primary, NewView(view, changes, (), primary))
    verdict = check_new_view(nv, config, _verify(keys))
    usable = [i for i in items if i[1] != "view"]  # seq and digest: a view change names neither
    if len(usable) != len(items) or not all(s in replicas for s, _ in items):
        assert not _accepted(verdict), (items, "a message no eligible replica signed was taken")
        return
    signers = [s for s, _ in items]
    holds = len(set(signers)) >= config.quorum and len(set(signers)) == len(signers)
    assert _accepted(verdict) == holds, (items, verdict)


def _accepted(verdict: Any) -> bool:
    return not isinstance(verdict, str)


def test_a_clients_vote_is_no_replicas_vote() -> None:
    """Found by the certificate property (2026-11-25): a prepare signed by a client (whose key
    the replicas know, for its requests) counted as a backup's, so one backup and one Byzantine
    client made a prepared certificate at n = 4; a client's checkpoints and view changes counted
    the same way."""
    keys, replicas = _keys(4), _replicas(4)
    config = PbftConfig("r1", replicas, clients=("c1", "c2"))
    request = _sign(keys, "c1", Request("c1", 1, "a"))
    pp = _sign(keys, "r1", PrePrepare(0, 1, batch_digest((request,)), "r1", (request,)))
    honest = _sign(keys, "r2", Prepare(0, 1, pp.body.digest, "r2"))
    client = _sign(keys, "c2", Prepare(0, 1, pp.body.digest, "c2"))
    assert check_prepared(PreparedProof(pp, (honest, client)), config, _verify(keys)) is not None
    third = _sign(keys, "r3", Prepare(0, 1, pp.body.digest, "r3"))
    assert check_prepared(PreparedProof(pp, (honest, third)), config, _verify(keys)) is None
    assert attrs.evolve(honest.body, src="c2") == client.body

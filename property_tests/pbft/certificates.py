"""PBFT's certificates: every check that accepts a set of signed messages as a quorum counts each
eligible signer once, and nothing else (docs/certificates.md).

A certificate is a claim that 2f (or 2f+1) *distinct eligible* replicas signed matching messages.
What a Byzantine sender (a replica, or a client: PBFT tolerates any number of faulty clients,
Castro and Liskov OSDI 1999 section 2) can put in one: the same message twice, two messages of
one signer, the primary's prepare where only backups count (section 4.2), a message signed by a
key outside the replicas (a client's, or no key at all), messages of another view, sequence
number or digest. Each check is held against an oracle that counts by the rule itself, with the
thresholds written here from the paper (2f backups' prepares, 2f+1 checkpoints, view changes and
commits), not read from the code under test: the certificate holds exactly when every message in
it is a matching message of an eligible signer with a good signature, and the distinct eligible
signers reach the threshold.

The checks: a prepared certificate (`viewchange.check_prepared`), the same certificate carried
in a view-change message (`check_view_change`: its inner certificates), a view change's
stable-checkpoint proof (`check_view_change`), a new view's view-change messages
(`check_new_view`), and the commits that make a request committed-local at a replica
(`MessageLog.committed_local`, reached through `Replica.step`: commits arrive one by one, and the
replica's intake filters what the log counts).

`certificates(bugs, settings)` is the `Check` (property_tests/pbft/checks.py) that runs them all
with the catalogue's `bugs` switched on; tests/test_pbft_certificates.py runs each with none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Final

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.pbft import PreparedProof
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import history_digest
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.pbft.viewchange import check_new_view
from meshcheck.impl.pbft.viewchange import check_prepared
from meshcheck.impl.pbft.viewchange import check_view_change
from meshcheck.property_tests.failure import CheckFailed

SIZES: Final = (4, 7)
OUTSIDER: Final = "r99"  # a replica name of no configuration (and no key)
EXAMPLES: Final = 300  # per property, at least: a few milliseconds each
# how one drawn message differs from a matching one
HOW: Final = ("matching", "view", "seq", "digest")

Item = tuple[str, str]  # (who signs, how the message differs from a matching one)


def replicas(n: int) -> tuple[str, ...]:
    return tuple(f"r{k}" for k in range(1, n + 1))


def keys(n: int) -> KeyRing:
    return KeyRing(0, (*replicas(n), "c1", "c2"))


def config(n: int, bugs: frozenset[str], me: str = "r1") -> PbftConfig:
    return PbftConfig(me, replicas(n), clients=("c1", "c2"), bugs=bugs)


def sign(ring: KeyRing, holder: str, body: Any) -> Signed[Any]:
    if not ring.knows(holder):  # no key: a signature that verifies under none
        return Signed(body, holder, b"\0" * 64)
    return Signed(body, holder, ring.signer(holder).sign(signing_bytes(body)))


def verifier(ring: KeyRing) -> Callable[[Signed[Any]], bool]:
    def verify(m: Signed[Any]) -> bool:
        return ring.knows(m.signer) and ring.verify(m.signer, m.signature, signing_bytes(m.body))

    return verify


def f_of(n: int) -> int:
    return (n - 1) // 3


def items(n: int) -> st.SearchStrategy[list[Item]]:
    """Distinct replicas' matching messages, as many as a threshold needs give or take one (2f
    to 2f+1 of n), and at most two more of any kind, in any order."""
    f = f_of(n)
    size = st.one_of(st.integers(max(2 * f - 1, 0), n), st.integers(0, n))
    honest = size.flatmap(
        lambda k: st.permutations(replicas(n)).map(lambda rs: [(r, "matching") for r in rs[:k]])
    )
    # an extra is as often a client's or a stranger's as a replica's, as often matching as not
    signers = st.one_of(st.sampled_from(("c1", OUTSIDER)), st.sampled_from(replicas(n)))
    how = st.one_of(st.just("matching"), st.sampled_from(HOW))
    extra = st.lists(st.tuples(signers, how), max_size=2)
    return st.tuples(honest, extra).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))


def eligible(item: Item, n: int, excluded: str | None = None) -> bool:
    signer, how = item
    return how == "matching" and signer in replicas(n) and signer != excluded


def fail(what: str, found: list[Item], verdict: Any) -> CheckFailed:
    return CheckFailed(f"{what}: {found} -> {verdict!r}", steps=len(found))


# -- a prepared certificate, alone and inside a view change ------------------------------------------


def varied(view: int, seq: int, digest: bytes, how: str) -> tuple[int, int, bytes]:
    """A vote's (view, sequence number, digest), one of them made wrong as `how` names (else as
    they are)."""
    if how == "view":
        view += 1
    elif how == "seq":
        seq += 1
    elif how == "digest":
        digest = batch_digest(())
    return view, seq, digest


def prepare_for(pp: PrePrepare, signer: str, how: str) -> Prepare:
    return Prepare(*varied(pp.view, pp.seq, pp.digest, how), signer)


def prepared_verdict(
    n: int, view: int, found: list[Item], bugs: frozenset[str], *, carried: bool
) -> tuple[bool, bool | None]:
    """(taken by the code, what the oracle says: True or False, None when the certificate holds a
    message no eligible replica signed and must be refused)."""
    ring, cfg = keys(n), config(n, bugs)
    primary = cfg.primary(view)
    request = sign(ring, "c1", Request("c1", 1, "a"))
    pp = sign(ring, primary, PrePrepare(view, 5, batch_digest((request,)), primary, (request,)))
    prepares = tuple(sign(ring, s, prepare_for(pp.body, s, how)) for s, how in found)
    proof = PreparedProof(pp, prepares)
    if carried:  # the same certificate as a view-change message's claim for the next view
        sender = replicas(n)[-1]
        vc = sign(ring, sender, ViewChange(view + 1, 0, GENESIS, (), (proof,), sender))
        taken = check_view_change(vc, cfg, verifier(ring)) is None
    else:
        taken = check_prepared(proof, cfg, verifier(ring)) is None
    # the primary's own matching prepare: allowed, counted for nothing (its vote is the pre-prepare)
    if not all(eligible(i, n) for i in found):
        return taken, None
    backups = {s for s, how in found if eligible((s, how), n, primary)}
    return taken, len(backups) >= 2 * f_of(n)


def _prepared(carried: bool) -> Callable[[frozenset[str], hypothesis.settings], None]:
    def check(bugs: frozenset[str], settings: hypothesis.settings) -> None:
        @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
        @given(n=st.sampled_from(SIZES), view=st.integers(0, 2), data=st.data())
        def prepared_certificate(n: int, view: int, data: st.DataObject) -> None:
            found = data.draw(items(n), "prepares")
            taken, holds = prepared_verdict(n, view, found, bugs, carried=carried)
            if taken != bool(holds):
                where = (
                    "a view change's prepared certificate" if carried else "a prepared certificate"
                )
                raise fail(
                    f"{where} at n={n}, view {view}, {'taken' if taken else 'refused'}",
                    found,
                    holds,
                )

        prepared_certificate()

    return check


prepared = _prepared(carried=False)
prepared_in_a_view_change = _prepared(carried=True)


# -- a stable-checkpoint proof ------------------------------------------------------------------------


def checkpoint_for(seq: int, digest: bytes, signer: str, how: str) -> Checkpoint:
    if how == "seq":
        seq += 1
    elif how in ("digest", "view"):  # a checkpoint has no view: another digest instead
        digest = GENESIS
    return Checkpoint(seq, digest, signer)


def stable_checkpoint(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), data=st.data())
    def stable_checkpoint_proof(n: int, data: st.DataObject) -> None:
        ring, cfg = keys(n), config(n, bugs)
        history = ((sign(ring, "c1", Request("c1", 1, "a")),), ())
        seq, digest = len(history), history_digest(history)
        found = data.draw(items(n), "checkpoints")
        proof = tuple(sign(ring, s, checkpoint_for(seq, digest, s, how)) for s, how in found)
        sender = replicas(n)[-1]
        vc = sign(ring, sender, ViewChange(1, seq, digest, proof, (), sender))
        taken = check_view_change(vc, cfg, verifier(ring)) is None
        holds = all(eligible(i, n) for i in found) and len({s for s, _ in found}) >= 2 * f_of(n) + 1
        if taken != holds:
            raise fail(f"a stable-checkpoint proof at n={n}", found, taken)

    stable_checkpoint_proof()


# -- a new view's view changes ----------------------------------------------------------------------


def new_view(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), data=st.data())
    def new_view_proof(n: int, data: st.DataObject) -> None:
        ring, cfg = keys(n), config(n, bugs)
        view = 1
        primary = cfg.primary(view)
        found = data.draw(items(n), "view changes")
        changes = tuple(
            sign(ring, s, ViewChange(view + (how == "view"), 0, GENESIS, (), (), s))
            for s, how in found
        )
        nv = sign(ring, primary, NewView(view, changes, (), primary))
        taken = not isinstance(check_new_view(nv, cfg, verifier(ring)), str)
        # seq and digest: a view change names neither, so it matches; one signer twice is refused
        usable = all(how != "view" and s in replicas(n) for s, how in found)
        signers = [s for s, _ in found]
        holds = (
            usable and len(set(signers)) == len(signers) and len(set(signers)) >= 2 * f_of(n) + 1
        )
        if taken != holds:
            raise fail(f"a new view's view changes at n={n}", found, taken)

    new_view_proof()


# -- the commits that make a request committed-local -----------------------------------------------


def commit_for(view: int, seq: int, digest: bytes, signer: str, how: str) -> Commit:
    return Commit(*varied(view, seq, digest, how), signer)


def committed(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """A backup that prepared a request (its own prepare and 2f-1 others' with the pre-prepare)
    and sent its commit gets the drawn commits, one message each; it executes the request (a
    reply to the client) exactly when 2f+1 distinct replicas' matching commits, its own among
    them, are in."""

    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), data=st.data())
    def commit_certificate(n: int, data: st.DataObject) -> None:
        ring, names = keys(n), replicas(n)
        me = names[1]
        replica = Replica(config(n, bugs, me), ring)
        replica.step(Restart({}))
        request = sign(ring, "c1", Request("c1", 1, "a"))
        batch = (request,)
        pp = sign(ring, names[0], PrePrepare(0, 1, batch_digest(batch), names[0], batch))
        replica.step(Deliver(names[0], pp))
        for other in names[2 : 2 * f_of(n) + 1]:  # with its own prepare: 2f backups
            replica.step(Deliver(other, sign(ring, other, Prepare(0, 1, pp.body.digest, other))))
        # drawn commits of others (its own is in: it committed on preparing)
        found = [i for i in data.draw(items(n), "commits") if i[0] != me]
        replied = False
        for s, how in found:
            commit = sign(ring, s, commit_for(0, 1, pp.body.digest, s, how))
            effects = replica.step(Deliver(s, commit))
            replied = replied or any(
                isinstance(e, Send) and isinstance(e.message.body, Reply) for e in effects
            )
        signers = {me} | {s for s, how in found if eligible((s, how), n)}
        holds = len(signers) >= 2 * f_of(n) + 1
        if replied != holds:
            raise fail(f"commits at {me} of n={n}", found, replied)

    commit_certificate()


PROPERTIES: Final = (
    ("prepared certificate", prepared),
    ("prepared certificate in a view change", prepared_in_a_view_change),
    ("stable-checkpoint proof", stable_checkpoint),
    ("new view", new_view),
    ("commit certificate", committed),
)


def certificates(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The Check: every certificate property with `bugs` switched on; CheckFailed on the first
    that fails."""
    for _, prop in PROPERTIES:
        prop(bugs, settings)

"""The protocol-agnostic message mutator (impl/base/mutation.py): it changes one position of any
attrs message and keeps the rest, follows the seeded generator it is given, and hands what must
be signed again to the protocol's `Signing`."""

from __future__ import annotations

import random
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base import mutation


@attrs.frozen
class Vote:
    view: int
    digest: bytes
    src: str


@attrs.frozen
class Cert:
    votes: tuple[Vote, ...]
    voters: frozenset[str]
    final: bool


@attrs.frozen
class Env:
    body: Any
    signer: str
    signature: bytes


VOTES = tuple(Vote(v, bytes([v]) * 4, f"r{v}") for v in (1, 2, 3))
MESSAGE = Env(Cert(VOTES, frozenset({"r1", "r2"}), False), "r1", b"sig")


def donors(seed: int = 0) -> mutation.Donors:
    found = mutation.Donors(random.Random(seed))
    found.add(MESSAGE)
    found.add(Env(Vote(9, b"\x09" * 4, "r9"), "r9", b"other"))
    return found


def differences(a: Any, b: Any, path: mutation.Path = ()) -> list[mutation.Path]:
    """The outermost positions where a and b differ."""
    if type(a) is not type(b) or not mutation.children(a):
        return [] if a == b else [path]
    ca, cb = mutation.children(a), mutation.children(b)
    if len(ca) != len(cb):
        return [path]
    out = []
    for (step, x), (_, y) in zip(ca, cb, strict=True):
        out += differences(x, y, (*path, step))
    return out


@given(st.integers(0, 10_000))
def test_a_mutation_changes_one_position_and_keeps_its_type(seed: int) -> None:
    rng = random.Random(seed)
    changed = mutation.mutate(MESSAGE, rng, donors(seed))
    assert changed is not None and changed.value != MESSAGE
    assert type(changed.value) is Env
    found = differences(MESSAGE, changed.value)
    assert found  # every difference lies at or below the one position reported
    assert all(d[: len(changed.path)] == changed.path for d in found), (found, changed.path)
    old, new = mutation.get(MESSAGE, changed.path), mutation.get(changed.value, changed.path)
    assert type(old) is type(new) or isinstance(new, type(old))


def test_the_same_seed_gives_the_same_mutations() -> None:
    runs = [
        [mutation.mutate(MESSAGE, rng, donors()) for _ in range(50)]
        for rng in (random.Random(3), random.Random(3))
    ]
    assert runs[0] == runs[1]
    assert len({m.path for m in runs[0] if m is not None}) > 5  # it goes everywhere


def test_every_kind_of_change_happens() -> None:
    """ints moved, bytes altered, strings swapped for names seen, sets shrunk and grown, values
    swapped for others of their kind."""
    rng = random.Random(0)
    hows = " ".join(
        m.how for m in (mutation.mutate(MESSAGE, rng, donors()) for _ in range(400)) if m
    )
    for word in ("->", "bit", "shrink", "grow", "repeat", "swapped for another", "'r"):
        assert word in hows, word


def test_replace_rebuilds_the_path_and_get_reads_it() -> None:
    path: mutation.Path = ("body", "votes", 1, "view")
    new = mutation.replace(MESSAGE, path, 7)
    assert mutation.get(new, path) == 7
    assert new.body.votes[0] == MESSAGE.body.votes[0] and new.signer == "r1"
    assert mutation.describe(path) == ".body.votes[1].view"


class Claims:
    """A Signing for Env: the node r9 claims a message by naming itself and 'signing' it."""

    me = "r9"

    def signer(self, message: Any) -> str | None:
        return message.signer if isinstance(message, Env) else None

    def signed_part(self, message: Any) -> mutation.Path:
        return ("body",)

    def unsigned(self, value: Any) -> frozenset[str]:
        return frozenset({"final"}) if isinstance(value, Cert) else frozenset()

    def claim(self, message: Any) -> Any | None:
        return Env(message.body, self.me, b"by r9")


def test_fuzz_keeps_or_replaces_the_signature_as_the_protocol_says() -> None:
    seen = {True: 0, False: 0}
    rng = random.Random(1)
    for _ in range(200):
        fuzzed = mutation.fuzz([MESSAGE], ["r2", "r3"], rng, donors(), Claims(), resign=0.5)
        assert fuzzed is not None and fuzzed.dest in ("r2", "r3") and fuzzed.origin is MESSAGE
        seen[fuzzed.resigned] += 1
        if fuzzed.resigned:  # changed inside the body only, then signed by the node
            assert fuzzed.message.signer == "r9" and fuzzed.message.signature == b"by r9"
        else:  # sent under the signature it had: a relayed message, maybe altered
            assert fuzzed.message.signature != b"by r9"
    assert seen[True] > 50 and seen[False] > 50
    # relayed under its signatures, it is changed where no signature reaches, half of the time
    relayed = [
        mutation.fuzz([MESSAGE], ["r2"], rng, donors(), Claims(), resign=0.0, aim=1.0)
        for _ in range(50)
    ]
    assert all(f is not None and f.message.body.final is True for f in relayed)
    assert mutation.fuzz([], ["r2"], rng, donors(), Claims()) is None


def test_walk_finds_every_value_of_a_kind() -> None:
    assert [v.view for v in mutation.walk(MESSAGE, Vote)] == [1, 2, 3]


# -- certificates grown (mutation.grow, docs/certificates.md) --------------------------------------


class Certifies(Claims):
    """Claims, and Cert.votes is a certificate whose votes r9 can cast in its own name."""

    def certificates(self, message: Any) -> list[mutation.Path]:
        return [("body", "votes")] if isinstance(message.body, Cert) else []

    def vote_signer(self, vote: Any) -> str | None:
        return vote.src if isinstance(vote, Vote) else None

    def claim_vote(
        self, message: Any, path: mutation.Path, vote: Any, rng: random.Random | None
    ) -> Any | None:
        body = vote if rng is None else mutation.restate(vote, rng)
        return attrs.evolve(body, src=self.me)


def test_a_grown_certificate_has_one_vote_more_or_one_in_place_of_another() -> None:
    """Each way of growing happens: a vote repeated, the node's own vote (the statement of the
    others), a second vote of a signer (another held vote of it), a vote of another statement;
    added or put in place of a vote; only inside the certificate."""
    rng = random.Random(2)
    held = donors()
    held.add(Env(Cert((Vote(1, b"\x07" * 4, "r1"),), frozenset(), False), "r2", b"s"))
    hows: list[str] = []
    for _ in range(400):
        grown = mutation.grow_certificate(MESSAGE, rng, held, Certifies())
        if grown is None:
            continue
        hows.append(grown.how)
        assert grown.path == ("body", "votes")
        votes = grown.value.body.votes
        assert grown.value.body.voters == MESSAGE.body.voters and grown.value.signer == "r1"
        assert len(votes) in (len(VOTES), len(VOTES) + 1) and votes != VOTES
        added = [v for v in votes if v not in VOTES]
        if grown.how.startswith("repeat a vote"):
            assert not added and len(set(votes)) < len(votes)
        elif grown.how.startswith("own vote"):
            assert [v.src for v in added] == ["r9"] and added[0].view in (1, 2, 3)
        elif grown.how.startswith("second vote of a signer"):
            assert added == [Vote(1, b"\x07" * 4, "r1")]  # the other held vote of r1
        else:
            assert len(added) == 1 and (added[0].view, added[0].digest) not in {
                (v.view, v.digest) for v in VOTES
            }
    for way in (*mutation.GROW, "in place of one"):
        assert any(way in h for h in hows), way
    # no certificate, nothing grown
    assert (
        mutation.grow_certificate(Env(Vote(1, b"", "r1"), "r1", b""), rng, held, Certifies())
        is None
    )


def test_grow_signs_again_what_a_signature_covers() -> None:
    """A certificate inside the signed body: the message is claimed by the node (a relayed copy
    would only fail its signature); the origin is the held message."""
    rng = random.Random(5)
    sent = [mutation.grow([MESSAGE], ["r2"], rng, donors(), Certifies()) for _ in range(50)]
    assert all(f is None or (f.resigned and f.message.signer == "r9") for f in sent)
    assert sum(f is not None for f in sent) > 25
    assert (
        mutation.grow([Env(Vote(1, b"", "r1"), "r1", b"")], ["r2"], rng, donors(), Certifies())
        is None
    )

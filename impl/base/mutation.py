"""Protocol-agnostic mutation of messages, for Byzantine nodes that send anything they can sign.

In the line of ByzzFuzz (Winter, Abeyratne, Saarinen, Oh: "Randomized Testing of Byzantine Fault
Tolerant Algorithms", OOPSLA 2023): a Byzantine node takes a message it holds (its own, one it
received, one it relays) and sends a mutation of it. The mutations here know nothing of any
protocol: they walk a message as a tree of frozen attrs values, tuples and frozensets down to ints,
bools, bytes and strings, pick one position at random and change what is there:

- an int: one more or one less (the next or the previous view, sequence number, epoch), a jump,
  zero, minus one;
- a bool: flipped; bytes (digests, signatures): a bit flipped, other bytes of the same length,
  cut short, empty; a string (a node's name): another string seen in the pool of held messages;
- a tuple or a frozenset (certificates, batches, sets of votes): an element dropped (shrunk), one
  repeated or one of the same kind taken from another held message (grown), two swapped, all
  dropped;
- an attrs value (a whole vote, a certificate, a request): swapped for another of its class seen
  in the pool.

Certificates get mutations of their own (`grow`, on top of the blind ones, for a protocol whose
`Signing` is also `Certifying`: it names where a message holds a set of votes counted as a quorum,
and how the Byzantine node casts a vote of its own there), each added or put in place of a vote
(so that the certificate is one vote short of what it claims): a vote repeated, the node's own vote
added (where the rule may exclude it: PBFT's primary in a prepared certificate), a second vote of
one signer (the node's own, changed and signed again; another signer's, taken from a held
message), a vote of another view, sequence number or digest (a held one, or the node's own). A
certificate check must count each eligible signer of a matching vote once, and nothing else
(docs/certificates.md): these are what tests it.

What only the protocol knows (which envelope is signed by whom, how to sign a body again in the
Byzantine node's own name) comes in as a `Signing` (impl/pbft/byzantine/fuzz.py,
impl/hybrid/fuzz.py). A mutated message is then either sent as it is, under the signatures it had
(a relayed message altered: unless the position is one its signer's signature does not cover, an
honest receiver must reject it), or claimed and signed again by the Byzantine node (a valid
message of its own, which the protocol must survive from at most f nodes).

Every random choice comes from the generator passed in, so a run stays a function of its seed;
nothing here keeps state between calls but the donor pool the caller owns.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final
from typing import Protocol

import attrs

from meshcheck.impl.base.node import probability

Step = str | int  # a field of an attrs value, or an index into a tuple
Path = tuple[Step, ...]

_STOP_HERE: Final = 0.3  # chance a walk stops at a composite value it could descend into
_DEPTH: Final = 12
_PER_TYPE: Final = 48  # donors kept per type


def _composite(value: Any) -> bool:
    return (attrs.has(type(value)) and not isinstance(value, type)) or isinstance(
        value, tuple | frozenset
    )


def children(value: Any) -> list[tuple[Step, Any]]:
    """The positions one level below `value`: an attrs value's fields, a tuple's items."""
    if attrs.has(type(value)) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in attrs.fields(type(value)) if f.init]
    if isinstance(value, tuple):
        return list(enumerate(value))
    return []  # a frozenset is mutated as a whole; scalars and mappings have no positions below


def positions(value: Any, path: Path = ()) -> Iterator[Path]:
    """Every position below `value` (its fields, their items, at any depth), depth first."""
    for step, child in children(value):
        here = (*path, step)
        yield here
        yield from positions(child, here)


def unsigned_field(
    root: Any, path: Path, unsigned: Collection[tuple[type, str]]
) -> tuple[type, str] | None:
    """The field of `unsigned` (a table of (message type, field name)) that the position `path`
    lies in, walking down from `root`; None when every field on the way is signed."""
    here = root
    for step in path:
        if isinstance(step, str) and (type(here), step) in unsigned:
            return (type(here), step)
        here = here[step] if isinstance(step, int) else getattr(here, step)
    return None


def get(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step] if isinstance(step, int) else getattr(value, step)
    return value


def replace(value: Any, path: Path, new: Any) -> Any:
    """`value` with the position `path` set to `new` (every value on the way rebuilt)."""
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        items = list(value)
        items[step] = replace(items[step], rest, new)
        return type(value)(items) if not isinstance(value, tuple) else tuple(items)
    field = attrs.fields_dict(type(value))[step]
    changes: dict[str, Any] = {str(field.alias): replace(getattr(value, step), rest, new)}
    return attrs.evolve(value, **changes)


class Donors:
    """Values seen in the messages a Byzantine node holds, by type: what a swap or a grown set takes
    from (another vote, another certificate, another node's name). The caller feeds it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.by_type: dict[Any, list[Any]] = {}

    def add(self, message: Any, *, depth: int = _DEPTH) -> None:
        """Note every value inside `message` (bounded per type: a random sample of what came)."""
        stack = [(message, 0)]
        while stack:
            value, level = stack.pop()
            for key in dict.fromkeys((type(value), shape(value))):  # in this order, once each
                kept = self.by_type.setdefault(key, [])
                if len(kept) < _PER_TYPE:
                    kept.append(value)
                else:
                    kept[self.rng.randrange(_PER_TYPE)] = value
            if level < depth:
                stack.extend((child, level + 1) for _, child in children(value))
                if isinstance(value, frozenset):
                    stack.extend((child, level + 1) for child in _ordered(value))

    def like(self, value: Any) -> Any | None:
        """Another value of `value`'s shape (mostly) or type (None: none seen that differs)."""
        key = shape(value) if self.rng.random() < 0.8 else type(value)
        kept = [v for v in self.by_type.get(key, ()) if v is not value]
        if not kept:
            return None
        other = self.rng.choice(kept)
        return None if _same(other, value) else other


def shape(value: Any) -> tuple[type, ...]:
    """A value's type and its fields' types (an envelope of a vote and one of a certificate have
    one type and two shapes): what a swap prefers to keep."""
    if attrs.has(type(value)) and not isinstance(value, type):
        return (type(value), *(type(child) for _, child in children(value)))
    return (type(value),)


def _ordered(items: frozenset[Any]) -> list[Any]:
    """A set's items in an order that does not depend on the process's hash seed (a run must be
    a function of its seed alone)."""
    return sorted(items, key=repr)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # values that refuse comparison are different enough
        return False


@attrs.frozen
class Mutation:
    """A changed message, where it was changed, and how (a few words, for traces and failures)."""

    value: Any
    path: Path
    how: str


def _mutate_int(value: int, rng: random.Random) -> tuple[int, str]:
    choices = [value + 1, value - 1, value + rng.randint(2, 9), 0, -1, value * 2 + 1]
    new = rng.choice([c for c in choices if c != value] or [value + 1])
    return new, f"{value} -> {new}"


def _mutate_bytes(value: bytes, rng: random.Random) -> tuple[bytes, str]:
    kind = rng.randrange(4) if value else 1
    if kind == 0:
        at = rng.randrange(len(value) * 8)
        flipped = bytearray(value)
        flipped[at // 8] ^= 1 << (at % 8)
        return bytes(flipped), f"bit {at} flipped"
    if kind == 1:
        return rng.randbytes(max(len(value), 1)), "other bytes"
    if kind == 2:
        return value[: rng.randrange(len(value))], "cut short"
    return b"", "emptied"


def _mutate_collection(
    value: tuple[Any, ...] | frozenset[Any], rng: random.Random, donors: Donors
) -> tuple[Any, str] | None:
    items = _ordered(value) if isinstance(value, frozenset) else list(value)
    ops = ["grow"]
    if items:
        ops += ["shrink", "repeat", "empty"]
    if len(items) > 1 and isinstance(value, tuple):
        ops += ["swap"]
    op = rng.choice(ops)
    if op == "shrink":
        del items[rng.randrange(len(items))]
    elif op == "repeat":
        items.insert(rng.randrange(len(items) + 1), rng.choice(items))
    elif op == "empty":
        items = []
    elif op == "swap":
        i, j = rng.sample(range(len(items)), 2)
        items[i], items[j] = items[j], items[i]
    else:  # grow with a value of the kind it holds, from another message
        sample = items[0] if items else None
        extra = donors.like(sample) if sample is not None else None
        if extra is None:
            return None
        items.insert(rng.randrange(len(items) + 1), extra)
    new: Any = tuple(items) if isinstance(value, tuple) else frozenset(items)
    return (None if _same(new, value) else new), f"{op} ({len(value)} -> {len(items)} items)"


def mutate_value(value: Any, rng: random.Random, donors: Donors) -> tuple[Any, str] | None:
    """A different value for one position (None: nothing to change it to)."""
    if isinstance(value, bool):
        return (not value), f"{value} -> {not value}"
    if isinstance(value, int):
        return _mutate_int(value, rng)
    if isinstance(value, bytes):
        new_bytes, how = _mutate_bytes(value, rng)
        return None if new_bytes == value else (new_bytes, how)
    if isinstance(value, str):
        other = donors.like(value)
        new = other if other is not None and rng.random() < 0.8 else value + "'"
        return new, f"{value!r} -> {new!r}"
    if isinstance(value, tuple | frozenset):
        if rng.random() < 0.2:
            other = donors.like(value)
            if other is not None:
                return other, "swapped for another"
        result = _mutate_collection(value, rng, donors)
        return result if result is not None and result[0] is not None else None
    if attrs.has(type(value)):
        other = donors.like(value)
        return (other, f"swapped for another {type(value).__name__}") if other is not None else None
    return None


def pick(value: Any, rng: random.Random) -> Path:
    """A random position below the root of `value`: a walk from the root that stops at a composite
    value now and then and always at a scalar."""
    path: list[Step] = []
    here = value
    for _ in range(_DEPTH):
        below = children(here)
        if not below or (path and _composite(here) and rng.random() < _STOP_HERE):
            break
        step, here = rng.choice(below)
        path.append(step)
    return tuple(path)


def mutate(value: Any, rng: random.Random, donors: Donors, *, tries: int = 8) -> Mutation | None:
    """`value` changed at one random position (None: no position found that could change)."""
    for _ in range(tries):
        path = pick(value, rng)
        if not path:
            return None
        try:
            found = mutate_value(get(value, path), rng, donors)
            if found is None:
                continue
            new, how = found
            changed = replace(value, path, new)
        # a value its class's validators refuse (or cannot encode): another position
        except (TypeError, ValueError, OverflowError):
            continue
        if not _same(changed, value):
            return Mutation(changed, path, how)
    return None


def describe(path: Path) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path) or "(root)"


class Signing(Protocol):
    """What a protocol tells the fuzzer: who signed a message, and how to make a changed message the
    Byzantine node's own (its fields that name the signer set to it, signed with its key)."""

    me: str  # the Byzantine node

    def signer(self, message: Any) -> str | None: ...

    def signed_part(self, message: Any) -> Path:
        """Where in `message` the body its signer signs lies (what a claim keeps: changes outside
        it, to the signature or the signer's name, are lost when the node signs again)."""
        ...

    def unsigned(self, value: Any) -> frozenset[str]:
        """The fields of `value` its signer's signature does not cover (declared by the protocol
        with a reason): where a relayed message can be changed without breaking a signature."""
        ...

    def claim(self, message: Any) -> Any | None:
        """`message` in the Byzantine node's own name, signed with its key (None: it cannot be,
        e.g. a client's request)."""
        ...


@attrs.frozen
class Fuzzed:
    """One message the fuzzer sends: to whom, what, and how it came about."""

    dest: str
    message: Any
    origin: Any  # the held message it was made from
    how: str
    resigned: bool


def unsigned_positions(value: Any, signing: Signing, *, limit: int = 64) -> list[Path]:
    """The positions of fields no signature covers inside `value` (not looking inside them), at
    most `limit` of them."""
    found: list[Path] = []
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack and len(found) < limit:
        path, here = stack.pop()
        skip = signing.unsigned(here) if attrs.has(type(here)) else frozenset()
        for step, child in children(here):
            if isinstance(step, str) and step in skip:
                found.append((*path, step))
            elif _composite(child):
                stack.append(((*path, step), child))
    return found


def fuzz(
    held: Sequence[Any],
    dests: Sequence[str],
    rng: random.Random,
    donors: Donors,
    signing: Signing,
    *,
    max_mutations: int = 2,
    resign: float = 0.5,
    aim: float = 0.5,
) -> Fuzzed | None:
    """One fuzzed send: a held message, changed at one to `max_mutations` positions (or not at
    all: a replay to another peer), then with probability `resign` claimed as the node's own (always
    when it was already its own), sent to a random destination. A message relayed under the
    signatures it had is changed, with probability `aim`, inside a field no signature covers (if
    it has one): a change anywhere else only gets the relayer caught for a bad signature."""
    if not held or not dests:
        return None
    origin = held[rng.randrange(len(held))]
    signer = signing.signer(origin)
    claiming = signer is not None and (signer == signing.me or rng.random() < resign)
    # a message to be signed again is changed inside its signed body only
    prefix: Path = signing.signed_part(origin) if claiming else ()
    aiming = not claiming and rng.random() < aim
    if aiming:
        spots = unsigned_positions(origin, signing)
        prefix = rng.choice(spots) if spots else ()
    target = get(origin, prefix)
    hows = []
    count = 0 if aiming and not prefix else rng.randint(1 if prefix else 0, max_mutations)
    for k in range(count):
        whole = k == 0 and prefix and (not children(target) or rng.random() < 0.3)
        changed = None if whole else mutate(target, rng, donors)
        if changed is None and k == 0 and prefix:  # the field itself changed as a whole
            found = mutate_value(target, rng, donors)
            changed = Mutation(found[0], (), found[1]) if found is not None else None
        if changed is None:
            break
        target = changed.value
        hows.append(f"{describe((*prefix, *changed.path))} {changed.how}")
    message = replace(origin, prefix, target) if hows else origin
    resigned = False
    if claiming and (hows or signer != signing.me):
        claimed = signing.claim(message)
        if claimed is not None:
            message, resigned = claimed, True
    how = "; ".join(hows) if hows else "replayed"
    return Fuzzed(rng.choice(list(dests)), message, origin, how, resigned)


def walk(value: Any, kinds: type | tuple[type, ...]) -> Iterable[Any]:
    """Every value of `kinds` inside `value`, outermost first (through attrs values, tuples,
    frozensets and mappings' values)."""
    stack = [value]
    while stack:
        here = stack.pop()
        if isinstance(here, kinds):
            yield here
        if isinstance(here, Mapping):
            stack.extend(reversed(list(here.values())))
        elif isinstance(here, frozenset):
            stack.extend(here)
        else:
            stack.extend(reversed([child for _, child in children(here)]))


class Certifying(Signing, Protocol):
    """A `Signing` that also knows the protocol's certificates (for `grow`)."""

    def certificates(self, message: Any) -> list[Path]:
        """Where in `message` its certificates lie: tuples of votes that a receiver counts as a
        quorum (PBFT's prepares of a prepared certificate, HotStuff's votes of a QC)."""
        ...

    def vote_signer(self, vote: Any) -> str | None:
        """Who cast one vote of a certificate."""
        ...

    def claim_vote(
        self, message: Any, path: Path, vote: Any, rng: random.Random | None
    ) -> Any | None:
        """A vote of the Byzantine node for the certificate at `path` of `message`: the statement
        `vote` makes (`rng` None), or with `rng` one of another view, sequence number or digest
        (`restate`), in the node's name and signed with its key (None: it cannot)."""
        ...


# how a certificate is grown, each as likely
GROW: Final = ("repeat a vote", "own vote", "second vote of a signer", "foreign vote")


def _votes_of(signing: Certifying, votes: Sequence[Any], who: str | None) -> list[Any]:
    return [v for v in votes if who is not None and signing.vote_signer(v) == who]


def grow_certificate(
    message: Any, rng: random.Random, donors: Donors, signing: Certifying
) -> Mutation | None:
    """`message` with one of its certificates grown by one vote (module doc); None when it holds
    no certificate with a vote, or the vote chosen cannot be made."""
    spots = [p for p in signing.certificates(message) if _nonempty_tuple(get(message, p))]
    if not spots:
        return None
    path = rng.choice(spots)
    votes: tuple[Any, ...] = get(message, path)
    vote = rng.choice(votes)
    how = rng.choice(GROW)
    extra: Any = None
    if how == "repeat a vote":
        extra = vote
    elif how == "own vote":
        extra = signing.claim_vote(message, path, vote, None)
    elif how == "second vote of a signer":
        mine = _votes_of(signing, votes, signing.me)
        if mine:  # its own vote again, for another statement, signed again
            extra = signing.claim_vote(message, path, rng.choice(mine), rng)
        else:  # another held vote of a signer already in the certificate
            who = signing.vote_signer(vote)
            held = [d for d in donors.by_type.get(shape(vote), ()) if not _same(d, vote)]
            same = _votes_of(signing, held, who)
            extra = rng.choice(same) if same else None
    else:  # a held vote not in the certificate (another statement's), or the node's own
        others = [
            d for d in donors.by_type.get(shape(vote), ()) if not any(_same(d, v) for v in votes)
        ]
        extra = rng.choice(others) if others and rng.random() < 0.5 else None
        if extra is None:
            extra = signing.claim_vote(message, path, vote, rng)
    if extra is None:
        return None
    grown = list(votes)
    if rng.random() < 0.5:  # in place of another vote: a certificate of as many votes
        grown[rng.randrange(len(grown))] = extra
        how = f"{how} in place of one"
    else:
        grown.insert(rng.randrange(len(grown) + 1), extra)
    if _same(tuple(grown), votes):
        return None
    try:
        changed = replace(message, path, tuple(grown))
    except (TypeError, ValueError):
        return None
    return Mutation(changed, path, f"{how} ({len(votes)} -> {len(grown)} votes)")


def _nonempty_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value)


def restate(body: Any, rng: random.Random) -> Any:
    """`body` (a vote's signed statement, an attrs value) with one of its numbers or byte strings
    (a view, a sequence number, a digest) changed a little: the same kind of vote for another
    statement. `body` itself when it has none."""
    spots = [
        f.name
        for f in attrs.fields(type(body))
        if f.init
        and isinstance(getattr(body, f.name), int | bytes)
        and not isinstance(getattr(body, f.name), bool)
    ]
    if not spots:
        return body
    name = rng.choice(spots)
    value = getattr(body, name)
    if isinstance(value, int):
        new: Any = max(value + rng.choice((1, -1, 2)), 0)
    else:
        new = _mutate_bytes(value, rng)[0] if value else b"\1"
    try:
        return attrs.evolve(body, **{name: new})
    except (TypeError, ValueError):
        return body


def grow(
    held: Sequence[Any],
    dests: Sequence[str],
    rng: random.Random,
    donors: Donors,
    signing: Certifying,
) -> Fuzzed | None:
    """One send of a held message with a certificate grown (`grow_certificate`): sent under the
    signatures it had when the certificate lies in a field no signature covers (HotStuff's justify),
    else claimed and signed again as the node's own (a view change of its own carrying the grown
    certificate); None when no held message has a certificate that could be grown."""
    holders = [m for m in held if signing.certificates(m)]
    if not holders or not dests:
        return None
    origin = holders[rng.randrange(len(holders))]
    grown = grow_certificate(origin, rng, donors, signing)
    if grown is None:
        return None
    message, resigned = grown.value, False
    if _covered(origin, grown.path, signing) or signing.signer(origin) == signing.me:
        claimed = signing.claim(message)
        if claimed is None:
            return None
        message, resigned = claimed, True
    how = f"{describe(grown.path)} {grown.how}"
    return Fuzzed(rng.choice(list(dests)), message, origin, how, resigned)


def _covered(root: Any, path: Path, signing: Signing) -> bool:
    """Whether a signature covers the position `path` of `root` (no field on the way is one its
    signer's signature leaves out)."""
    here = root
    for step in path:
        if isinstance(step, str) and attrs.has(type(here)) and step in signing.unsigned(here):
            return False
        here = here[step] if isinstance(step, int) else getattr(here, step)
    return True


@attrs.frozen
class FuzzRates:
    """How much a fuzzing Byzantine node sends (its behaviour's fields: impl/pbft/byzantine/fuzz.py,
    impl/hybrid/fuzz.py): on a share `share` of its steps its messages are mutated, and `burst`
    mutations of held messages more are sent, each signed again in its name with probability
    `resign`; `aim`, relays changed where no signature is; `grow`, on a fuzzed step, the chance of
    one more send: a held certificate grown (`grow`)."""

    share: float = attrs.field(default=0.3, validator=probability)
    burst: int = 1
    resign: float = attrs.field(default=0.5, validator=probability)
    aim: float = attrs.field(default=0.5, validator=probability)
    grow: float = attrs.field(default=0.0, validator=probability)

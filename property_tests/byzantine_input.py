"""Honest nodes survive anything a Byzantine node can send: one property, every protocol with one.

A Byzantine node signs whatever it likes in its own name: a well-formed message at the wrong
moment, a message whose fields hold values of other types (a string for a view, a request where a
pre-prepare belongs inside a certificate, a tuple of numbers for a batch), or no message at all.
The named Byzantine behaviours (impl/<protocol>/byzantine.py) and the message fuzzers change the
values of messages the node holds; neither builds a message of another shape, and the crashes that
shape found (a Byzantine PBFT replica's replayed request inside a view change's certificate; the
hybrid layer's entries and sealed Raft messages of the wrong types) were found by hand or by luck.

This module builds the messages from the protocol's *declared types* (the annotations of its
message classes, as impl/base/shape.py reads them to refuse what does not conform): each field
holds, most of the time, a value of its declared type (small numbers, the cluster's node names,
short byte strings, nested messages built the same way), and now and then anything at all (a
number, a string, None, bytes, a tuple, a message of another class). A protocol's `Target` says
which classes its nodes receive, how the Byzantine sender signs or seals a body, and how to reach a
cluster worth hitting (a short calm run, so that logs, views and certificates exist).

The property (`check`): the Byzantine sender's messages, delivered to every honest node, and the
run then going on for a while, raise nothing in any honest node: each message is refused (a bad
signature, evidence against its signer, ignored) or taken as what it is. Hypothesis shrinks a
failure to the one message that crashes a node, printed with its repr.
"""

from __future__ import annotations

import contextlib
import copy
import types
import typing
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal
from typing import TypeVar
from typing import Union
from typing import get_args
from typing import get_origin

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.base.events import Deliver
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.failure import CheckFailed

# What a generic message class (PBFT's Signed[B]) becomes once its body is drawn: the protocol
# signs it with the sender's key, so that the signature checks pass and the body is read.
Wrap = Callable[[Any], Any]


@attrs.frozen
class Target:
    """One protocol's side of the property."""

    name: str
    classes: tuple[type, ...]  # the bodies its nodes receive from one another
    cluster: Callable[[int], Simulator[Any]]  # a cluster after a short calm run, from a seed
    sender: str  # the Byzantine node (its nodes run honestly; its key signs what is sent)
    wire: Callable[[Simulator[Any], Any], Any]  # a drawn body as the sender puts it on the wire
    generic: Mapping[type, Callable[[Simulator[Any]], Wrap]] = attrs.field(factory=dict)
    after: int = 300  # ticks the run goes on after the messages, honest nodes answering them
    # the wire message as sent to one honest node: a protocol whose messages name their receiver
    # (Raft's `dest`) addresses a message the sender received, replayed, to that node
    addressed: Callable[[Simulator[Any], Any, str], Any] = lambda _sim, wire, _node: wire

    def honest(self, sim: Simulator[Any]) -> list[str]:
        return [n for n in sim.node_ids if n != self.sender and sim.up[n]]


def outage(sim: Simulator[Any], node: str, down: int, back: int, until: int) -> Simulator[Any]:
    """`sim` run to `down`, where `node` crashes, to come back at `back`; then run on to `until`
    (a target's calm cluster with one outage in it: the view change or catch-up it sets off leaves
    the sender holding those kinds of message too)."""
    sim.run(until=down)
    sim.crash(node)
    sim.recover_at(node, back)
    sim.run(until=until)
    return sim


@attrs.frozen
class Pool:
    """What the Byzantine sender holds (`harvest`): the messages it received, signed by others,
    and the digests and numbers in its state. A sender replays and recombines these: a real
    certificate's messages in a forged one, a real digest beside a forged sequence number. Drawn
    values reach checks that random bytes never pass (a stable checkpoint's digest, a prepare
    signed by an honest replica)."""

    names: tuple[str, ...]
    messages: tuple[Any, ...] = ()  # attrs instances found in the sender's state
    digests: tuple[bytes, ...] = ()
    numbers: tuple[int, ...] = ()

    def replayed(self) -> st.SearchStrategy[Any]:
        """A held message: its kind first (its class, and its body's for a signed envelope), then
        one of that kind. A node holds far more of some kinds than of others (a hybrid node's
        PBFT log against its few sealed Raft messages), and drawn uniformly the rare kinds would
        hardly come up in a short run."""
        kinds: dict[tuple[type, type], list[Any]] = {}
        for m in self.messages:
            kinds.setdefault((type(m), type(getattr(m, "body", None))), []).append(m)
        return st.sampled_from(list(kinds.values())).flatmap(st.sampled_from)


def harvest(node: Any, names: Sequence[str], limit: int = 20_000) -> Pool:
    """The attrs instances reachable from `node`'s state (its fields, and the dicts, lists, tuples
    and sets inside them), and the byte strings and numbers inside those instances, in a stable
    order: a walk of at most `limit` objects. Numbers and bytes outside any record are left out:
    a core's bookkeeping (impl/raft/log.py's version stamps, counted across every log of the
    process) differs between two builds of one cluster, and a pool that did would make Hypothesis
    draw differently from the same choices (FlakyStrategyDefinition)."""
    messages: dict[Any, None] = {}
    digests: dict[bytes, None] = {}
    numbers: dict[int, None] = {}
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(node, False)]  # (a value, whether a record holds it)
    while stack and len(seen) < limit:
        here, held = stack.pop()
        if isinstance(here, bool) or here is None or isinstance(here, str | float):
            continue
        if isinstance(here, int):
            if held:
                numbers[here] = None
            continue
        if isinstance(here, bytes):
            if held:
                digests[here] = None
            continue
        if id(here) in seen:
            continue
        seen.add(id(here))
        inside: list[Any]
        if isinstance(here, Mapping):
            inside = [*here.keys(), *here.values()]
        elif isinstance(here, list | tuple):
            inside = list(here)
        elif isinstance(here, set | frozenset):
            inside = sorted(here, key=repr)[::-1]
        elif attrs.has(type(here)):
            if here is not node:
                _keep(messages, here)
            held = here is not node
            inside = [getattr(here, f.name) for f in attrs.fields(type(here))]
        elif hasattr(here, "__dict__") or hasattr(type(here), "__slots__"):
            held = False
            inside = _state(here)
        else:
            continue
        stack.extend((value, held) for value in reversed(inside))
    return Pool(
        tuple(names),
        tuple(messages),
        tuple(sorted(digests)),
        tuple(sorted(n for n in numbers if -1 <= n <= 1_000)),
    )


def _state(obj: Any) -> list[Any]:
    """The values of a plain object's attributes: its `__dict__`, and its slots (a gossip node
    keeps its state in `__slots__`, impl/gossip/node.py)."""
    found = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                found.append(getattr(obj, name))
    return found


def _keep(found: dict[Any, None], value: Any) -> None:
    with contextlib.suppress(TypeError):  # unhashable: a mutable class of the node's, no message
        found[value] = None


def junk(pool: Pool) -> st.SearchStrategy[Any]:
    """A value of no particular type: what a field holds when its sender ignores its type."""
    atoms = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 12),
        st.integers(),
        st.sampled_from(pool.names),
        st.text(max_size=3),
        st.binary(max_size=4),
    )
    return st.one_of(atoms, st.lists(atoms, max_size=3).map(tuple))


@attrs.frozen
class _Draw:
    """What the strategies of one example share: the sender's pool, how it signs a generic
    message (PBFT's Signed[B]), and the classes a message may be of."""

    pool: Pool
    wraps: Mapping[type, Wrap]
    classes: tuple[type, ...]

    def held(self, cls: type) -> list[Any]:
        return [m for m in self.pool.messages if isinstance(m, cls)]


def values(hint: Any, draw: _Draw, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for a field declared `hint`: mostly of that type, now and then junk, a message of
    another class, or a message the sender holds (of any class: replayed where it does not
    belong)."""
    typed = _typed(hint, draw, depth)
    if depth > 3:
        return typed
    other = [junk(draw.pool), _any_body(draw, depth)]
    if draw.pool.messages:
        other.append(draw.pool.replayed())
    # six parts in eight of its type; the rest anything else
    return st.one_of(typed, typed, typed, typed, typed, typed, st.one_of(*other))


def _any_body(draw: _Draw, depth: int) -> st.SearchStrategy[Any]:
    return st.deferred(
        lambda: st.sampled_from(draw.classes).flatmap(lambda cls: bodies(cls, draw, depth + 2))
    )


def bodies(cls: type, draw: _Draw, depth: int = 0) -> st.SearchStrategy[Any]:
    """An instance of the attrs class `cls` whose fields `values` draws."""
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    parts = [values(hints.get(f.name, Any), draw, depth + 1) for f in fields]
    return st.tuples(*parts).map(lambda drawn: _build(cls, fields, drawn))


def _build(cls: type, fields: Sequence[attrs.Attribute[Any]], drawn: Sequence[Any]) -> Any:
    """`cls` of the drawn fields (its constructor checks no types), or the drawn values as a
    tuple when a converter of the class refuses them: a message that is no message."""
    try:
        return cls(**{f.name: v for f, v in zip(fields, drawn, strict=True) if f.init})
    except Exception:
        return tuple(drawn)


def _typed(hint: Any, draw: _Draw, depth: int) -> st.SearchStrategy[Any]:
    def again(h: Any) -> st.SearchStrategy[Any]:
        return values(h, draw, depth + 1)

    pool = draw.pool
    origin = get_origin(hint)
    if hint is Any or hint is object or isinstance(hint, TypeVar):
        return junk(pool)
    if origin is Union or origin is types.UnionType:
        return st.one_of(*(again(arm) for arm in get_args(hint)))
    if origin is Literal:
        return st.sampled_from(get_args(hint))
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(again(args[0]), max_size=3 if depth < 3 else 1).map(tuple)
        return st.tuples(*(again(a) for a in args))
    if origin in (frozenset, set):
        item = again(get_args(hint)[0])
        return st.lists(item, max_size=3).map(lambda xs: frozenset(_hashable(xs)))
    if origin is not None and origin in draw.wraps:  # a message the sender signs: made, or held
        (inner,) = get_args(hint)
        made = again(inner).map(draw.wraps[origin])
        # Any is a class since Python 3.11, but no isinstance() of it: a body of any class
        inner_cls = inner if isinstance(inner, type) and inner is not Any else object
        held = [m for m in draw.held(origin) if isinstance(getattr(m, "body", None), inner_cls)]
        return st.one_of(made, st.sampled_from(held)) if held else made
    if hint is None or hint is type(None):
        return st.none()
    if hint is bool:
        return st.booleans()
    if hint is int:
        small = st.one_of(st.integers(0, 8), st.integers(-2, 40), st.integers())
        return st.one_of(small, st.sampled_from(pool.numbers)) if pool.numbers else small
    if hint is str:
        return st.one_of(st.sampled_from(pool.names), st.text(max_size=3))
    if hint is bytes:
        made_bytes = st.binary(max_size=8)
        digests = st.sampled_from(pool.digests)
        return st.one_of(made_bytes, digests, digests) if pool.digests else made_bytes
    if isinstance(hint, type) and attrs.has(hint) and depth <= 4:
        made = bodies(hint, draw, depth)
        held = draw.held(hint)
        return st.one_of(made, st.sampled_from(held)) if held else made
    return junk(pool)


def mutated(value: Any, draw: _Draw, depth: int = 0) -> st.SearchStrategy[Any]:
    """`value` (a message the sender holds) with one part somewhere inside it replaced by a
    drawn value of that part's declared type, or of any other (`values`): a real view change
    whose certificate holds a request where its pre-prepare belongs, a real checkpoint with a
    string for its sequence number. Every signed message on the way down to the part is signed
    again by the sender (the generic wraps), so that its signature holds and its body is read."""
    parts = _parts(value)
    if not parts or depth >= 4:
        return values(type(value), draw, depth)
    return st.sampled_from(range(len(parts))).flatmap(
        lambda k: st.one_of(
            values(parts[k][1], draw, depth + 1),
            mutated(parts[k][2], draw, depth + 1),
        ).map(lambda new: _rebuild(value, parts[k][0], new, draw))
    )


def _parts(value: Any) -> list[tuple[Any, Any, Any]]:
    """(where, declared type, value) of each part of a message: its fields, a tuple's items."""
    if isinstance(value, tuple):
        return [(k, type(item), item) for k, item in enumerate(value)]
    cls = type(value)
    if not attrs.has(cls):
        return []
    hints = typing.get_type_hints(cls)
    found = []
    for f in attrs.fields(cls):
        part = getattr(value, f.name)
        hint = hints.get(f.name, Any)
        if isinstance(hint, TypeVar):  # a generic's body: of the class it holds
            hint = type(part)
        found.append((f.name, hint, part))
    return found


def _rebuild(value: Any, where: Any, new: Any, draw: _Draw) -> Any:
    if isinstance(value, tuple):
        return (*value[:where], new, *value[where + 1 :])
    origin = type(value)
    if origin in draw.wraps and where == "body":
        return draw.wraps[origin](new)  # signed again by the sender
    if origin in draw.wraps:
        return draw.wraps[origin](value.body)
    try:
        return attrs.evolve(value, **{where: new})
    except Exception:
        return new


def _hashable(items: Sequence[Any]) -> list[Any]:
    found = []
    for item in items:
        try:
            hash(item)
        except TypeError:
            continue
        found.append(item)
    return found


def _calm_copies(build: Callable[[int], Simulator[Any]]) -> Callable[[int], Simulator[Any]]:
    """`build`, each seed's cluster built once and handed out as a deep copy: the same clocks,
    queues, random generators, logs and keys, so that the copy runs on as the cluster built afresh
    would (each example of the four targets, run on a copy and on a fresh build, ends in the same
    events and applied entries). A hybrid cluster's calm run of three epochs costs 0.3 CPU-s, its
    copy 0.03."""
    built: dict[int, Simulator[Any]] = {}

    def cluster(seed: int) -> Simulator[Any]:
        if seed not in built:
            built[seed] = build(seed)
        return copy.deepcopy(built[seed])

    return cluster


def check(target: Target, settings: hypothesis.settings) -> None:
    """Hypothesis: a cluster after a short calm run; the Byzantine sender's drawn messages, each
    handed to every honest node that is up; the run going on `after` ticks. No honest node raises.

    The calm run of each seed is built once, and each example starts from a deep copy of it
    (`_calm_copies`): the calm run is most of an example's cost. The examples' function below is
    left as it was, so that Hypothesis (derandomized: its seed is a hash of that function's source)
    draws the same examples as when every example built its own cluster."""
    target = attrs.evolve(target, cluster=_calm_copies(target.cluster))

    @settings
    @given(seed=st.integers(0, 3), data=st.data())
    def honest_nodes_survive(seed: int, data: st.DataObject) -> None:
        sim = target.cluster(seed)
        pool = harvest(sim.nodes[target.sender], sim.node_ids)
        wraps = {origin: make(sim) for origin, make in target.generic.items()}
        draw = _Draw(pool, wraps, target.classes)
        made = st.sampled_from(target.classes).flatmap(lambda cls: bodies(cls, draw))
        shapes = [made, junk(pool)]
        if pool.messages:
            held = pool.replayed()
            once = held.flatmap(lambda m: mutated(m, draw))
            twice = once.flatmap(lambda m: mutated(m, draw))
            shapes += [held, once, once, twice, twice]
        sent = data.draw(st.lists(st.one_of(*shapes), min_size=1, max_size=4), "sent")
        for message in sent:
            wire = target.wire(sim, message)
            for node in target.honest(sim):
                to_node = target.addressed(sim, wire, node)
                try:
                    sim.inject(node, Deliver(target.sender, to_node))
                except Exception as exc:
                    raise CheckFailed(
                        f"{target.name}: honest {node} raised {type(exc).__name__}: {exc} on "
                        f"{target.sender}'s {to_node!r}",
                        steps=sim.events,
                    ) from exc
        try:
            sim.run(until=sim.now + target.after)
        except Exception as exc:
            raise CheckFailed(
                f"{target.name}: the run after {target.sender}'s messages raised "
                f"{type(exc).__name__}: {exc}",
                steps=sim.events,
            ) from exc

    honest_nodes_survive()

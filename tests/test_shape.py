"""impl/base/shape.py: the declared-type walker every core runs on what another node sent."""

from __future__ import annotations

from typing import Any
from typing import Generic
from typing import Literal
from typing import TypeVar

import attrs

from meshcheck.impl.base.shape import mismatch

B = TypeVar("B")


@attrs.frozen
class Env(Generic[B]):
    body: B
    who: str


@attrs.frozen
class Vote:
    view: int
    ok: bool


@attrs.frozen
class Cert:
    votes: tuple[Env[Vote], ...]
    pair: tuple[int, str]
    tag: Literal["a", "b"]
    note: str | None = None
    extra: Any = None
    hidden: int = attrs.field(default=0, metadata={"unsigned": True})
    members: frozenset[str] = frozenset()


GOOD = Cert((Env(Vote(1, True), "r1"),), (1, "x"), "a")


def test_a_value_of_its_declared_types_passes() -> None:
    assert mismatch(GOOD, Cert) is None
    assert mismatch(attrs.evolve(GOOD, note="n", members=frozenset({"r1"})), Cert) is None


def test_each_kind_of_wrong_field_is_named() -> None:
    wrong: list[tuple[Any, str]] = [
        (attrs.evolve(GOOD, votes=(Env("no vote", "r1"),)), "its Env's body is a str, not Vote"),
        (
            attrs.evolve(GOOD, votes=(Env(Vote("1", True), "r1"),)),
            "its Vote's view is a str, not int",
        ),
        (attrs.evolve(GOOD, votes=(Env(Vote(True, True), "r1"),)), "its Vote's view is a bool"),
        (attrs.evolve(GOOD, votes=(Vote(1, True),)), "its Cert's votes is a Vote"),
        (attrs.evolve(GOOD, votes=5), "its Cert's votes is a int"),
        (attrs.evolve(GOOD, pair=(1,)), "its Cert's pair is a tuple"),
        (attrs.evolve(GOOD, pair=(1, 2)), "its Cert's pair is a int, not str"),
        (attrs.evolve(GOOD, tag="c"), "its Cert's tag is a str"),
        (attrs.evolve(GOOD, note=3), "its Cert's note is a int, not str | None"),
        (attrs.evolve(GOOD, members=frozenset({1})), "its Cert's members is a int, not str"),
        (attrs.evolve(GOOD, members=("r1",)), "its Cert's members is a tuple"),
    ]
    for value, said in wrong:
        problem = mismatch(value, Cert)
        assert problem is not None and problem.startswith(said), (value, problem)
    assert mismatch("text", Cert) == "a str, not Cert"


def test_fields_marked_skip_and_any_are_not_looked_at() -> None:
    assert mismatch(attrs.evolve(GOOD, hidden="junk"), Cert, skip="unsigned") is None
    assert mismatch(attrs.evolve(GOOD, hidden="junk"), Cert) is not None
    assert mismatch(attrs.evolve(GOOD, extra=object()), Cert) is None


def test_the_walk_follows_the_declared_types_not_the_value() -> None:
    """A sender cannot make the check slow or deep by nesting: an `Any` field is not walked (a
    walk of this value would end in RecursionError)."""
    deep: Any = ()
    for _ in range(100_000):
        deep = (deep,)
    assert mismatch(attrs.evolve(GOOD, extra=deep), Cert) is None
    assert (
        mismatch(attrs.evolve(GOOD, note=deep), Cert)
        == "its Cert's note is a tuple, not str | None"
    )

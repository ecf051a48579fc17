"""Small pieces of the hybrid layer the mutation campaign (mutation/run.py) found untested: each
test fails on a one-line change that no other fast test saw."""

from __future__ import annotations

import pytest

from meshcheck.impl.base.effects import Put, Splice
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.hybrid.config import HybridConfig
from meshcheck.impl.hybrid.instance import Instance


def test_a_string_of_bugs_is_refused_with_its_reason() -> None:
    with pytest.raises(ImplError) as caught:
        HybridConfig("n1", ("n1", "n2", "n3", "n4"), bugs="equivocation_is_low")
    assert str(caught.value) == (
        "bugs must be a set of mutant names, not the string 'equivocation_is_low'"
    )


def test_an_instance_files_its_core_writes_under_its_epoch_keeping_a_splice_start() -> None:
    # _rekey reads only the prefix: an instance without the rest of its state is enough
    instance = Instance.__new__(Instance)
    instance.prefix = "e3/"
    assert instance._rekey(Splice("log", 4, ("a",))) == Splice("e3/log", 4, ("a",))
    assert instance._rekey(Put("term", 2)) == Put("e3/term", 2)


@pytest.mark.parametrize(
    ("node_id", "nodes", "reason"),
    [
        (
            "n5",
            ("n1", "n2", "n3", "n4"),
            "n5 must be one of distinct nodes ['n1', 'n2', 'n3', 'n4']",
        ),
        (
            "n1",
            ("n1", "n1", "n2", "n3"),
            "n1 must be one of distinct nodes ['n1', 'n1', 'n2', 'n3']",
        ),
        ("n1", ("n1", "n2", "n3"), "a hybrid cluster needs n >= 4 (3f + 1 with f >= 1), not 3"),
    ],
)
def test_a_bad_membership_is_refused_with_its_reason(
    node_id: str, nodes: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(ImplError) as caught:
        HybridConfig(node_id, nodes)
    assert str(caught.value) == reason

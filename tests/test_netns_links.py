"""The nemesis's network faults on a namespace network (meshcheck/cluster/netns_links.py), against a
network that records what it is asked (no namespace, no root): a one-way partition cuts only its
side's sends and a two-way one both ways, each undone by its own links; overlapping latency and
loss faults on a node put it in force once and take it off with the last of them."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import cast

import pytest

from meshcheck.cluster.nemesis import Fault
from meshcheck.cluster.netns import NamespaceNetwork
from meshcheck.cluster.netns import NetnsError
from meshcheck.cluster.netns_links import LATENCY
from meshcheck.cluster.netns_links import LOSS
from meshcheck.cluster.netns_links import NamespaceLinks

NAMES = ("n1", "n2", "n3")


class Recorder:
    """The calls of NamespaceNetwork that NamespaceLinks makes, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def address(self, node: str) -> str:
        return f"198.18.0.{NAMES.index(node) + 2}"

    def cut(self, senders: Iterable[str], receivers: Iterable[str]) -> frozenset[tuple[str, str]]:
        frm, to = tuple(senders), tuple(receivers)
        self.calls.append(("cut", frm, to))
        return frozenset((a, b) for a in frm for b in to)

    def partition(self, groups: Sequence[Iterable[str]]) -> frozenset[tuple[str, str]]:
        sides = [tuple(g) for g in groups]
        self.calls.append(("partition", *sides))
        return frozenset(
            (a, b) for i, x in enumerate(sides) for j, y in enumerate(sides) if i != j
            for a in x for b in y
        )  # fmt: skip

    def uncut(self, links: Iterable[tuple[str, str]]) -> None:
        self.calls.append(("uncut", frozenset(links)))

    def slow(self, nodes: Iterable[str], delay_ms: float, jitter_ms: float = 0) -> None:
        self.calls.append(("slow", tuple(nodes), delay_ms, jitter_ms))

    def unslow(self, nodes: Iterable[str]) -> None:
        self.calls.append(("unslow", tuple(nodes)))

    def lose(self, nodes: Iterable[str], share: float) -> None:
        self.calls.append(("lose", tuple(nodes), share))

    def heal(self) -> None:
        self.calls.append(("heal",))


def _links() -> tuple[NamespaceLinks, Recorder]:
    net = Recorder()
    return NamespaceLinks(cast(NamespaceNetwork, net), NAMES), net


def test_a_one_way_partition_cuts_only_its_sides_sends() -> None:
    links, net = _links()
    undo = links.strike(Fault(1.0, "partition", ("n1",), 2.0, one_way=True))
    assert net.calls == [("cut", ("n1",), ("n2", "n3"))]
    undo()
    assert net.calls[1:] == [("uncut", frozenset({("n1", "n2"), ("n1", "n3")}))]


def test_a_partition_cuts_both_ways_and_is_undone_by_its_own_links() -> None:
    links, net = _links()
    undo = links.strike(Fault(1.0, "partition", ("n2",), 2.0))
    assert net.calls == [("partition", ("n2",), ("n1", "n3"))]
    undo()
    both = {("n2", "n1"), ("n2", "n3"), ("n1", "n2"), ("n3", "n2")}
    assert net.calls[1:] == [("uncut", frozenset(both))]


def test_overlapping_latency_and_loss_are_in_force_until_the_last_is_undone() -> None:
    links, net = _links()
    first = links.strike(Fault(1.0, "latency", ("n1", "n2"), 2.0))
    second = links.strike(Fault(1.5, "latency", ("n2",), 2.0))
    assert net.calls == [("slow", ("n1",), *LATENCY), ("slow", ("n2",), *LATENCY)]
    first()
    assert net.calls[2:] == [("unslow", ("n1",))]  # n2 is still under the second
    second()
    assert net.calls[3:] == [("unslow", ("n2",))]
    net.calls.clear()
    lossy = links.strike(Fault(2.0, "loss", ("n3",), 1.0))
    lossy()
    assert net.calls == [("lose", ("n3",), LOSS), ("lose", ("n3",), 0)]


def test_faults_on_whole_frames_are_refused() -> None:
    links, _ = _links()
    with pytest.raises(NetnsError, match="a proxy's fault"):
        links.strike(Fault(1.0, "reorder", ("n1",), 1.0))

"""A gossip node's settings: who it is, the cluster it starts in, the round, the detector."""

from __future__ import annotations

import attrs

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.gossip.phi import PhiConfig


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ImplError(f"GossipConfig.{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class GossipConfig:
    """`initial`: the members at the start, sorted by name (shared by every node's config: one tuple, not a copy
    per node); a node not in it starts outside and joins through a seed (`JoinVia`).

    Times are ticks of the node's clock (1 tick = 1 ms in the simulator): a round every `interval`
    (1 s, the second design's setting), `fanout` peers pushed to per round (3), one of them also
    pulled from (anti-entropy, `pulls` per round). A peer suspected for `evict_after` ticks is
    left out of the fanout choice until it is heard again; meanwhile it is probed with a pull now
    and then (see impl/gossip/node.py, "Membership")."""

    node_id: str
    initial: tuple[str, ...]
    interval: int = attrs.field(default=1000, validator=_positive)
    fanout: int = attrs.field(default=3, validator=_positive)
    pulls: int = attrs.field(default=1, validator=_positive)
    phi: PhiConfig = attrs.field(factory=PhiConfig)
    evict_after: int = attrs.field(default=5000, validator=_positive)
    watchers: int = attrs.field(default=3, validator=_positive)  # peers each node watches
    bugs: frozenset[str] = frozenset()

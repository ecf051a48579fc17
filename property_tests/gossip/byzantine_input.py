"""The gossip layer's side of the Byzantine-input property (property_tests/byzantine_input.py): n4
sends any of the gossip messages (impl/gossip/messages.py `Message`: Push, Pull, Beat) to every
other member of a four-node cluster that has gossiped writes for a few rounds, crashed and
restarted n2, and had a spare join.

Gossip's fault model is crash-recovery only (specs/Gossip.tla, impl/gossip/node.py): nothing is
signed, a message's sender is the link's, and a faulty node may lose, delay or duplicate messages
but not lie. So the property asks less of it than of the BFT protocols: a node that sends anything
at all (a corrupted peer, a peer of another version, a bug) may spread what it likes among the
entries, and nothing here says the cluster stays correct; only that no member stops at a message
it cannot read (an entry with a string for its version, a digest that is no list of pairs, a value
that is no message). The messages go on the wire as drawn, unsigned: there is nothing to sign."""

from __future__ import annotations

from typing import Any
from typing import get_args

from meshcheck.impl.gossip.messages import JoinVia
from meshcheck.impl.gossip.messages import Message
from meshcheck.impl.gossip.simulation import gossip_cluster
from meshcheck.impl.gossip.simulation import status_workload
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.byzantine_input import Target
from meshcheck.property_tests.byzantine_input import outage

SENDER = "n4"
INTERVAL = 100  # ticks per round: ten times the free runs' pace, so a short run has many rounds


def calm_cluster(seed: int) -> Simulator[Any]:
    """Members n1..n4 and the spare s1 after writes to three keys for a dozen rounds; n2 down for
    three rounds (its restart pulls from its peers), s1 joining through n1."""
    sim = gossip_cluster(
        4,
        spares=1,
        seed=seed,
        workload=status_workload(("k1", "k2", "k3"), every=40, until=1000),
        interval=INTERVAL,
        evict_after=3 * INTERVAL,
        record=False,
        history=False,
    )
    outage(sim, "n2", 300, 600, 500)
    sim.inject("s1", JoinVia("n1"))
    sim.run(until=1200)
    return sim


def unsigned(_sim: Simulator[Any], message: Any) -> Any:
    """A gossip message goes as it is: nothing in gossip is signed."""
    return message


TARGET = Target(
    name="gossip",
    classes=get_args(Message),
    cluster=calm_cluster,
    sender=SENDER,
    wire=unsigned,
    after=6 * INTERVAL,  # six rounds: what the honest nodes took from n4 spreads among them
)

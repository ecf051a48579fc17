"""HotStuff's side of the Byzantine-input property (property_tests/byzantine_input.py): r4 sends, in
its own name, any of the messages HotStuff's replicas and client receive (impl/hotstuff/messages.py
`Message`), after a calm run of four replicas in which the leader of view 4, r1, is down for a while
(so that r4 holds proposals, votes, QCs, NEW-VIEWs, requests and fetched blocks to replay and
recombine).

HotStuff has no signed envelope: a proposal is its leader's signature over the block's hash, a vote
its voter's over (block, view), and NEW-VIEWs, replies and block fetching are authenticated by the
link (impl/hotstuff/fuzz.py says which field each signature covers). So `wire` makes a drawn
message r4's own as its fuzzing does (impl/hotstuff/fuzz.py `HotStuffSigning.claim`: r4 named the
proposer, the voter or the sender, and the signature made again), unless it is already a valid
message of its signers (one r4 holds, relayed as it is); a client's request it cannot claim."""

from __future__ import annotations

from typing import Any
from typing import get_args

from meshcheck.impl.base.node import Workload
from meshcheck.impl.hotstuff.fuzz import HotStuffSigning
from meshcheck.impl.hotstuff.fuzz import forged_part
from meshcheck.impl.hotstuff.messages import Message
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.byzantine_input import Target
from meshcheck.property_tests.byzantine_input import outage
from meshcheck.property_tests.pbft.free_runs import rsm_op

SENDER = "r4"


def calm_cluster(seed: int) -> Simulator[Any]:
    """Four replicas and the client after requests, commits and a few view changes (r1, the leader
    of views 4 and 8, down from t=60 to t=300), so that r4 holds every kind of message."""
    sim = hotstuff_cluster(
        4,
        seed=seed,
        workload=Workload(every=20, until=400, make=rsm_op),
        record=False,
        timeout=60,
        max_backoff=2,
    )
    return outage(sim, "r1", 60, 300, 450)


def claim(sim: Simulator[Any], message: Any) -> Any:
    """`message` as r4 sends it: as it is when every signature in it checks and it names r4 where
    it names a sender (a message r4 holds, relayed), else made r4's own and signed again by r4; as
    it is when nothing makes it r4's (a request, a value that is no message)."""
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    quorum = 2 * ((len(plugin.replicas) - 1) // 3) + 1
    try:
        if forged_part(message, SENDER, plugin.keys, plugin.replicas, quorum) is None:
            return message
    except Exception:  # a message of other types than its class declares: r4's to sign anyway
        pass
    signing = HotStuffSigning(SENDER, plugin.keys.signer(SENDER))
    claimed = signing.claim(message)
    return message if claimed is None else claimed


TARGET = Target(
    name="hotstuff",
    classes=get_args(Message),
    cluster=calm_cluster,
    sender=SENDER,
    wire=claim,
)

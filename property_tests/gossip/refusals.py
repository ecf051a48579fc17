"""NoWrongRefusal for the gossip core (property_tests/refusals.py): a live member answers every
status read and write at once.

Gossip is available under partition by design (the AP side: "written at once by a gossip node,
never waiting on consensus", impl/manager/manager.py; Gossip.tla's Update(i) is enabled at every
live member, whatever the network does, and a read answers what the node holds,
impl/gossip/node.py, "Client requests"). So a member that is up refuses nothing, under any fault:
the only refusal the design allows is a node's that is not a member (outside the cluster, or gone:
"not a member") and a malformed request (the workload sends none). The free runs' read check
(`reads_written`) looks at answered reads only: an error was read as a fault.

`Requests` watches the run (an observer of the plug-in): per request, when it reached which node,
what it was, and whether that node was a member then. `calm_requests` submits, once the run is over,
a status read and a status write at every live member (every client op type of the core in the
calm, so a wrong refusal of either shows even in a run whose workload hit no faulty moment).
`wrong_refusal` classifies every error reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.gossip.node import IN
from meshcheck.impl.gossip.node import GossipNode
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.refusals import Allowed
from meshcheck.property_tests.refusals import Promised
from meshcheck.property_tests.refusals import Refusal
from meshcheck.property_tests.refusals import Tally
from meshcheck.property_tests.refusals import Verdict
from meshcheck.property_tests.refusals import judge

CALM_IDS = 10**9  # request ids of the calm requests: far above the workload's


class Requests:
    """Per (node, request id): (time, what it was, whether the node was a member then)."""

    def __init__(self, sim: Simulator[GossipNode]) -> None:
        self.sim = sim
        self.seen: dict[tuple[str, int], tuple[int, str, bool]] = {}
        sim.plugin.observers.append(self.observe)  # type: ignore[attr-defined]

    def observe(self, i: str, event: Any, nodes: Mapping[str, GossipNode], now: int) -> None:
        if isinstance(event, ClientRead):
            what = f"status read of {event.query}"
        elif isinstance(event, ClientRequest):
            what = f"status write {event.value!r}"
        else:
            return
        # a request changes no node's membership: its status after the step is its status then
        self.seen[(i, event.request_id)] = (self.sim.now, what, nodes[i].status == IN)


def calm_requests(sim: Simulator[GossipNode], keys: Sequence[str]) -> str | None:
    """A status read and a status write at every live member (its reply is part of its step);
    what broke if a node's step gave up, else None."""
    live = [i for i in sim.node_ids if sim.up[i] and sim.nodes[i].status == IN]
    for n, i in enumerate(live):
        key = keys[n % len(keys)]
        try:
            sim.inject(i, ClientRead(key, CALM_IDS + 2 * n))
            sim.inject(i, ClientRequest((key, f"calm-{i}"), CALM_IDS + 2 * n + 1))
        except Exception as exc:  # a bug found, as free_runs.run says
            return f"{i} raised {type(exc).__name__} on a calm status request: {exc}"
    return None


def classify(member: bool) -> Verdict:
    if not member:
        return Allowed("the node was not a member (outside the cluster, or gone)")
    return Promised(
        "it was up and a member: a live member answers every status read and write at once, "
        "under any fault (impl/gossip/node.py, Gossip.tla's Update)"
    )


def wrong_refusal(
    sim: Simulator[GossipNode], requests: Requests, tally: Tally | None = None
) -> str | None:
    """NoWrongRefusal over every error reply of the run: the first wrong one, else None."""

    def verdicts() -> Any:
        for node, reply in sim.replies:
            if not reply.error:
                continue
            seen = requests.seen.get((node, reply.request_id))
            if seen is None:  # answered in a step the observer did not see: not a request's
                continue
            time, what, member = seen
            yield Refusal(what, node, time, reply.error), classify(member)

    return judge(verdicts(), tally)

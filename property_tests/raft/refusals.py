"""NoWrongRefusal for the Raft core (property_tests/refusals.py), in the calm after healing: every
client op type at every node, and what each node owes.

`liveness_after_heal` (free_runs.py) ends once one node leads in the highest term and every node
applied everything, the network calm. Its workload may have sent no read at all (the `reads` knob
shrinks to 0), and the free runs' client history takes every error for a failed operation. So,
then, `calm_probe` sends a read and a write to every node and judges each refusal against what the
node knew when it got the request:

- the leader serves both: a read after one round of heartbeats to a quorum once an entry of its
  term is committed (ReadIndex, Ongaro's thesis section 6.4; "no entry of this term committed yet"
  is allowed only while none is), a write once a quorum stores it (the Raft paper, section 5.3);
- a follower rejects both and names the leader it follows (section 8: "the follower rejects the
  request and supplies information about the most recent leader it has heard from"): "not leader"
  with that leader is a redirect, allowed; without it, or with another, the client is left to
  guess, and so is an answer that never comes.

Each must come within `PROBE_BOUND` ticks (a read's round of heartbeats and a write's replication
take a heartbeat interval and a few message latencies; the bound is the election timeout's top,
within which a calm leader keeps its leadership).
"""

from __future__ import annotations

from typing import Any

import attrs

from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft.node import NOT_LEADER
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.refusals import Allowed
from meshcheck.property_tests.refusals import Promised
from meshcheck.property_tests.refusals import Refusal
from meshcheck.property_tests.refusals import Tally
from meshcheck.property_tests.refusals import Verdict
from meshcheck.property_tests.refusals import judge

CALM_IDS = 10**9  # request ids of the probe: far above the workload's
NO_TERM_ENTRY = "no entry of this term committed yet"  # impl/raft/node.py's reply


@attrs.frozen
class Asked:
    """One probe request and what its node knew when it got it."""

    node: str
    request_id: int
    what: str  # "read of ..." or "write ..."
    time: int
    leader: str  # the sole leader then
    follows: str | None  # the leader the node had heard from (itself for the leader)
    term_committed: bool  # the leader had an entry of its term committed


def probe_bound(sim: Simulator[RaftNode]) -> int:
    """Ticks each probe request has: the top of the election timeout."""
    return max(node.config.election_timeout[1] for node in sim.nodes.values())


def calm_probe(
    sim: Simulator[RaftNode], leader: RaftNode, write: Any, read: Any, tally: Tally | None = None
) -> str | None:
    """Send every up node a read (`read(n)`) and a write (`write(n)`), run until each is answered
    or `probe_bound` passed, and judge every refusal (None: none was wrong)."""
    asked: list[Asked] = []
    start = len(sim.replies)
    term_committed = leader.log.term_at(leader.commit_index) == leader.term
    for i in sim.node_ids:
        if not sim.up[i]:
            continue
        for kind in ("read", "write"):
            rid = CALM_IDS + len(asked)
            value = read(rid) if kind == "read" else write(rid)
            event = ClientRead(value, rid) if kind == "read" else ClientRequest(value, rid)
            what = f"{kind} of {value!r}" if kind == "read" else f"write {value!r}"
            follows = sim.nodes[i].leader
            asked.append(Asked(i, rid, what, sim.now, leader.id, follows, term_committed))
            try:
                sim.inject(i, event)
            except Exception as exc:  # a node's step gave up: a bug found, as free_runs.run says
                return f"{i} raised {type(exc).__name__} on the probe's {what}: {exc}"

    def answered(s: Simulator[Any]) -> bool:
        got = {(i, r.request_id) for i, r in s.replies[start:]}
        return all((a.node, a.request_id) in got for a in asked)

    try:
        sim.run(until=sim.now + probe_bound(sim), stop=answered)
    except Exception as exc:
        return f"the run raised {type(exc).__name__} after the probe's requests: {exc}"
    replies = {(i, r.request_id): r for i, r in sim.replies[start:]}

    def verdicts() -> Any:
        for a in asked:
            reply = replies.get((a.node, a.request_id))
            if reply is not None and reply.ok:
                continue
            told = "no answer" if reply is None else reply.error
            hint = None if reply is None else reply.leader
            refusal = Refusal(f"{a.what} (request {a.request_id})", a.node, a.time, told)
            yield refusal, classify(a, told, hint)

    return judge(verdicts(), tally)


def classify(a: Asked, told: str, hint: str | None) -> Verdict:
    if a.node == a.leader:
        if a.what.startswith("read") and told == NO_TERM_ENTRY and not a.term_committed:
            return Allowed("a read waits for an entry of the leader's term (thesis 6.4)")
        return Promised(
            f"{a.node} was the only leader of the highest term, every node up and the network "
            "calm: a leader serves a read after a round of heartbeats to a quorum (thesis 6.4) "
            "and commits a write a quorum stores (section 5.3)"
        )
    if told == NOT_LEADER and (hint == a.follows or a.follows is None):
        return Allowed("a follower redirects the client to the leader it follows (section 8)")
    return Promised(
        f"{a.node} followed {a.follows}: a follower rejects a client's request and names the "
        f"leader it has heard from (section 8), here it named {hint!r}"
    )

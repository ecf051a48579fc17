"""A primary that crashes with requests in flight, and a client that crashes and restarts.

A scripted run on the simulator (four replicas, one client core `c1`, a calm network), `cycles`
times over:

1. variant `primary`: the client sends `writes` requests and the primary crashes a few ticks
   later, with them in flight; the client's retries (to every replica, after its timeout) start
   the backups' request timers, the group changes view, the new primary orders them; the old
   primary restarts and catches up (variant `client`: this step is skipped);
2. the client sends `writes` requests and crashes a few ticks later, before it accepts them; it
   stays down while the group executes them (their replies are lost), then restarts: it must
   retry what it sent and did not accept, under the same timestamps, and be answered from the
   replicas' table of executed requests (section 4.1), not execute anything twice;
3. the restarted client sends `writes` new requests: they must carry new timestamps, above every
   one it used before its crash, or the replicas take them for requests they executed.

Then every request the client sent must be accepted within `LIMIT` ticks, and what every free run
ends with must hold (property_tests/pbft/free_runs.py `verdict`): Agreement and Validity, the
honest-rejection oracle, and the client-history checks (linearizable, applied at most once, no
answer withdrawn, ...); and each request is answered ok in the client's history.

What a restart must renew here is the client's timestamp (Castro and Liskov, OSDI 1999, section
4.1: timestamps are totally ordered, so that a replica tells a new request from a retry). The
catalogue mutant `client_timestamp_reset` counts them from 0 again after a restart. And what do
replicas do with a new request whose (client, timestamp) is one they executed? Before the fix this
scenario led to (impl/pbft/replica.py `_on_request`), they answered it from their table with the
other request's sequence number and result: f+1 signed replies naming a request never executed,
which the client accepted (the history: a write answered ok and applied nowhere). Now they drop
it: a correct client never reuses a timestamp, and a reply would sign a falsehood.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.client import Client
from meshcheck.property_tests import scenarios
from meshcheck.property_tests.free_runs import Schedule
from meshcheck.property_tests.pbft.free_runs import STORM
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import answered
from meshcheck.property_tests.pbft.free_runs import request_key
from meshcheck.property_tests.pbft.free_runs import rsm_op
from meshcheck.property_tests.pbft.free_runs import verdict
from meshcheck.property_tests.pbft.free_runs import watch
from meshcheck.violated import REQUESTS_ANSWERED

N = 4
CLIENT = "c1"
# A calm group orders a request in a few round trips; a crashed primary costs the client's timeout
# (300 ticks) and a view change (150 ticks and a few round trips; TIMING): well within this bound.
LIMIT = 3000
VARIANTS = ("client", "primary")


class Script(scenarios.Script[Any]):
    salt = "client-restart"
    STORM = STORM
    LIMIT = LIMIT

    def __init__(self, schedule: Schedule, bugs: frozenset[str], record: bool) -> None:
        super().__init__(
            schedule,
            pbft_cluster(
                N,
                seed=schedule.seed,
                bugs=bugs,
                clients=(CLIENT,),
                crash_client=True,
                checkpoint_every=5,
                window=10,
                record=record,
                **_timing(),
            ),
        )
        self.monitor, self.oracle = watch(self.sim)
        self.sent: list[Any] = []

    def client(self) -> Client:
        node = self.sim.nodes[CLIENT]
        assert isinstance(node, Client)
        return node

    def broken(self) -> str | None:
        return verdict(self.monitor, self.oracle)

    def send(self, count: int) -> None:
        for _ in range(count):
            op = rsm_op(len(self.sent) + 1)
            self.sent.append(op)
            self.sim.inject(CLIENT, ClientRequest(op))

    def all_accepted(self) -> bool:
        if not self.sim.up[CLIENT]:
            return False
        done = {r for _, r in self.client().accepted}
        return all(_name(op) in done for op in self.sent)

    def wait_accepted(self, what: str) -> bool:
        return self.wait(self.all_accepted, what, bound=REQUESTS_ANSWERED)

    def late(self, what: str, limit: int) -> str:
        done = {r for _, r in self.client().accepted}
        missing = [op for op in self.sent if _name(op) not in done]
        return (
            f"t={self.sim.now}: {what}: {len(missing)} of the client's requests not "
            f"accepted within {limit} ticks (the first: {missing[0]!r}; the client's "
            f"timestamp is {self.client().timestamp})"
        )

    def primary(self) -> str:
        """The primary of the highest view an up honest replica is in."""
        views = [
            node.view
            for i, node in self.sim.nodes.items()
            if isinstance(node, Replica) and self.sim.up[i]
        ]
        replicas = [i for i in self.sim.node_ids if i != CLIENT]
        return replicas[max(views) % len(replicas)]


def _timing() -> dict[str, Any]:
    """The free runs' timing (TIMING), as keyword arguments of pbft_cluster."""
    return dict(TIMING)


def _name(op: Any) -> Any:
    """How the client names an accepted request (impl/pbft/messages.py `request_name`)."""
    return request_key(op)


def scenario(schedule: Schedule, bugs: frozenset[str], record: bool) -> Script:
    """Run the scenario; `Script.problem` is the first thing found broken (None: it held)."""
    s = Script(schedule, bugs, record)
    variant = schedule.knob("variant", "client")
    writes = schedule.knob("writes", 2)
    s.send(writes)
    s.wait_accepted("before any crash")
    for _ in range(schedule.knob("cycles", 1)):
        if s.failed() or not cycle(s, variant, writes):
            break
    if not s.failed():
        s.wait_accepted("at the end")
    if not s.failed():
        assert s.sim.history is not None
        for op in s.sent:
            if not answered(s.sim, op):
                s.problem = f"the client accepted {op!r}, and its history records no ok answer"
                break
    return s


def cycle(s: Script, variant: str, writes: int) -> bool:
    sim = s.sim
    if variant == "primary":
        old = s.primary()
        s.send(writes)
        s.pause(1, 20)
        if s.failed():
            return False
        sim.crash(old)
        if not s.wait_accepted(f"after the primary {old} crashed"):
            return False
        sim.recover(old)
    s.send(writes)
    s.pause(1, 30)
    if s.failed():
        return False
    sim.crash(CLIENT)
    s.pause(50, 400)
    sim.recover(CLIENT)
    if not s.wait_accepted("after the client restarted (its retries)"):
        return False
    s.send(writes)
    return s.wait_accepted("the restarted client's new requests")


# The scenario: its check of one run (`n` is the group's size, always N: the rerun's signature;
# CheckFailed with its recorded trace when something broke), and the check `meshcheck mutants
# pbft` runs, Hypothesis drawing the seed, variant, cycles and writes.
SCRIPTED = scenarios.Scripted(
    "restarted_client_is_answered_truly",
    scenarios.fixed(scenario),
    {
        "variant": st.sampled_from(VARIANTS),
        "cycles": st.sampled_from((1, 3)),
        "writes": st.integers(1, 3),
    },
    1 / 10,
    N,
)
check_client_restart = SCRIPTED.check
schedules = SCRIPTED.schedules
client_restart_check = SCRIPTED.drawn

"""The PBFT client against replicas that lie in their replies (Castro and Liskov, OSDI 1999,
section 4.1: "the client waits for f+1 replies with valid signatures from different replicas, and
with the same t and r, before accepting the result r"; the view it follows is the one the replies
name, which only f+1 of them vouch for).

The lies are the Byzantine behaviours of impl/pbft/byzantine/replies.py (`LieToClient`: a view one
higher, a result its peers do not give, a reply naming another request, a wrong result under
forged signatures; `LyingReplies`: a view one or two higher, a wrong result and perhaps another
request, all in one reply; `FuzzReplies`: the message fuzzer on reply fields). Two properties:

`OneReplicaIsNeverBelieved` (sans-IO, Hypothesis): a client (impl/pbft/client.py) sends a few
requests; every honest replica's reply to each, and what the behaviours of up to f liars make of
theirs, are delivered in a drawn order. After each delivery the client's steps must be those the
rule allows, computed here from the paper, not read from the client: it takes Accept(n, r) (the
spec's action, specs/PBFT.tla `Accept`; the client's action event `actions.ACCEPT`) exactly when
f+1 distinct replicas sent valid replies, signed by the replica each names, to a request it sent,
with the same sequence number, request and result; and the primary it sends its next Request(r) to
is the primary of the highest view at or below which f+1 replicas' valid replies are.

`LatencyUnderOneLiar` (the simulator): four replicas, one of them lying to the client by one
drawn behaviour, a calm network (every message delayed 1 to D ticks, none lost), and a closed-loop
client. The bound, from the protocol's parameters: the liar's core is honest and orders requests
as any replica does, so each request needs the normal case's five message delays (section 4.2:
the Request to the primary, PrePrepare, Prepare, Commit, the replies: Request(r), PrePrepare(i, r),
Prepare(i, v, n), Commit(i, v, n), Execute(i), then Accept(n, r) on the f+1-th reply), each at most
D, with the batch delay the primary may wait and nothing else: `latency_bound() = 5 D +
batch_delay`. A client misled to a backup waits instead for its own timeout (client_timeout) before
it retries to every replica, and the backup's request timer (view_change_timeout) starts a view
change (StartViewChange(i)) nobody needed; both exceed the bound by construction (checked: the
bound is below both timeouts). So: every request is accepted within the bound, and no honest
replica leaves view 0 (no needless view change).

`client_replies(bugs, settings)` is the `Check` (property_tests/pbft/checks.py) that runs both
with the catalogue's `bugs`; property_tests/pbft/test_client_replies.py runs it with none, and
kills each client mutant (impl/pbft/mutants.py CLIENT_VIEW_FROM_ONE_REPLY,
CLIENT_ACCEPTS_ON_F_REPLIES, CLIENT_REPLY_SIGNATURE_NOT_CHECKED, CLIENT_REPLY_REQUEST_NOT_MATCHED).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final

from hypothesis import strategies as st

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Reply as Answer
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.pbft import actions
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.byzantine import Context
from meshcheck.impl.pbft.byzantine import corrupt
from meshcheck.impl.pbft.byzantine.replies import LIES
from meshcheck.impl.pbft.byzantine.replies import FuzzReplies
from meshcheck.impl.pbft.byzantine.replies import LieToClient
from meshcheck.impl.pbft.byzantine.replies import LyingReplies
from meshcheck.impl.pbft.client import Client
from meshcheck.impl.pbft.client import ClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import request_name
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.replica import NORMAL
from meshcheck.impl.pbft.replica import Replica
from meshcheck.property_tests.client_replies import ClientReplies
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.pbft.free_runs import TIMING

CLIENT: Final = "c1"
SIZES: Final = (4, 7)
N: Final = 4  # the latency runs' group
D: Final = 10  # the latency runs' largest message delay (ticks)
REQUESTS: Final = 3  # per latency run

LieBehaviour = LieToClient | LyingReplies | FuzzReplies


def lie_strategy() -> st.SearchStrategy[LieBehaviour]:
    """One lying behaviour (impl/pbft/byzantine/replies.py)."""
    return st.one_of(
        st.builds(LieToClient, field=st.sampled_from(LIES), by=st.integers(1, 2)),
        st.builds(LyingReplies, by=st.integers(1, 2), timestamp=st.booleans()),
        st.builds(FuzzReplies, resign=st.sampled_from([0.0, 0.5, 1.0])),
    )


def f_of(n: int) -> int:
    return (n - 1) // 3


# -- OneReplicaIsNeverBelieved ---------------------------------------------------------------------


class Rule:
    """What the client may do, by section 4.1, from the replies delivered so far."""

    def __init__(self, replicas: Sequence[str], ring: KeyRing, sent: Sequence[Request]) -> None:
        self.replicas = tuple(replicas)
        self.ring = ring
        self.sent = set(sent)
        self.f = f_of(len(replicas))
        self.votes: dict[tuple[int, Request, Any], set[str]] = {}
        self.views: dict[str, int] = {}
        self.accepted: list[tuple[int, Any]] = []

    def valid(self, m: Any) -> Reply | None:
        try:
            if (
                isinstance(m, Signed)
                and isinstance(m.body, Reply)
                and m.signer in self.replicas
                and m.body.src == m.signer
                and isinstance(m.body.view, int)
                and m.body.request in self.sent
                and self.ring.verify(m.signer, m.signature, signing_bytes(m.body))
            ):
                return m.body
        except (TypeError, ValueError, AttributeError):
            return None
        return None

    def deliver(self, m: Any) -> None:
        reply = self.valid(m)
        if reply is None:
            return
        assert isinstance(m, Signed)
        self.views[m.signer] = max(self.views.get(m.signer, 0), reply.view)
        voters = self.votes.setdefault((reply.seq, reply.request, reply.result), set())
        voters.add(m.signer)
        done = (reply.seq, request_name(reply.request))
        if len(voters) >= self.f + 1 and done not in self.accepted:
            self.accepted.append(done)

    def primary(self) -> str:
        """The primary of the highest view v that f+1 replicas' valid replies are at or above."""
        claims = sorted(self.views.values(), reverse=True)
        view = claims[self.f] if len(claims) > self.f else 0
        return self.replicas[view % len(self.replicas)]


@st.composite
def reply_runs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.sampled_from(SIZES), "n")
    replicas = tuple(f"r{k}" for k in range(1, n + 1))
    liars = draw(
        st.lists(st.sampled_from(replicas), min_size=1, max_size=f_of(n), unique=True), "liars"
    )
    return {
        "n": n,
        "liars": {r: draw(lie_strategy(), f"lie of {r}") for r in sorted(liars)},
        "views": {r: draw(st.integers(0, 2)) for r in replicas},
        "requests": draw(st.integers(1, 3), "requests"),
        "seed": draw(st.integers(0, 2**16), "seed"),
    }


def _answers(effects: Sequence[Effect]) -> list[tuple[int, Any]]:
    return [(e.request_id, e.result) for e in effects if isinstance(e, Answer)]


def _setup(
    run: Mapping[str, Any], bugs: frozenset[str]
) -> tuple[Client, KeyRing, list[Signed[Request]], list[tuple[str, Any]]]:
    """A fresh client that sent the run's requests, and every reply to them: each honest
    replica's, and what each liar's behaviour made of its own, as (sender, message)."""
    n, seed = run["n"], run["seed"]
    replicas = tuple(f"r{k}" for k in range(1, n + 1))
    ring = KeyRing(seed, (*replicas, CLIENT))
    client = Client(ClientConfig(CLIENT, replicas, bugs=bugs), ring)
    client.step(Restart({}))
    signed: list[Signed[Request]] = []
    for k in range(run["requests"]):
        for e in client.step(ClientRequest(f"op{k + 1}")):
            if isinstance(e, Send) and isinstance(e.message, Signed):
                signed.append(e.message)
    rng = random.Random(seed)
    messages: list[tuple[str, Any]] = []
    for r in replicas:
        core = Replica(PbftConfig(r, replicas, (CLIENT,)), ring)
        lie: LieBehaviour | None = run["liars"].get(r)
        ctx = Context(core, lambda: rng)
        for s in signed:
            ctx.remember(s)
        for seq, request in enumerate((s.body for s in signed), start=1):
            true = core.sign(Reply(run["views"][r], seq, request, f"result{seq}", r))
            sends: list[Effect] = [Send(CLIENT, true)]
            if lie is not None:
                ctx.remember(true)
                sends = lie.act(ctx, sends)
            messages.extend((r, e.message) for e in sends if isinstance(e, Send))
    return client, ring, signed, messages


def reply_count(run: Mapping[str, Any]) -> int:
    """How many replies the run delivers (its order is a permutation of them)."""
    return len(_setup(run, frozenset())[3])


def one_replica_is_never_believed(
    run: Mapping[str, Any], order: Sequence[int], bugs: frozenset[str]
) -> None:
    """Deliver the run's replies in `order` (indices into them) to a fresh client; CheckFailed on
    the first step the rule forbids."""
    client, ring, signed, messages = _setup(run, bugs)
    replicas = client.config.replicas
    requests = [s.body for s in signed]
    rule = Rule(replicas, ring, requests)
    results = {s.body.timestamp: f"result{seq}" for seq, s in enumerate(signed, start=1)}
    for step, k in enumerate(order):
        source, m = messages[k % len(messages)]
        effects = client.step(Deliver(source, m))
        rule.deliver(m)
        where = f"delivery {step + 1} of {len(order)} ({type(m).__name__} from {source}), run {run}"
        if client.accepted != rule.accepted:
            raise CheckFailed(
                f"OneReplicaIsNeverBelieved violated: the client's {actions.ACCEPT} steps are "
                f"{client.accepted}, f+1 = {rule.f + 1} matching valid replies allow "
                f"{rule.accepted}; {where}",
                steps=step + 1,
            )
        for timestamp, result in _answers(effects):
            if results.get(timestamp) != result:
                raise CheckFailed(
                    f"OneReplicaIsNeverBelieved violated: request {timestamp} answered "
                    f"{result!r}, no f+1 replicas replied it; {where}",
                    steps=step + 1,
                )
        if client.primary != rule.primary():
            raise CheckFailed(
                f"OneReplicaIsNeverBelieved violated: the client's next {actions.REQUEST} goes "
                f"to {client.primary}, f+1 replicas' replies vouch for {rule.primary()} (views "
                f"claimed {rule.views}); {where}",
                steps=step + 1,
            )


# -- LatencyUnderOneLiar -----------------------------------------------------------------------------


def latency_bound(delay: int = D, batch_delay: int = 0) -> int:
    """The normal case's five message delays and the primary's batch delay (module docstring)."""
    return 5 * delay + batch_delay


def latency_under_one_liar(
    seed: int, liar: str, lie: LieBehaviour, bugs: frozenset[str]
) -> str | None:
    """One run: None, or what broke LatencyUnderOneLiar."""
    bound = latency_bound()
    assert bound < min(TIMING["client_timeout"], TIMING["view_change_timeout"])
    timing: dict[str, Any] = dict(TIMING)
    sim = pbft_cluster(
        N,
        seed=seed,
        bugs=bugs,
        byzantine={liar: corrupt(lie)},
        clients=(CLIENT,),
        latency=(1, D),
        record=False,
        **timing,
    )
    client = sim.nodes[CLIENT]
    assert isinstance(client, Client)
    for k in range(1, REQUESTS + 1):
        start = sim.now
        sim.inject(CLIENT, ClientRequest(f"op{k}"))
        sim.run(until=start + bound, stop=lambda _: not client.outstanding)
        if client.outstanding:
            return (
                f"LatencyUnderOneLiar violated: request {k} not accepted {bound} ticks (5 D, "
                f"D = {D}) after it was sent; the client believes {client.primary} is the "
                f"primary; {liar} lies with {lie!r}; seed {seed}"
            )
        sim.run(until=sim.now + D)  # the other replies arrive before the next request
    moved = {
        i: (node.view, node.status)
        for i, node in sim.nodes.items()
        if isinstance(node, Replica) and i != liar and (node.view, node.status) != (0, NORMAL)
    }
    if moved:
        return (
            f"LatencyUnderOneLiar violated: a needless view change ({actions.START_VIEW_CHANGE}) "
            f"at {moved} with the group calm; {liar} lies with {lie!r}; seed {seed}"
        )
    return None


REPLIES = ClientReplies(
    reply_runs,
    reply_count,
    one_replica_is_never_believed,
    latency_under_one_liar,
    lie_strategy,
    replicas=N,
    requests=REQUESTS,
)
latency = REPLIES.latency
never_believed = REPLIES.never_believed
client_replies = REPLIES.client_replies

"""The HotStuff client against replicas that lie in their replies (Yin et al., PODC 2019: the n - f
correct replicas execute commands identically and give the same response to each, and a client
sends its command to every replica and waits for f+1 responses, section 4.1; with at most f
faulty replicas, f+1 matching responses include a correct one, and no fewer do).

A reply (impl/hotstuff/messages.py `ReplyMsg`) carries no signature: the link authenticates its
sender. The lies are the Byzantine behaviours of impl/hotstuff/replies.py (`LieToClient`: a wrong
result, another request's timestamp, a wrong result under every replica's name, a reply sent to
another client, a wrong result sent two or three times; `LyingReplies`: a wrong result, perhaps
another timestamp, in every replica's name, each once or twice; `FuzzReplies`: the message fuzzer
on reply fields, in its own name or a peer's). Two properties:

`OneReplicaIsNeverBelieved` (sans-IO, Hypothesis): a client (impl/hotstuff/client.py) c1 sends a
few requests, and so does another client c2; every honest replica's reply to c1's requests, and
what the behaviours of up to f liars make of their replies to both clients' requests (those that
reach c1), are delivered to c1 in a drawn order, some twice. After each delivery the client's
accepted results must be those the rule allows, computed here from the paper, not read from the
client: it accepts result r for its request t exactly when f+1 distinct replicas sent a reply
naming c1, t (a request it sent and had not accepted yet) and r, each reply naming as its sender
the replica whose link it came on; and then it answers t with r. Each result the rule accepts is
the one the correct replicas computed (the rule's own check: with at most f liars among f+1
voters, one is correct).

`LatencyUnderOneLiar` (the simulator): four replicas, one of them lying to the client by one drawn
behaviour, a calm network (every message delayed 1 to D ticks, none lost), and a closed-loop
client. The bound, from the protocol's parameters: the liar's core is honest and proposes, votes
and executes as any replica does, so no view times out and the group runs chained HotStuff's
steady state (section 5), where a view takes at most P = 2 D + 1 ticks: the leader's proposal
reaches the replicas (D), their votes reach the next leader (D), which forms the QC and proposes a
tick later (its propose timer, impl/hotstuff/replica.py PROPOSE_TIMER). A request sent at t0
reaches every replica by t0 + D; the first proposal made after that, at most P later, holds it
(the leader batches every pending request, up to batch_size, which one closed-loop client cannot
fill); its block b commits at a replica when the replica votes for the proposal three views
later, whose justify closes the three-chain b, b', b'' of consecutive views (Algorithm 4's
update), sent at most 3 P after b's and received within D; the replies take D. So
`latency_bound() = D + P + 3 P + D + D = 3 D + 4 P` (59 ticks at D = 5), below the view timer
(HotStuffConfig.timeout, 100 ticks) and the client's timeout (600): a run in which any view timed
out, or the client waited for its retry, cannot meet it. So: every request is answered within the
bound with the result the honest replicas executed, and no honest replica times out of a view (a
liar costs the group no extra view).

`client_replies(bugs, settings)` is the `Check` (property_tests/hotstuff/checks.py) that runs both
with the catalogue's `bugs`; property_tests/hotstuff/test_client_replies.py runs it with none, and
kills each client mutant (impl/hotstuff/mutants.py CLIENT_REPLY_SRC_NOT_CHECKED,
CLIENT_REPLY_RESULT_NOT_MATCHED, CLIENT_COUNTS_DUPLICATE_REPLIES, CLIENT_FIRST_REPLY_DECIDES).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Final

from hypothesis import strategies as st

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Reply as Answer
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.hotstuff import mutants
from meshcheck.impl.hotstuff.client import Client
from meshcheck.impl.hotstuff.client import ClientConfig
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import ReplyMsg
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.impl.hotstuff.replies import LIES
from meshcheck.impl.hotstuff.replies import REPLY_BEHAVIOURS
from meshcheck.impl.hotstuff.replies import FuzzReplies
from meshcheck.impl.hotstuff.replies import LieToClient
from meshcheck.impl.hotstuff.replies import LyingReplies
from meshcheck.impl.hotstuff.replies import Mouth
from meshcheck.impl.hotstuff.replies import ReplyBehaviour
from meshcheck.impl.hotstuff.simulation import HotStuffPlugin
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.property_tests.client_replies import ClientReplies
from meshcheck.property_tests.failure import CheckFailed

CLIENT: Final = "c1"
OTHER: Final = "c2"  # another client, whose replies a liar may send to c1
SIZES: Final = (4, 7)
N: Final = 4  # the latency runs' group
D: Final = 5  # the latency runs' largest message delay (ticks)
REQUESTS: Final = 3  # per latency run
VIEW_TIMER: Final = HotStuffConfig("r1", ("r1", "r2", "r3", "r4")).timeout
CLIENT_TIMEOUT: Final = ClientConfig(CLIENT, ("r1",)).timeout

# the catalogue's clients that trust one replica: only replies that lie show them, and their
# counterexample is a sequence of replies to one client, no free run (property_tests/test_stored.py)
MUTANTS: Final = (
    mutants.CLIENT_REPLY_SRC_NOT_CHECKED,
    mutants.CLIENT_REPLY_RESULT_NOT_MATCHED,
    mutants.CLIENT_COUNTS_DUPLICATE_REPLIES,
    mutants.CLIENT_FIRST_REPLY_DECIDES,
)


def lie_strategy() -> st.SearchStrategy[ReplyBehaviour]:
    """One lying behaviour (impl/hotstuff/replies.py), its parameters drawn."""
    return st.one_of(
        st.builds(LieToClient, field=st.sampled_from(LIES), copies=st.integers(2, 3)),
        st.builds(LyingReplies, timestamp=st.booleans(), copies=st.integers(1, 2)),
        st.builds(FuzzReplies, resign=st.sampled_from([0.0, 0.5, 1.0])),
    )


def lie_names() -> st.SearchStrategy[str]:
    """One lying behaviour by its name (REPLY_BEHAVIOURS), as the latency runs draw it."""
    return st.sampled_from(list(REPLY_BEHAVIOURS))


def f_of(n: int) -> int:
    return (n - 1) // 3


def truth(client: str, timestamp: int) -> str:
    """What the correct replicas computed for a request (the runs' made-up results)."""
    return f"{client}-result{timestamp}"


# -- OneReplicaIsNeverBelieved ---------------------------------------------------------------------


class Rule:
    """What the client may accept, by the f+1 argument, from the replies delivered so far."""

    def __init__(self, replicas: Sequence[str], sent: Sequence[int]) -> None:
        self.replicas = tuple(replicas)
        self.sent = set(sent)
        self.f = f_of(len(replicas))
        self.votes: dict[tuple[int, Any], set[str]] = {}
        self.accepted: dict[int, Any] = {}

    def valid(self, source: str, m: Any) -> ReplyMsg | None:
        """A reply of the replica whose link it came on, to this client, for a request it sent."""
        if not (
            type(m) is ReplyMsg
            and type(m.timestamp) is int
            and type(m.client) is str
            and type(m.src) is str
            and m.src == source
            and source in self.replicas
            and m.client == CLIENT
            and m.timestamp in self.sent
        ):
            return None
        try:
            hash(m.result)
        except TypeError:
            return None
        return m

    def deliver(self, source: str, m: Any) -> None:
        reply = self.valid(source, m)
        if reply is None or reply.timestamp in self.accepted:
            return
        voters = self.votes.setdefault((reply.timestamp, reply.result), set())
        voters.add(source)
        if len(voters) >= self.f + 1:
            self.accepted[reply.timestamp] = reply.result


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
        "requests": draw(st.integers(1, 3), "requests"),
        "seed": draw(st.integers(0, 2**16), "seed"),
    }


def _signed(effects: Sequence[Effect]) -> list[SignedRequest]:
    found: list[SignedRequest] = []
    for e in effects:
        if isinstance(e, Send) and isinstance(e.message, SignedRequest) and e.message not in found:
            found.append(e.message)
    return found


def _setup(run: Mapping[str, Any], bugs: frozenset[str]) -> tuple[Client, list[tuple[str, Any]]]:
    """A fresh client c1 that sent the run's requests, and every reply that reaches it as
    (link's sender, message): each honest replica's to c1, and what each liar's behaviour made of
    its replies to c1 and to c2."""
    n, seed = run["n"], run["seed"]
    replicas = tuple(f"r{k}" for k in range(1, n + 1))
    keys = KeyRing(seed, (*replicas, CLIENT, OTHER))
    client = Client(ClientConfig(CLIENT, replicas, bugs=bugs), keys)
    other = Client(ClientConfig(OTHER, replicas), keys)
    requests: list[SignedRequest] = []
    for sender in (client, other):
        sender.step(Restart({}))
        for k in range(run["requests"]):
            requests.extend(_signed(sender.step(ClientRequest(f"op{k + 1}"))))
    rng = random.Random(seed)
    messages: list[tuple[str, Any]] = []
    for r in replicas:
        lie: ReplyBehaviour | None = run["liars"].get(r)
        mouth = Mouth(r, replicas, (CLIENT, OTHER), keys.signer(r), rng)
        for s in requests:
            mouth.hear(s)
        for s in requests:
            c, t = s.request.client, s.request.timestamp
            sends: list[Effect] = [Send(c, ReplyMsg(c, t, truth(c, t), r))]
            if lie is not None:
                sends = lie.act(mouth, sends)
            messages.extend(
                (r, e.message) for e in sends if isinstance(e, Send) and e.dest == CLIENT
            )
    return client, messages


def reply_count(run: Mapping[str, Any]) -> int:
    """How many replies the run delivers (its order is a permutation of them)."""
    return len(_setup(run, frozenset())[1])


def one_replica_is_never_believed(
    run: Mapping[str, Any], order: Sequence[int], bugs: frozenset[str]
) -> None:
    """Deliver the run's replies in `order` (indices into them) to a fresh client; CheckFailed on
    the first step the rule forbids."""
    client, messages = _setup(run, bugs)
    rule = Rule(client.config.replicas, range(1, run["requests"] + 1))
    for step, k in enumerate(order):
        source, m = messages[k % len(messages)]
        effects = client.step(Deliver(source, m))
        rule.deliver(source, m)
        for t, r in rule.accepted.items():  # the rule's own premise, not the client's
            assert r == truth(CLIENT, t), f"f+1 replies agreed on a lie: {run}"
        where = f"delivery {step + 1} of {len(order)} ({m!r} from {source}), run {run}"
        if client.accepted != rule.accepted:
            raise CheckFailed(
                f"OneReplicaIsNeverBelieved violated: the client accepted {client.accepted}, "
                f"f+1 = {rule.f + 1} matching replies of the replicas that sent them allow "
                f"{rule.accepted}; {where}",
                steps=step + 1,
            )
        for e in effects:
            if isinstance(e, Answer) and rule.accepted.get(e.request_id) != e.result:
                raise CheckFailed(
                    f"OneReplicaIsNeverBelieved violated: request {e.request_id} answered "
                    f"{e.result!r}, f+1 replicas replied {rule.accepted.get(e.request_id)!r}; "
                    f"{where}",
                    steps=step + 1,
                )


# -- LatencyUnderOneLiar -----------------------------------------------------------------------------


def view_bound(delay: int = D) -> int:
    """P: a steady-state view, the proposal's and the votes' delays and the propose timer's tick."""
    return 2 * delay + 1


def latency_bound(delay: int = D) -> int:
    """A request's latency in the steady state (the module's docstring): 3 D + 4 P."""
    return 3 * delay + 4 * view_bound(delay)


def latency_under_one_liar(seed: int, liar: str, lie: str, bugs: frozenset[str]) -> str | None:
    """One run with `liar` lying by the behaviour named `lie` (impl/hotstuff/replies.py
    REPLY_BEHAVIOURS): None, or what broke LatencyUnderOneLiar."""
    bound = latency_bound()
    assert bound < min(VIEW_TIMER, CLIENT_TIMEOUT)
    sim = hotstuff_cluster(
        N, seed=seed, bugs=bugs, byzantine={liar: (lie,)}, latency=(1, D), record=False
    )
    plugin: HotStuffPlugin = sim.plugin  # type: ignore[assignment]
    timeouts: list[str] = []

    def observe(replica: Replica, _event: Any, effects: list[Effect]) -> None:
        if any(isinstance(e, Action) and e.name == "Timeout" for e in effects):
            timeouts.append(f"{replica.id} at t={replica.now}")

    plugin.observers.append(observe)
    client = sim.nodes[CLIENT]
    assert isinstance(client, Client)
    honest = [r for r in plugin.replicas if r != liar]
    sim.run(until=seed % (2 * D))  # the request comes at any point of a view
    for k in range(1, REQUESTS + 1):
        start = sim.now
        sim.inject(CLIENT, ClientRequest(f"op{k}"))
        sim.run(until=start + bound, stop=lambda _: not client.outstanding)
        where = f"{liar} lies with {lie!r}; seed {seed}"
        if client.outstanding:
            return (
                f"LatencyUnderOneLiar violated: request {k} not answered {bound} ticks "
                f"(3 D + 4 (2 D + 1), D = {D}) after it was sent; {where}"
            )
        executed = {plugin.replica(r).results.get((CLIENT, k)) for r in honest} - {None}
        if executed != {client.accepted[k]}:
            return (
                f"LatencyUnderOneLiar violated: request {k} answered {client.accepted[k]!r}, "
                f"the honest replicas executed it with {sorted(map(repr, executed))}; {where}"
            )
        if timeouts:
            break
        sim.run(until=sim.now + D)  # the other replies arrive before the next request
    if timeouts:
        return (
            f"LatencyUnderOneLiar violated: a view timed out (Timeout) with the group calm, "
            f"{', '.join(timeouts)}; {liar} lies with {lie!r}; seed {seed}"
        )
    return None


REPLIES = ClientReplies(
    reply_runs,
    reply_count,
    one_replica_is_never_believed,
    latency_under_one_liar,
    lie_names,
    replicas=N,
    requests=REQUESTS,
)
latency = REPLIES.latency
never_believed = REPLIES.never_believed
client_replies = REPLIES.client_replies

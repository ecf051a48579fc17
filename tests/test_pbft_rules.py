"""One scenario test per receiver rule of PBFT, in the manner of etcd-io/raft's raft_paper_test.go.

Each test names its rule (Castro and Liskov, "Practical Byzantine Fault Tolerance", OSDI 1999,
sections 4.1 to 4.4; their TOCS 2002 paper, "Practical Byzantine Fault Tolerance and Proactive
Recovery", where it states a rule more plainly), drives one replica (or the client) by hand with
messages signed by hand for its peers, and asserts the exact effects and state. Four replicas
r1..r4, f = 1: the primary of view v is r(v mod 4 + 1). A rule broken in one line fails its test in
milliseconds: tests/test_rule_mutations.py breaks each rule in one line of the core and checks that
the test of that rule fails, and that every catalogue mutant (impl/pbft/mutants.py) fails at least
one of these tests.

The replicas are built with the mutants in `BUGS_UNDER_TEST` (none here), which is how the mutation
check switches a catalogue mutant on without touching the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import TypeVar

import attrs

from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import Apply
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.pbft import CHANGING
from meshcheck.impl.pbft import NORMAL
from meshcheck.impl.pbft import PROGRESS
from meshcheck.impl.pbft import STATUS
from meshcheck.impl.pbft import VIEW_CHANGE
from meshcheck.impl.pbft import Checkpoint
from meshcheck.impl.pbft import Client
from meshcheck.impl.pbft import ClientConfig
from meshcheck.impl.pbft import Commit
from meshcheck.impl.pbft import NewView
from meshcheck.impl.pbft import PbftConfig
from meshcheck.impl.pbft import Prepare
from meshcheck.impl.pbft import PreparedProof
from meshcheck.impl.pbft import PrePrepare
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import Reply
from meshcheck.impl.pbft import Request
from meshcheck.impl.pbft import Signed
from meshcheck.impl.pbft import ViewChange
from meshcheck.impl.pbft import batch_digest
from meshcheck.impl.pbft import history_digest
from meshcheck.impl.pbft.log import MessageLog
from meshcheck.impl.pbft.log import prepares_needed
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import NULL_DIGEST
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Status
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.storage import LOG
from meshcheck.impl.rsm.machine import StateMachine
from meshcheck.impl.sim.storage import Durable
from tests import stepped
from tests.pbft_messages import KEYS
from tests.pbft_messages import REPLICAS
from tests.pbft_messages import certificate
from tests.pbft_messages import changed_on_its_way
from tests.pbft_messages import checkpoint
from tests.pbft_messages import commit
from tests.pbft_messages import forged
from tests.pbft_messages import pre_prepare
from tests.pbft_messages import prepare
from tests.pbft_messages import request
from tests.pbft_messages import sent
from tests.pbft_messages import signed
from tests.pbft_messages import timers
from tests.pbft_messages import view_change

# the mutation check (tests/test_rule_mutations.py) switches catalogue mutants on here
BUGS_UNDER_TEST: frozenset[str] = frozenset()
T = TypeVar("T")


class Closing(StateMachine):
    """A machine that takes nothing after the operation "close" (as a hybrid epoch takes nothing
    after its switch entry: impl/hybrid/machine.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    @property
    def final(self) -> bool:
        return self.closed

    def apply_entry(self, value: Any) -> Any:
        self.closed = self.closed or value == "close"
        return super().apply_entry(value)


class Box:
    """One replica with its durable store, stepped by hand."""

    def __init__(
        self, node_id: str = "r2", machine: type[StateMachine] = StateMachine, **options: Any
    ) -> None:
        self.config = PbftConfig(node_id, REPLICAS, bugs=BUGS_UNDER_TEST, **options)
        self.disk = Durable()
        self.machine = machine
        self.node = Replica(self.config, KEYS, machine)
        self.step(Restart({}))

    def step(self, event: Any) -> list[Effect]:
        self.last, effects = stepped.step(self.node, self.disk, event)
        return effects

    def deliver(self, m: Any, source: str | None = None) -> list[Effect]:
        return self.step(Deliver(source or m.signer, m))

    def restart(self) -> list[Effect]:
        """A crash: a new replica from what the old one persisted."""
        self.node = Replica(self.config, KEYS, self.machine)
        return self.step(Restart(self.disk.view()))

    def actions(self) -> list[tuple[str, dict[str, Any]]]:
        return [(a.name, dict(a.params)) for a in self.last if isinstance(a, Action)]

    def evidence(self) -> list[tuple[str, str]]:
        return [(r.accused, r.kind) for r in self.node.audit.records]

    def agree(self, pp: Signed[PrePrepare]) -> list[Effect]:
        """The pre-prepare, a prepare and two commits of peers: committed-local at this replica."""
        self.deliver(pp)
        others = [r for r in REPLICAS if r not in (self.node.id, pp.signer)]
        self.deliver(prepare(pp, others[0]))
        self.deliver(commit(pp, pp.signer))
        return self.deliver(commit(pp, others[0]))


def only(items: Sequence[T]) -> T:
    """The one item of `items` (an assertion, so that a core that sends two, or none, fails it)."""
    assert len(items) == 1, f"expected exactly one, got {list(items)}"
    return items[0]


# == Section 3: quorums at any number of replicas ===================================================


def test_3_a_quorum_of_n_replicas_is_ceil_n_plus_f_plus_1_over_2() -> None:
    """Section 3 takes n = 3f + 1 replicas and quorums of 2f + 1; for any n >= 3f + 1 a certificate
    needs ceil((n + f + 1) / 2) replicas, so that two of them share f + 1 and so a correct one
    (impl/base/quorum.py). At n = 5, f = 1 that is 4: two groups of 3 share one replica, which may
    be the faulty one. A prepared certificate is the pre-prepare and a quorum less one prepares,
    the count the configuration states and the one the log counts with (2f, the paper's figure,
    only at n = 3f + 1)."""
    for n, q in ((4, 3), (5, 4), (6, 4), (7, 5), (8, 6), (9, 6), (10, 7)):
        config = PbftConfig("r1", tuple(f"r{k}" for k in range(1, n + 1)), bugs=BUGS_UNDER_TEST)
        assert (config.f, config.quorum) == ((n - 1) // 3, q), n
        assert prepares_needed(config) == q - 1, n
        assert backups_that_prepare(config) == q - 1, n


def backups_that_prepare(config: PbftConfig) -> int:
    """How many backups' matching prepares (r2, r3, ... in turn) make the log of a replica of
    `config` prepared on r1's pre-prepare of view 0. The log counts what the replica checked
    already (replica.py), so these carry no signatures."""
    log = MessageLog(config)
    batch: Batch = ()
    pp = Signed(PrePrepare(0, 1, batch_digest(batch), "r1", batch), "r1", b"")
    log.add_pre_prepare(pp)
    log.accepted[(0, 1)] = pp.body.digest
    for k, backup in enumerate(config.replicas[1:], start=1):
        log.add_prepare(Signed(Prepare(0, 1, pp.body.digest, backup), backup, b""))
        if log.prepared(0, 1) is not None:
            return k
    return len(config.replicas)


# == Section 4.1: the client ==========================================================================


def test_4_1_the_primary_orders_a_request_and_a_backup_starts_its_timer() -> None:
    """Section 4.1 and 4.2: the primary assigns the next sequence number to a client's request and
    multicasts a pre-prepare; a backup that gets the request keeps it and starts a timer (section
    4.4: the primary must order it before the timer runs out)."""
    a = request("a")
    box = Box("r1")
    effects = box.deliver(a)
    assert box.actions() == [("PrePrepare", {"i": "r1", "r": "a"})]
    assert sent(effects) == [PrePrepare(0, 1, batch_digest((a,)), "r1", (a,))]
    assert [e.dest for e in effects if isinstance(e, Send)] == ["r2", "r3", "r4"]
    backup = Box("r2")
    effects = backup.deliver(a)
    assert sent(effects) == [] and timers(effects) == {"request c1 1": 300}
    assert backup.node.pending == {("c1", 1): a}


def test_4_1_a_retransmitted_executed_request_gets_the_last_reply_again() -> None:
    """Section 4.1 (TOCS 2002 section 4.1): a replica keeps the last reply to each client; a
    request it executed already gets that reply again, and is not ordered or executed again."""
    a = request("a")
    box = Box("r1")
    box.deliver(a)
    pp = box.node.log.pre_prepares[(0, 1)]
    for peer in ("r2", "r3"):
        box.deliver(prepare(pp, peer))
    box.deliver(commit(pp, "r2"))
    first = sent(box.deliver(commit(pp, "r3")))
    reply = only([m for m in first if isinstance(m, Reply)])
    again = box.deliver(a)
    assert sent(again) == [reply] and box.actions() == []
    assert (box.node.executed, box.node.next_seq, box.node.machine.applied) == ([(a,)], 2, 1)


def test_4_1_a_request_ordered_again_is_not_executed_again() -> None:
    """Section 4.1 (TOCS 2002 section 4.1): a request a primary orders again at a second sequence
    number (a faulty primary may; the spec's re-proposal does) is executed there as nothing: the
    replica replies with the result of its first execution and its state machine does not apply
    the operation twice."""
    a = request("a")
    box = Box("r2")
    box.agree(pre_prepare(1, a))
    first = box.node.results[("c1", 1)]
    again = box.agree(pre_prepare(2, a))
    assert box.node.executed == [(a,), (a,)] and box.node.machine.applied == 1
    assert box.node.results[("c1", 1)] == first
    assert sent(again) == [Reply(0, 2, a.body, first[1], "r2")]


def test_4_1_a_request_ordered_twice_is_applied_once_when_the_state_is_rebuilt() -> None:
    """Section 4.1 with 4.3 (TOCS 2002 sections 4.1 and 5.3.2): the state machine a replica
    rebuilds from its executed history, after a restart or by a state transfer, is the one it had:
    a request ordered at two sequence numbers is applied once, and its result is the one of its
    first execution (at 1), as in the reply cache of a replica that never restarted."""
    a = request("a")
    box = Box("r2", checkpoint_every=2, window=4)
    box.agree(pre_prepare(1, a))
    box.agree(pre_prepare(2, a))
    state = (box.node.machine.applied, box.node.machine.digest(), box.node.results)
    assert state[0] == 1
    box.restart()
    assert box.node.executed == [(a,), (a,)]
    assert (box.node.machine.applied, box.node.machine.digest(), box.node.results) == state
    lagging = Box("r4", checkpoint_every=2, window=4)  # executed nothing: takes the state
    for peer in ("r1", "r2", "r3"):
        lagging.deliver(checkpoint(((a,), (a,)), peer))
    assert (lagging.node.stable, lagging.node.executed) == (2, [(a,), (a,)])
    assert (lagging.node.machine.applied, lagging.node.machine.digest()) == state[:2]
    assert lagging.node.results == state[2]


def test_4_1_another_request_under_an_executed_timestamp_is_not_answered() -> None:
    """Section 4.1: a replica tells a client's requests apart by timestamp, and answers a request
    it executed from its table of results. Another request under that timestamp (a client that
    reused it: a faulty one, or one restarted without its clock) is not that request: answering
    it would sign that it was executed, with the other's result. It is dropped; the request
    executed under the timestamp is still answered."""
    a = request("a")
    box = Box("r2")
    box.agree(pre_prepare(1, a))
    assert sent(box.deliver(request("b"))) == []
    assert box.node.pending == {}
    assert sent(box.deliver(a)) == [Reply(0, 1, a.body, box.node.results[("c1", 1)][1], "r2")]


def test_4_1_a_restarted_client_does_not_reuse_a_timestamp() -> None:
    """Section 4.1: a client's timestamps are totally ordered, so that replicas tell a new
    request from a retry. A client that crashes and restarts goes on above the last timestamp it
    used (it persists its clock before the request leaves)."""
    config = ClientConfig("c1", REPLICAS, timeout=500, bugs=BUGS_UNDER_TEST)
    disk = Durable()

    def step(client: Client, event: Any) -> list[Any]:
        effects = client.step(event)
        for e in effects:
            if isinstance(e, Persist):
                disk.apply(e.writes)
        return [e.message.body for e in effects if isinstance(e, Send)]

    client = Client(config, KEYS)
    step(client, Restart({}))
    assert [r.timestamp for r in step(client, ClientRequest("a"))] == [1]
    restarted = Client(config, KEYS)
    step(restarted, Restart(disk.view()))
    assert [r.timestamp for r in step(restarted, ClientRequest("b"))] == [2]


def test_4_1_a_request_the_client_did_not_sign_is_ignored() -> None:
    """Section 4.1 and section 2: requests are signed by their client; a forged one is dropped."""
    box = Box("r1")
    assert box.deliver(forged(request("a")), "c1") == []
    assert (box.node.pending, box.node.log.pre_prepares) == ({}, {})


def test_4_1_the_client_accepts_on_f_plus_1_matching_replies() -> None:
    """Section 4.1: the client waits for f+1 replies with valid signatures from different
    replicas, with the same timestamp and result."""
    client = Client(ClientConfig("c1", REPLICAS, timeout=500, bugs=BUGS_UNDER_TEST), KEYS)
    client.step(Restart({}))
    client.step(ClientRequest("a"))
    body = Request("c1", 1, "a")

    def reply(src: str, result: str) -> Signed[Reply]:
        return signed(src, Reply(0, 1, body, result, src))

    client.step(Deliver("r1", reply("r1", "ok")))
    client.step(Deliver("r1", reply("r1", "ok")))  # the same replica twice counts once
    client.step(Deliver("r3", reply("r3", "lie")))
    client.step(Deliver("r4", forged(reply("r4", "ok"))))
    assert client.accepted == []
    client.step(Deliver("r2", reply("r2", "ok")))
    assert client.accepted == [(1, "a")] and client.outstanding == {}


def test_4_1_the_client_follows_the_view_f_plus_1_replies_name() -> None:
    """Section 4.1: the client learns the current view from the replies, and sends its next
    request to that view's primary; one replica's view is no evidence (it may lie)."""
    client = Client(ClientConfig("c1", REPLICAS, timeout=500, bugs=BUGS_UNDER_TEST), KEYS)
    client.step(Restart({}))
    client.step(ClientRequest("a"))
    body = Request("c1", 1, "a")
    client.step(Deliver("r3", signed("r3", Reply(1, 1, body, "ok", "r3"))))
    assert client.primary == "r1"
    client.step(Deliver("r4", signed("r4", Reply(1, 1, body, "ok", "r4"))))
    assert client.primary == "r2"


def test_4_1_the_client_counts_a_reply_for_the_request_it_names() -> None:
    """Section 4.1: a reply counts for the request whose timestamp it carries; r3's reply names the
    client's first request with the second's sequence number and result, and is no vote for the
    second."""
    client = Client(ClientConfig("c1", REPLICAS, timeout=500, bugs=BUGS_UNDER_TEST), KEYS)
    client.step(Restart({}))
    client.step(ClientRequest("a"))
    client.step(ClientRequest("b"))
    first, second = Request("c1", 1, "a"), Request("c1", 2, "b")
    client.step(Deliver("r1", signed("r1", Reply(0, 2, second, "ok", "r1"))))
    client.step(Deliver("r3", signed("r3", Reply(0, 2, first, "ok", "r3"))))
    assert client.accepted == []


# == Section 4.2: pre-prepare =========================================================================


def test_4_2_a_backup_accepts_a_pre_prepare_and_multicasts_a_prepare() -> None:
    """Section 4.2: a backup accepts a pre-prepare if it is signed by the primary of the view, it
    is in view v, n is between the watermarks and there is no other; it then enters the pre-prepare
    and a prepare in its log and multicasts the prepare (durable first)."""
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    effects = box.deliver(pp)
    assert box.actions() == [("Prepare", {"i": "r2", "v": 0, "n": 1})]
    assert sent(effects) == [Prepare(0, 1, pp.body.digest, "r2")]
    assert [e.dest for e in effects if isinstance(e, Send)] == ["r1", "r3", "r4"]
    assert isinstance(effects[0], Persist)
    assert box.node.log.pre_prepares[(0, 1)] == pp


def test_4_2_a_pre_prepare_with_a_bad_signature_is_refused() -> None:
    """Section 4.2, accept only if the signatures in the request and the pre-prepare are correct."""
    box = Box("r2")
    effects = box.deliver(forged(pre_prepare(1, request("a"))))
    assert sent(effects) == [] and box.node.log.pre_prepares == {}
    assert box.evidence() == [("r1", "bad_signature")]


def test_4_2_a_signature_vouches_for_its_own_message_only() -> None:
    """Section 2 (system model) and 4.2: a replica accepts a message only if its signature is its
    signer's over that message. A signature already checked on one message (r3's prepare) proves
    nothing for another body it is put under: r4 relays r3's signature on a prepare for another
    digest; that is a bad signature, evidence against r4, and the prepare is not logged."""
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    box.deliver(pp)
    honest = prepare(pp, "r3")
    box.deliver(honest)
    other = attrs.evolve(honest, body=attrs.evolve(honest.body, digest=NULL_DIGEST))
    assert sent(box.deliver(other, source="r4")) == []
    assert box.evidence() == [("r4", "bad_signature")]
    assert (0, 1, NULL_DIGEST) not in box.node.log.prepares
    assert box.node.log.prepares[(0, 1, pp.body.digest)]["r3"] == honest


def test_4_2_a_pre_prepare_not_from_the_primary_is_refused() -> None:
    """Section 4.2: the pre-prepare is signed by the primary of its view (r1 in view 0)."""
    box = Box("r2")
    effects = box.deliver(pre_prepare(1, request("a"), src="r3"))
    assert sent(effects) == [] and box.node.log.pre_prepares == {}
    assert box.evidence() == [("r3", "wrong_primary")]


def test_4_2_a_pre_prepare_whose_batch_does_not_match_its_digest_is_refused() -> None:
    """Section 4.2: d is the request's digest; the request travels beside the signed pre-prepare,
    so a batch altered on the way is caught by its digest."""
    good = pre_prepare(1, request("a"))
    altered = attrs.evolve(good, body=attrs.evolve(good.body, batch=(request("b", 2),)))
    box = Box("r2")
    assert sent(box.deliver(altered)) == [] and box.node.log.pre_prepares == {}


def test_4_2_a_pre_prepare_of_another_view_is_not_prepared() -> None:
    """Section 4.2: the backup is in view v. A pre-prepare of a later view (r2 is its primary) is
    kept, but not prepared while the backup is in view 0."""
    box = Box("r3")
    pp = pre_prepare(1, request("a"), view=1)
    assert sent(box.deliver(pp)) == [] and box.actions() == []
    assert (1, 1) not in box.node.log.accepted


def test_4_2_a_pre_prepare_outside_the_watermarks_is_not_prepared() -> None:
    """Section 4.2: the sequence number is between the low water mark h and the high water mark
    H = h + L (here L = 4): a pre-prepare at 5 is not prepared, at 4 it is."""
    box = Box("r2", checkpoint_every=2, window=4)
    assert sent(box.deliver(pre_prepare(5, request("e", 5)))) == []
    assert (0, 5) not in box.node.log.accepted
    assert sent(box.deliver(pre_prepare(4, request("d", 4)))) == [
        Prepare(0, 4, batch_digest((request("d", 4),)), "r2")
    ]


def test_4_2_a_second_pre_prepare_for_the_same_view_and_number_is_refused() -> None:
    """Section 4.2: a backup accepts no pre-prepare for view v and sequence number n containing a
    different digest once it accepted one; the primary signed both, which proves equivocation."""
    box = Box("r2")
    first = pre_prepare(1, request("a"))
    box.deliver(first)
    effects = box.deliver(pre_prepare(1, request("b", 2)))
    assert sent(effects) == [] and box.actions() == []
    assert box.node.log.pre_prepares[(0, 1)] == first
    assert box.node.log.accepted[(0, 1)] == first.body.digest
    assert box.evidence() == [("r1", "equivocation")]


# == Section 4.2: prepare and the predicate prepared =================================================


def test_4_2_prepared_needs_the_pre_prepare_and_2f_matching_prepares_of_backups() -> None:
    """Section 4.2: prepared(m, v, n, i) is true iff replica i logged the request, its pre-prepare
    and 2f prepares from different backups that match it (its own counts; the primary's does not,
    nor one for another digest). Once prepared, i multicasts a commit."""
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    box.deliver(pp)  # its own prepare: one of the 2f
    assert sent(box.deliver(prepare(pp, "r1"))) == []  # from the primary: not a backup's
    assert sent(box.deliver(prepare(pp, "r4", digest=NULL_DIGEST))) == []  # another digest
    assert box.node.log.prepared(0, 1) is None
    effects = box.deliver(prepare(pp, "r3"))
    assert box.actions() == [("Commit", {"i": "r2", "v": 0, "n": 1})]
    assert sent(effects) == [Commit(0, 1, pp.body.digest, "r2")]
    proof = box.node.log.prepared(0, 1)
    assert proof is not None and {p.signer for p in proof.prepares} == {"r2", "r3"}


def test_4_2_a_prepare_outside_the_watermarks_is_not_logged() -> None:
    """Section 4.2: replicas accept prepare messages whose sequence number is between h and H."""
    box = Box("r2", checkpoint_every=2, window=4)
    pp = pre_prepare(5, request("e", 5))
    box.deliver(prepare(pp, "r3"))
    box.deliver(prepare(pp, "r4"))
    assert box.node.log.prepares == {}


# == Section 4.2: commit and committed-local; execution ==============================================


def test_4_2_committed_local_needs_2f_plus_1_matching_commits() -> None:
    """Section 4.2: committed-local(m, v, n, i) is true iff prepared is true and i accepted 2f+1
    matching commits from different replicas (its own included); then it executes and replies."""
    box = Box("r2")
    a = request("a")
    pp = pre_prepare(1, a)
    box.deliver(pp)
    box.deliver(prepare(pp, "r3"))  # prepared; its own commit sent
    box.deliver(commit(pp, "r1"))
    box.deliver(commit(pp, "r4", view=1))  # another view: does not match
    assert box.node.executed == [] and box.node.log.committed_local(0, 1) is None
    effects = box.deliver(commit(pp, "r3"))
    assert box.actions() == [("Execute", {"i": "r2"})]
    assert box.node.executed == [(a,)]
    result = box.node.results[("c1", 1)][1]
    assert sent(effects) == [Reply(0, 1, a.body, result, "r2")]
    assert Apply(1, "a", (result,)) in effects


def test_4_2_requests_execute_in_sequence_number_order() -> None:
    """Section 4.2: a replica executes the operation of m after committed-local and after it
    executed every request with a lower sequence number; one execution per step, the next on the
    progress timer."""
    box = Box("r2")
    a, b = request("a"), request("b", 2)
    effects = box.agree(pre_prepare(2, b))
    assert box.node.executed == [] and not [e for e in effects if isinstance(e, Apply)]
    effects = box.agree(pre_prepare(1, a))
    assert box.node.executed == [(a,)] and PROGRESS in timers(effects)
    effects = box.step(Tick(PROGRESS))
    assert box.node.executed == [(a,), (b,)]
    assert [e.index for e in effects if isinstance(e, Apply)] == [2]


# == Section 4.3: checkpoints, garbage collection, watermarks ========================================


def test_4_3_a_checkpoint_is_taken_every_k_requests() -> None:
    """Section 4.3: after executing a request whose sequence number is divisible by K, a replica
    multicasts <CHECKPOINT, n, d, i> with d the digest of its state (here K = 2)."""
    box = Box("r2", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    assert not [m for m in sent(box.agree(a)) if isinstance(m, Checkpoint)]
    effects = box.agree(b)
    history = (a.body.batch, b.body.batch)
    assert [m for m in sent(effects) if isinstance(m, Checkpoint)] == [
        Checkpoint(2, history_digest(history), "r2")
    ]


def test_4_3_a_checkpoint_is_taken_where_the_machine_became_final() -> None:
    """Beyond the paper: a replica also checkpoints at the request after which its machine takes
    nothing more (impl/rsm/machine.py `final`; a hybrid epoch's switch entry), once: no multiple
    of K may ever come after it (here K = 4, the machine final at 2)."""
    box = Box("r2", machine=Closing, checkpoint_every=4, window=8)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("close", 2))
    c = pre_prepare(3, request("c", 3))
    assert not [m for m in sent(box.agree(a)) if isinstance(m, Checkpoint)]
    history = (a.body.batch, b.body.batch)
    assert [m for m in sent(box.agree(b)) if isinstance(m, Checkpoint)] == [
        Checkpoint(2, history_digest(history), "r2")
    ]
    assert not [m for m in sent(box.agree(c)) if isinstance(m, Checkpoint)]


def test_4_3_a_final_state_f_plus_1_checkpoints_vouch_for_is_taken() -> None:
    """Beyond the paper: a replica that executed nothing takes a final state (one its machine takes
    nothing after) on f+1 matching checkpoints, one correct replica's word at least, without
    making it stable (that needs 2f+1, to convince others in a view change). A state that is not
    final needs 2f+1 as ever: f+1 checkpoints of it, off the multiples of K, are not enough."""
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("close", 2))
    final = (a.body.batch, b.body.batch)
    box = Box("r2", machine=Closing, checkpoint_every=4, window=8)
    box.deliver(checkpoint(final, "r3"))
    assert box.node.executed == []
    box.deliver(checkpoint(final, "r4"))
    assert tuple(box.node.executed) == final and box.node.machine.final
    assert box.node.stable == 0 and box.node.state_digest == history_digest(final)
    plain = (a.body.batch, pre_prepare(2, request("b", 2)).body.batch)
    box = Box("r2", machine=Closing, checkpoint_every=4, window=8)
    box.deliver(checkpoint(plain, "r3"))
    box.deliver(checkpoint(plain, "r4"))
    assert box.node.executed == [] and not box.node.machine.final


def test_4_3_a_checkpoint_is_stable_with_2f_plus_1_matching_proofs() -> None:
    """Section 4.3: a checkpoint with a proof of 2f+1 checkpoint messages with the same sequence
    number and digest from different replicas (its own included) is stable; f+1 are not enough,
    nor ones for another state."""
    box = Box("r2", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    box.agree(a)
    box.agree(b)
    history = (a.body.batch, b.body.batch)
    box.deliver(checkpoint(((request("z", 9),), ()), "r4"))  # another state
    box.deliver(checkpoint(history, "r3"))
    assert box.node.stable == 0
    assert box.node._states == {}  # it executed that far: it keeps no copy of r3's state
    box.deliver(checkpoint(history, "r1"))
    assert box.actions()[0] == ("StableCheckpoint", {"i": "r2", "n": 2})
    assert (box.node.stable, box.node.stable_digest) == (2, history_digest(history))
    assert {c.signer for c in box.node.stable_proof} == {"r1", "r2", "r3"}


def test_4_3_a_checkpoints_state_is_not_signed_so_a_changed_one_blames_the_relayer() -> None:
    """Section 4.3: a checkpoint message signs the state's digest, not the state a lagging replica
    fetches with it (messages.py). A copy relayed by r4 with another state is evidence against r4,
    the link's sender, never against r3 who signed it; r3's vote still counts, and the true state,
    relayed by r3 itself afterwards, is kept for the state transfer."""
    box = Box("r2", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    history = (a.body.batch, b.body.batch)
    honest = checkpoint(history, "r3")
    changed = attrs.evolve(honest, body=attrs.evolve(honest.body, history=((request("z", 9),), ())))
    box.deliver(changed, source="r4")
    assert box.evidence() == [("r4", "bad_state")]
    box.deliver(honest, source="r3")
    assert box.node._states.get((2, history_digest(history))) == history
    box.deliver(checkpoint(history, "r1"))
    box.deliver(checkpoint(history, "r4"))
    assert box.node.stable == 2  # r3's signed vote counted among the 2f+1
    # Counted without the changed state: the proof this replica will send on (in its view-change
    # messages, to a peer behind) carries nothing r4 put there.
    assert {c.signer: c.body.history for c in box.node.stable_proof}["r3"] is None
    # Whatever a relayer puts in the unsigned field, of any shape, is refused the same way: not a
    # state, no crash, blame on the relayer.
    junk_shapes: list[Any] = [1, (1, 2), ((1,), (2,)), ((prepare(a, "r3"),), ()), [(), ()]]
    for junk in junk_shapes:
        box = Box("r2", checkpoint_every=2, window=4)
        box.deliver(attrs.evolve(honest, body=attrs.evolve(honest.body, history=junk)), "r4")
        assert box.evidence() == [("r4", "bad_state")], junk
        assert not box.node._states, junk


def test_4_3_a_replica_behind_is_sent_the_checkpoints_with_their_state_on_its_status() -> None:
    """Section 4.3 and TOCS 2002 section 5.2: a replica tells its peers how far it got (a status
    message); a peer answers with what it lacks, its own checkpoints above the replica's stable
    one among it, each carrying the state (its history), so that a replica that lost the
    checkpoint messages and fell behind the collected log can take the state (state transfer)
    instead of waiting for a view change to carry it along."""
    box = Box("r2", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    box.agree(a)
    box.agree(b)
    history = (a.body.batch, b.body.batch)
    answer = sent(box.deliver(signed("r4", Status(0, False, 0, 0, "r4"))))
    transfer = only([m for m in answer if isinstance(m, Checkpoint)])
    assert (transfer.seq, transfer.digest, transfer.history) == (
        2,
        history_digest(history),
        history,
    )
    # a peer at that checkpoint already is sent no checkpoint again
    answer = sent(box.deliver(signed("r3", Status(0, False, 2, 2, "r3"))))
    assert not [m for m in answer if isinstance(m, Checkpoint)]


def test_4_3_a_replica_past_a_checkpoint_it_holds_no_proof_of_names_its_own_stable_one() -> None:
    """TOCS 2002 section 5.2: a replica that executed past a checkpoint and lost the others'
    checkpoint messages says in its status the stable checkpoint it holds (0) and how far it
    executed (3), not one it has no proof of; a peer answers with its checkpoints above that
    stable one, even those below what the replica executed, and their 2f+1 (its own among
    them) make the checkpoint stable (section 4.3)."""
    box = Box("r2", checkpoint_every=2, window=4)
    batches = [pre_prepare(n, request(name, n)) for n, name in ((1, "a"), (2, "b"), (3, "c"))]
    for pp in batches:
        box.agree(pp)
    assert (len(box.node.executed), box.node.stable) == (3, 0)
    status = only([m for m in sent(box.step(Tick(STATUS))) if isinstance(m, Status)])
    assert (status.stable, status.executed) == (0, 3)
    history = tuple(pp.body.batch for pp in batches[:2])
    # the peer r3 executed as far: what it answers r2's status with
    peer = Box("r3", checkpoint_every=2, window=4)
    for pp in batches:
        peer.agree(pp)
    answer = sent(peer.deliver(signed("r2", status)))
    assert [(c.seq, c.src) for c in answer if isinstance(c, Checkpoint)] == [(2, "r3")]
    box.deliver(checkpoint(history, "r3"))
    box.deliver(checkpoint(history, "r4"))
    assert box.actions() == [("StableCheckpoint", {"i": "r2", "n": 2})]
    assert (box.node.stable, box.node.stable_digest) == (2, history_digest(history))
    status = only([m for m in sent(box.step(Tick(STATUS))) if isinstance(m, Status)])
    assert (status.stable, status.executed) == (2, 3)


def test_4_3_a_stable_checkpoint_collects_the_log_and_advances_the_watermarks() -> None:
    """Section 4.3: a stable checkpoint at n discards every pre-prepare, prepare, commit and
    checkpoint at or below n (from memory and from disk), sets h = n, and H = n + L: a pre-prepare
    above the old H is now prepared, one at or below h is ignored."""
    box = Box("r2", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    box.agree(a)
    box.agree(b)
    far = pre_prepare(5, request("e", 5))
    box.deliver(far)
    assert (0, 5) not in box.node.log.accepted
    history = (a.body.batch, b.body.batch)
    box.deliver(checkpoint(history, "r3"))
    box.deliver(checkpoint(history, "r4"))
    assert box.actions() == [
        ("StableCheckpoint", {"i": "r2", "n": 2}),
        ("Prepare", {"i": "r2", "v": 0, "n": 5}),
    ]
    log = box.node.log
    assert sorted(log.pre_prepares) == [(0, 5)] and sorted(log.checkpoints) == []
    assert all(k[1] > 2 for k in (*log.prepares, *log.commits))
    assert all(
        m.body.seq > 2 or (isinstance(m.body, Checkpoint) and m.body.seq == 2)
        for m in box.disk.get(LOG)
    )
    assert sent(box.deliver(pre_prepare(2, request("x", 9)))) == []
    assert (0, 2) not in box.node.log.pre_prepares
    # Nothing at or below h stays in any table of the log, and a checkpoint vote for h that comes
    # late (from r1 here) is not kept either: the log does not grow below the watermark.
    box.deliver(checkpoint(history, "r1"))
    assert not [k for k in (*log.accepted, *log.commit_sent, *log.open) if k[1] <= 2]
    assert not [n for n in (*log.checkpoints, *log.certificates, *log.views_at) if n <= 2]


# == Section 4.4: view changes ========================================================================


def prepared_backup() -> tuple[Box, Signed[PrePrepare]]:
    """r2 with request a prepared (and its commit sent) at sequence number 1 in view 0."""
    box = Box("r2")
    pp = pre_prepare(1, request("a"))
    box.deliver(pp)
    box.deliver(prepare(pp, "r3"))
    return box, pp


def test_4_4_a_view_change_message_carries_the_checkpoint_and_the_prepared_set() -> None:
    """Section 4.4: when its timer expires a backup moves to view v+1 and multicasts
    <VIEW-CHANGE, v+1, n, C, P, i>: n its stable checkpoint, C its proof, P a prepared certificate
    (the pre-prepare and 2f prepares) for every request prepared above n."""
    box, pp = prepared_backup()
    effects = box.step(Tick("request c1 1"))
    assert box.actions() == [("StartViewChange", {"i": "r2"})]
    assert (box.node.view, box.node.status) == (1, CHANGING)
    vc = only(sent(effects))
    assert isinstance(vc, ViewChange)
    assert (vc.view, vc.ckpt, vc.ckpt_digest, vc.ckpt_proof, vc.src) == (1, 0, GENESIS, (), "r2")
    claim = only(vc.prepared)
    assert claim.pre_prepare == pp
    assert {p.signer for p in claim.prepares} == {"r2", "r3"}


def test_4_4_a_replica_changing_views_accepts_no_pre_prepare_of_the_new_view_yet() -> None:
    """Section 4.4: a replica in a view change accepts only checkpoint, view-change and new-view
    messages; the new view's pre-prepares count once the new-view message is accepted."""
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))  # view 1, waiting for the new view
    assert sent(box.deliver(pre_prepare(1, request("a"), view=1))) == []
    assert box.node.status == CHANGING and (1, 1) not in box.node.log.accepted


def test_4_4_the_new_primary_computes_o_from_v_with_null_requests_for_gaps() -> None:
    """Section 4.4: the primary of v+1, with 2f+1 valid view-change messages (its own included),
    computes min-s (the latest stable checkpoint in V) and max-s (the highest prepared sequence
    number), and O: for each n in between a pre-prepare in v+1 of the request prepared there in
    the highest view, else of the null request. It multicasts <NEW-VIEW, v+1, V, O> and enters v+1.
    The highest view wins whichever message of V claims it, the first or a later one."""
    a, b, c = request("a"), request("b", 2), request("c", 3)
    older = certificate(pre_prepare(1, a))
    newer = certificate(pre_prepare(1, b, view=1))  # seq 1 prepared again in view 1, with b
    for first, second in (("r1", "r2"), ("r2", "r1")):
        box = Box("r3")  # the primary of view 2
        box.step(Tick(VIEW_CHANGE))
        box.step(Tick(VIEW_CHANGE))  # view 2
        box.deliver(view_change(2, first, older, certificate(pre_prepare(3, c))))
        effects = box.deliver(view_change(2, second, newer))
        assert box.actions() == [("NewView", {"i": "r3"})]
        nv = only(sent(effects))
        assert isinstance(nv, NewView) and nv.view == 2
        assert [(p.body.view, p.body.seq, p.body.batch) for p in nv.pre_prepares] == [
            (2, 1, (b,)),
            (2, 2, ()),
            (2, 3, (c,)),
        ]
        assert {vc.signer for vc in nv.view_changes} == {"r1", "r2", "r3"}
        assert (box.node.view, box.node.status, box.node.next_seq) == (2, NORMAL, 4)


def test_4_4_a_backup_accepts_a_new_view_whose_o_it_recomputes() -> None:
    """Section 4.4: a backup accepts a new-view message for v+1 if it is signed by the primary of
    v+1, its view-change messages are valid and for v+1, and O is correct (it recomputes O the way
    the primary did); then it enters v+1 and prepares every pre-prepare of O."""
    a = request("a")
    vcs: tuple[Signed[ViewChange], ...] = (
        view_change(1, "r2"),
        view_change(1, "r3", certificate(pre_prepare(1, a))),
    )
    vcs += (view_change(1, "r4"),)
    o = signed("r2", PrePrepare(1, 1, batch_digest((a,)), "r2", (a,)))
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    effects = box.deliver(signed("r2", NewView(1, vcs, (o,), "r2")))
    assert box.actions() == [("AcceptNewView", {"i": "r3", "v": 1})]
    assert sent(effects) == [Prepare(1, 1, batch_digest((a,)), "r3")]
    assert (box.node.view, box.node.status) == (1, NORMAL)


def test_4_4_o_prevails_over_a_pre_prepare_of_the_new_view_that_came_before_it() -> None:
    """Section 4.4: a backup prepares the pre-prepares of O once it accepts the new-view message;
    before that it accepts no pre-prepare of the new view. One that a (faulty) new primary sent
    early, for a sequence number where O holds a request prepared in the old view, must not be
    prepared in O's place: that request may have committed, and 2f+1 prepares of the early one
    would commit another request at its number. The early one is evidence of equivocation."""
    a, x = request("a"), request("x", 5)
    vcs: tuple[Signed[ViewChange], ...] = (
        view_change(1, "r2"),
        view_change(1, "r3", certificate(pre_prepare(1, a))),
        view_change(1, "r4"),
    )
    box = Box("r4")
    box.step(Tick(VIEW_CHANGE))
    early = signed("r2", PrePrepare(1, 1, batch_digest((x,)), "r2", (x,)))
    assert sent(box.deliver(early)) == []
    o = signed("r2", PrePrepare(1, 1, batch_digest((a,)), "r2", (a,)))
    effects = box.deliver(signed("r2", NewView(1, vcs, (o,), "r2")))
    assert box.actions() == [("AcceptNewView", {"i": "r4", "v": 1})]
    assert sent(effects) == [Prepare(1, 1, o.body.digest, "r4")]
    assert box.node.log.pre_prepares[(1, 1)] == o
    assert box.evidence() == [("r2", "equivocation")]


def test_4_4_a_backup_refuses_a_new_view_whose_o_is_not_what_v_implies() -> None:
    """Section 4.4: a new-view message whose O leaves out a request prepared in V (or puts another
    at its number) is refused: the backup stays in the view change and keeps it as evidence."""
    a = request("a")
    vcs: tuple[Signed[ViewChange], ...] = (
        view_change(1, "r2"),
        view_change(1, "r3", certificate(pre_prepare(1, a))),
    )
    vcs += (view_change(1, "r4"),)
    other = signed(
        "r2", PrePrepare(1, 1, batch_digest((request("z", 9),)), "r2", (request("z", 9),))
    )
    for o in ((), (other,)):
        box = Box("r3")
        box.step(Tick(VIEW_CHANGE))
        assert sent(box.deliver(signed("r2", NewView(1, vcs, o, "r2")))) == []
        assert (box.node.view, box.node.status) == (1, CHANGING)
        assert box.evidence() == [("r2", "bad_new_view")]


def test_4_4_a_new_view_needs_2f_plus_1_view_changes_and_the_new_primary() -> None:
    """Section 4.4: the new-view message holds 2f+1 view-change messages from different replicas,
    and is signed by the primary of v+1."""
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    short = (view_change(1, "r2"), view_change(1, "r4"))
    assert sent(box.deliver(signed("r2", NewView(1, short, (), "r2")))) == []
    assert box.evidence() == [("r2", "bad_new_view")]
    vcs = (*short, view_change(1, "r1"))
    assert sent(box.deliver(signed("r4", NewView(1, vcs, (), "r4")))) == []
    assert box.evidence()[-1] == ("r4", "wrong_primary")
    assert box.node.status == CHANGING


def test_4_4_a_view_change_message_with_a_bad_prepared_certificate_is_refused() -> None:
    """Section 4.4: a view-change message is valid only if each entry of P is a prepared
    certificate: a pre-prepare of its view's primary and 2f matching prepares of backups, each
    signed by its sender. One prepare is not a certificate, nor are two of which one is not
    signed by its sender; the message is refused and kept as evidence."""
    pp = pre_prepare(1, request("a"))
    thin = PreparedProof(pp, (prepare(pp, "r2"),))
    # two prepares, r3's signature on its own one not r3's: r4 made it up (each prepare of a
    # certificate is checked, not only the view-change message that carries them)
    made_up = PreparedProof(pp, (prepare(pp, "r2"), forged(prepare(pp, "r3"))))
    for claim in (thin, made_up):
        box = Box("r3")
        box.step(Tick(VIEW_CHANGE))
        box.deliver(view_change(1, "r4", claim))
        assert "r4" not in box.node.view_changes.get(1, {})
        assert box.evidence() == [("r4", "bad_view_change")]


def test_4_4_a_view_change_relayed_with_another_batch_blames_the_relayer() -> None:
    """Section 4.4 with 4.2: a batch travels beside the signed digest that names it, inside a
    view-change message too, so no signature covers it. A view-change message whose certificate
    holds a pre-prepare with another batch than its digest names is not what its signer signed:
    refused, and evidence against the replica that relayed it, not against its signer."""
    honest, changed = changed_on_its_way(pre_prepare(1, request("a")))
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    box.deliver(changed, source="r1")
    assert "r4" not in box.node.view_changes.get(1, {})
    assert box.evidence() == [("r1", "bad_signature")]
    box.deliver(honest, source="r4")
    assert "r4" in box.node.view_changes.get(1, {})


def test_4_4_f_plus_1_view_changes_for_a_later_view_make_a_replica_follow() -> None:
    """TOCS 2002 section 4.5.2 (liveness): a replica that receives view-change messages for views
    above its own from f+1 replicas moves to the next view even before its timer expires."""
    box = Box("r4")
    box.deliver(view_change(1, "r2"))
    assert box.node.view == 0
    box.deliver(view_change(1, "r3"))
    assert box.actions() == [("StartViewChange", {"i": "r4"})]
    assert (box.node.view, box.node.status) == (1, CHANGING)


def stable_at_2() -> tuple[Box, Signed[PrePrepare], Signed[PrePrepare]]:
    """r3 with a and b executed at 1 and 2 and its checkpoint at 2 stable (K = 2, L = 4)."""
    box = Box("r3", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    box.agree(a)
    box.agree(b)
    for peer in ("r1", "r4"):
        box.deliver(checkpoint((a.body.batch, b.body.batch), peer))
    assert box.node.stable == 2
    return box, a, b


def test_4_4_a_new_view_never_moves_the_stable_checkpoint_back() -> None:
    """Section 4.3 with 4.4: a stable checkpoint is certain, so the low water mark h only goes up.
    A new view whose min-s is below this replica's stable checkpoint (its view-change messages
    come from replicas that had not yet collected the proof) leaves h where it is: the stable
    checkpoint, its digest and proof stay, and the new view's pre-prepares at or below h are
    not prepared again."""
    box, a, b = stable_at_2()
    before = (box.node.stable, box.node.stable_digest, box.node.stable_proof)
    box.step(Tick(VIEW_CHANGE))
    vcs = (
        view_change(1, "r1", certificate(a), certificate(b)),
        view_change(1, "r2"),
        view_change(1, "r4"),
    )
    o = tuple(
        signed("r2", PrePrepare(1, pp.body.seq, pp.body.digest, "r2", pp.body.batch))
        for pp in (a, b)
    )
    effects = box.deliver(signed("r2", NewView(1, vcs, o, "r2")))
    assert box.actions() == [("AcceptNewView", {"i": "r3", "v": 1})]
    assert (box.node.view, box.node.status) == (1, NORMAL)
    assert (box.node.stable, box.node.stable_digest, box.node.stable_proof) == before
    assert sent(effects) == []


def test_4_4_a_state_transfer_takes_only_the_state_the_signed_digest_names() -> None:
    """Section 4.3 with 4.4 (TOCS 2002 section 5.3.2): a replica that adopts a new view's checkpoint
    min-s above what it executed fetches that state, and checks it against the digest the
    checkpoint messages sign. The state itself is not signed (messages.py): a new-view message
    whose checkpoint proofs carry another state of the same length is not taken; the same
    new-view message with the true state, relayed by another replica, is."""
    a, b = request("a"), request("b", 2)
    history = ((a,), (b,))
    proof = tuple(checkpoint(history, r) for r in ("r1", "r2", "r3"))
    vcs = tuple(
        signed(r, ViewChange(1, 2, history_digest(history), proof, (), r))
        for r in ("r1", "r2", "r3")
    )
    fake = ((request("z", 9),), (request("y", 8),))

    def relayed(history: tuple[Batch, ...]) -> Signed[NewView]:
        def vc(m: Signed[ViewChange]) -> Signed[ViewChange]:
            claimed = tuple(
                attrs.evolve(c, body=attrs.evolve(c.body, history=history)) for c in proof
            )
            return attrs.evolve(m, body=attrs.evolve(m.body, ckpt_proof=claimed))

        return signed("r2", NewView(1, tuple(vc(m) for m in vcs), (), "r2"))

    box = Box("r4", checkpoint_every=2, window=4)
    box.step(Tick(VIEW_CHANGE))
    box.deliver(relayed(fake), source="r2")
    assert (box.node.status, box.node.stable, box.node.executed) == (CHANGING, 0, [])
    box.deliver(relayed(history), source="r3")
    assert (box.node.view, box.node.status, box.node.stable) == (1, NORMAL, 2)
    assert box.node.executed == [(a,), (b,)] and box.node.machine.applied == 2


def test_4_4_a_new_view_for_an_earlier_view_or_again_for_its_view_changes_nothing() -> None:
    """Section 4.4: a backup accepts a new-view message for a later view, or for the view it is
    changing to. The same message delivered again once it is in that view, or one for a view it
    has left, is not taken again: no second AcceptNewView, no prepares sent again, no view moved
    back."""
    pp = pre_prepare(1, request("a"))
    vcs = (view_change(1, "r2"), view_change(1, "r3", certificate(pp)), view_change(1, "r4"))
    o = signed("r2", PrePrepare(1, 1, pp.body.digest, "r2", pp.body.batch))
    nv = signed("r2", NewView(1, vcs, (o,), "r2"))
    box = Box("r3")
    box.step(Tick(VIEW_CHANGE))
    assert sent(box.deliver(nv)) == [Prepare(1, 1, pp.body.digest, "r3")]
    assert box.deliver(nv) == [] and box.actions() == []
    box.step(Tick(VIEW_CHANGE))  # on to view 2
    assert (box.node.view, box.node.status) == (2, CHANGING)
    assert box.deliver(nv) == [] and box.actions() == []
    assert (box.node.view, box.node.status) == (2, CHANGING)


def test_4_4_a_backup_that_executed_up_to_min_s_adopts_it_without_a_state_transfer() -> None:
    """Section 4.4 with 4.3: a backup that executed up to the new view's checkpoint min-s has its
    state, so it accepts the new view even when the checkpoint messages in it carry no state (the
    state is not signed, and a relayer may leave it out): its checkpoint becomes stable and its
    history stays the one it executed."""
    box = Box("r3", checkpoint_every=2, window=4)
    a, b = pre_prepare(1, request("a")), pre_prepare(2, request("b", 2))
    box.agree(a)
    box.agree(b)
    history = (a.body.batch, b.body.batch)
    assert (box.node.stable, len(box.node.executed)) == (0, 2)
    bare = tuple(
        attrs.evolve(c, body=attrs.evolve(c.body, history=None))
        for c in (checkpoint(history, r) for r in ("r1", "r2", "r4"))
    )
    vcs = tuple(
        signed(r, ViewChange(1, 2, history_digest(history), bare, (), r))
        for r in ("r1", "r2", "r4")
    )
    box.step(Tick(VIEW_CHANGE))
    box.deliver(signed("r2", NewView(1, vcs, (), "r2")), source="r2")
    assert box.actions() == [("AcceptNewView", {"i": "r3", "v": 1})]
    assert (box.node.view, box.node.status, box.node.stable) == (1, NORMAL, 2)
    assert box.node.executed == list(history)


def test_4_3_a_state_transfer_settles_the_requests_it_executed_and_keeps_the_others() -> None:
    """Section 4.3 (TOCS 2002 section 5.3.2): a replica that takes a checkpoint's state by transfer
    has executed the requests of that state: it stops waiting for them (their timers end, a late
    one must not start a view change) and keeps waiting for the requests it holds that the state
    did not execute. Each transfer replaces the executed history, and says so by a new
    `history_epoch` (what readers of the history, such as the safety monitor, key their caches
    on), the second one too."""
    a, b, x = request("a"), request("b", 2), request("x", 3)
    box = Box("r4", checkpoint_every=2, window=4)
    box.deliver(a)
    box.deliver(x)
    assert set(box.node.pending) == {("c1", 1), ("c1", 3)}
    epoch = box.node.history_epoch
    effects: list[Effect] = []
    for peer in ("r1", "r2", "r3"):
        effects += box.deliver(checkpoint(((a,), (b,)), peer))
    assert (box.node.stable, box.node.executed) == (2, [(a,), (b,)])
    assert box.node.pending == {("c1", 3): x}
    assert [e.timer for e in effects if isinstance(e, CancelTimer)] == ["request c1 1"]
    assert box.node.history_epoch != epoch
    epoch = box.node.history_epoch
    longer = ((a,), (b,), (request("c", 4),), (request("d", 5),))
    for peer in ("r1", "r2", "r3"):
        box.deliver(checkpoint(longer, peer))
    assert (box.node.stable, box.node.executed) == (4, list(longer))
    assert box.node.history_epoch != epoch


def test_4_4_the_new_view_holds_2f_plus_1_view_changes_of_replicas_not_quarantined() -> None:
    """Section 4.4: the primary of v+1 sends the new-view message once it holds 2f valid
    view-change messages of other replicas; V is those and its own, 2f+1, however many more it
    heard. A replica it caught misbehaving (here the old primary, which equivocated after sending
    its view change) is quarantined: its view change, though held, is not one of them."""
    box = Box("r2")  # the primary of view 1
    box.deliver(view_change(1, "r1"))
    a, b = request("a"), request("b", 2)
    box.deliver(pre_prepare(1, a))
    box.deliver(signed("r1", PrePrepare(0, 1, batch_digest((b,)), "r1", (b,))))
    assert box.node.audit.is_quarantined("r1") and "r1" in box.node.view_changes[1]
    box.deliver(view_change(1, "r3"))
    assert box.node.view == 0  # r1 does not count toward f+1 either
    box.deliver(view_change(1, "r4"))
    assert box.actions() == [("StartViewChange", {"i": "r2"})]
    effects = box.step(Tick(PROGRESS))
    assert box.actions()[0] == ("NewView", {"i": "r2"})  # then it pre-prepares a, still pending
    nv = only([m for m in sent(effects) if isinstance(m, NewView)])
    assert [vc.signer for vc in nv.view_changes] == ["r2", "r3", "r4"]


def test_4_4_a_new_view_names_2f_plus_1_view_changes_when_it_heard_more() -> None:
    """Section 4.4: V is the new primary's view change and 2f of the others; a fourth one that
    came in before the new-view message went out is not added to it."""
    box = Box("r2")
    box.deliver(view_change(1, "r1"))
    box.deliver(view_change(1, "r3"))
    assert box.actions() == [("StartViewChange", {"i": "r2"})]
    effects = box.deliver(view_change(1, "r4"))
    assert box.actions() == [("NewView", {"i": "r2"})]
    nv = only([m for m in sent(effects) if isinstance(m, NewView)])
    assert [vc.signer for vc in nv.view_changes] == ["r2", "r1", "r3"]


def test_4_4_a_carried_prepared_certificate_counts_backups_prepares_only() -> None:
    """Section 4.2: the pre-prepare is the primary's vote, and a prepared certificate needs 2f
    prepares of distinct backups; the primary's own prepare counts for nothing. A view change
    whose certificate is the primary's prepare and one backup's is refused (docs/certificates.md;
    the mutant `prepared_counts_primary` takes it)."""
    from meshcheck.impl.pbft.viewchange import check_view_change

    config = PbftConfig("r2", REPLICAS, bugs=BUGS_UNDER_TEST)

    def verify(m: Signed[Any]) -> bool:
        return KEYS.verify(m.signer, m.signature, signing_bytes(m.body))

    pp = pre_prepare(1, request("a"))
    short = PreparedProof(pp, (prepare(pp, "r1"), prepare(pp, "r2")))
    assert check_view_change(view_change(1, "r3", short), config, verify) is not None
    assert check_view_change(view_change(1, "r3", certificate(pp)), config, verify) is None


# == Section 4.5.2: liveness ==========================================================================


def test_4_5_2_the_view_change_timeout_doubles_until_a_request_executes() -> None:
    """Section 4.5.2: a backup whose new view executes no request it had not executed before the
    timer runs out starts the next view change, "but this time it will wait 2T": the wait doubles
    with each view change (the new view's request timers and the wait for the next new view)
    until a request executes, then starts from T again. Installing the new view is not progress:
    with messages slower than T, a wait set back to T there would end every view before a request
    commits (the mutant `view_change_timeout_reset_on_new_view`)."""
    a, b = request("a"), request("b", 2)
    box = Box("r3")  # T = 300
    assert timers(box.deliver(a)) == {"request c1 1": 300}  # r1, the primary of view 0, waits
    box.step(Tick("request c1 1"))  # on to view 1, whose primary is r2
    box.deliver(view_change(1, "r2"))
    effects = box.deliver(view_change(1, "r4"))
    assert timers(effects)[VIEW_CHANGE] == 300  # 2f+1 want view 1: the wait for its new view
    vcs = (view_change(1, "r2"), view_change(1, "r3"), view_change(1, "r4"))
    effects = box.deliver(signed("r2", NewView(1, vcs, (), "r2")))
    assert box.actions() == [("AcceptNewView", {"i": "r3", "v": 1})]
    assert timers(effects)["request c1 1"] == 600  # nothing executed since T ran out: 2T
    box.agree(pre_prepare(1, a, view=1))
    assert box.node.executed == [(a,)]
    assert timers(box.deliver(b)) == {"request c1 2": 300}  # a request executed: T again

"""Drive impl/pbft through a given step of specs/PBFT.tla: the half of lockstep that touches the code.

The spec's network is the set `msgs` of what honest replicas sent: a message, once sent, may be
received by anyone, any number of times, so the driver keeps every signed message an honest node
sent (`sent`, by its spec record; nothing enters the simulated network: `send_filter` catalogues and
withholds every send) and delivers a copy when a step needs it. A step the spec takes at replica i
is: the messages delivered to i that enable it (only those i does not hold yet), then i's reaction.
Every delivery before the last must be a stutter (the implementation acting early is a bug: it acted
on less than the spec's guard asks), and the last must make i take the step.

How each action is forced:

    Request(r)            a client request r injected at c1
    PrePrepare(i, r)      the client's signed request r delivered to the primary i
    Prepare(i, v, n)      the primary of v's PrePrepare(v, n, r) delivered to i
    Commit(i, v, n)       Prepares for (v, n, r) from backups until i holds 2f
    Execute(i)            Commits for (v, n, r) until i holds 2f+1 (v: a view whose Commits can)
    StableCheckpoint(i,n) Checkpoints for (n, d) until i holds 2f+1
    StartViewChange(i)    fire i's `view-change` timer
    NewView(i)            2f ViewChanges for view[i], chosen so that O and min-s are the spec's
    AcceptNewView(i, v)   the primary of v's NewView delivered to i (an honest primary: in the
                          lockstep model only view 0 has a Byzantine one)
    Accept(n, r)          Replies for (n, r) delivered to the client until it holds f+1

The Byzantine replicas are puppets (`Puppet`): their core never runs; when a step needs a message
of ByzMsgs (a Byzantine primary's PrePrepare, a Byzantine Prepare, Commit, Checkpoint, Reply or
ViewChange), the driver has the Byzantine node sign exactly that message with its own key. Honest
messages come first: a Byzantine one is used only when the honest ones are not enough. If the
replica already holds what the step needs (the implementation deferred the action to its zero-delay
`progress` timer), the driver fires that timer.

Temptations. Before the messages a step needs, the Byzantine replicas also send what the spec's
guards must not count (`_temptations`), and each of these deliveries must be a stutter too: before
Prepare(i, v, n), a pre-prepare for (v, n) signed by a Byzantine replica that is not the primary
of v; before Commit, Execute and StableCheckpoint, the very votes the step needs in the names of
honest replicas that did not send them, signed with a Byzantine key (forgeries). A replica that
takes a pre-prepare from a non-primary, or does not check signatures, acts on them.

Late NEW-VIEWs. After each step of an honest replica i (unless i has a deferred action pending,
which any delivery would run), every NEW-VIEW an honest primary sent for a view below i's is
delivered to i, once each: a copy that comes late, as the network may deliver it. AcceptNewView's
guard refuses it, so each must be a stutter too; a replica that takes it goes back to an earlier
view, and the driver names the action property it breaks (property_tests/pbft/transitions.py).

NewView(i) names no view-change messages: newview.py finds the 2f+1 (honest ones that were sent, and
Byzantine ones it makes up as the spec's Justifications allow) whose O and min-s are the spec's.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.messages import NOOP
from meshcheck.impl.pbft.messages import Batch
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Reply
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import request_name
from meshcheck.impl.pbft.refinement import message_record
from meshcheck.impl.pbft.replica import PROGRESS
from meshcheck.impl.pbft.replica import VIEW_CHANGE
from meshcheck.impl.pbft.replica import Replica
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.property_tests.pbft.model import DriverError
from meshcheck.property_tests.pbft.model import Model
from meshcheck.property_tests.pbft.model import Puppet
from meshcheck.property_tests.pbft.model import record
from meshcheck.property_tests.pbft.model import with_fields
from meshcheck.property_tests.pbft.newview import view_change_quorum
from meshcheck.property_tests.pbft.transitions import broken

CLIENT = "c1"


class Driver:
    """A simulated PBFT group that takes the spec's steps. Nothing in it runs on its own: no clock
    advances, no timer fires, no message moves unless a step says so."""

    def __init__(self, model: Model, *, bugs: frozenset[str] = frozenset()) -> None:
        self.model = model
        self.sim: Simulator[Any] = pbft_cluster(
            model.n,
            seed=0,
            bugs=bugs,
            byzantine=dict.fromkeys(sorted(model.byzantine), Puppet),
            checkpoint_every=model.checkpoint_every,
            window=model.window,
            retransmit_every=None,  # no status exchange: every message moves by a step
            quarantine=False,  # a puppet's equivocation is the spec's ByzMsgs, not a reason to stop
        )
        self.sent: dict[Value, Signed[Any]] = {}  # what honest replicas signed and sent, by record
        self.requests: dict[Value, Signed[Request]] = {}  # the client's requests, by name
        self.at_client: set[Value] = set()  # the replies delivered to the client
        self.late: set[tuple[str, Value]] = set()  # (replica, NEW-VIEW record) delivered late
        self.sim.send_filter = self._catalogue

    # -- what was sent -------------------------------------------------------------------------------

    def _catalogue(self, node: str, message: Any) -> bool:
        if isinstance(message, Signed) and message.signer == node:
            body = message.body
            if isinstance(body, Request):
                self.requests.setdefault(request_name(body), message)
            elif node not in self.model.byzantine:
                self.sent.setdefault(message_record(message), message)
                if isinstance(body, NewView):
                    for pp in body.pre_prepares:
                        self.sent.setdefault(message_record(pp), pp)
        return False  # nothing enters the network: the driver delivers copies

    def state(self) -> FrozenDict:
        """The refinement mapping of the group now."""
        return self.sim.abstract_state()

    def _replica(self, i: str) -> Replica:
        node = self.sim.nodes[i]
        assert isinstance(node, Replica), f"{i} is not an honest replica"
        return node

    def _batch(self, req: Value) -> Batch:
        if req == NOOP:
            return ()
        if req not in self.requests:
            raise DriverError(f"the client never sent a request {format_value(req)}")
        return (self.requests[req],)

    def _digest(self, req: Value) -> bytes:
        return batch_digest(self._batch(req))

    def message(self, rec: FrozenDict) -> Signed[Any]:
        """The signed message behind a record: an honest replica's copy, or one the Byzantine
        sender signs now."""
        found = self.sent.get(rec)
        if found is not None:
            return found
        src = str(rec["src"])
        if src not in self.model.byzantine:
            raise DriverError(f"no honest replica sent {format_value(rec)}")
        puppet = self.sim.nodes[src]
        assert isinstance(puppet, Puppet)
        return puppet.sign(self._forge(rec))

    def _forge(self, rec: FrozenDict) -> Any:
        kind, src = rec["type"], str(rec["src"])
        if kind == "PrePrepare":
            batch = self._batch(rec["req"])
            return PrePrepare(int(rec["view"]), int(rec["seq"]), batch_digest(batch), src, batch)
        if kind == "Prepare":
            return Prepare(int(rec["view"]), int(rec["seq"]), self._digest(rec["req"]), src)
        if kind == "Commit":
            return Commit(int(rec["view"]), int(rec["seq"]), self._digest(rec["req"]), src)
        if kind == "Checkpoint":
            honest = self.honest_checkpoint(int(rec["seq"]), rec["digest"])
            return Checkpoint(honest.seq, honest.digest, src, honest.history)
        if kind == "Reply":
            for m in self.sent.values():
                body = m.body
                if isinstance(body, Reply) and message_record(m) == record(
                    "Reply", seq=rec["seq"], req=rec["req"], src=m.signer
                ):
                    return Reply(body.view, body.seq, body.request, body.result, src)
            raise DriverError(f"no honest replica replied {format_value(rec)}: nothing to copy")
        raise DriverError(f"the driver does not forge {kind} messages")

    def honest_checkpoint(self, seq: int, digest: Value) -> Checkpoint:
        for m in self.sent.values():
            if isinstance(m.body, Checkpoint) and message_record(m) == record(
                "Checkpoint", seq=seq, digest=digest, src=m.signer
            ):
                return m.body
        raise DriverError(f"no honest replica sent a checkpoint at {seq} of {format_value(digest)}")

    # -- delivering ----------------------------------------------------------------------------------

    def _forgery(self, rec: FrozenDict) -> Signed[Any]:
        """The message of an honest replica's record, signed with a Byzantine replica's key."""
        puppet = self.sim.nodes[sorted(self.model.byzantine)[0]]
        assert isinstance(puppet, Puppet)
        body = self._forge(rec)  # in the honest replica's name
        return Signed(body, str(rec["src"]), puppet.sign(body).signature)

    def _temptations(
        self, make: Any, voters: Sequence[str], held: set[str], msgs: frozenset[Value]
    ) -> list[Signed[Any]]:
        """Forged votes `make(j)` for the honest voters not in `held` that did not send theirs."""
        if not self.model.byzantine:
            return []
        return [
            self._forgery(make(j))
            for j in voters
            if j not in held and j not in self.model.byzantine and make(j) not in msgs
        ]

    def _deliver(
        self,
        i: str,
        messages: Sequence[Signed[Any]],
        label: str,
        temptations: Sequence[Signed[Any]] = (),
    ) -> None:
        """Deliver `temptations` (from a Byzantine replica: see the module), then `messages`, to i
        in order; all but the last must change nothing the spec sees. With nothing to deliver, i
        already holds what the step needs: fire its `progress` timer."""
        for m in temptations:
            before = self.state()
            self.sim.inject(i, Deliver(sorted(self.model.byzantine)[0], m))
            if self.state() != before:
                what = (
                    f"a forgery in {m.signer}'s name (signed with a Byzantine key)"
                    if m.signer not in self.model.byzantine
                    else f"a pre-prepare from {m.signer}, which is not the primary of its view"
                )
                raise DriverError(
                    f"{label}: {i} acted on {format_value(message_record(m))}, {what}, which no "
                    f"guard of the spec counts"
                )
        if not messages:
            if not self.sim.timer_pending(i, PROGRESS):
                raise DriverError(f"{label}: {i} holds everything the step needs and does not act")
            self.sim.fire(i, PROGRESS)
            return
        *first, last = messages
        for k, m in enumerate(first):  # each must leave the spec's state as it was
            before = self.state()
            self.sim.inject(i, Deliver(m.signer, m))
            if self.state() != before:
                raise DriverError(
                    f"{label}: {i} acted on {format_value(message_record(m))}, before it held "
                    f"everything the spec's step needs ({len(messages) - k - 1} more to deliver)"
                )
        # the step itself: the follower compares the state it leads to with the spec's
        self.sim.inject(i, Deliver(last.signer, last))

    def _late_new_views(self, i: str, msgs: frozenset[Value], label: str) -> None:
        """Deliver to i, once each, the NEW-VIEWs among `msgs` of views below its own (see the
        module): each must leave the spec's state as it was."""
        if self._replica(i)._due() is not None:
            return  # a deferred action, which any delivery would run: the next step's
        view = self.state()["view"]
        assert isinstance(view, Mapping)
        late = [
            m
            for m in msgs
            if isinstance(m, FrozenDict)
            and m["type"] == "NewView"
            and int(m["view"]) < int(view[i])
            and (i, m) not in self.late
        ]
        for rec in sorted(late, key=repr):
            self.late.add((i, rec))
            m = self.message(rec)
            state = self.state()
            self.sim.inject(i, Deliver(m.signer, m))
            after = self.state()
            if after != state:
                names = broken(state, after)
                breaks = f" (it breaks {', '.join(names)})" if names else ""
                raise DriverError(
                    f"after {label}: {i}, in view {view[i]}, acted on {format_value(rec)}, a "
                    f"NEW-VIEW of an earlier view delivered late, which AcceptNewView's guard "
                    f"refuses" + breaks
                )

    def votes(
        self, msgs: frozenset[Value], make: Any, voters: Sequence[str], held: set[str], need: int
    ) -> list[Signed[Any]]:
        """`need` more messages `make(j)` from distinct `voters` not in `held`: honest replicas'
        that were sent first, then Byzantine ones."""
        honest = [j for j in voters if j not in held and make(j) in msgs]
        byzantine = [j for j in voters if j not in held and j in self.model.byzantine]
        chosen = (honest + byzantine)[: max(need, 0)]
        if len(chosen) < need:
            raise DriverError(f"only {len(chosen)} of the {need} messages needed exist")
        return [self.message(make(j)) for j in chosen]

    # -- the step ------------------------------------------------------------------------------------

    def take(
        self,
        action: str,
        params: Mapping[str, Value],
        before: Mapping[str, Value],
        after: Mapping[str, Value],
    ) -> None:
        """Make the implementation take the spec's step `action(params)` from `before` to `after`."""
        label = f"{action}({', '.join(f'{k}={format_value(v)}' for k, v in params.items())})"
        self._take(action, params, before, after, label)
        i = str(params.get("i", ""))
        if i in self.model.replicas and i not in self.model.byzantine:
            self._late_new_views(i, after["msgs"], label)

    def _take(
        self,
        action: str,
        params: Mapping[str, Value],
        before: Mapping[str, Value],
        after: Mapping[str, Value],
        label: str,
    ) -> None:
        msgs: frozenset[Value] = before["msgs"]
        added = [m for m in after["msgs"] - msgs if isinstance(m, FrozenDict)]
        model = self.model
        i = str(params.get("i", ""))
        if action == "Request":
            self.sim.inject(CLIENT, ClientRequest(params["r"]))
        elif action == "PrePrepare":
            self._deliver(i, [self.requests[params["r"]]], label)
        elif action == "Prepare":
            v, n = int(params["v"]), int(params["n"])
            (sent,) = [m for m in added if m["type"] == "Prepare"]
            pp = record("PrePrepare", view=v, seq=n, req=sent["req"], src=model.primary(v))
            intruders = [
                self.message(with_fields(pp, src=b))
                for b in sorted(model.byzantine)
                if b != model.primary(v)
            ]
            self._deliver(i, [self.message(pp)], label, intruders)
        elif action == "Commit":
            v, n = int(params["v"]), int(params["n"])
            (sent,) = [m for m in added if m["type"] == "Commit"]
            r = sent["req"]
            log = self._replica(i).log
            held = set(log.prepares.get((v, n, self._digest(r)), {})) - {model.primary(v)}

            def prepare(j: str) -> FrozenDict:
                return record("Prepare", view=v, seq=n, req=r, src=j)

            need = 2 * model.f - len(held)
            votes = self.votes(msgs, prepare, model.backups(v), held, need)
            forged = self._temptations(prepare, model.backups(v), held, msgs)
            self._deliver(i, votes, label, forged)
        elif action == "Execute":
            self._execute(i, before, after, label)
        elif action == "StableCheckpoint":
            self._stable_checkpoint(i, int(params["n"]), before, after, label)
        elif action == "StartViewChange":
            self.sim.fire(i, VIEW_CHANGE)
        elif action == "NewView":
            self._deliver(i, view_change_quorum(self, i, before, added, label), label)
        elif action == "AcceptNewView":
            v = int(params["v"])
            if model.primary(v) in model.byzantine:
                raise DriverError(f"{label}: a Byzantine primary's NEW-VIEW is not driven")
            (nv,) = [
                m
                for m in msgs
                if isinstance(m, FrozenDict) and m["type"] == "NewView" and m["view"] == v
            ]
            self._deliver(i, [self.message(nv)], label)
        elif action == "Accept":
            self._accept(int(params["n"]), params["r"], msgs, label)
        else:
            raise DriverError(f"the driver does not know the spec action {action}")

    def _execute(
        self, i: str, before: Mapping[str, Value], after: Mapping[str, Value], label: str
    ) -> None:
        model = self.model
        msgs: frozenset[Value] = before["msgs"]
        n = len(before["executed"][i]) + 1
        r = after["executed"][i][-1]

        def commit(v: int, j: str) -> FrozenDict:
            return record("Commit", view=v, seq=n, req=r, src=j)

        def enough(v: int) -> bool:
            honest = sum(1 for j in model.replicas if commit(v, j) in msgs)
            return honest + len(model.byzantine) >= model.quorum

        views = sorted(
            {
                int(m["view"])
                for m in msgs
                if isinstance(m, FrozenDict) and m["type"] == "Commit" and m == commit(m["view"], i)
            }
        )
        chosen = [v for v in views if enough(v)]
        if not chosen:
            raise DriverError(f"{label}: no view has a commit quorum for {format_value(r)} at {n}")
        v = chosen[0]
        held = set(self._replica(i).log.commits.get((v, n, self._digest(r)), {}))
        need = model.quorum - len(held)
        voters = list(model.replicas)
        votes = self.votes(msgs, lambda j: commit(v, j), voters, held, need)
        forged = self._temptations(lambda j: commit(v, j), voters, held, msgs)
        self._deliver(i, votes, label, forged)

    def _stable_checkpoint(
        self, i: str, n: int, before: Mapping[str, Value], after: Mapping[str, Value], label: str
    ) -> None:
        model = self.model
        msgs: frozenset[Value] = before["msgs"]
        if after["executed"][i] != before["executed"][i]:
            digests = [after["executed"][i]]  # a state transfer: the history it took
        else:
            digests = sorted(
                {
                    m["digest"]
                    for m in msgs
                    if isinstance(m, FrozenDict) and m["type"] == "Checkpoint" and m["seq"] == n
                },
                key=repr,
            )
        for d in digests:

            def checkpoint(j: str, d: Value = d) -> FrozenDict:
                return record("Checkpoint", seq=n, digest=d, src=j)

            honest = sum(1 for j in model.replicas if checkpoint(j) in msgs)
            if honest + len(model.byzantine) < model.quorum:
                continue
            digest = self.honest_checkpoint(n, d).digest
            held = set(self._replica(i).log.checkpoints.get(n, {}).get(digest, {}))
            need = model.quorum - len(held)
            votes = self.votes(msgs, checkpoint, list(model.replicas), held, need)
            forged = self._temptations(checkpoint, list(model.replicas), held, msgs)
            self._deliver(i, votes, label, forged)
            return
        raise DriverError(f"{label}: no checkpoint at {n} has a proof")

    def _accept(self, n: int, r: Value, msgs: frozenset[Value], label: str) -> None:
        model = self.model

        def reply(j: str) -> FrozenDict:
            return record("Reply", seq=n, req=r, src=j)

        held = {j for j in model.replicas if reply(j) in self.at_client}
        need = model.f + 1 - len(held)
        votes = self.votes(msgs, reply, list(model.replicas), held, need)
        self.at_client.update(message_record(m) for m in votes)
        self._deliver(CLIENT, votes, label)

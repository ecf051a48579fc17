"""A gossip node as a sans-IO core: `step(event) -> effects` (impl/base), built on entries.py and phi.py.

State. `entries` (key -> Entry, impl/gossip/entries.py), `own` (the entries this node wrote: the
only state it persists, so a writer never reuses a version: Gossip.tla's persisted part), `changed`
(the entries that changed since its last round: the delta it pushes), its heartbeat `(boot, beat)`,
its membership view, and the detector (impl/gossip/detector.py). Everything but `own`, the boot
count and whether it is a member (`status`) is volatile: a restart loses the entries learned from
others, the membership view (it knows the seeds again) and every watch (Gossip.tla's `Stop`).

A round (`Tick("gossip")`, every `interval` ticks; the first at a random point of the first
interval so rounds spread):
  Heartbeat(i)      the round counter `beat` goes up (every message carries (boot, beat))
  Suspect(i, j)     each watched peer whose phi reached the threshold (phi.py)
  Push(i, j)        to `fanout` peers drawn with the node's generator from the eligible members:
                    the entries changed since the last round (a non-empty set), or a bare `Beat`
  Pull(i, j)        to the first `pulls` of them: the node's digest (anti-entropy)
and, with probability suspected / (eligible + 1) (Cassandra's rule for unreachable endpoints), a
pull to one suspected peer, the probe that brings a peer back after a partition heals.

Heartbeats and who watches whom. A node watches the `watchers` members before it in its sorted
view (a ring, 3 by default), and sends the `watchers` after it, which watch it, a message every
round (its push, or a bare `Beat`): their arrivals come once a round, so phi's normal model of the
inter-arrival times fits. Every message from a watched peer is a heartbeat from it when its
(boot, beat) is newer than the last counted (impl/gossip/messages.py); a suspected sender is
trusted again: `Trust(i, j)`. Messages from peers it does not watch are not heartbeats: with
random fanout a node hears from most peers once in many rounds, too seldom and too irregularly for
the model (a first arrival alone would have every such peer suspected about 2.4 s later), and a
watch per peer heard would make the detector's state grow with the cluster. Detector state is
O(watchers) per node; a crashed node is suspected by the live nodes that watched it.
  HandlePush(i, j)  merge: per key the entry of higher rank (entries.py); what changed joins the
                    next round's delta
  HandlePull(i, j)  answer with delta(entries, digest) as a push, or a `Beat` when it is empty;
                    when the digest shows the puller holds what this node lacks, also
  Pull(i, j)        pull back (push-pull anti-entropy: a node no one chooses still spreads
                    what only it has)
Client requests: a write `ClientRequest((key, value))` is `Update(i, k, v)` (version one above the
highest known for the key), persisted before it is acknowledged; a read `ClientRead(key)` answers
the value held (None when none): a status read, eventually consistent.

Restart. The node reloads its own writes and its boot count (one more, persisted), and, when it
had been up before (`Restart(i)`), pulls from `fanout` peers at once to catch up on what it missed
while down (anti-entropy for a node that was away), besides its rounds.

Membership (Gossip.tla's, exactly). The seeds are `config.initial`, members from the start. A
node's view is the seeds and every node that sent it a push or a pull since it (re)started
(`HandlePush(i, j)` and `HandlePull(i, j)` make i learn of j); it never shrinks while the node is
up, and it is volatile: a crash loses it, and `Restart(i)` knows the seeds again. `Join(i)`
(`JoinVia(seed)`): a node outside becomes a member knowing the seeds, and pulls from the seed it
was given (the seed learns of it from that pull, the others as it gossips). `Leave(i)`
(`LeaveCluster()`): the node goes out, keeping only its own writes, and tells nobody: messages to
it are lost. Whether a node is a member (`status`) is persisted, so a crashed member restarts as
one and a node that left stays out until it joins again.

Why not a membership gossiped as entries (a joiner taking a seed's view, a leave announced as a
"left" entry): the view is then partly durable and spread by others, and the spec's refinement
(every node's view is the seeds and who talked to it) no longer holds; the spec is the design.
What the simpler rule costs: a node that left stays in the views of those it talked to, who keep
choosing it until they suspect it (the watchers, `evict_after`) or restart. The rule for
suspected peers: a peer suspected continuously for `evict_after` ticks (5 rounds by default) is
left out of the fanout choice (it stays in the view, and is still probed, above); heard again, it
is trusted and back in the choice at once. Nothing is ever removed from a view by suspicion alone,
so a healed partition cannot leave two halves that never choose each other.
"""

from __future__ import annotations

import bisect
import random
from typing import Any

from meshcheck.impl.base import probes
from meshcheck.impl.base.effects import Action
from meshcheck.impl.base.effects import CancelTimer
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Persist
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Reply
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import ClientRead
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.base.shape import mismatch
from meshcheck.impl.gossip import mutants
from meshcheck.impl.gossip.config import GossipConfig
from meshcheck.impl.gossip.detector import Detector
from meshcheck.impl.gossip.detector import Watch
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.entries import Rank
from meshcheck.impl.gossip.entries import delta
from meshcheck.impl.gossip.entries import newer
from meshcheck.impl.gossip.entries import update
from meshcheck.impl.gossip.messages import Beat
from meshcheck.impl.gossip.messages import JoinVia
from meshcheck.impl.gossip.messages import LeaveCluster
from meshcheck.impl.gossip.messages import Message
from meshcheck.impl.gossip.messages import Pull
from meshcheck.impl.gossip.messages import Push
from meshcheck.impl.gossip.messages import Round
from meshcheck.impl.gossip.phi import Arrivals

GOSSIP = "gossip"  # the round's timer
OWN = "own/"  # durable keys of own writes: OWN + key -> Entry
BOOT = "boot"
STATUS = "status"  # durable: IN or GONE, once the node joined or left

# what the node is to the cluster
OUTSIDE, IN, GONE = "outside", "in", "left"


_SETS: dict[int, tuple[tuple[str, ...], frozenset[str]]] = {}
# Globals that keep no node's state (property_tests/restarts.py, core purity): `_SETS` is a memo
# of `shared_set`, a frozenset per view tuple, checked against the tuple it was made of.
PURE_GLOBALS = ("_SETS",)


def shared_set(members: tuple[str, ...]) -> frozenset[str]:
    """`members` as a frozenset, one per tuple object: nodes that share a view tuple (the initial
    seeds) share its set too, so a view costs one set, not one per node."""
    found = _SETS.get(id(members))
    if found is None or found[0] is not members:
        found = (members, frozenset(members))
        _SETS[id(members)] = found
    return found[1]


def _next(names: tuple[str, ...], name: str, forward: bool) -> tuple[str, bool]:
    """The name after (before) `name` in the sorted `names`, cyclically, and whether it wrapped."""
    if forward:
        at = bisect.bisect_right(names, name)
        return (names[at], False) if at < len(names) else (names[0], True)
    at = bisect.bisect_left(names, name) - 1
    return (names[at], False) if at >= 0 else (names[-1], True)


def _act(name: str, **params: str) -> Action:
    return Action(name, params)


class GossipNode:
    """One gossip node (see the module's docstring)."""

    __slots__ = (
        "_catching_up",
        "_evicted",
        "_extra",
        "_ring",
        "added",
        "base",
        "base_set",
        "beat",
        "boot",
        "bugs",
        "changed",
        "config",
        "detector",
        "entries",
        "id",
        "own",
        "rebooted",
        "rng",
        "status",
    )

    def __init__(self, config: GossipConfig, rng: random.Random) -> None:
        self.id = config.node_id
        self.config = config
        self.rng = rng
        self.bugs = config.bugs
        self.entries: dict[str, Entry] = {}
        self.own: dict[str, Entry] = {}
        self.changed: dict[str, Entry] = {}
        self.boot = 0
        self.beat = 0
        self.status = OUTSIDE
        self.base: tuple[str, ...] = ()  # shared, never mutated
        self.base_set: frozenset[str] = frozenset()  # the same, as a set (shared too)
        self.added: set[str] = set()  # members learned (they sent a push or a pull) not in base
        self.detector = Detector(config.phi)
        self._extra: tuple[str, ...] | None = None  # `added`, sorted (rebuilt when it changes)
        # the peers it watches (its ring predecessors) and those watching it (its successors)
        self._ring: tuple[frozenset[str], tuple[str, ...]] | None = None
        self._evicted: set[str] = set()
        self._catching_up: set[str] = set()  # peers pulled from at a restart, not answered yet
        self.rebooted = False  # this incarnation restarted after an earlier one

    # -- views --------------------------------------------------------------------------------------

    def members(self) -> frozenset[str]:
        """The membership view (empty for a node outside the cluster or gone)."""
        if self.status != IN:
            return frozenset()
        if not self.added:
            return self.base_set  # shared: no copy of the view per node
        return self.base_set | self.added

    def is_member(self, node: str) -> bool:
        return node in self.added or node in self.base_set

    def ring(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """(the `watchers` members before it in the sorted view: the peers it watches, the
        `watchers` after it: the peers that watch it), found again when the view changes by
        walking the sorted view from the node's own name (O(watchers log n), no copy of the view)."""
        if self._ring is None:
            if self._extra is None:
                self._extra = tuple(sorted(self.added))
            before = frozenset(self._walk(forward=False))
            self._ring = (before, tuple(self._walk(forward=True)))
            for j in [j for j in self.detector.watches if j not in before]:
                self.detector.forget(j)
                self._evicted.discard(j)
        return self._ring

    def _walk(self, *, forward: bool) -> list[str]:
        """Up to `watchers` members after (or before) the node in the cyclic order of names."""
        seqs = [q for q in (self.base, self._extra or ()) if q]
        found: list[str] = []
        cur = self.id
        while len(found) < self.config.watchers and seqs:
            steps = [_next(q, cur, forward) for q in seqs]
            ahead = [name for name, wrapped in steps if not wrapped]
            pool = ahead or [name for name, _ in steps]
            cur = min(pool) if forward else max(pool)
            if cur == self.id or cur in found:
                break
            found.append(cur)
        return found

    def eligible(self) -> list[str]:
        """The peers a round may choose: members but itself, left out those evicted."""
        return [
            j for j in (*self.base, *sorted(self.added)) if j != self.id and j not in self._evicted
        ]

    def _choose(self, k: int) -> list[str]:
        """`k` distinct eligible peers drawn with the node's generator (all of them, shuffled, when
        there are no more). A large view is sampled by rejection, without building the list of
        eligible peers: one list per node per round would make a round O(n)."""
        if self._extra is None:
            self._extra = tuple(sorted(self.added))
        base, extra = self.base, self._extra
        total = len(base) + len(extra)
        if total > 4 * k + 8:
            chosen: list[str] = []
            for _ in range(16 * k):
                at = self.rng.randrange(total)
                j = base[at] if at < len(base) else extra[at - len(base)]
                if j == self.id or j in self._evicted or j in chosen:
                    continue
                chosen.append(j)
                if len(chosen) == k:
                    return chosen
        peers = self.eligible()
        if len(peers) > k:
            return self.rng.sample(peers, k)
        self.rng.shuffle(peers)
        return peers

    # -- the step -----------------------------------------------------------------------------------

    def step(self, event: Any) -> list[Effect]:
        match event:
            case Deliver(source=source, message=message):
                if self.status == IN:
                    return self._receive(source, message, event.now)
                return []  # not a member: lost (the plug-in records LoseMessage)
            case Tick(timer=timer) if timer == GOSSIP and self.status == IN:
                return self._round(event.now)
            case Round(peers=peers) if self.status == IN:
                return self._round(event.now, peers)
            case ClientRequest(value=(str() as key, str() as value), request_id=rid):
                return self._write(key, value, rid)
            case ClientRead(query=key, request_id=rid):
                if mutants.READ_REFUSED_WHILE_SUSPECTING in self.bugs:
                    suspected = sorted(
                        j for j in self.detector.watches if self.detector.suspected(j)
                    )
                    if suspected:
                        return [Reply(rid, error=f"node down: {self.id} suspects {suspected[0]}")]
                held = self.entries.get(key) if self.status == IN else None
                return [Reply(rid, None if held is None else held.value)]
            case ClientRequest(request_id=rid):
                return [Reply(rid, error=f"not a status write (key, value): {event.value!r}")]
            case Restart(persisted=persisted):
                return self._restart(persisted, event.now)
            case JoinVia(seed=seed):
                return self._join(seed)
            case LeaveCluster():
                return self._leave()
        return []

    # -- restart, join, leave -----------------------------------------------------------------------

    def _restart(self, persisted: Any, now: int) -> list[Effect]:
        self.rebooted = BOOT in persisted
        stale = self.rebooted and mutants.BOOT_NOT_RAISED in self.bugs
        self.boot = int(persisted.get(BOOT, 0)) + (0 if stale else 1)
        for k, v in persisted.items():
            if k.startswith(OWN):
                self.own[k[len(OWN) :]] = v
        self.entries = dict(self.own)
        status = persisted.get(STATUS)
        self.status = (
            status if status is not None else IN if self.id in self.config.initial else OUTSIDE
        )
        self.base = self.config.initial  # the seeds: the view is volatile
        self.base_set = shared_set(self.base)
        out: list[Effect] = [Persist((Put(BOOT, self.boot),))]
        if self.status != IN:
            return out
        if self.rebooted:
            out.insert(0, _act("Restart", i=self.id))  # the step is the Restart (persist included)
            if mutants.SILENT_AFTER_RESTART in self.bugs:
                return out
            for j in self._choose(self.config.fanout):
                self._catching_up.add(j)
                out += self._pull(j)
        out.append(SetTimer(GOSSIP, self.rng.randint(1, self.config.interval)))
        return out

    def _join(self, seed: str) -> list[Effect]:
        """`Join(i)`: in, knowing the seeds; then a pull from `seed` to catch up at once."""
        if self.status == IN or seed == self.id:
            return []
        self._reset_view()
        self.status = IN
        out: list[Effect] = [
            _act("Join", i=self.id),
            Persist((Put(STATUS, IN),)),
        ]
        first = [seed] if self.is_member(seed) else self._choose(1)
        for j in first:
            out += self._pull(j)
        out.append(SetTimer(GOSSIP, self.rng.randint(1, self.config.interval)))
        return out

    def _leave(self) -> list[Effect]:
        """`Leave(i)`: out, keeping only its own writes; nobody is told."""
        if self.status != IN:
            return []
        self.status = GONE
        self.entries = dict(self.own)
        self.changed = {}
        self._reset_view()
        self._catching_up.clear()
        return [_act("Leave", i=self.id), Persist((Put(STATUS, GONE),)), CancelTimer(GOSSIP)]

    def _reset_view(self) -> None:
        """The view back to the seeds, and every watch forgotten."""
        self.added = set()
        self._extra = None
        self._ring = None
        self._evicted.clear()
        self.detector = Detector(self.config.phi)

    def _learn(self, j: str) -> None:
        """j sent a push or a pull: it is a member of this node's view from now on."""
        if j != self.id and j not in self.base_set and j not in self.added:
            self.added.add(j)
            self._extra = None
            self._ring = None

    def _own_write(self, key: str, value: str) -> Entry:
        entry = update(self.entries, key, value, self.id)
        self.entries[key] = entry
        self.own[key] = entry
        return entry

    def _write(self, key: str, value: str, rid: int) -> list[Effect]:
        if self.status != IN:
            return [Reply(rid, error=f"{self.id} is not a member")]
        entry = self._own_write(key, value)
        self.changed[key] = entry
        return [
            _act("Update", i=self.id, k=key, v=value),
            Persist((Put(OWN + key, entry),)),
            Reply(rid, value),
        ]

    # -- a round ------------------------------------------------------------------------------------

    def _round(self, now: int, peers: tuple[str, ...] | None = None) -> list[Effect]:
        """A round toward `fanout` peers of its choice, or toward `peers` (the lockstep driver's
        forced choice: members of the view)."""
        self.beat += 1
        out: list[Effect] = [_act("Heartbeat", i=self.id)]
        detector = self.detector
        for j in detector.due(now):
            detector.watches[j].suspected_since = now
            out.append(_act("Suspect", i=self.id, j=j))
        evict = self.config.evict_after
        for j, w in detector.watches.items():
            since = w.suspected_since
            if since is not None and now - since >= evict:
                self._evicted.add(j)
        targets = self._choose(self.config.fanout) if peers is None else list(peers)
        if self.changed:
            delta = tuple(self.changed.items())
            for j in targets:
                out += [
                    _act("Push", i=self.id, j=j),
                    Send(j, Push(self.id, j, delta, self.boot, self.beat)),
                ]
            self.changed = {}
        else:
            out += [Send(j, Beat(self.id, j, self.boot, self.beat)) for j in targets]
        for j in self.ring()[1]:  # those watching it hear from it every round
            if j not in targets and j not in self._evicted:
                out.append(Send(j, Beat(self.id, j, self.boot, self.beat)))
        for j in targets[: self.config.pulls]:
            out += self._pull(j)
        suspected = [j for j in self._evicted if self.is_member(j)]
        view = len(self.base) + len(self._extra or ())  # about the eligible peers' number
        if suspected and self.rng.random() < len(suspected) / max(1, view - len(suspected)):
            out += self._pull(self.rng.choice(sorted(suspected)))
        out.append(SetTimer(GOSSIP, self.config.interval))
        return out

    def _pull(self, j: str, *, back: bool = False) -> list[Effect]:
        digest = tuple((k, e.rank()) for k, e in self.entries.items())
        pull = Pull(self.id, j, digest, self.boot, self.beat, back)
        return [_act("Pull", i=self.id, j=j), Send(j, pull)]

    # -- receiving ----------------------------------------------------------------------------------

    def _receive(self, source: str, message: Message, now: int) -> list[Effect]:
        if mismatch(message, Message) is not None:
            # No gossip message holds other types than it declares (a string for a version, an
            # entry that is no pair, a value that is no message): whatever sent it, reading it
            # would stop this node's step. The fault model is crash-recovery (specs/Gossip.tla):
            # nothing is signed, so there is nobody to hold it against; it is lost, as a dropped
            # message is (and is no heartbeat).
            return []
        out: list[Effect]
        if isinstance(message, Push):
            out = [_act("HandlePush", i=self.id, j=source)]
            self._learn(source)
            took = self._merge(message.entries)
            if source in self._catching_up:
                self._catching_up.discard(source)
                if took:
                    probes.hit("gossip", "caught_up_after_restart")
        elif isinstance(message, Pull):
            out = [_act("HandlePull", i=self.id, j=source)]
            self._learn(source)
            lacking = self._delta(message.digest)
            if lacking:
                push = Push(self.id, source, tuple(lacking.items()), self.boot, self.beat)
            else:
                push = None
            out.append(Send(source, push or Beat(self.id, source, self.boot, self.beat)))
            if not message.back and self._behind(message.digest):
                out += self._pull(source, back=True)  # the puller holds what this node lacks
        else:
            out = []
        if self.status == IN:
            out += self._heard(source, message.boot, message.beat, now)
        return out

    def _heard(self, j: str, boot: int, beat: int, now: int) -> list[Effect]:
        """A message from j: a heartbeat arrival when its counter is new (see messages.py)."""
        if j not in self.ring()[0]:
            return []
        detector = self.detector
        w: Watch | None = detector.watches.get(j)
        if w is None:
            detector.watch(j, now, boot, beat)
            return []
        if (boot, beat) <= (w.boot, w.beat):
            return []
        if boot > w.boot and mutants.WINDOW_KEPT_ACROSS_RESTART not in self.bugs:
            # A new incarnation of j: a new stream of heartbeats, whose model the old one's
            # arrivals (and the gap of its down time, one inter-arrival time many rounds long)
            # would distort (Hayashibara et al. model one process's inter-arrival times): its
            # watch starts afresh, and a suspicion of the old incarnation is cleared.
            suspected = w.suspected_since is not None
            detector.watch(j, now, boot, beat)
            probes.hit("gossip", "new_incarnation_heard")
            if not suspected:
                return []
            if mutants.SUSPICION_NEVER_CLEARED in self.bugs:
                detector.watches[j].suspected_since = w.suspected_since
                return []
            self._lift(j)
            probes.hit("gossip", "suspicion_cleared")
            return [_act("Trust", i=self.id, j=j)]
        w.boot, w.beat = boot, beat
        a = w.arrivals
        if mutants.PHI_WRONG_WINDOW in self.bugs:
            w.arrivals = Arrivals(now, (*a.intervals, now - a.last)[: self.config.phi.window])
        else:
            w.arrivals = a.heard(now, self.config.phi)
        w.deadline = detector._deadline(w.arrivals)
        if w.suspected_since is None or mutants.SUSPICION_NEVER_CLEARED in self.bugs:
            return []
        w.suspected_since = None
        self._lift(j)
        probes.hit("gossip", "suspicion_cleared")
        return [_act("Trust", i=self.id, j=j)]

    def _lift(self, j: str) -> None:
        """j is trusted again: back in the fanout choice at once, if it had been evicted."""
        if mutants.EVICTION_NEVER_LIFTED not in self.bugs:
            self._evicted.discard(j)

    def _merge(self, incoming: tuple[tuple[str, Entry], ...]) -> int:
        """Merge entries in; how many changed the state."""
        entries, changed = self.entries, self.changed
        took = 0
        for key, entry in incoming:
            held = entries.get(key)
            if held is None:
                take = True
            elif mutants.OLDER_OVERWRITES_NEWER in self.bugs:
                take = entry.rank() != held.rank()
            else:
                take = newer(entry, held)
            if not take and held is not None and entry.rank() == held.rank():
                probes.hit("gossip", "duplicate_merged")
                if mutants.MERGE_NOT_IDEMPOTENT in self.bugs:
                    entry = Entry(held.version + 1, held.origin, held.value)
                    take = True
            if take:
                took += 1
                entries[key] = entry
                changed[key] = entry
        return took

    def _delta(self, digest: tuple[tuple[str, Rank], ...]) -> dict[str, Entry]:
        theirs = dict(digest)
        if mutants.DELTA_SKIPS_MISSING in self.bugs:
            return {k: e for k, e in self.entries.items() if k in theirs and e.rank() > theirs[k]}
        return delta(self.entries, theirs)

    def _behind(self, digest: tuple[tuple[str, Rank], ...]) -> bool:
        """Whether a digest names a key this node lacks or holds at a lower rank."""
        entries = self.entries
        for key, rank in digest:
            held = entries.get(key)
            if held is None or held.rank() < rank:
                return True
        return False

"""Twins for HotStuff (Bano, Sonnino, Chursin, Perelman, Malkhi: "Twins: BFT Systems Made Robust",
2020): a Byzantine replica is run as two copies of the honest code with the same key, each in a
different partition, so it equivocates, votes twice and forgets its own votes exactly as a correct
replica would in each half, with no Byzantine code at all.

A scenario (`Scenario`) gives each round (view) 1..R a partition and, as the paper does, a leader
(HotStuffConfig.leaders; round-robin after R). A partition splits the five copies (r1's twins r1a
and r1b, and the honest r2, r3, r4) into two groups, r1a in one and r1b in the other; a message of
round v (a proposal's block's view, a vote's, a NEW-VIEW's; the sender's view for the rest) is
delivered only inside round v's groups (the paper drops the rest). After round R there is no
partition. The generator (`scenarios`) is the simplest that does anything at N = 4: r1 leads
every round (so both twins propose in each, and the votes of each come back to both), and the
partition is one split for rounds 1..4 and one for rounds 5..8, each of the eight ways to put the
honest replicas with r1a or r1b: 64 scenarios.

The network is a small deterministic one (one tick per message, timers as the replica sets them;
no faults but the partitions). Client requests go to the honest replicas and to one twin each, in
turn, so the twins' blocks differ. After the run: every committed head of every honest replica on
one chain (NoConflictingCommits), checked on the blocks any copy holds.

What it finds (property_tests/hotstuff/test_twins.py): QCs of 2f votes (each half forms its own
chain and commits it); not a lock that never moves nor a commit on a two-chain. Those two need a
leader that proposes on a QC below the highest it was sent, and a twin runs the honest leader's
rule: its 2f+1 NEW-VIEWs include one from an honest replica that voted for the certified chain,
which carries a QC at least that high. The equivocating leader of impl/hotstuff/byzantine.py,
which proposes on a lower QC on purpose, is what reaches them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Any

import attrs

from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.base.events import Restart
from meshcheck.impl.base.events import Tick
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.messages import Block
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import Request
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.replica import HotStuffConfig
from meshcheck.impl.hotstuff.replica import Replica
from meshcheck.property_tests.failure import CheckFailed

REPLICAS = ("r1", "r2", "r3", "r4")
HONEST = ("r2", "r3", "r4")
COPIES = ("r1a", "r1b", *HONEST)
TWIN = "r1"

# the eight splits: the honest replicas with r1a, the rest with r1b
SPLITS: tuple[frozenset[str], ...] = tuple(
    frozenset(s) for k in range(4) for s in itertools.combinations(HONEST, k)
)


ALL = frozenset({"*"})  # no partition in this round: every copy hears every other


def name(copy: str) -> str:
    """The replica a copy is (a twin's name is its replica's)."""
    return TWIN if copy.startswith(TWIN) else copy


@attrs.frozen
class Scenario:
    """Round v's partition is `splits[v - 1]` (the honest replicas in r1a's group; the rest are in
    r1b's; ALL: none), led by `leaders[v - 1]`."""

    splits: tuple[frozenset[str], ...]
    leaders: tuple[str, ...]

    def group(self, copy: str, view: int) -> int:
        if not 1 <= view <= len(self.splits) or self.splits[view - 1] == ALL:
            return 0
        if copy in ("r1a", "r1b"):
            return 0 if copy == "r1a" else 1
        return 0 if copy in self.splits[view - 1] else 1

    def __str__(self) -> str:
        parts = []
        for v, (split, leader) in enumerate(zip(self.splits, self.leaders, strict=True), 1):
            groups = "all" if split == ALL else ",".join(["r1a", *sorted(split)])
            parts.append(f"{v}:{leader}:{{{groups}}}")
        return " ".join(parts)


def scenarios(blocks: int = 2, rounds: int = 4) -> Iterator[Scenario]:
    """r1 leads rounds 1..blocks*rounds; one split per block of `rounds` rounds, every sequence."""
    for chosen in itertools.product(SPLITS, repeat=blocks):
        splits = tuple(s for s in chosen for _ in range(rounds))
        yield Scenario(splits, (TWIN,) * len(splits))


def run(scenario: Scenario, bugs: frozenset[str], *, ticks: int = 200) -> Outcome:
    """One run of the scenario for `ticks` ticks: the first conflict between honest replicas'
    commits (or None), and how far they got."""
    keys = KeyRing(0, (*REPLICAS, "c1"))
    nodes = {
        c: Replica(
            HotStuffConfig(
                name(c),
                REPLICAS,
                bugs=bugs,
                timeout=20,
                max_backoff=1,
                leaders=scenario.leaders,
            ),
            keys,
        )
        for c in COPIES
    }
    end = ticks
    queue: list[tuple[int, int, str, Any]] = []
    timers: dict[tuple[str, str], int] = {}
    seq = itertools.count()
    client = keys.signer("c1")

    def apply(copy: str, effects: list[Any], now: int) -> None:
        for e in effects:
            if isinstance(e, SetTimer):
                k = next(seq)
                timers[copy, e.timer] = k
                heapq.heappush(queue, (now + e.after, k, copy, Tick(e.timer)))
            elif isinstance(e, Send):
                view = round_of(e.message, nodes[copy])
                here = scenario.group(copy, view)
                for dest in COPIES:
                    if name(dest) == e.dest and scenario.group(dest, view) == here:
                        heapq.heappush(
                            queue, (now + 1, next(seq), dest, Deliver(name(copy), e.message))
                        )

    for c in COPIES:
        apply(c, nodes[c].step(Restart({}, now=0)), 0)
    for t in range(1, end // 10):  # a request every 10 ticks, to one group
        r = Request("c1", t, f"op{t}")
        signed = SignedRequest(r, client.sign(request_bytes(r)))
        for c in COPIES:  # the honest replicas get each, the twins every other one
            if c not in ("r1a", "r1b") or c == ("r1a", "r1b")[t % 2]:
                heapq.heappush(queue, (t * 10, next(seq), c, Deliver("c1", signed)))
    while queue:
        now, k, copy, event = heapq.heappop(queue)
        if now > end:
            break
        if isinstance(event, Tick) and timers.get((copy, event.timer)) != k:
            continue  # replaced by a later SetTimer
        if isinstance(event, Deliver):
            event = Deliver(event.source, event.message, now=now)
        else:
            event = Tick(event.timer, now=now)
        apply(copy, nodes[copy].step(event), now)
    return Outcome(conflict(nodes), max((nodes[c].applied for c in HONEST), default=0))


@attrs.frozen
class Outcome:
    problem: str | None
    applied: int  # requests the most advanced honest replica executed


def round_of(m: Any, sender: Replica) -> int:
    """The round a message belongs to: its view (a proposal's block's, a vote's, a NEW-VIEW's);
    the sender's view for the rest."""
    if isinstance(m, Proposal):
        return m.block.view
    if isinstance(m, Vote | NewView):
        return m.view
    return sender.view


def conflict(nodes: dict[str, Replica]) -> str | None:
    blocks: dict[bytes, Block] = {}
    for r in nodes.values():
        blocks.update(r.blocks)

    def extends(b: bytes, a: bytes) -> bool:
        view = blocks[a].view
        while blocks[b].view > view:
            b = blocks[b].parent
        return b == a

    heads = [(c, h) for c in HONEST for h in nodes[c].commits]
    for (c1, h1), (c2, h2) in itertools.combinations(heads, 2):
        if not (extends(h1, h2) or extends(h2, h1)):
            return (
                f"NoConflictingCommits: {c1} committed the block of view {blocks[h1].view} and "
                f"{c2} the block of view {blocks[h2].view}, which conflict"
            )
    return None


def twins(bugs: frozenset[str], settings: Any = None) -> None:
    """Every scenario of `scenarios()`: no conflicting commits (CheckFailed on the first; settings
    unused: the scenarios are enumerated)."""
    for scenario in scenarios():
        problem = run(scenario, bugs).problem
        if problem is not None:
            raise CheckFailed(f"twins of r1, rounds {scenario}: {problem}", steps=1)

"""Raft under an unreliable network, in the style of MIT 6.824's Raft tests, against the targets.

One scenario per seed, scripted from the seed as 6.824's tests script their cluster (the simulator
is deterministic, so a seed is a run), on five nodes with whole-suffix batches and no compaction, so
that a node that falls behind must be brought back by AppendEntries alone:

1. Figure 8 churn (6.824's TestFigure8Unreliable2C, and TestFigure82C's crashes): commands go to the
   leader every few milliseconds, with now and then a long pause; the leader is disconnected or
   crashed at random, and a node comes back whenever fewer than three are connected and up. Each
   time a leader is lost, how long until the others have a new one (`Outcome.elections`); each
   command the leader commits while it keeps leading, how long that took (`Outcome.replications`).
2. Backup (TestBackup2B, scaled up): the leader and one follower are cut off and take hundreds of
   commands they can never commit; the other three elect a leader and commit hundreds of commands,
   and that leader crashes. That leaves two nodes with a long conflicting suffix, hundreds of
   committed entries behind, and a next leader whose nextIndex starts past its whole log.
3. Agreement (6.824's `one(cmd, servers, retry)`): everything reconnected and up (the crashed leader
   restarted, so an election comes first), a last command is
   sent to the leader (again every heartbeat until one accepts it); the time from healing until all
   five nodes applied it and everything before it (`Outcome.agreement`).

The network is unreliable throughout, healing included (`unreliable`): 10% of messages lost, 5%
delayed 100 ms to 1 s, 30% of replies delayed 200 ms to 2 s (6.824's "long reordering"), one-way
latency 1 to 27 ms. Times are simulated milliseconds (property_tests/raft/targets.py).

`python -m meshcheck.property_tests.raft.scenarios [SEEDS] [--bugs A,B]` prints the agreement times,
the 10 s failures and each bound's misses over seeds 0..SEEDS-1.
"""

from __future__ import annotations

import random
import statistics
import sys
from collections.abc import Callable
from collections.abc import Sequence

import attrs

from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.raft import LEADER
from meshcheck.impl.raft import RaftNode
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import MessageFaults
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.raft.free_runs import unique_write
from meshcheck.property_tests.raft.targets import Timing
from meshcheck.property_tests.raft.targets import election_bound
from meshcheck.property_tests.raft.targets import recovery_bound
from meshcheck.property_tests.raft.targets import replication_bound
from meshcheck.property_tests.raft.targets import ticks

NODES = 5
LATENCY = (1, 27)  # 6.824's labrpc: short delays of up to 27 ms
TIMING = Timing(latency=LATENCY)
AGREEMENT_LIMIT = ticks(10_000)  # 6.824's one(): agreement within 10 s, else the test fails
CHURN = 6000  # ticks of Figure 8 churn
BEHIND = 300  # commands the cut-off leader takes; as many again commit on the other side
REPLIES = ("AppendEntriesResponse", "RequestVoteResponse", "InstallSnapshotResponse")


def unreliable() -> Faults:
    return Faults(
        drop=0.1,
        delay=0.05,
        delay_ticks=(100, 1000),
        # (mypy reads the field's `converter=tuple` as a generic it cannot solve)
        messages=(MessageFaults(kind=REPLIES, delay=0.3, delay_ticks=(200, 2000)),),  # type: ignore[arg-type]
    )


@attrs.frozen
class Outcome:
    """One seed's run: times in ticks (milliseconds)."""

    seed: int
    agreement: int | None  # healing to everyone applying the last command; None: not within 10 s
    elections: tuple[int | None, ...]  # per leader lost: until a new one (None: not within 10 s)
    replications: tuple[int, ...]  # per command committed by a leader that kept leading
    behind: int  # entries the furthest node lacked, or held in conflict, when the network healed


@attrs.frozen
class Bounds:
    election: int
    replication: int
    recovery: int

    @classmethod
    def of(cls, t: Timing) -> Bounds:
        return cls(election_bound(t), replication_bound(t), recovery_bound(t))


class Script:
    """A cluster and the 6.824-style operations on it: connect, disconnect, crash, submit."""

    def __init__(self, seed: int, bugs: frozenset[str], timeout: tuple[int, int]) -> None:
        self.rng = random.Random(seed)
        self.sim: Simulator[RaftNode] = raft_cluster(
            NODES,
            seed=seed,
            faults=unreliable(),
            latency=LATENCY,
            record=False,
            election_timeout=timeout,
            bugs=bugs,
        )
        self.ids = list(self.sim.node_ids)
        self.cut_off: set[str] = set()
        self.commands = 0
        self.elections: list[int | None] = []
        self.replications: list[int] = []

    # -- the network and the nodes

    def _rewire(self) -> None:
        self.sim.heal()
        for d in sorted(self.cut_off):
            for x in self.ids:
                if x != d:
                    self.sim.cut(d, x)
                    self.sim.cut(x, d)

    def disconnect(self, node: str) -> None:
        self.cut_off.add(node)
        self._rewire()

    def connect(self, node: str) -> None:
        self.cut_off.discard(node)
        self._rewire()

    def partition(self, side: Sequence[str]) -> None:
        """Cut `side` off from the rest (both ways); `connect_all` undoes it."""
        self.sim.heal()
        self.cut_off.clear()
        for a in side:
            for b in self.ids:
                if b not in side:
                    self.sim.cut(a, b)
                    self.sim.cut(b, a)

    def connect_all(self) -> None:
        self.cut_off.clear()
        self.sim.heal()
        for node in self.ids:
            self.sim.recover(node)

    def live(self) -> list[str]:
        return [n for n in self.ids if self.sim.up[n] and n not in self.cut_off]

    def leader(self, among: Sequence[str] | None = None, above: int = -1) -> str | None:
        """The leader of the highest term among `among` (default: connected and up), if that term
        is above `above`."""
        nodes = [self.sim.nodes[n] for n in (among if among is not None else self.live())]
        leading = [n for n in nodes if n.role == LEADER and self.sim.up[n.id] and n.term > above]
        return max(leading, key=lambda n: n.term).id if leading else None

    # -- time and commands

    def wait(self, dt: int, stop: Callable[[Simulator[RaftNode]], bool] | None = None) -> None:
        self.sim.run(until=self.sim.now + dt, stop=stop)

    def submit(self, node: str) -> int:
        """A command at `node` (a leader); the log index it took."""
        self.commands += 1
        self.sim.inject(node, ClientRequest(unique_write(self.commands), self.commands))
        return self.sim.nodes[node].log.last_index

    def lose_leader(self, leader: str, crash: bool) -> None:
        """Disconnect or crash the leader, then time the election among the rest."""
        term = self.sim.nodes[leader].term
        if crash:
            self.sim.crash(leader)
        else:
            self.disconnect(leader)
        while len(self.live()) < 3:  # a majority of the five, so that an election can succeed
            self.bring_back(but=leader)
        others = self.live()
        start = self.sim.now

        def elected(s: Simulator[RaftNode]) -> bool:
            return self.leader(others, term) is not None

        self.wait(AGREEMENT_LIMIT, stop=elected)
        self.elections.append(self.sim.now - start if elected(self.sim) else None)

    # -- the phases

    def churn(self, until: int) -> None:
        pending: list[tuple[str, int, int, int]] = []  # (leader, its term, index, submitted at)
        while self.sim.now < until:
            leader = self.leader()
            if leader is not None:
                node = self.sim.nodes[leader]
                pending.append((leader, node.term, self.submit(leader), self.sim.now))
            long = self.rng.random() < 0.1
            self.wait(self.rng.randint(1, 150) if long else self.rng.randint(1, 13))
            self._settle(pending)
            leader = self.leader()
            if leader is not None and self.rng.random() < 0.03:
                crash = self.rng.random() < 0.5
                pending = [p for p in pending if p[0] != leader]
                self.lose_leader(leader, crash)
                self._settle(pending)
            if len(self.live()) < 3:
                self.bring_back()

    def bring_back(self, but: str | None = None) -> None:
        """Reconnect, or restart, one node that is cut off or down (not `but`)."""
        back = self.rng.choice([n for n in self.ids if n not in self.live() and n != but])
        if not self.sim.up[back]:
            self.sim.recover(back)
        self.connect(back)

    def _settle(self, pending: list[tuple[str, int, int, int]]) -> None:
        """Time the commands their leader committed; drop those whose leader lost its lead."""
        keep = []
        for leader, term, index, at in pending:
            node = self.sim.nodes[leader]
            if not self.sim.up[leader] or node.term != term or node.role != LEADER:
                continue
            if node.commit_index >= index:
                self.replications.append(self.sim.now - at)
            else:
                keep.append((leader, term, index, at))
        pending[:] = keep

    def backup(self) -> None:
        """TestBackup2B, scaled up: the leader and one follower cut off with hundreds of commands
        they can never commit, while the other three commit hundreds: two nodes with a long
        conflicting suffix, hundreds of committed entries behind."""
        self.connect_all()
        self.wait(AGREEMENT_LIMIT, stop=lambda s: self.leader() is not None)
        old = self.leader()
        if old is None:
            return
        rest = [n for n in self.ids if n != old]
        self.rng.shuffle(rest)
        majority = rest[1:]
        term = self.sim.nodes[old].term
        self.partition([old, rest[0]])
        for _ in range(BEHIND):  # these can never commit
            if self.sim.nodes[old].role == LEADER:
                self.submit(old)
        # a bare majority under this network can take a while to elect (not measured here)
        self.wait(6 * AGREEMENT_LIMIT, stop=lambda s: self.leader(majority, term) is not None)
        for _ in range(BEHIND):
            leader = self.leader(majority, term)
            if leader is not None:
                self.submit(leader)
            self.wait(self.rng.randint(1, 5))
        self.wait(500)
        # The leader of the three crashes as the network heals (agree() restarts it): whoever
        # leads next starts with nextIndex past its whole log for every node, so the two on the
        # other side must be walked back over their conflicting suffix (TestBackup2B's point).
        leader = self.leader(majority, term)
        if leader is not None:
            self.sim.crash(leader)

    def agree(self) -> tuple[int | None, int]:
        """Reconnect everything; send a last command until a leader takes it; the ticks until all
        nodes applied it, and how far behind the furthest node was."""
        self.connect_all()
        healed = self.sim.now
        nodes = list(self.sim.nodes.values())
        top = max(nodes, key=lambda n: (n.log.last_term, n.log.last_index))
        behind = max(top.log.last_index - n.commit_index for n in nodes)
        target: tuple[str, int, int] | None = None  # (leader, term, index)

        def done(s: Simulator[RaftNode]) -> bool:
            if target is None:
                return False
            leader, term, index = target
            entry = s.nodes[leader].log
            if s.nodes[leader].term != term or entry.term_at(index) != term:
                return False
            return all(n.commit_index >= index for n in s.nodes.values())

        while self.sim.now - healed < AGREEMENT_LIMIT:
            leader = self.leader()
            if target is not None and (
                target[0] != leader or self.sim.nodes[target[0]].term != target[1]
            ):
                target = None  # its leader lost the lead: send it again
            if target is None and leader is not None:
                target = (leader, self.sim.nodes[leader].term, self.submit(leader))
            self.wait(TIMING.heartbeat, stop=done)
            if done(self.sim):
                return self.sim.now - healed, behind
        return None, behind


def run_seed(
    seed: int, bugs: frozenset[str] = frozenset(), timeout: tuple[int, int] = (150, 300)
) -> Outcome:
    script = Script(seed, bugs, timeout)
    script.churn(CHURN)
    script.backup()
    agreement, behind = script.agree()
    return Outcome(seed, agreement, tuple(script.elections), tuple(script.replications), behind)


def summary(outcomes: Sequence[Outcome], bounds: Bounds) -> str:
    agreed = [o.agreement for o in outcomes if o.agreement is not None]
    failed = sum(o.agreement is None for o in outcomes)
    elections = [e for o in outcomes for e in o.elections]
    replications = [r for o in outcomes for r in o.replications]
    lines = [
        f"seeds {len(outcomes)}; behind at healing: median {statistics.median(o.behind for o in outcomes)}",
        f"agreement: median {statistics.median(agreed) if agreed else '-'} ms, max "
        f"{max(agreed) if agreed else '-'} ms; not within 10 s: {failed}; over the recovery bound "
        f"{bounds.recovery} ms: {sum(o.agreement is None or o.agreement > bounds.recovery for o in outcomes)}",
        f"elections: {len(elections)}, max {max((e for e in elections if e is not None), default='-')} "
        f"ms, over {bounds.election} ms: {sum(e is None or e > bounds.election for e in elections)}",
        f"replications: {len(replications)}, median {statistics.median(replications) if replications else '-'}"
        f" ms, max {max(replications, default='-')} ms, over {bounds.replication} ms: "
        f"{sum(r > bounds.replication for r in replications)}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    bugs: frozenset[str] = frozenset()
    if "--bugs" in args:
        k = args.index("--bugs")
        bugs = frozenset(b for b in args[k + 1].split(",") if b)
        del args[k : k + 2]
    seeds = int(args[0]) if args else 40
    outcomes = []
    for seed in range(seeds):
        outcome = run_seed(seed, bugs)
        outcomes.append(outcome)
        print(f"seed {seed}: agreement {outcome.agreement} ms, behind {outcome.behind}", flush=True)
    print(summary(outcomes, Bounds.of(TIMING)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

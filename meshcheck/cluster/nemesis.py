"""The nemesis: a seeded plan of faults in three phases, calm, storm, calm (the simulator's
`Phases`, impl/sim/config.py), carried out on real processes and links.

Faults (Jepsen's nemeses, Kingsbury, jepsen.io/analyses):
- `kill`: kill -9 a node, restart it after a while (only what it wrote survives);
- `crash`: crash a node's core inside its process and rebuild it from its state file after a while
  (impl/runtime/host.py): the simulator's crash and Restart (a new core from the durable store, in
  the same process), where a kill takes the whole process; what lives in the process outside the
  core (its connections, its classes' state) stays;
- `pause`: SIGSTOP a node, SIGCONT after a while (a leader that wakes up late);
- `partition`: cut the links between two groups, both ways or one way, then heal;
- `latency`: hold back every frame on the links of some nodes (a slow network);
- `loss`: drop a share of the frames on the links of some nodes;
- `clock`: skew a node's clock (impl/runtime/clock.py): a jump and a rate, fast or slow, so its
  timers fire early or late; undone with the rate back to one.
- `reorder`: hold back a share of the frames on the links of some nodes while later ones pass;
- `duplicate`: send a share of the frames on the links of some nodes twice. These two act on
  whole messages, which a proxy sees only on links without TLS (`needs_frames`): the specs'
  network is a bag that reorders and duplicates, and the cores must hold under it, as they do in
  the simulator; over one TCP connection neither happens, across a reconnection or a retry both do.
- `crash-client`: kill a client (a client core the harness hosts, impl/runtime/member.py: PBFT's,
  HotStuff's) as a process is killed, its memory gone, and start it again after a while from its
  state file, as a client process restarted would (Castro and Liskov, OSDI 1999, section 4.1: a
  restarted client must go on with timestamps above those it used).
- `power`: a power failure (docs/faults.md): the chosen nodes' processes killed, every write they
  did not fsync dropped from their data directories (each on a lazy filesystem of its own,
  meshcheck/faults/disks.py), then restarted. It strikes one node, a minority, or every node at
  once: the last is the case that loses a system's acknowledged writes when it answers before its
  fsync or skips it (a kill -9 cannot: the page cache keeps what was written), and the one fault
  the minority rule lets take every node down, which is its point.
- `corrupt`: a minority stopped, one data file of each truncated or bit-flipped (seeded; what was
  done to which file, at which offsets, is in the report), restarted. A node must refuse a file it
  cannot read back, never start on wrong data (impl/runtime/disk.py); one that refuses stays down
  for the rest of the run, so the plan counts it down until the end.

The plan is a list of `Fault`s drawn from the seed alone before the run starts, printed, so a run
is replayed by its seed (the timing of real processes is not replayable; the plan is). At most a
minority of nodes is down or paused at once, so the cluster can progress; the storm ends with
every fault undone, and the last calm phase is the time to recover in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import attrs

from meshcheck.impl.base.errors import MeshcheckError

KINDS = (
    "kill",
    "crash",
    "pause",
    "partition",
    "latency",
    "loss",
    "clock",
    "isolate",
    "reorder",
    "duplicate",
    "crash-client",
    "power",
    "corrupt",
)
# the kinds that strike a client, not a node: where the harness hosts the clients' cores
CLIENTS = ("crash-client",)
# the kinds that act on whole frames: only on links without TLS (impl/runtime/proxy.py)
FRAMED = ("reorder", "duplicate")
# `isolate`: the leader cut off from every other node for 2.5 to 4 s, long enough for the others to
# elect a new leader and take writes while clients still talk to the old one (Jepsen's
# partition-leader nemesis). The deposed leader's own suffix is where a leader that fails to truncate
# what it appended alone shows (impl/raft/mutants.py deposed_leader_keeps_suffix; docs/cluster.md).
ISOLATED = (2.5, 4.0)
# A fault's target that is resolved when it strikes: the node the clients last saw lead (Jepsen's
# nemeses target primaries the same way: a leader's faults are where the protocols' hard cases are).
LEADER = "@leader"
# how much of the cluster a power failure takes (Fault.scope): one node, a minority, every node
SCOPES = ("one", "minority", "all")


@attrs.frozen
class Fault:
    """`kind` strikes `nodes` at `at` seconds into the run, and is undone `lasts` seconds later.
    For a partition, `nodes` is one side and `one_way` says only its sends are cut."""

    at: float
    kind: str
    nodes: tuple[str, ...]
    lasts: float
    one_way: bool = False
    offset: int = 0  # a clock fault's jump, in milliseconds
    rate: float = 1.0  # a clock fault's rate
    scope: str = ""  # a power failure's: one of SCOPES

    def describe(self) -> str:
        scope = {"one": "one node", "minority": "a minority", "all": "every node at once"}
        what = {
            "kill": "kill -9, restart",
            "crash": "core crashed, rebuilt from its disk",
            "pause": "SIGSTOP, SIGCONT",
            "partition": "cut from the rest" + (" (its sends only)" if self.one_way else ""),
            "latency": "slow links",
            "loss": "lossy links",
            "reorder": "frames reordered",
            "duplicate": "frames duplicated",
            "clock": f"clock {self.offset:+d} ms at rate {self.rate:g}",
            "crash-client": "client killed, restarted from its state file",
            "power": f"power failure of {scope.get(self.scope, 'nodes')}: killed, unsynced writes "
            "dropped, restarted",
            "corrupt": "stopped, a data file truncated or bit-flipped, restarted (left down if it "
            "refuses the file)",
        }[self.kind]
        return f"t={self.at:5.1f}s  {self.kind:<9} {','.join(self.nodes):<12} {what} after {self.lasts:.1f}s"


def tolerated(nodes: int, bft: bool, byzantine: int = 0) -> int:
    """How many nodes the nemesis may hold down or paused at once and stay in the protocol's fault
    model: a minority for a crash-fault protocol (Raft, gossip); for a BFT protocol f = (n-1)/3
    less the Byzantine nodes, which are faulty already (Castro and Liskov, OSDI 1999: liveness
    needs at most f faulty of 3f+1, and a replica that crashed is faulty until it is back). Beyond
    it, no progress after healing is owed in the protocol's own bound."""
    if not bft:
        return (nodes - 1) // 2
    return max(0, (nodes - 1) // 3 - byzantine)


def parse_kinds(text: str) -> tuple[str, ...]:
    """`--nemesis kill,pause,partition` (or `none`) as kinds; one clear error for another name."""
    if text.strip() in ("", "none"):
        return ()
    kinds = tuple(k.strip() for k in text.split(","))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise MeshcheckError(
            f"--nemesis {text}: unknown fault {unknown[0]!r}; choose from {', '.join(KINDS)} "
            "(comma-separated) or none"
        )
    return kinds


def needs_frames(kinds: Sequence[str], tls: bool) -> None:
    """One clear error for a fault on whole messages asked of links under TLS, where the proxy
    sees sealed bytes."""
    framed = [k for k in kinds if k in FRAMED]
    if framed and tls:
        raise MeshcheckError(
            f"--nemesis {framed[0]}: acts on whole messages, which the link proxies see only "
            "without TLS; add --no-tls"
        )


def needs_lazy_disks(kinds: Sequence[str]) -> None:
    """One clear error for a power failure asked of a machine where the nodes' data directories
    cannot be mounted lazily (no /dev/fuse, no fusermount3: meshcheck/faults/lazyfs.py)."""
    if "power" in kinds:
        from meshcheck.faults.lazyfs import fuse_unavailable

        why = fuse_unavailable()
        if why is not None:
            raise MeshcheckError(
                f"--nemesis power: each node's data directory goes on a lazy filesystem, and {why}"
            )


def durability(given: str, kinds: Sequence[str]) -> str:
    """`--fs`: the durability model of the lazy file systems a power failure strikes (strict when
    not given); one clear error for a model that does not exist or a run with no power failure."""
    from meshcheck.faults.lazy_tree import DURABILITY

    if not given:
        return DURABILITY[0]
    if given not in DURABILITY:
        raise MeshcheckError(f"--fs {given}: choose from {', '.join(DURABILITY)}")
    if "power" not in kinds:
        raise MeshcheckError(
            f"--fs {given}: only with --nemesis power (what a power failure keeps)"
        )
    return given


def storm(duration: float) -> tuple[float, float]:
    """When the storm runs within a run of `duration` seconds: after the first tenth, until a
    quarter remains (the calm after it is for recovery)."""
    return duration * 0.1, duration * 0.75


def plan(
    seed: int,
    duration: float,
    kinds: Sequence[str],
    nodes: Sequence[str],
    every: float = 1.5,
    at_most: int | None = None,
    clients: Sequence[str] = (),
    pause: float = 0.0,
) -> list[Fault]:
    """The faults of a run: one about every `every` seconds of the storm, each kind in turn drawn
    from `kinds`, never more than `at_most` nodes down or paused at once (by default a minority;
    a BFT protocol's is what its f leaves: `tolerated`). A kill or a pause it cannot place is
    skipped; so, with `at_most` 0, is every kill and pause. A client's crash strikes one of
    `clients`, one at a time. A power failure strikes one node, a minority or every node
    (`_disk_fault`); a corruption a minority, each of its nodes counted down until the end.
    `pause` > 0: every pause lasts that long (a node stopped past a lease's TTL), where the storm
    leaves room for it."""
    if not kinds:
        return []
    rng = random.Random(f"nemesis:{seed}")
    start, end = storm(duration)
    minority = (len(nodes) - 1) // 2
    most = minority if at_most is None else at_most
    out: list[Fault] = []
    # (from, to, nodes) of kills, pauses and crashes
    down: list[tuple[float, float, tuple[str, ...]]] = []
    left: set[str] = set()  # corrupted nodes: down until the end if they refuse their files
    isolated_until = 0.0  # no isolation before this (one at a time, a calm `every` after it)
    client_back = 0.0  # no client crashes before this: the last one crashed is back
    at = start + rng.uniform(0, every / 2)
    while at < end:
        kind = rng.choice(list(kinds))
        lasts = round(
            min(rng.uniform(*(ISOLATED if kind == "isolate" else (0.3, 2.5))), end - at), 2
        )
        if lasts < 0.2:
            break
        if kind == "pause" and pause > 0:
            if at + pause > end + duration * 0.1:  # no room left for it before the calm
                at += every
                continue
            lasts = pause
        if kind in ("kill", "pause", "crash"):
            busy = {n for a, b, ns in down if a < at + lasts and at < b for n in ns} | left
            free = [n for n in nodes if n not in busy]
            if len(busy) >= most or not free:
                at += every
                continue
            if rng.random() < 0.5 and not any(
                LEADER in ns for a, b, ns in down if a < at + lasts and at < b
            ):
                chosen: tuple[str, ...] = (LEADER,)
            else:
                chosen = (rng.choice(free),)
            down.append((at, at + lasts, chosen))
            out.append(Fault(round(at, 2), kind, chosen, lasts))
        elif kind in ("power", "corrupt"):
            placed = _disk_fault(rng, kind, at, lasts, nodes, down, left, most)
            if placed is None:
                at += every
                continue
            out.append(placed)
            if kind == "corrupt":
                left.update(placed.nodes)
        elif kind == "partition":
            if rng.random() < 0.5:
                side: tuple[str, ...] = (LEADER,)
            else:
                side = tuple(sorted(rng.sample(list(nodes), rng.randint(1, minority or 1))))
            out.append(Fault(round(at, 2), kind, side, lasts, one_way=rng.random() < 0.3))
        elif kind == "isolate":
            if at < isolated_until:  # one leader cut off at a time: the others must elect
                at += every
                continue
            isolated_until = at + lasts + every
            out.append(Fault(round(at, 2), "partition", (LEADER,), lasts))
        elif kind == "crash-client":
            if at < client_back or not clients:
                at += every
                continue
            client_back = at + lasts
            out.append(Fault(round(at, 2), kind, (rng.choice(list(clients)),), lasts))
        elif kind == "clock":
            offset, rate = rng.randint(-5000, 5000), rng.choice((0.5, 2.0))
            out.append(
                Fault(round(at, 2), kind, (rng.choice(list(nodes)),), lasts, False, offset, rate)
            )
        else:
            side = tuple(sorted(rng.sample(list(nodes), rng.randint(1, max(1, minority)))))
            out.append(Fault(round(at, 2), kind, side, lasts))
        at += every * rng.uniform(0.6, 1.4)
    return out


def _disk_fault(
    rng: random.Random,
    kind: str,
    at: float,
    lasts: float,
    nodes: Sequence[str],
    down: list[tuple[float, float, tuple[str, ...]]],
    left: set[str],
    most: int,
) -> Fault | None:
    """A power failure or a corruption at `at`, or None where it cannot be placed. A power
    failure of every node needs no other fault taking a node down meanwhile (the nodes left down
    by a corruption aside: it strikes them too); one of one node or a minority, and a corruption,
    keep within `most` nodes down at once as a kill does. Placed, its nodes are added to `down`."""
    busy = {n for a, b, ns in down if a < at + lasts and at < b for n in ns}
    scope = rng.choice(SCOPES) if kind == "power" else "minority"
    if scope == "all":
        if busy:
            return None
        chosen: tuple[str, ...] = tuple(nodes)
    else:
        free = [n for n in nodes if n not in busy | left]
        room = min(most - len(busy | left), len(free), max(1, (len(nodes) - 1) // 2))
        if room < 1:
            return None
        if scope == "one" and rng.random() < 0.5 and LEADER not in busy:
            chosen = (LEADER,)
        else:
            count = 1 if scope == "one" else rng.randint(1, room)
            chosen = tuple(sorted(rng.sample(free, count)))
    down.append((at, at + lasts, chosen))
    return Fault(round(at, 2), kind, chosen, lasts, scope=scope if kind == "power" else "")


@attrs.frozen
class Window:
    """A fault as it was carried out: on `nodes` (targets resolved) from `start` to `end`,
    seconds of the run."""

    kind: str
    nodes: tuple[str, ...]
    start: float
    end: float


def windows(struck: Sequence[tuple[float, str]]) -> list[Window]:
    """The faults a run carried out, from its log (meshcheck/cluster/run.py: `(when, "kind
    nodes")` as a fault strikes, `(when, "kind nodes undone")` as it is undone)."""
    begun: dict[str, float] = {}
    out = []
    for t, what in sorted(struck):
        if what.endswith(" undone"):
            fault = what.removesuffix(" undone")
            if fault in begun:
                kind, nodes = fault.split(" ", 1)
                out.append(Window(kind, tuple(nodes.split(",")), begun.pop(fault), t))
        else:
            begun[what] = t
    return out

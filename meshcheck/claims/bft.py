"""PBFT against HotStuff in the simulator: messages, bytes, signatures and CPU per committed request,
the cost of replacing a crashed leader, and the claim "HotStuff is O(n), PBFT O(n^2)" judged.

The claim (the hybrid design's, docs/claims.md "PBFT against HotStuff": "modern linear BFT: O(n) instead
of O(n^2) messages") is about messages per decision. PBFT (Castro and Liskov, OSDI 1999, section
4.2) orders a request with a pre-prepare from the primary to n - 1 backups, then PREPARE and COMMIT
from every replica to every other: about 2n^2 messages. Chained HotStuff (Yin et al., PODC 2019,
section 5) sends one proposal from the leader to the others and one vote from each replica to the
next leader per view: about 2n; each block carries a batch and is committed three views later, so in
a busy pipeline every view commits one block.

What one run measures (`measure_load`): n replicas, one client issuing `requests` requests one per
`LOAD_EVERY` ticks (a backlog: both protocols stay busy, so HotStuff's views carry requests rather
than empty blocks), latency uniform in 1-10 ticks, no faults, seed 1; every message sent from the
start until the client accepted the last request (f+1 matching replies), counted by type (the
client's requests and the replies are counted apart from the replicas' own messages), each
message's wire size (`wire_size`), the signatures made and checked (calls into the Ed25519 of
impl/pbft/crypto.py and impl/hotstuff/crypto.py, patched for the measurement only), and, in a
second run of the same seed with nothing patched, the CPU time (time.process_time) of the
simulation. Batching divides every per-request count: PBFT's default batch is 1 request per
pre-prepare (impl/pbft/config.py), HotStuff's 4 per block (impl/hotstuff/replica.py); the fair
comparison is at one batch size for both, so both are measured at batch 1 and at their defaults.

`measure_view_change`: a run under the same load until 20 requests were accepted and the load
ended and everything committed, then the leader of the moment crashes (PBFT: the primary of the
highest view; HotStuff: the leader of the highest view a replica is in) and the client submits one
request; counted: every message from the crash until the client accepts that request, and the
ticks it took. PBFT's client sends a request to the primary alone and to every replica only after
its retry timeout (600 ticks), and a backup suspects the primary `view_change_timeout` (300) ticks
after it learned of a request; HotStuff's client sends to every replica and a view times out
after 100 ticks: the defaults of the implementations, not tuned here.

The growth fit (`fit_power`): least squares of log(messages per request) against log n, whose slope
is the exponent k of messages ~ c n^k; the verdict on "HotStuff O(n), PBFT O(n^2)" holds when
HotStuff's exponent is within `TOLERANCE` of 1 and PBFT's within it of 2.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from meshcheck.claims.verdict import FAILS
from meshcheck.claims.verdict import HOLDS
from meshcheck.claims.verdict import Kind
from meshcheck.impl.base.events import ClientRequest
from meshcheck.impl.base.node import Workload
from meshcheck.impl.hotstuff import crypto as hs_crypto
from meshcheck.impl.hotstuff.simulation import hotstuff_cluster
from meshcheck.impl.pbft import crypto as pbft_crypto
from meshcheck.impl.pbft import messages as pbft_messages
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.sim.simulator import Simulator
from meshcheck.traces import plot

PROTOCOLS = ("pbft", "hotstuff")
DEFAULT_SIZES = (4, 7, 10, 16, 31)
DEFAULT_REQUESTS = 100
LOAD_EVERY = 2  # ticks between the client's requests: faster than either protocol commits
LATENCY = (1, 10)
SEED = 1
DEFAULT_BATCH = {"pbft": 1, "hotstuff": 4}  # the implementations' own defaults
CLIENT_TIMEOUT = 600  # both clients' default retry timeout
CAP = 200_000  # ticks: a run that has not finished by then is reported as not finishing
VIEW_CHANGE_CAP = 20_000  # ticks after the crash: 55 view timeouts at HotStuff's first 100 and more
TOLERANCE = 0.25  # an exponent within this of 1 (or 2) counts as linear (or quadratic)

# -- wire sizes ---------------------------------------------------------------------------------------

TAG = 1  # a message's or nested record's type
INT = 8  # views, sequence numbers, timestamps, counts
ID = 4  # a replica's or a client's id, as an index
BOOL = 1
NONE = 1  # an absent optional field
COUNT = 2  # a sequence's length before its items


def wire_size(value: Any, ids: frozenset[str]) -> int:
    """The bytes `value` takes on the wire, by this encoding: each message and nested record a
    1-byte tag and its fields; bytes at their length (an Ed25519 signature is 64, a SHA-256 hash or
    digest 32); integers 8; a node id (one of `ids`) 4; any other string 2 + its UTF-8 length;
    booleans 1; an absent value 1; a sequence 2 + its items. Fields outside a message's equality
    (`eq=False`) are not counted: a HotStuff block's hash, which the receiver recomputes
    (impl/hotstuff/messages.py), and a PBFT checkpoint's `history`, the executed state that
    impl/pbft/messages.py attaches for state transfer, where the paper's CHECKPOINT carries the
    digest alone and the state is fetched only by a replica that lags (Castro and Liskov, section
    4.3). A PBFT message is a `Signed` envelope: tag, signer and signature around its body."""
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, str):
        return ID if value in ids else COUNT + len(value.encode())
    if value is None:
        return NONE
    if isinstance(value, (tuple, list, frozenset)):
        return COUNT + sum(wire_size(v, ids) for v in value)
    if attrs.has(type(value)):
        return TAG + sum(
            wire_size(getattr(value, a.name), ids) for a in attrs.fields(type(value)) if a.eq
        )
    return COUNT + len(repr(value).encode())  # pragma: no cover - no other field type is sent


def message_type(message: Any) -> str:
    body = message.body if isinstance(message, pbft_messages.Signed) else message
    return type(body).__name__


# messages between the client and the replicas (the rest are the replicas' own)
CLIENT_TYPES = frozenset({"Request", "Reply", "SignedRequest", "ReplyMsg"})
VIEW_CHANGE_TYPES = {
    "pbft": frozenset({"ViewChange", "NewView"}),
    "hotstuff": frozenset({"NewView"}),
}


# -- instruments --------------------------------------------------------------------------------------


@attrs.define
class Tally:
    """What a run sent and signed, from the moment the tally is started."""

    messages: Counter[str] = attrs.field(factory=Counter)
    bytes: Counter[str] = attrs.field(factory=Counter)
    signed: int = 0
    checked: int = 0
    active: bool = True


def replicas_only(counts: Mapping[str, int]) -> int:
    """The total of `counts` (per message type) over the replicas' messages, not the clients'."""
    return sum(v for k, v in counts.items() if k not in CLIENT_TYPES)


def _count_sends(sim: Simulator[Any], tally: Tally) -> None:
    """Wrap this simulator's `_send` (the one place every message enters the network)."""
    ids = frozenset(sim.node_ids)
    sizes: dict[int, tuple[Any, int]] = {}  # id(message) -> (message, size): a broadcast's copies
    send = sim._send

    def counted(node_id: str, effect: Any) -> Any:
        if tally.active:
            m = effect.message
            kind = message_type(m)
            hit = sizes.get(id(m))
            if hit is None or hit[0] is not m:
                hit = (m, wire_size(m, ids))
                sizes[id(m)] = hit
            tally.messages[kind] += 1
            tally.bytes[kind] += hit[1]
        return send(node_id, effect)

    setattr(sim, "_send", counted)  # noqa: B010 - an instance attribute shadows the method


@contextmanager
def count_crypto(tally: Tally) -> Iterator[None]:
    """Count every signature made and checked by either protocol's crypto module while inside."""
    patched: list[tuple[Any, str, Any]] = []

    def wrap(cls: Any, name: str, field: str) -> None:
        original = cls.__dict__.get(name)
        inherited = getattr(cls, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            if tally.active:
                setattr(tally, field, getattr(tally, field) + 1)
            return inherited(*args, **kwargs)

        patched.append((cls, name, original))
        setattr(cls, name, counted)

    # both protocols sign with impl/base/ed25519.py's Signer: each class is wrapped once
    signers = dict.fromkeys((pbft_crypto.Signer, hs_crypto.Signer))
    try:
        for signer in signers:
            wrap(signer, "sign", "signed")
        for module in (pbft_crypto, hs_crypto):
            wrap(module.KeyRing, "verify", "checked")
        yield
    finally:
        for cls, name, original in reversed(patched):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


# -- runs -----------------------------------------------------------------------------------------------


CLUSTERS: dict[str, Callable[..., Simulator[Any]]] = {
    "pbft": pbft_cluster,
    "hotstuff": hotstuff_cluster,
}


def cluster(
    protocol: str,
    n: int,
    batch: int,
    workload: Workload | None,
    *,
    client_timeout: int = CLIENT_TIMEOUT,
    seed: int = SEED,
) -> Simulator[Any]:
    if protocol not in CLUSTERS:
        raise ValueError(f"unknown protocol {protocol!r}")
    return CLUSTERS[protocol](
        n,
        seed=seed,
        workload=workload,
        batch_size=batch,
        latency=LATENCY,
        record=False,
        client_timeout=client_timeout,
    )


def accepted(sim: Simulator[Any]) -> int:
    """Requests the client accepted (f+1 matching replies)."""
    return len(sim.plugin.nodes["c1"].accepted)  # type: ignore[attr-defined]


@attrs.frozen
class Load:
    """One protocol at one n and batch size under the load: totals over the run."""

    protocol: str
    n: int
    batch: int
    requests: int
    committed: int
    ticks: int
    messages: dict[str, int]
    bytes: dict[str, int]
    signed: int
    checked: int
    cpu: float  # seconds of CPU of the uninstrumented run

    @property
    def f(self) -> int:
        return (self.n - 1) // 3

    def per_request(self, value: float) -> float:
        return value / self.committed if self.committed else math.inf

    @property
    def replica_messages(self) -> int:
        return replicas_only(self.messages)

    @property
    def all_messages(self) -> int:
        return sum(self.messages.values())

    @property
    def replica_bytes(self) -> int:
        return replicas_only(self.bytes)

    @property
    def all_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def per_cpu_second(self) -> float:
        return self.committed / self.cpu if self.cpu > 0 else math.inf


def _load(requests: int) -> Workload:
    return Workload(every=LOAD_EVERY, until=LOAD_EVERY * requests)


def measure_load(protocol: str, n: int, batch: int, requests: int) -> Load:
    """The run under load (see the module's docstring), then the same seed bare for the CPU."""
    sim = cluster(protocol, n, batch, _load(requests), client_timeout=CAP)
    tally = Tally()
    _count_sends(sim, tally)
    with count_crypto(tally):
        sim.run(until=CAP, stop=lambda s: accepted(s) >= requests)
    committed = accepted(sim)
    ticks = sim.now
    bare = cluster(protocol, n, batch, _load(requests), client_timeout=CAP)
    cpu = time.process_time()
    bare.run(until=CAP, stop=lambda s: accepted(s) >= requests)
    cpu = time.process_time() - cpu
    return Load(
        protocol,
        n,
        batch,
        requests,
        committed,
        ticks,
        dict(tally.messages),
        dict(tally.bytes),
        tally.signed,
        tally.checked,
        cpu,
    )


@attrs.frozen
class ViewChange:
    """The leader crashed at `crashed_at` (tick) and the first request after it was accepted
    `ticks` later (None: not within the cap); what was sent in between."""

    protocol: str
    n: int
    leader: str
    crashed_at: int
    ticks: int | None
    messages: dict[str, int]
    bytes: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.messages.values())

    @property
    def view_change_messages(self) -> int:
        kinds = VIEW_CHANGE_TYPES[self.protocol]
        return sum(v for k, v in self.messages.items() if k in kinds)


def current_leader(protocol: str, sim: Simulator[Any]) -> str:
    """PBFT: the primary of the highest view a replica is in. HotStuff: the leader of the view
    after the highest, the one that collects the votes for the block just proposed and proposes
    the next (chained HotStuff rotates leaders every view, so the leader of the current view has
    done its part: its crash would show only n views later, and a request could commit before)."""
    plugin: Any = sim.plugin
    up = [r for r in plugin.replicas if sim.up.get(r)]
    if protocol == "pbft":
        view = max(plugin.nodes[r].view for r in up)
        return str(plugin.replicas[view % len(plugin.replicas)])
    view = max(plugin.replica(r).view for r in up)
    return str(plugin.replica(up[0]).config.leader(view + 1))


def measure_view_change(protocol: str, n: int, batch: int, warmup: int = 20) -> ViewChange:
    sim = cluster(protocol, n, batch, _load(warmup))
    sim.run(until=CAP, stop=lambda s: accepted(s) >= warmup)
    sim.run(until=sim.now + 200)  # the load has ended: let the tail commit everywhere
    leader = current_leader(protocol, sim)
    tally = Tally()
    _count_sends(sim, tally)
    crashed_at = sim.now
    sim.crash(leader)
    sim.inject("c1", ClientRequest("after-crash"))
    target = accepted(sim) + 1
    sim.run(until=crashed_at + VIEW_CHANGE_CAP, stop=lambda s: accepted(s) >= target)
    done = accepted(sim) >= target
    return ViewChange(
        protocol,
        n,
        leader,
        crashed_at,
        sim.now - crashed_at if done else None,
        dict(tally.messages),
        dict(tally.bytes),
    )


# -- the comparison --------------------------------------------------------------------------------------


@attrs.frozen
class Comparison:
    sizes: tuple[int, ...]
    requests: int
    loads: tuple[Load, ...]
    view_changes: tuple[ViewChange, ...]

    def load(self, protocol: str, n: int, batch: int) -> Load:
        return next(r for r in self.loads if (r.protocol, r.n, r.batch) == (protocol, n, batch))

    def batches(self, protocol: str) -> tuple[int, ...]:
        return tuple(sorted({r.batch for r in self.loads if r.protocol == protocol}))


Progress = Callable[[str, int, int], None]


def plan(sizes: Sequence[int]) -> list[tuple[str, int, int]]:
    """(protocol, n, batch) runs: batch 1 for both, and each protocol's default where it differs."""
    out = []
    for n in sizes:
        for p in PROTOCOLS:
            for b in sorted({1, DEFAULT_BATCH[p]}):
                out.append((p, n, b))
    return out


def compare(sizes: Sequence[int], requests: int, *, progress: Progress | None = None) -> Comparison:
    runs = plan(sizes)
    total = len(runs) + len(sizes) * len(PROTOCOLS)
    loads = []
    done = 0
    for p, n, b in runs:
        if progress:
            progress(f"{p} n = {n}, batch {b}", done, total)
        loads.append(measure_load(p, n, b, requests))
        done += 1
    changes = []
    for n in sizes:
        for p in PROTOCOLS:
            if progress:
                progress(f"{p} n = {n}, leader crash", done, total)
            changes.append(measure_view_change(p, n, 1))
            done += 1
    return Comparison(tuple(sizes), requests, tuple(loads), tuple(changes))


# -- the growth fit and the verdict -----------------------------------------------------------------------


@attrs.frozen
class PowerFit:
    """y = c n^k by least squares on (log n, log y); `r2` on the log scale."""

    c: float
    k: float
    r2: float

    def text(self) -> str:
        return f"{self.c:.2f} n^{self.k:.2f} (R2 {self.r2:.3f})"


def fit_power(points: Sequence[tuple[int, float]]) -> PowerFit:
    """Fit (n, y) points (two sizes at least, y > 0) with y = c n^k."""
    if len({n for n, _ in points}) < 2:
        raise ValueError("a power fit needs points at two sizes at least")
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(y) for _, y in points]
    m = len(xs)
    mx, my = sum(xs) / m, sum(ys) / m
    sxx = sum((x - mx) ** 2 for x in xs)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - k * mx
    rss = sum((y - a - k * x) ** 2 for x, y in zip(xs, ys, strict=True))
    tss = sum((y - my) ** 2 for y in ys)
    return PowerFit(math.exp(a), k, 1.0 - rss / tss if tss else 1.0)


@attrs.frozen
class GrowthClaim:
    """Per protocol and batch: the fit of replica messages per request against n, the exponent
    claimed, and the verdict."""

    protocol: str
    batch: int
    claimed: int
    fit: PowerFit | None
    kind: Kind

    def text(self) -> str:
        if self.fit is None:
            return "does not hold: measured at fewer than three sizes"
        if self.kind == HOLDS:
            return f"holds: exponent {self.fit.k:.2f} (claimed {self.claimed})"
        return f"does not hold: exponent {self.fit.k:.2f}, not {self.claimed}"


CLAIMED = {"pbft": 2, "hotstuff": 1}


def growth(c: Comparison) -> list[GrowthClaim]:
    out = []
    for p in PROTOCOLS:
        for b in c.batches(p):
            points = [
                (r.n, r.per_request(r.replica_messages))
                for r in c.loads
                if r.protocol == p and r.batch == b and r.committed
            ]
            if len({n for n, _ in points}) < 3:
                out.append(GrowthClaim(p, b, CLAIMED[p], None, FAILS))
                continue
            fit = fit_power(points)
            ok = abs(fit.k - CLAIMED[p]) <= TOLERANCE
            out.append(GrowthClaim(p, b, CLAIMED[p], fit, HOLDS if ok else FAILS))
    return out


COSTS: tuple[tuple[str, Callable[[Load], float]], ...] = (
    ("replica messages", lambda r: r.replica_messages),
    ("replica bytes", lambda r: r.replica_bytes),
    ("signatures made", lambda r: r.signed),
    ("signatures checked", lambda r: r.checked),
    ("CPU seconds", lambda r: r.cpu),
)


def cost_fits(c: Comparison) -> list[tuple[str, int, str, PowerFit]]:
    """(protocol, batch, cost, fit of the cost per request against n) for every cost measured,
    where three sizes or more were: the shape of what the claim does not speak of."""
    out = []
    for p in PROTOCOLS:
        for b in c.batches(p):
            runs = [r for r in c.loads if r.protocol == p and r.batch == b and r.committed]
            if len({r.n for r in runs}) < 3:
                continue
            for name, cost in COSTS:
                points = [(r.n, r.per_request(cost(r))) for r in runs]
                if all(y > 0 for _, y in points):
                    out.append((p, b, name, fit_power(points)))
    return out


def overall(claims: Sequence[GrowthClaim]) -> Kind:
    """The claim "HotStuff O(n), PBFT O(n^2)" at batch 1 (the fair comparison): both fits hold."""
    fair = [g for g in claims if g.batch == 1]
    if len(fair) == len(PROTOCOLS) and all(g.kind == HOLDS for g in fair):
        return HOLDS
    return FAILS


# -- output -------------------------------------------------------------------------------------------------


NAMES = {"pbft": "PBFT", "hotstuff": "HotStuff"}


def load_rows(c: Comparison) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for n in c.sizes:
        for p in PROTOCOLS:
            for b in c.batches(p):
                r = c.load(p, n, b)
                pr = r.per_request
                rows.append(
                    (
                        str(n),
                        str(r.f),
                        NAMES[p],
                        str(b),
                        f"{r.committed}/{r.requests}",
                        f"{pr(r.replica_messages):,.1f}",
                        f"{pr(r.all_messages):,.1f}",
                        f"{pr(r.replica_bytes) / 1024:,.1f}",
                        f"{pr(r.signed):,.1f}",
                        f"{pr(r.checked):,.1f}",
                        f"{r.per_cpu_second:,.0f}",
                    )
                )
    return rows


LOAD_HEADER = (
    "n",
    "f",
    "protocol",
    "batch",
    "committed",
    "msgs/req",
    "all msgs/req",
    "KiB/req",
    "signs/req",
    "checks/req",
    "req/CPU-s",
)
# what LOAD_HEADER's short names stand for, printed under the table
LOAD_LEGEND = (
    "per committed request: msgs and KiB between replicas; all msgs: the client's too; signs and "
    "checks: Ed25519 signatures made and verified; req/CPU-s: requests per CPU-second of the run"
)


def view_change_rows(c: Comparison) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for v in c.view_changes:
        kinds = sorted(VIEW_CHANGE_TYPES[v.protocol])
        rows.append(
            (
                str(v.n),
                NAMES[v.protocol],
                v.leader,
                f"never (in {VIEW_CHANGE_CAP:,})" if v.ticks is None else f"{v.ticks:,}",
                f"{v.total:,}",
                f"{v.view_change_messages:,} ({', '.join(kinds)})",
                f"{sum(v.bytes.values()) / 1024:,.1f}",
            )
        )
    return rows


VIEW_CHANGE_HEADER = (
    "n",
    "protocol",
    "crashed",
    "ticks to commit",
    "messages",
    "of them view-change",
    "KiB",
)


def figure(c: Comparison, claims: Sequence[GrowthClaim]) -> str:
    colors = {"pbft": plot.PALETTE[1], "hotstuff": plot.PALETTE[0]}
    series = []
    for p in PROTOCOLS:
        for b in c.batches(p):
            pts = [
                (float(r.n), r.per_request(r.replica_messages))
                for r in c.loads
                if r.protocol == p and r.batch == b and r.committed
            ]
            fit = next((g.fit for g in claims if g.protocol == p and g.batch == b), None)
            label = f"{NAMES[p]}, batch {b}" + (f": {fit.text()}" if fit else "")
            series.append(
                plot.Series(label, sorted(pts), color=colors[p], dashed=b != 1, markers=True)
            )
    lo, hi = min(c.sizes), max(c.sizes)
    for k, name in ((1, "n"), (2, "n^2")):
        series.append(
            plot.Series(
                f"reference: 2 {name}",
                [(float(n), 2.0 * n**k) for n in (lo, hi)],
                color=plot.PALETTE[6],
                dashed=True,
            )
        )
    panel = plot.Panel(
        "replica-to-replica messages per committed request",
        "replicas n",
        "messages per request",
        series,
        xlog=True,
        ylog=True,
    )
    return plot.render(
        [panel],
        title="PBFT against chained HotStuff: messages per committed request",
        note=f"simulator, no faults, {c.requests} requests one per {LOAD_EVERY} ticks, latency "
        f"{LATENCY[0]}-{LATENCY[1]} ticks, seed {SEED}; dashed: the protocol's default batch",
        columns=1,
    )


def to_json(c: Comparison, claims: Sequence[GrowthClaim]) -> dict[str, Any]:
    """Every run's numbers and the verdicts (`--json`; read back by `from_json`, which
    `meshcheck claims plot` draws from)."""
    return {
        "claims": "bft-compare",
        "sizes": list(c.sizes),
        "requests": c.requests,
        "load_every": LOAD_EVERY,
        "latency": list(LATENCY),
        "seed": SEED,
        "loads": [attrs.asdict(r) for r in c.loads],
        "view_changes": [attrs.asdict(v) for v in c.view_changes],
        "growth": [
            {
                "protocol": g.protocol,
                "batch": g.batch,
                "claimed": g.claimed,
                "c": g.fit.c if g.fit else None,
                "k": g.fit.k if g.fit else None,
                "r2": g.fit.r2 if g.fit else None,
                "verdict": g.kind,
            }
            for g in claims
        ],
    }


def from_json(doc: Mapping[str, Any]) -> Comparison:
    """The comparison `to_json` wrote, as `compare` gave it (KeyError, TypeError, ValueError when
    it is not); its growth claims follow from it (`growth`)."""
    return Comparison(
        sizes=tuple(doc["sizes"]),
        requests=int(doc["requests"]),
        loads=tuple(Load(**r) for r in doc["loads"]),
        view_changes=tuple(ViewChange(**v) for v in doc["view_changes"]),
    )

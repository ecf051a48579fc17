"""What a cluster test checks of gossip, whose reads are eventually consistent (impl/gossip).

A gossip node answers a status write at once, on its own (it persists the entry first), and a read
with what it holds: no read is promised the latest write, so the history is not checked for
linearizability. What the layer promises instead, and what is checked here:

- Convergence (Shapiro et al., SSS 2011: a state-based object whose merge is a join converges):
  once the faults are over and the writes stop, every node comes to hold the same value for every
  key, within the design's dissemination bound (10 s). `settle` polls every node for every key
  written until they agree, and says how long it took.
- Reads return written values: an `ok` read answers nothing or a value some write of that key
  carried, invoked before the read returned (no invented, torn or mixed-up value).
- No acknowledged write undone at its own node: a node's writes to one key are ordered by its own
  versions (one above the highest it knows: entries.py), so a write a node acknowledged and a
  later write to the same key that the same node acknowledged after it leave the later one's value
  or a newer one; the agreed value is never the earlier of the two. (Across nodes the last writer
  by version wins, which real time does not order: nothing is claimed there.)
- Own writes durable (the state files, read back once every process ended): a node persists an
  entry before it acknowledges it, so for every write it acknowledged its state file holds that
  entry or one of a write to the same key it took later.
- Spread: probe writes after the run, each at one node, timed until every node holds them (the
  design's target: a status update reaches 99% of the nodes in under 10 s).
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from meshcheck import words
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.checks import timed
from meshcheck.impl.gossip.entries import Entry
from meshcheck.impl.gossip.entries import Rank
from meshcheck.impl.gossip.node import OWN
from meshcheck.impl.runtime.client import Client
from meshcheck.impl.runtime.client import inspect
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.config import Address
from meshcheck.traces.history.history import Op

BOUND = 10.0  # seconds: the design's dissemination target, and how long `settle` waits
POLL = 0.05  # seconds between two polls of every node


def key_and_value(op: Op) -> tuple[str, str | None]:
    """A status operation's key, and the value it wrote (None for a read)."""
    if op.f == "write":
        pair: tuple[Any, Any] = op.input  # type: ignore[assignment]
        return str(pair[0]), str(pair[1])
    return str(op.input), None


@attrs.frozen
class Settled:
    """What `settle` saw: every node's last inspection (impl/runtime/hosted/gossip.py `gossip_inspect`), and the
    seconds until the nodes' entries agreed and until no node suspected another (None: not
    within the bound)."""

    seen: Mapping[str, Any]
    agreed: float | None
    trusted: float | None
    first_suspects: Mapping[str, tuple[str, ...]]  # at the first poll (the calm's end)

    def entries(self) -> Mapping[str, Rank]:
        """The entries every node holds once they agree (the first node's, otherwise)."""
        first = self.seen[sorted(self.seen)[0]] if self.seen else None
        return first["entries"] if first else {}


async def _inspect_all(
    nodes: Mapping[str, Address], codec: Codec, tls: ssl.SSLContext | None
) -> dict[str, Any]:
    async def one(node: str) -> Any:
        try:
            async with asyncio.timeout(1.0):  # not wait_for: see impl/runtime/client.py
                return await inspect(nodes[node], codec, tls, node)
        except (ConnectionError, OSError, TimeoutError, ValueError):
            return None  # a node that does not answer holds nothing we know

    order = sorted(nodes)
    return dict(zip(order, await asyncio.gather(*(one(n) for n in order)), strict=True))


async def settle(
    nodes: Mapping[str, Address],
    codec: Codec,
    tls: ssl.SSLContext | None,
    clock: Callable[[], float],
    bound: float = BOUND,
) -> Settled:
    """Inspect every node until their entries agree and none suspects another, or `bound`
    seconds have passed."""
    start = clock()
    agreed = trusted = None
    first: dict[str, tuple[str, ...]] | None = None
    while True:
        seen = await _inspect_all(nodes, codec, tls)
        now = clock() - start
        answered = [v for v in seen.values() if v is not None]
        if first is None:
            first = {
                n: tuple(v["suspects"]) for n, v in seen.items() if v is not None and v["suspects"]
            }
        everyone = len(answered) == len(seen)
        if (
            agreed is None
            and everyone
            and all(v["entries"] == answered[0]["entries"] for v in answered)
        ):
            agreed = now
        if trusted is None and everyone and not any(v["suspects"] for v in answered):
            trusted = now
        if (agreed is not None and trusted is not None) or now > bound:
            return Settled(seen, agreed, trusted, first)
        await asyncio.sleep(POLL)


async def spread(
    nodes: Mapping[str, Address],
    codec: Codec,
    tls: ssl.SSLContext | None,
    clock: Callable[[], float],
    probes: int = 3,
    bound: float = BOUND,
) -> list[float]:
    """Write `probes` probe values, each at another node, and time each until every node holds it
    (math.inf: not within `bound`)."""
    client = Client(nodes, codec, "spread", tls)
    order = sorted(nodes)
    out: list[float] = []
    try:
        for k in range(probes):
            key, value = f"probe{k}", f"p{k}"
            start = clock()
            try:
                answer = await client.ask(order[k % len(order)], "write", (key, value), 1.0)
            except (ConnectionError, OSError, TimeoutError):
                out.append(math.inf)
                continue
            if not answer.ok:
                out.append(math.inf)
                continue
            while clock() - start <= bound:
                seen = await _inspect_all(nodes, codec, tls)
                if all(v is not None and v["entries"].get(key, (0, "", ""))[2] == value
                       for v in seen.values()):  # fmt: skip
                    out.append(clock() - start)
                    break
                await asyncio.sleep(POLL / 5)
            else:
                out.append(math.inf)
    finally:
        await client.close()
    return out


# -- the checks --------------------------------------------------------------------------------------


@timed
def converged(settled: Settled, bound: float = BOUND) -> Verdict:
    name = "converged after healing"
    seen = settled.seen
    if settled.agreed is not None:
        keys = len(settled.entries())
        return Verdict(
            name,
            True,
            f"{words.count(len(seen), 'node')} held the same {words.count(keys, 'entry')} after {settled.agreed:.2f} s",
        )
    silent = sorted(n for n, v in seen.items() if v is None)
    if silent:
        return Verdict(name, False, f"{', '.join(silent)} did not answer within {bound:.0f} s")
    order = sorted(seen)
    first = seen[order[0]]["entries"]
    for node in order[1:]:
        other = seen[node]["entries"]
        for key in sorted(set(first) | set(other)):
            a, b = first.get(key), other.get(key)
            if a != b:
                return Verdict(
                    name,
                    False,
                    f"{bound:.0f} s after the writes stopped {order[0]} holds {key}={a!r}, "
                    f"{node} {key}={b!r} (version, origin, value)",
                )
    return Verdict(name, False, f"no agreement within {bound:.0f} s")


@timed
def trusted(settled: Settled, bound: float = BOUND) -> Verdict:
    """Accuracy once the faults are over (Chandra and Toueg, JACM 1996: eventually no correct
    process is suspected): at the calm's end, `recovery` seconds after the last fault was undone,
    no node suspects another; every node is up by then."""
    name = "no suspicion after healing"
    if not settled.first_suspects:
        return Verdict(name, True, "no node suspected another at the calm's end")
    who = "; ".join(
        f"{n} suspected {', '.join(s)}" for n, s in sorted(settled.first_suspects.items())
    )
    cleared = (
        f"cleared {settled.trusted:.2f} s later" if settled.trusted is not None
        else f"not cleared within {bound:.0f} s"
    )  # fmt: skip
    return Verdict(name, False, f"at the calm's end {who} ({cleared})")


def entries_written(settled: Settled, persisted: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """Every agreed entry is its writer's own latest write of the key, as on the writer's disk.
    Merges only ever raise a key's rank and a writer's own writes are in what it holds, so the
    agreed entry outranks its origin's own entry; being of that origin, it is that entry, or one
    no one wrote (a version made up on the way: a merge that re-stamps)."""
    name = "agreed entries were written"
    agreed = settled.entries()
    for key, rank in sorted(agreed.items()):
        if key.startswith("probe"):
            continue
        version, origin, value = rank
        entry = persisted.get(origin, {}).get(OWN + key)
        own = entry.rank() if isinstance(entry, Entry) else None
        if own != tuple(rank):
            return Verdict(
                name,
                False,
                f"{key}: the nodes agree on (version {version}, {origin}, {value!r}), "
                f"{origin}'s disk holds {own!r}",
            )
    return Verdict(
        name, True, f"{words.count(len(agreed), 'entry')}, each its writer's own on disk"
    )


def reads_written(ops: Sequence[Op]) -> Verdict:
    name = "reads return written values"
    writes: dict[str, list[Op]] = {}
    for o in ops:
        if o.f == "write":
            writes.setdefault(key_and_value(o)[0], []).append(o)
    reads = [o for o in ops if o.f == "read" and o.status == "ok"]
    for r in reads:
        key, _ = key_and_value(r)
        if r.output is None:
            continue
        if not any(key_and_value(w)[1] == r.output and w.call < r.ret for w in writes.get(key, ())):
            return Verdict(
                name,
                False,
                f"{r.process} read {key}={r.output!r} at t={r.call:.3f}s: no write of {key} "
                "carried that value before",
            )
    return Verdict(name, True, f"{words.count(len(reads), 'read')}")


def _superseded(w: Op, writes: Sequence[Op], nodes: Sequence[str]) -> Op | None:
    """A write of the same key that w's node acknowledged, invoked after w was acknowledged."""
    node = nodes[w.index]
    key, _ = key_and_value(w)
    for later in writes:
        if (
            later.status == "ok"
            and nodes[later.index] == node
            and key_and_value(later)[0] == key
            and later.call > w.ret
        ):
            return later
    return None


def none_undone(ops: Sequence[Op], nodes: Sequence[str], settled: Settled) -> Verdict:
    """`nodes[k]`: the node operation k went to; `settled`: what the nodes came to hold."""
    name = "no acknowledged write undone"
    if settled.agreed is None:
        return Verdict(name, None, "the nodes did not agree (above)")
    agreed = {k: rank[2] for k, rank in settled.entries().items()}
    writes = [o for o in ops if o.f == "write"]
    for key in sorted({key_and_value(w)[0] for w in writes}):
        value = agreed.get(key)
        mine = [w for w in writes if key_and_value(w)[0] == key]
        acked = [w for w in mine if w.status == "ok"]
        if value is None and acked:
            w = acked[0]
            return Verdict(
                name,
                False,
                f"{key}: {w.process}'s write acknowledged at t={w.ret:.3f}s, held by none",
            )
        for w in acked:
            if key_and_value(w)[1] == value:
                later = _superseded(w, writes, nodes)
                if later is not None:
                    return Verdict(
                        name,
                        False,
                        f"{key}={value!r} agreed, but {nodes[w.index]} acknowledged "
                        f"{key}={key_and_value(later)[1]!r} after it (t={later.call:.3f}s)",
                    )
    return Verdict(name, True, f"{sum(1 for w in writes if w.status == 'ok')} acknowledged writes")


def own_durable(
    ops: Sequence[Op], nodes: Sequence[str], persisted: Mapping[str, Mapping[str, Any]]
) -> Verdict:
    name = "own writes durable (state files)"
    acked = [o for o in ops if o.f == "write" and o.status == "ok"]
    for w in acked:
        node, (key, value) = nodes[w.index], key_and_value(w)
        entry = persisted.get(node, {}).get(OWN + key)
        stored = entry.value if isinstance(entry, Entry) else None
        # what the node may hold instead: a write of the key it took after w was invoked
        allowed: set[Hashable] = {value}
        allowed |= {
            key_and_value(o)[1]
            for o in ops
            if o.f == "write" and nodes[o.index] == node and key_and_value(o)[0] == key
            and o.ret > w.call
        }  # fmt: skip
        if stored not in allowed:
            return Verdict(
                name,
                False,
                f"{node} acknowledged {key}={value!r} at t={w.ret:.3f}s; its disk holds "
                f"{key}={stored!r}",
            )
    return Verdict(name, True, f"{len(acked)} acknowledged writes on their nodes' disks")


@timed
def spread_verdict(times: Sequence[float], bound: float = BOUND) -> Verdict:
    name = "spread to every node"
    if not times:
        return Verdict(name, None, "no probe written")
    slowest = max(times)
    shown = ", ".join("never" if math.isinf(t) else f"{t:.2f} s" for t in times)
    if math.isinf(slowest) or slowest > bound:
        return Verdict(name, False, f"probes: {shown} (bound {bound:.0f} s)")
    return Verdict(name, True, f"probes: {shown} (bound {bound:.0f} s)")


def history_as_kv(ops: Sequence[Op]) -> list[Op]:
    """The status history in the key-value shape (`meshcheck history check --model kv` reads it;
    a gossip history is not expected to be linearizable: it is there to be looked at)."""
    out = []
    for o in ops:
        key, value = key_and_value(o)
        out.append(attrs.evolve(o, input=value if o.f == "write" else None, key=key))
    return out

"""What a run of plenum (runs.py) is judged by: safety, PBFT.tla's guards, the client's view, liveness.

Each function takes a `Run` and returns the first problem as one line, or None. The Byzantine
replicas of the schedule are held to nothing; every other replica (honest: its code is plenum's)
is held to all of it.

- `agreement`: PBFT.tla's Agreement on what was ordered: no two honest replicas order different
  batches (digest or requests) at one sequence number.
- `client_visible`: what a client sees of the ledger: each honest replica orders sequence numbers
  1, 2, 3, ... in turn, each request at most once, and only requests a client sent (Validity).
- `guards`: the enabling conditions of PBFT.tla's Commit and Execute, checked at the moment each
  honest replica acted, on what it had been delivered (runs.py keeps every delivery): it sends a
  Commit for (view, seq, digest) only holding the primary's PrePrepare of it (or being that
  primary) and Prepares of it from n - f - 1 distinct replicas (itself included: PBFT.tla's
  Certified counts Quorum - 1 backups, plenum's Quorums.prepare n - f - 1); it orders (view, seq,
  digest) only holding Commits of it from n - f distinct replicas, itself included (Quorums.commit;
  PBFT.tla's CommittedLocal). Agreement alone misses a replica that commits or orders too early
  while the others happen to agree.
- `liveness`: every request a client sent is ordered by every honest replica that was up from the
  last fault on, within `bound(run)` of the later of its sending and the last fault.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from meshcheck.property_tests.plenum.runs import NODES
from meshcheck.property_tests.plenum.runs import Run

N = len(NODES)
F = (N - 1) // 3
PREPARES = N - F - 1  # plenum's Quorums.prepare; PBFT.tla's Quorum - 1 for N = 4
COMMITS = N - F  # plenum's Quorums.commit; PBFT.tla's Quorum for N = 4
BATCH_EVERY = 1  # seconds: the driver's batch timer (drivers/plenum/driver.py BATCH_EVERY)
FETCHED = "(fetched)"  # the sender of a PrePrepare a replica asked for (MessageRep)
HOPS = 10  # message delays a view change and the first batch after it take (at most)


def primary(view: int) -> str:
    """plenum's primary of a view: round robin over the validators (RoundRobinConstantNodes...)."""
    return NODES[view % N]


def honest(run: Run) -> list[str]:
    return [n for n in NODES if n not in run.schedule.faulty()]


def agreement(run: Run) -> str | None:
    """Agreement: the first sequence number two honest replicas ordered differently."""
    first: dict[int, tuple[str, str, tuple[str, ...]]] = {}
    good = set(honest(run))
    for o in run.ordered:
        if o.node not in good:
            continue
        seen = first.setdefault(o.seq, (o.node, o.digest, o.requests))
        if (seen[1], seen[2]) != (o.digest, o.requests):
            return (
                f"Agreement: {seen[0]} ordered {seen[1][:12]} at {o.seq}, "
                f"{o.node} ordered {o.digest[:12]} there ({o.at} ms)"
            )
    return None


def client_visible(run: Run) -> str | None:
    """The ledger a client reads: sequence numbers in turn, each request once, only sent ones."""
    good = set(honest(run))
    last: dict[str, int] = defaultdict(int)
    seen: dict[str, set[str]] = defaultdict(set)
    for o in run.ordered:
        if o.node not in good:
            continue
        if o.seq != last[o.node] + 1:
            return f"OrderedInTurn: {o.node} ordered {o.seq} after {last[o.node]} ({o.at} ms)"
        last[o.node] = o.seq
        for key in o.requests:
            if key not in run.requests:
                return f"Validity: {o.node} ordered {key[:12]}, which no client sent ({o.at} ms)"
            if key in seen[o.node]:
                return (
                    f"OrderedOnce: {o.node} ordered request {run.requests[key]} twice ({o.at} ms)"
                )
            seen[o.node].add(key)
    return None


def guards(run: Run) -> str | None:
    """PBFT.tla's Commit and Execute guards, on what each honest replica had been delivered."""
    good = set(honest(run))
    # (holder, type, view, seq[, digest]) -> the replicas whose message of it the holder has
    held: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    committed: set[tuple[Any, ...]] = set()
    ordered = sorted(run.ordered, key=lambda o: o.index)
    k = 0
    for index, m in enumerate(run.messages):
        while k < len(ordered) and ordered[k].index <= index:
            problem = _execute_guard(ordered[k], held, good)
            if problem:
                return problem
            k += 1
        r = m.record
        if r["type"] == "MessageRep" and "msg" in r:
            # a 3PC message one replica asked another for (plenum's MessageReqService): the
            # asker takes it as the replier's, and a PrePrepare only when it matches the digest
            # it holds Prepares of (message_handlers.py, ThreePhaseMessagesHandler)
            r = r["msg"]
            if r["type"] == "PrePrepare":
                r = {**r, "src": FETCHED}
        if r["type"] == "NewView" and r.get("pre"):
            # plenum's NewView names the batches the new view orders again, and every replica
            # re-creates their PrePrepares in the new view itself (view_change_service.py):
            # the new primary's NewView is its PrePrepare of each
            holder = m.dst if m.delivered else m.src
            for _, seq, digest in r["pre"]:
                held[(holder, "PrePrepare", r["view"], seq, digest)].add(m.src)
            continue
        if r["type"] not in ("PrePrepare", "Prepare", "Commit"):
            continue
        # plenum's Commit names no digest: (view, seq) is the batch its sender prepared
        claim = (r["view"], r["seq"]) + ((r["req"],) if r["type"] != "Commit" else ())
        holder = m.dst if m.delivered else m.src
        held[(holder, r["type"], *claim)].add(r["src"])
        if m.delivered or m.src not in good or r["type"] != "Commit":
            continue
        if (m.src, *claim) in committed:
            continue
        committed.add((m.src, *claim))
        problem = _commit_guard(m.src, m.at, r["view"], r["seq"], held)
        if problem:
            return problem
    for o in ordered[k:]:
        problem = _execute_guard(o, held, good)
        if problem:
            return problem
    return None


def _commit_guard(
    node: str, at: int, view: int, seq: int, held: dict[tuple[Any, ...], set[str]]
) -> str | None:
    """PBFT.tla's Prepared(i, v, n, r): the primary's PrePrepare of some digest, and Prepares of
    that digest from PREPARES distinct replicas, held by `node` when it sent Commit(v, n)."""
    lead = primary(view)
    digests = {
        k[4]
        for k, who in held.items()
        if k[:4] == (node, "PrePrepare", view, seq) and who & {lead, FETCHED}
    }
    if node == lead:
        digests |= {k[4] for k in held if k[:4] == (node, "PrePrepare", view, seq)}
    if not digests:
        return (
            f"CommitGuard: {node} sent Commit({view}, {seq}) at {at} ms without {lead}'s PrePrepare"
        )
    best = max(len(held.get((node, "Prepare", view, seq, d), set())) for d in digests)
    if best < PREPARES:
        return (
            f"CommitGuard: {node} sent Commit({view}, {seq}) at {at} ms holding {best} "
            f"matching Prepares, not {PREPARES}"
        )
    return None


def _execute_guard(o: Any, held: dict[tuple[Any, ...], set[str]], good: set[str]) -> str | None:
    """PBFT.tla's CommittedLocal: Commits of the batch from COMMITS distinct replicas."""
    if o.node not in good:
        return None
    commits = held.get((o.node, "Commit", o.view, o.seq), set())
    if len(commits) < COMMITS:
        return (
            f"ExecuteGuard: {o.node} ordered ({o.view}, {o.seq}, {o.digest[:12]}) at {o.at} ms "
            f"holding {len(commits)} Commits ({', '.join(sorted(commits)) or 'none'}), "
            f"not {COMMITS}"
        )
    return None


def bound(run: Run) -> int:
    """The liveness bound (ms), from plenum's own timeouts (plenum/config.py, through the driver's
    hello): the time to suspect the primary, then f + 1 view changes (each new primary may be
    faulty and given NEW_VIEW_TIMEOUT before the next), then the batch timer and HOPS message
    delays. The primary is suspected through one of three paths, the slowest of which bounds:
    a lost connection (ToleratePrimaryDisconnection), a PrePrepare found wrong (at once), or no
    batch ordered for ACCEPTABLE_FRESHNESS_INTERVALS_COUNT freshness intervals, checked each
    STATE_FRESHNESS_UPDATE_INTERVAL (so up to one interval more)."""
    c = run.config
    disconnected = c["ToleratePrimaryDisconnection"]
    stale = (c["ACCEPTABLE_FRESHNESS_INTERVALS_COUNT"] + 1) * c["STATE_FRESHNESS_UPDATE_INTERVAL"]
    suspect = max(disconnected, stale) if run.schedule.faulty() else disconnected
    seconds = suspect + (F + 1) * c["NEW_VIEW_TIMEOUT"] + BATCH_EVERY
    return int(seconds * 1000) + HOPS * run.schedule.delay[1]


def liveness(run: Run) -> str | None:
    """Every request ordered by every honest replica up since the last fault, within the bound;
    None also when the schedule promises no liveness (a lossy network: drop > 0)."""
    s = run.schedule
    if s.drop > 0:
        return None
    last = s.last_fault()
    limit = bound(run)
    crashed = {s.crash.node} if s.crash is not None else set()
    when: dict[tuple[str, str], int] = {}
    for o in run.ordered:
        for key in o.requests:
            when.setdefault((o.node, key), o.at)
    sent_at = {key: s.start + (rid - 1) * s.every for key, rid in run.requests.items()}
    for node in honest(run):
        if node in crashed:
            continue
        for key, at in sorted(sent_at.items(), key=lambda kv: kv[1]):
            due = max(at, last) + limit
            if due > s.ticks:
                continue  # the run ended before the bound: nothing to judge
            got = when.get((node, key))
            if got is None or got > due:
                return (
                    f"OrderedWithinBound: {node} had not ordered request {run.requests[key]} "
                    f"(sent at {at} ms, last fault at {last} ms) by {due} ms, bound {limit} ms"
                    + ("" if got is None else f"; it did at {got} ms")
                )
    return None


def judged(run: Run) -> int:
    """How many requests the liveness check judged (their bound fell inside the run)."""
    s = run.schedule
    if s.drop > 0:
        return 0
    limit, last = bound(run), s.last_fault()
    return sum(
        1
        for rid in run.requests.values()
        if max(s.start + (rid - 1) * s.every, last) + limit <= s.ticks
    )


SAFETY = (agreement, client_visible, guards)
ALL = (*SAFETY, liveness)


def problems(run: Run) -> list[str]:
    """Every check's problem with the run, in ALL's order."""
    return [p for check in ALL if (p := check(run)) is not None]

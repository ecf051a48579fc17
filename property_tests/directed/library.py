"""The directed scenarios: the situations Raft bugs hide in, each scripted, each with what must hold.

Every scenario is written against `Script` (property_tests/directed/script.py), so it runs
unchanged on every Raft-shaped implementation (a `RaftTarget`): it names nodes by the role they
took in the run (whoever led first is `old`), never by a fixed id, and reaches its situation by
message control, partitions, crashes and restarts only. Each first sets its situation up and says
it was reached (`Script.reach`, after checking the state that makes it so: a scenario that
silently misses its set-up would pass without testing anything), then checks its own property,
and ends in `Script.settle`: every fault over, a new write commits and every node holds the
leader's log (liveness after healing). The runner (property_tests/directed/run.py) then checks the
whole trace: Raft.tla's safety invariants after every step and its action properties on every
step, no two nodes applying different values at one index, and the client-history checks
(property_tests/histories.py).

Section numbers are the Raft paper's (Ongaro and Ousterhout 2014).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from meshcheck.property_tests.directed.script import Script
from meshcheck.property_tests.directed.target import CANDIDATE
from meshcheck.property_tests.directed.target import FOLLOWER
from meshcheck.property_tests.directed.target import Wire
from meshcheck.violated import LOG_CATCH_UP
from meshcheck.violated import REQUESTS_ANSWERED

AE, AE_REPLY = "AppendEntriesRequest", "AppendEntriesResponse"
VOTE_REQUEST, VOTE = "RequestVoteRequest", "RequestVoteResponse"


@attrs.frozen
class Scenario:
    """One directed scenario: what it sets up, what it checks, and its script."""

    name: str
    nodes: int
    sets_up: str
    checks: str
    script: Callable[[Script], None]


def _begin(s: Script) -> str:
    """A leader, and one write committed on every node (every log shares that prefix)."""
    s.setup(lambda: s.leader() is not None, "no first leader")
    leader = s.leader()
    assert leader is not None
    _, value = s.write(leader)

    def everywhere() -> bool:
        at = s.index_of(leader, value)
        return at is not None and all(
            s.index_of(i, value) == at and s.view(i).commit >= at for i in s.ids
        )

    s.setup(everywhere, "the first write committed on every node")
    return leader


def _appended(s: Script, node: str, value: object) -> int:
    """Wait until `node` appended the write of `value`; its index."""
    s.setup(lambda: s.index_of(node, value) is not None, f"{node} appends the client's write")
    index = s.index_of(node, value)
    assert index is not None
    return index


# -- Figure 8 -------------------------------------------------------------------------------------


def figure_8(s: Script) -> None:
    """The Raft paper's Figure 8 on five nodes. (a) The first leader L appends e at index k and it
    reaches one follower O only; L crashes. (b) M, a node without e, wins a term and appends its
    no-op at k, which reaches nobody; M crashes. (c) L or O (call it N) wins the next term; its
    AppendEntries reach X freely, Y only when they carry no entry of N's term, O not at all: e is on
    a majority (N, O, X), N's own no-op on two. N must not commit e (section 5.4.2: replicas are
    counted only for entries of the leader's term); N crashes. (d) M, whose last entry's term is
    above e's, wins again with O's and Y's votes though e is on a majority, and overwrites e.
    An implementation whose new leader appends no no-op gets a client write instead (`_own_entry`),
    sent to M in (b) as it is elected and to N in (c) once e went out: the paper's leaders hold
    entries of their terms from clients. In (d) M commits its own entry at k only when a write of its new
    term commits after it: a leader that stops committing at an older term's entry is caught by
    the CommitLiveness watch (property_tests/directed/liveness.py) while the script waits."""
    first = _begin(s)
    o = s.others(first)[0]
    rest = s.others(first, o)  # the three nodes e never reaches in (a)
    # (a) e reaches O only
    s.block(lambda src, dst, w: src == first and dst != o and w.kind == AE and bool(w.entries))
    _, value = s.write(first)
    k = _appended(s, first, value)
    e = (s.view(first).term, value)
    s.setup(lambda: s.view(o).has(k, e), f"{o} stores the entry at {k}")
    s.crash(first)
    # (b) a node without e wins, appends its no-op at k, reaches nobody, crashes
    s.block(lambda src, dst, w: w.kind == AE or (src == o and w.kind == VOTE_REQUEST))
    s.setup(lambda: s.leader(rest) is not None, f"a leader among {', '.join(rest)}")
    m = s.leader(rest)
    assert m is not None
    term_m = s.view(m).term
    _own_entry(s, m, k)
    s.need(
        len(s.view(m).log) >= k and s.view(m).log[k - 1][0] == term_m,
        f"{m} holds an entry of its term {term_m} at {k}",
    )
    s.crash(m)
    # (c) the first leader back; N, one of the two that hold e, wins the next term
    s.recover(first)
    holders = (first, o)
    # (M's AppendEntries still in flight stay lost: its no-op reaches nobody)
    s.block(
        lambda src, dst, w: (
            (w.kind == VOTE_REQUEST and src not in holders and dst not in holders)
            or (w.kind == AE and src == m)
        )
    )
    s.setup(
        lambda: (n := s.leader(holders)) is not None and s.view(n).term > term_m,
        f"{first} or {o} wins a term above {term_m}",
    )
    n = s.leader(holders)
    assert n is not None
    term_n = s.view(n).term
    other = o if n == first else first
    x, y = [i for i in rest if i != m]

    def no_further(src: str, dst: str, w: Wire) -> bool:
        if w.kind == VOTE_REQUEST:
            return src != n  # N keeps its lead while this lasts
        if w.kind != AE or src not in (n, m):
            return False
        if src == m:
            return True
        if dst == other:
            return True
        # to Y: a request Y would take with an entry of N's term in it (one Y must reject, for
        # lack of the entry before it, goes through: its rejection makes N step back to e)
        return (
            dst == y
            and any(t == term_n for _, t in w.entries)
            and w.entries[0][0] - 1 <= len(s.view(y).log)
        )

    s.block(no_further)
    s.setup(lambda: s.view(x).has(k, e), f"{n}'s AppendEntries bring {x} the entry at {k}")
    s.run(s.bounds.round)  # Y may take e alone, one entry per AppendEntries (a heartbeat)
    if _own_entry(s, n, k + 1):  # after e went out alone: a batch with N's write Y never gets
        s.run(s.bounds.round)
    on = [i for i in s.ids if s.view(i).has(k, e)]
    own = [i for i in s.ids if any(t == term_n for t, _ in s.view(i).log)]
    s.need(len(on) > len(s.ids) // 2, f"the entry at {k} on a majority (it is on {on})")
    s.need(n in on and s.view(n).role != FOLLOWER, f"{n} still leads term {term_n}")
    s.expect(
        len(own) > len(s.ids) // 2 or s.view(n).commit < k,
        f"{n} committed index {s.view(n).commit}, the entry of term {e[0]} at {k} counted on "
        f"{', '.join(on)} while no entry of its term {term_n} is on a majority (only on "
        f"{', '.join(own)}): section 5.4.2, Figure 8",
    )
    s.crash(n)
    # (d) M wins again, without e
    s.recover(m)
    # (a request that reaches M tells it the sender's term: PySyncObj answers only a vote it
    # grants, so a candidate learns a higher term from nothing else)
    s.block(lambda src, dst, w: w.kind == VOTE_REQUEST and m not in (src, dst))
    s.setup(lambda: s.leader([m]) == m and s.view(m).term > term_n, f"{m} wins again")
    on = [i for i in s.ids if s.view(i).has(k, e)]
    s.need(len(on) > len(s.ids) // 2, f"the entry at {k} still on a majority ({on})")
    s.need(not s.view(m).has(k, e), f"{m} lacks the entry at {k}")
    s.reach(
        f"entry {k} of term {e[0]} on {', '.join(on)} (a majority) when {m} won term "
        f"{s.view(m).term} without it; {n}, which led term {term_n}, never committed it"
    )
    s.settle()


def _own_entry(s: Script, leader: str, index: int) -> bool:
    """The new `leader` holds an entry of its term at `index`: the no-op it appended on its
    election (Raft section 8), or, for an implementation whose leader appends none, a client
    write sent to it now (Figure 8's leaders hold entries of their terms from clients).
    Whether it sent one."""
    term = s.view(leader).term
    if any(t == term for t, _ in s.view(leader).log):
        return False
    _, value = s.write(leader)
    s.setup(
        lambda: s.index_of(leader, value) is not None,
        f"{leader}, elected without a no-op, appends a client write of its term {term}",
    )
    s.need(s.index_of(leader, value) == index, f"{leader} appends the write at {index}")
    return True


# -- a follower's answer lost ---------------------------------------------------------------------


def lost_reply(s: Script) -> None:
    """The leader's only reachable follower F stores a write and its success answer is lost
    (the third node is cut off, so that answer was the commit's). The leader must learn it again
    from a later AppendEntries (Figure 2: a follower answers a repeated batch again, without
    appending it twice): the write commits and is answered, F holds it once."""
    leader = _begin(s)
    f, g = s.others(leader)
    s.isolate(g)
    request, value = s.write(leader)
    k = _appended(s, leader, value)

    def answer() -> list[int]:
        return [
            e.id
            for e in s.sim.in_flight()
            if e.source == f
            and e.dest == leader
            and (w := s.target.wire(e.message)) is not None
            and w.kind == AE_REPLY
            and w.success
            and (w.match or 0) >= k
        ]

    s.setup(lambda: bool(answer()), f"{f} answers that it stores the write at {k}")
    s.need(s.view(f).has(k, s.view(leader).log[k - 1]), f"{f} stores the entry at {k}")
    s.sim.drop(answer()[0])
    s.need(s.view(leader).commit < k, f"{leader} has not committed {k} before the answer")
    s.reach(f"{f} stored entry {k} and its success answer to {leader} was dropped")
    s.eventually(
        lambda: s.view(leader).commit >= k and (r := s.answer(request)) is not None and r.ok,
        f"{leader} commits and answers the write at {k} after the lost answer",
        bound=REQUESTS_ANSWERED,
    )
    copies = sum(v == value for _, v in s.view(f).log)
    s.expect(copies == 1, f"{f} holds the write {copies} times")
    s.settle()


# -- answers out of order, twice ------------------------------------------------------------------


def reordered_replies(s: Script) -> None:
    """F, the leader's only reachable follower, answers two writes at k1 < k2; the leader gets
    the answer for k2 first, then the older one for k1, and each twice (the network reorders and
    duplicates: section 5.3 assumes neither away). A stale success must not move the leader back:
    its commitIndex never goes down, and both writes commit and are answered."""
    leader = _begin(s)
    f, g = s.others(leader)
    s.isolate(g)
    s.hold(lambda src, dst, w: src == f and dst == leader and w.kind == AE_REPLY)

    def held_success(at: int) -> list[int]:
        found = s.held(
            lambda src, dst, w: src == f and w.kind == AE_REPLY and bool(w.success)
            and (w.match or 0) >= at
        )  # fmt: skip
        return [e.id for e in found]

    first, v1 = s.write(leader)
    k1 = _appended(s, leader, v1)
    s.setup(lambda: bool(held_success(k1)), f"{f} answers that it stores {k1}")
    r1 = held_success(k1)[0]
    s.sim.duplicate(r1)  # a copy arrives now; the original stays held back
    second, v2 = s.write(leader)
    k2 = _appended(s, leader, v2)
    s.setup(lambda: bool(held_success(k2)), f"{f} answers that it stores {k2}")
    r2 = held_success(k2)[0]
    before = s.view(leader).commit
    copy = s.sim.duplicate(r2)
    s.sim.deliver(r2)
    after_new = s.view(leader).commit
    s.sim.deliver(r1)  # older than r2, and its second copy
    s.need(
        s.sim.network.get(copy) is not None,
        "the second copy of the newer answer is still in flight",
    )
    s.reach(
        f"{f}'s answers reached {leader} out of order and twice: match {k2} first, then the "
        f"older match {k1} (its second copy), the newer one's second copy after it"
    )
    s.expect(
        s.view(leader).commit >= after_new >= before,
        f"{leader}'s commitIndex went back to {s.view(leader).commit} after a stale answer "
        f"(it was {after_new})",
    )
    s.eventually(
        lambda: (
            s.view(leader).commit >= k2
            and all((r := s.answer(q)) is not None and r.ok for q in (first, second))
        ),
        f"{leader} commits and answers both writes ({k1}, {k2})",
        bound=REQUESTS_ANSWERED,
    )
    s.settle()


# -- a restart between voting and the election's end ----------------------------------------------


def restart_after_vote(s: Script) -> None:
    """Two candidates A and B of one term T, votes held back; the third node V grants A its vote,
    restarts before A hears of it, then gets B's request of term T. votedFor and currentTerm are
    persistent state (Figure 2): V must still hold its vote for A after the restart and refuse B,
    so that term T has at most one leader (Election Safety, section 5.2)."""
    s.hold(lambda src, dst, w: w.kind in (VOTE_REQUEST, VOTE))

    def split() -> tuple[str, str, str] | None:
        views = {i: s.view(i) for i in s.ids}
        candidates = [i for i in s.ids if views[i].role == CANDIDATE]
        if len(candidates) != 2 or views[candidates[0]].term != views[candidates[1]].term:
            return None
        voter = s.others(*candidates)[0]
        term = views[candidates[0]].term
        if views[voter].role != FOLLOWER or views[voter].term >= term:
            return None
        return candidates[0], candidates[1], voter

    s.setup(lambda: split() is not None, "two candidates of one term, the third not yet voting")
    found = split()
    assert found is not None
    a, b, v = found
    term = s.view(a).term

    def request(source: str) -> int:
        asks = s.held(lambda src, dst, w: src == source and dst == v and w.kind == VOTE_REQUEST)
        s.need(bool(asks), f"{source}'s vote request to {v} held back")
        return asks[-1].id

    s.sim.deliver(request(a))
    s.need(s.view(v).voted_for == a and s.view(v).term == term, f"{v} votes for {a} in term {term}")
    s.crash(v)
    s.recover(v)
    s.need(s.view(b).role == CANDIDATE and s.view(a).role == CANDIDATE, "both still candidates")
    s.expect(
        s.view(v).term == term and s.view(v).voted_for == a,
        f"{v} restarted with term {s.view(v).term} and vote {s.view(v).voted_for}, not its vote "
        f"for {a} in term {term} (Figure 2: persistent state)",
    )
    s.sim.deliver(request(b))
    s.reach(
        f"{v} voted for {a} in term {term}, restarted, then got {b}'s request of term {term} "
        "with both still candidates"
    )
    granted = s.held(
        lambda src, dst, w: src == v and dst == b and w.kind == VOTE and bool(w.granted)
    )
    s.expect(not granted, f"{v} granted {b} a second vote in term {term} after its restart")
    for e in s.held(lambda src, dst, w: src == v and w.kind == VOTE):
        s.sim.deliver(e.id)
    s.settle()


# -- a leader cut off with writes it cannot commit ------------------------------------------------


def partitioned_leader(s: Script) -> None:
    """The leader is cut off and takes two writes it can never commit; the others elect a new
    leader, which commits a write. When the network heals, the old leader must give up its
    uncommitted entries for the new leader's log (Figure 2, receiver rule 3; section 5.3), and its
    writes, never committed, must be applied nowhere and never answered ok."""
    old = _begin(s)
    term = s.view(old).term
    s.isolate(old)
    stale = [s.write(old) for _ in range(2)]
    for _, value in stale:
        _appended(s, old, value)
    a, b = s.others(old)
    s.setup(
        lambda: (m := s.leader([a, b])) is not None and s.view(m).term > term,
        "a new leader among the others",
    )
    new = s.leader([a, b])
    assert new is not None
    _, value = s.write(new)
    k = _appended(s, new, value)
    s.setup(lambda: s.view(new).commit >= k, f"{new} commits a write")
    old_view, new_view = s.view(old), s.view(new)
    behind = [
        i
        for i in range(old_view.commit + 1, len(old_view.log) + 1)
        if not new_view.has(i, old_view.log[i - 1])
    ]
    s.need(len(behind) >= 2, f"{old} holds uncommitted entries {new} lacks")
    s.reach(
        f"{old} (term {term}, {old_view.role}) holds {len(behind)} uncommitted entries that "
        f"{new}, leading term {new_view.term}, does not"
    )
    s.sim.heal()

    def gave_up() -> bool:
        mine, theirs = s.view(old), s.view(new)
        return mine.role == FOLLOWER and mine.log[: len(theirs.log)] == theirs.log

    s.eventually(gave_up, f"{old} steps down and takes {new}'s log", bound=LOG_CATCH_UP)
    for request, stale_value in stale:
        reply = s.answer(request)
        s.expect(reply is None or not reply.ok, f"{old} answered ok a write it never committed")
        s.expect(
            all(s.index_of(i, stale_value) is None for i in s.ids),
            f"a write only {old} held is still in a log after it gave up its suffix",
        )
    s.settle()


# -- a follower far behind ------------------------------------------------------------------------


def far_behind(s: Script) -> None:
    """The old leader is cut off with three writes of its term; the others commit ten writes over
    two terms of their own. Healed, the old leader is a follower far behind with a conflicting
    suffix: the leader must step its nextIndex back several times (section 5.3: each rejection
    moves it back, by one entry or past a conflicting term) before the logs match. It must catch
    up to the leader's whole log, its suffix gone."""
    old = _begin(s)
    term = s.view(old).term
    s.isolate(old)
    for _ in range(3):
        _appended(s, old, s.write(old)[1])
    a, b = s.others(old)
    last = _five_writes(s, [a, b], term)
    _five_writes(s, [a, b], last)
    s.setup(lambda: s.leader([a, b]) is not None, "a leader among the others")
    leader = s.leader([a, b])
    assert leader is not None
    mine, theirs = s.view(old), s.view(leader)
    common = next(
        (i for i in range(len(mine.log)) if i >= len(theirs.log) or mine.log[i] != theirs.log[i]),
        len(mine.log),
    )
    conflicting, missing = len(mine.log) - common, len(theirs.log) - common
    s.need(conflicting >= 3 and missing >= 10, f"{old} behind by {missing}, {conflicting} wrong")
    rejected: set[int] = set()

    def count() -> bool:
        for e in s.sim.in_flight():
            w = s.target.wire(e.message)
            if e.source == old and w is not None and w.kind == AE_REPLY and w.success is False:
                rejected.add(e.id)
        return False

    s.sim.heal()

    def caught_up() -> bool:
        count()
        top = s.leader()
        return top is not None and s.view(old).log[: len(s.view(top).log)] == s.view(top).log

    s.eventually(caught_up, f"{old} catches up with the leader's log", bound=LOG_CATCH_UP)
    s.need(len(rejected) >= 2, f"{old} caught up after {len(rejected)} rejection")
    s.reach(
        f"{old}, {missing} entries behind with {conflicting} conflicting from its term {term}, "
        f"caught up after {len(rejected)} rejected AppendEntries"
    )
    s.settle()


def _five_writes(s: Script, among: list[str], above: int) -> int:
    """A leader among `among` in a term above `above` commits five writes, then restarts (so
    that the next writes come in a new term); that term."""
    s.setup(
        lambda: (m := s.leader(among)) is not None and s.view(m).term > above,
        f"a leader among {', '.join(among)} in a term above {above}",
    )
    leader = s.leader(among)
    assert leader is not None
    for _ in range(5):
        value = s.write(leader)[1]
    k = _appended(s, leader, value)
    s.setup(lambda: s.view(leader).commit >= k, f"{leader} commits five writes")
    term = s.view(leader).term
    s.crash(leader)
    s.recover(leader)
    return term


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "figure-8",
        5,
        "an entry of an older term on a majority when a leader that lacks it is elected",
        "no leader commits an older-term entry by counting replicas; the entry is overwritten",
        figure_8,
    ),
    Scenario(
        "lost-reply",
        3,
        "a follower stores a write and its success answer is lost",
        "the write commits and is answered; the follower holds it once",
        lost_reply,
    ),
    Scenario(
        "reordered-replies",
        3,
        "a follower's answers reach the leader out of order and twice",
        "the leader's commitIndex never goes back; both writes commit",
        reordered_replies,
    ),
    Scenario(
        "restart-after-vote",
        3,
        "a node votes, restarts, then gets the rival candidate's request of that term",
        "the vote survives the restart; one leader per term",
        restart_after_vote,
    ),
    Scenario(
        "partitioned-leader",
        3,
        "a leader cut off with uncommitted writes while the others elect a new one",
        "it steps down, drops its suffix; its writes applied nowhere, never answered ok",
        partitioned_leader,
    ),
    Scenario(
        "far-behind",
        3,
        "a follower 10+ entries behind with a conflicting suffix from an old term",
        "it catches up after several step-backs; its suffix is gone",
        far_behind,
    ),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}

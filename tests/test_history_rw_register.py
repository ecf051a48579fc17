"""The rw-register checker (traces/history/rw_register.py): each anomaly of Elle's and Adya's on a
hand-written history of its kind, the valid neighbours that must hold, a brute-force oracle of
every serial order on thousands of small random histories, the verdict it gives when it cannot
order the versions, and the command line."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Hashable
from collections.abc import Sequence
from pathlib import Path

import pytest

from meshcheck import cli
from meshcheck.traces.history import anomalies
from meshcheck.traces.history import cycles
from meshcheck.traces.history import rw_edges
from meshcheck.traces.history import rw_elimination
from meshcheck.traces.history import rw_history
from meshcheck.traces.history import rw_keys
from meshcheck.traces.history import rw_order
from meshcheck.traces.history import rw_register
from meshcheck.traces.history.rw_register import Txn
from tests import history_checks
from tests.test_history_consistency import oracle

STRICT, SERIAL = "strict-serializable", "serializable"


def txn(
    i: int, call: float, ret: float | None, *mops: tuple[str, str, object], status: str = "ok"
) -> Txn:
    end = math.inf if ret is None else ret
    frozen = tuple((f, k, v) for f, k, v in mops)
    return Txn(i, i, frozen, call, end, "info" if ret is None else status)


def kinds(txns: Sequence[Txn], consistency: str = STRICT) -> set[str]:
    return set(rw_register.check(txns, consistency).anomalies)


def text(txns: Sequence[Txn], consistency: str = STRICT) -> str:
    return rw_register.render(rw_register.check(txns, consistency), "h")


def w(k: str, v: int) -> tuple[str, str, object]:
    return ("w", k, v)


def r(k: str, v: int | None = None) -> tuple[str, str, object]:
    return ("r", k, v)


def test_a_valid_history_holds() -> None:
    h = [
        txn(0, 1, 2, w("x", 1), w("y", 1)),
        txn(1, 3, 6, r("x", 1), w("x", 2)),
        txn(2, 4, 5, r("y", 1)),
        txn(3, 7, 8, r("x", 2), r("y", 1)),
    ]
    for consistency in (STRICT, SERIAL):
        report = rw_register.check(h, consistency)
        assert report.holds is True and report.serializable is True and report.edges > 0
    assert text(h).startswith(
        "h: strict serializable (rw-register, 4 transactions on 2 keys, 5 edges, "
    )
    assert "no anomaly found; a serial order replays every read" in text(h)


def test_g0_writes_that_follow_reads_both_ways() -> None:
    """Each transaction read the other's version of a key and overwrote it (writes follow
    reads: ww both ways). Serializability implies writes follow reads (the other order closes a
    G1c), so the cycle is named G1c, which every version order has; assumed (`--wfr-keys`,
    Elle's option), it is the G0 that order has."""
    h = [
        txn(0, 1, 4, r("y", 2), w("x", 1), w("y", 3)),
        txn(1, 2, 5, r("x", 1), w("x", 4), w("y", 2)),
    ]
    assert kinds(h, SERIAL) == {"G1c"}
    assert set(rw_register.check(h, SERIAL, (rw_keys.WFR,)).anomalies) == {"G0"}
    assert "ww x: T1 read x = 1, which T0 wrote, and wrote 4" in text(h, SERIAL)
    # T0 read y before anyone wrote it: T0, then T1
    ok = [h[0].__class__(0, 0, (r("y"), w("x", 1), w("y", 3)), 1, 4, "ok"), h[1]]
    assert kinds(ok, SERIAL) == set()


def test_g1a_aborted_read() -> None:
    h = [txn(0, 1, 2, w("x", 1), status="fail"), txn(1, 3, 4, r("x", 1))]
    assert kinds(h) == {"G1a"}
    assert kinds([h[0], txn(1, 3, 4, r("x"))]) == set()


def test_g1b_intermediate_read() -> None:
    h = [txn(0, 1, 2, w("x", 1), w("x", 2)), txn(1, 3, 4, r("x", 1))]
    assert kinds(h) == {"G1b"}
    assert kinds([h[0], txn(1, 3, 4, r("x", 2))]) == set()
    # the transaction's own intermediate write, read inside it, is no anomaly
    assert kinds([txn(0, 1, 2, w("x", 1), r("x", 1), w("x", 2))]) == set()


def test_g1c_circular_information_flow() -> None:
    h = [txn(0, 1, 4, w("x", 1), r("y", 2)), txn(1, 2, 5, w("y", 2), r("x", 1))]
    assert kinds(h) == {"G1c"}
    assert kinds([h[0].__class__(0, 0, (w("x", 1), r("y")), 1, 4, "ok"), h[1]]) == set()


def test_g_single_read_skew() -> None:
    h = [txn(0, 1, 4, w("x", 1), w("y", 1)), txn(1, 2, 5, r("x"), r("y", 1))]
    assert kinds(h) == {"G-single"}
    assert "rw x: T1 read x = null (never written), and T0 wrote 1" in text(h)
    assert kinds([h[0], txn(1, 2, 5, r("x", 1), r("y", 1))]) == set()


def test_g2_write_skew() -> None:
    h = [txn(0, 1, 4, r("x"), w("y", 1)), txn(1, 2, 5, r("y"), w("x", 2))]
    assert kinds(h, SERIAL) == {"G2"}
    assert kinds([h[0], txn(1, 2, 5, r("y", 1), w("x", 2))], SERIAL) == set()


def test_a_lost_update_is_g2_as_elle_names_it() -> None:
    """And a lost-update, as Elle finds it beside (txn.clj `lost-update-cases`): two committed
    transactions read one version of x, then wrote x."""
    h = [
        txn(0, 1, 2, w("x", 0)),
        txn(1, 3, 6, r("x", 0), w("x", 1)),
        txn(2, 4, 7, r("x", 0), w("x", 2)),
    ]
    assert kinds(h, SERIAL) == {"G2", "lost-update"}
    assert "T1, T2 each read x = 0 and then wrote x" in text(h, SERIAL)
    assert "rw x: T2 read x = 0, which T1 read too and overwrote with 1" in text(h, SERIAL)


def test_elimination_orders_a_blind_write() -> None:
    """T2 read T0's x and T1's z; T1 read T0's y. T1's x is not between T0's and T2's read: before
    T0's it would close T0 -> T1 -> T0, so after the read: rw T2 -> T1, and T1 -> T2 (wr z)."""
    h = [
        txn(0, 1, 2, w("x", 1), w("y", 1)),
        txn(1, 3, 4, w("x", 2), r("y", 1), w("z", 3)),
        txn(2, 5, 6, r("x", 1), r("z", 3)),
    ]
    assert kinds(h, SERIAL) == {"G-single"}
    assert (
        "rw x: T2 read x = 1, which T0 wrote, and T1's 2 came after it: before T0's, it would "
        "close T1 -> T0 -> T1 (G1c)"
    ) in text(h, SERIAL)
    # without T1's read of y, T1 may come first: T1, T0, T2
    free = [h[0], txn(1, 3, 4, w("x", 2), w("z", 3)), h[2]]
    assert kinds(free, SERIAL) == set()


def test_a_name_is_the_least_severe_of_the_orders_possible() -> None:
    """Both versions of x and y were read in opposite orders: if T1's x came before T0's, the ww
    edges make a G0; if not, T2's reads make a G-single. Only the G-single is certain."""
    h = [
        txn(0, 1, 4, w("x", 1), w("y", 1)),
        txn(1, 2, 5, w("x", 2), w("y", 2)),
        txn(2, 6, 7, r("x", 1), r("y", 2)),
    ]
    assert kinds(h, SERIAL) == {"G-single"}


def test_a_stale_read_is_serializable_but_not_strict() -> None:
    h = [
        txn(0, 1, 2, w("x", 1)),
        txn(1, 3, 4, w("x", 2)),  # completed before T2 was invoked, yet T2 read T0's 1
        txn(2, 5, 6, r("x", 1)),
    ]
    assert kinds(h) == {"G-single-realtime"}
    assert kinds(h, SERIAL) == set()
    out = text(h)
    assert out.startswith("h: serializable but not strict serializable")
    assert "rt: T1 completed (line 4) before T2 was invoked (line 5)" in out
    report = rw_register.check(h)
    assert report.holds is False and report.serializable is True


def test_internal_garbage_and_duplicates() -> None:
    assert kinds([txn(0, 1, 2, w("x", 1), r("x"))]) == {"internal"}
    assert kinds([txn(0, 1, 2, w("x", 1), r("x", 1))]) == set()
    assert kinds([txn(0, 1, 2, r("x", 1), w("x", 1))]) == {"internal"}  # its own later write
    two_reads = [txn(0, 1, 2, w("x", 1)), txn(1, 3, 4, r("x", 1), r("x"))]
    assert kinds(two_reads) == {"internal"}
    assert kinds([txn(0, 1, 2, r("x", 9))]) == {"garbage-read"}
    assert "duplicate-write" in kinds([txn(0, 1, 2, w("x", 1)), txn(1, 3, 4, w("x", 1))])


def test_an_info_transaction_took_effect_when_read() -> None:
    h = [
        txn(0, 1, None, w("x", 1), w("y", 2)),  # unknown outcome; its x is read, so it ran
        txn(1, 3, 4, r("x", 1), r("y")),  # ... and its y must be there too
    ]
    assert kinds(h, SERIAL) == {"G-single"}
    # never read: it may have run last, or not at all
    assert kinds([h[0], txn(1, 3, 4, r("y"))]) == set()
    # and it never completed: no rt edge out of it
    assert kinds([txn(0, 1, None, w("x", 1)), txn(1, 3, 4, r("x", 1)), txn(2, 5, 6, r("x"))]) == {
        "G-single-realtime"
    }


def test_a_failed_write_takes_no_effect() -> None:
    h = [txn(0, 1, 2, w("x", 1), status="fail"), txn(1, 3, 4, r("x"))]
    assert kinds(h) == set()


def test_an_eliminated_edge_is_explained_by_the_cycle_its_other_order_closes() -> None:
    """T1 read T0's x; T2's x came after T0's (T0 -> T3 -> T4 -> T2, wr through y, z, u), so after
    T1's read: rw T1 -> T2, and T2 -> T1 (wr v) closes a G-single. The other order, T2's x before
    T0's, would close the cycle through those wr edges, not one through T1 -> T2 itself."""
    h = [
        txn(0, 1, 2, w("x", 1), w("y", 1)),
        txn(1, 10, 11, r("x", 1), r("v", 5)),
        txn(2, 7, 8, r("u", 4), w("x", 2), w("v", 5)),
        txn(3, 3, 4, r("y", 1), w("z", 3)),
        txn(4, 5, 6, r("z", 3), w("u", 4)),
    ]
    assert kinds(h, SERIAL) == {"G-single"}
    assert (
        "rw x: T1 read x = 1, which T0 wrote, and T2's 2 came after it: before T0's, it would "
        "close T2 -> T0 -> T3 -> T4 -> T2 (G1c)"
    ) in text(h, SERIAL)


def test_a_pair_is_judged_again_when_its_other_writer_moves() -> None:
    """The elimination on its own: T1 read T0's k, T2 wrote k. Nothing orders T2 at first; then
    the pair of T2's read of T4's z and T3's write of z puts T3 after T2 (rw T2 -> T3), and T3 ->
    T1 (wr) makes T2 precede T1: T2's k cannot come after T1's read, so before T0's (ww T2 ->
    T0). Only T2's reach changed: the pair is judged again for its other writer alone."""
    state = rw_edges.State(5)
    state.add(0, 1, cycles.WR, rw_edges.Fact("wr", "k", 1))
    state.add(3, 1, cycles.WR, rw_edges.Fact("wr", "y", 3))
    state.add(4, 3, cycles.WW, rw_edges.Fact("follows", "y", 4, 4, 3))
    state.add(4, 2, cycles.WR, rw_edges.Fact("wr", "z", 4))
    pairs: list[rw_elimination.Pair] = [("k", 1, 0, 1, 2, 2), ("z", 2, 4, 4, 3, 3)]
    assert rw_elimination.propagate(state, pairs, range(5)) == []
    assert state.facts[(2, 3, cycles.RW)][1].how == "after"
    assert state.facts[(2, 0, cycles.WW)][1] == rw_edges.Fact("before", "k", 1, 1, 2)
    assert not state.cyclic


def test_a_key_whose_pairs_fill_the_bound_is_eliminated(monkeypatch: pytest.MonkeyPatch) -> None:
    """PAIRS bounds the pairs eliminated, inclusive: x's one read and two writers make 2."""
    h = [txn(0, 1, 2, w("x", 1)), txn(1, 3, 4, w("x", 2)), txn(2, 5, 6, r("x", 1))]
    monkeypatch.setattr(rw_history, "PAIRS", 2)
    built, _ = rw_history.build(h, anomalies.Found())
    assert built.skipped == () and built.exact and len(built.pairs) == 1
    monkeypatch.setattr(rw_history, "PAIRS", 1)
    built, _ = rw_history.build(h, anomalies.Found())
    assert built.skipped == ("x",) and not built.exact and built.pairs == ()


# -- when the versions cannot be ordered


def test_an_order_the_repair_misses_is_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    """T1's blind write of x is before T0's or after T2's read: with no repair, the exact search
    supposes each and finds a serial order."""
    monkeypatch.setattr(rw_order, "ROUNDS", 0)
    h = [txn(0, 1, 2, w("x", 1)), txn(1, 3, 4, w("x", 2)), txn(2, 5, 6, r("x", 1))]
    assert rw_register.check(h, SERIAL).holds is True


def test_undecided_names_the_keys_and_claims_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rw_order, "ROUNDS", 0)
    monkeypatch.setattr(rw_history, "SEARCHED", 0)
    h = [txn(0, 1, 2, w("x", 1)), txn(1, 3, 4, w("x", 2)), txn(2, 5, 6, r("x", 1))]
    report = rw_register.check(h, SERIAL)
    assert report.holds is None and report.serializable is None and report.open_keys == ("x",)
    out = rw_register.render(report, "h")
    assert out.startswith("h: undecided (rw-register, 3 transactions on 1 keys")
    assert "no anomaly found, but unknown order on 1 keys (x): not proven serializable" in out
    assert "key x: T1's 2 came before T0's 1 or after T2 read 1; neither closes a cycle" in out
    # strict: the realtime anomaly is certain, serializability is not decided
    strict = rw_register.check(h, STRICT)
    assert strict.holds is False and strict.serializable is None
    assert rw_register.render(strict, "h").startswith(
        "h: not strict serializable, serializability undecided (unknown order on 1 keys (x))"
    )


def test_the_exact_search_refutes_every_order() -> None:
    """The search on its own (the elimination would find the cycle first): each order of T1's
    write closes a cycle, G1c one way, G-single the other; named by the less severe."""
    h = [
        txn(0, 1, 2, w("x", 1), w("y", 1)),
        txn(1, 3, 4, w("x", 2), r("y", 1), w("z", 3)),
        txn(2, 5, 6, r("x", 1), r("z", 3)),
    ]
    built, fixed = rw_history.build(h, anomalies.Found())
    state = rw_edges.State(3)
    for u, v, kind, fact in fixed:
        state.add(u, v, kind, fact)
    out = rw_order.branch(state, list(built.pairs), built, False, [10])
    assert (out.result, out.kind) == ("refuted", "G-single")
    assert out.lines[0] == "every order of the writes to x closes a cycle (T2 read T0's 1):"
    assert out.lines[1] == "  if T1's 2 came before T0's 1: G1c"
    assert "ww x: supposing T1's 2 came before T0's 1" in "\n".join(out.lines)


# -- the oracle: every serial order of the committed transactions (and any subset of the info ones)


def _serial_ok(txns: Sequence[Txn], strict: bool) -> bool:
    return history_checks.serial_ok(txns, strict, _replays)


def _replays(order: Sequence[Txn]) -> bool:
    state: dict[Hashable, Hashable] = {}
    for t in order:
        for f, k, v in t.mops:
            if f == "w":
                state[k] = v
            elif t.status == "ok" and state.get(k) != v:
                return False
    return True


def _random_history(rng: random.Random, final: bool) -> list[Txn]:
    """3 to 5 transactions on 2 keys, run serially (fail ones taking no effect) and placed in
    real time in a random order with random intervals around their points; now and then a read
    perturbed (null, or another value written to its key, a failed or intermediate one too);
    with `final`, a last transaction reads every key as the transactions' points ran them."""
    specs, points, statuses = history_checks.random_specs(rng, "w")
    n = len(specs)
    state: dict[str, int] = {}
    for spec, status in zip(specs, statuses, strict=True):
        for m in spec:
            if status == "fail":
                continue
            if m[0] == "w":
                state[m[1]] = m[2]
            else:
                m[2] = state.get(m[1])
    written = {k: [m[2] for s in specs for m in s if m[:2] == ["w", k]] for k in "xy"}
    out = []
    for i, call, ret in history_checks.placed(rng, points):
        mops: list[rw_register.Mop] = []
        for f, k, v in specs[i]:
            if f == "r" and statuses[i] != "ok":
                v = None
            elif f == "r" and rng.random() < 0.2:
                v = rng.choice([None, *written[k]])
            mops.append((f, k, v))
        end = math.inf if statuses[i] == "info" else ret
        out.append(Txn(i, i, tuple(mops), call, end, statuses[i]))
    out.sort(key=lambda t: t.index)
    if final:
        last: dict[str, int] = {}
        for t in sorted((t for t in out if t.status != "fail"), key=lambda t: t.call):
            last.update((k, v) for f, k, v in t.mops if f == "w")  # type: ignore[misc]
        reads = tuple(("r", k, last.get(k)) for k in "xy")
        out.append(Txn(n, n, reads, 100.0, 101.0, "ok"))
    return out


@pytest.mark.parametrize("final", [True, False])
@pytest.mark.parametrize("consistency", [STRICT, SERIAL])
def test_agrees_with_every_serial_order(consistency: str, final: bool) -> None:
    """An anomaly found means no serial order exists (soundness); no anomaly found, never
    undecided on these, means one exists (completeness). With a final read of every key or
    without one (then committed writes no read shows order nothing)."""
    rng = random.Random({STRICT: 7, SERIAL: 11}[consistency] + final)
    strict = consistency == STRICT
    found = holds = 0
    for _ in range(1500):
        h = _random_history(rng, final)
        report = rw_register.check(h, consistency)
        oracle = _serial_ok(h, strict)
        assert report.holds is not None, rw_register.render(report, "h")
        if not report.holds:
            assert not oracle, rw_register.render(report, "h")
        else:
            assert oracle, [t.show() for t in h]
        if strict and report.serializable is not None:
            assert report.serializable == _serial_ok(h, False), rw_register.render(report, "h")
        found += not report.holds
        holds += bool(report.holds)
    assert found > 200 and holds > 200  # the generator makes anomalies of its own, and valid ones


def _severest(edges: set[tuple[int, int, str]], nodes: set[int], strict: bool) -> int | None:
    """The index in CLASSES of the most severe class a cycle of the dependency graph has (Adya's,
    with rt edges when strict); None when it has no cycle."""

    def reach(kinds: set[str]) -> dict[int, set[int]]:
        succ: dict[int, set[int]] = {u: set() for u in nodes}
        for u, v, k in edges:
            if k in kinds:
                succ[u].add(v)
        out: dict[int, set[int]] = {}
        for start in nodes:
            seen: set[int] = set()
            stack = [start]
            while stack:
                for v in succ[stack.pop()] - seen:
                    seen.add(v)
                    stack.append(v)
            out[start] = seen
        return out

    for base, plus in ((0, set()), (len(rw_register.CYCLES), {"rt"} if strict else None)):
        if plus is None:
            break
        ww, wr = reach({"ww", *plus}), reach({"ww", "wr", *plus})
        one_rw = any(u in wr[v] for u, v, k in edges if k == "rw")
        for at, found in enumerate(
            (
                any(u in ww[u] for u in nodes),
                any(u in wr[u] for u in nodes),
                one_rw,
                any(u in reach({"ww", "wr", "rw", *plus})[u] for u in nodes),
            )
        ):
            if found:
                return base + at
    return None


def _certain(h: Sequence[Txn], strict: bool) -> int | None:
    """The most severe class the history has whatever its version orders: over every order of
    the versions of each key (the initial state first, writes following reads), the least
    severe of the most severe class each dependency graph has; None when one has no cycle, -1
    when no order is possible."""
    ok = [t for t in h if t.status == "ok"]
    writer = {(k, v): t.index for t in h if t.status != "fail" for f, k, v in t.mops if f == "w"}
    reads: dict[int, dict[Hashable, Hashable]] = {}
    for t in ok:
        first: dict[Hashable, Hashable] = {}
        for f, k, v in t.mops:
            first.setdefault(k, v if f == "r" else "written")
        reads[t.index] = {k: v for k, v in first.items() if v != "written"}
    nodes = {t.index for t in ok} | {
        writer[(k, v)] for rs in reads.values() for k, v in rs.items() if (k, v) in writer
    }
    by_index = {t.index: t for t in h}
    writes = {i: {k: v for f, k, v in by_index[i].mops if f == "w"} for i in nodes}
    keys = sorted({k for ws in writes.values() for k in ws}, key=str)
    version = {(k, v): i for i, ws in writes.items() for k, v in ws.items()}
    rt = {
        (a, b, "rt") for a in nodes for b in nodes if strict and by_index[a].ret < by_index[b].call
    }
    worst = -1
    for orders in itertools.product(
        *(itertools.permutations(sorted(i for i in nodes if k in writes[i])) for k in keys)
    ):
        order = dict(zip(keys, orders, strict=True))
        edges = set(rt)
        for seq in orders:
            edges.update((a, b, "ww") for a, b in itertools.pairwise(seq))
        follows = True
        for i, rs in reads.items():
            for k, v in rs.items():
                seq = order.get(k, ())
                if v is not None and (k, v) not in version:
                    continue
                at = -1 if v is None else seq.index(version[(k, v)])
                if v is not None:
                    edges.add((version[(k, v)], i, "wr"))
                    follows = follows and (k not in writes[i] or seq.index(i) > at)
                if at + 1 < len(seq) and seq[at + 1] != i:
                    edges.add((i, seq[at + 1], "rw"))
        if not follows:
            continue
        found = _severest(edges, nodes, strict)
        if found is None:
            return None
        worst = max(worst, found)
    return worst


@pytest.mark.parametrize("consistency", [STRICT, SERIAL])
def test_a_cycles_name_never_claims_more_than_the_history_has(consistency: str) -> None:
    """A cycle's name is never more severe than what every order of the versions shows (Adya's
    dependency graph of each, writes following reads): the elimination's edges are named by the
    less severe of the orders they rule out."""
    rng = random.Random(13)
    named = 0
    for _ in range(1500):
        h = _random_history(rng, rng.random() < 0.5)
        report = rw_register.check(h, consistency)
        for kind in report.anomalies.keys() & set(rw_register.CLASSES):
            certain = _certain(h, consistency == STRICT)
            assert certain is not None, rw_register.render(report, "h")
            assert rw_register.CLASSES.index(kind) >= certain, rw_register.render(report, "h")
            named += 1
    assert named > (400 if consistency == STRICT else 60)  # fewer cycles with no rt edges


def test_a_generated_workload_holds_and_a_broken_read_is_caught() -> None:
    """300 transactions on 10 keys, run serially at points 10 apart within spans of up to 60:
    strict serializable; then one read answers a value overwritten by a write that completed
    before the read was invoked."""
    rng = random.Random(3)
    counter = itertools.count(1)
    state: dict[int, int] = {}
    runs = []
    for i in range(300):
        mops: list[rw_register.Mop] = []
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(10)
            if rng.random() < 0.5:
                state[k] = next(counter)
                mops.append(("w", k, state[k]))
            else:
                mops.append(("r", k, state.get(k)))
        runs.append((i * 10.0 - rng.randint(0, 30), i * 10.0 + rng.randint(1, 30), tuple(mops)))
    runs.sort()
    txns = [Txn(j, j % 8, mops, call, ret, "ok") for j, (call, ret, mops) in enumerate(runs)]
    assert rw_register.check(txns).holds is True
    assert rw_register.check(txns, SERIAL).holds is True
    # a read of key k late in the history answers k's first version
    first = next(m for t in txns for m in t.mops if m[0] == "w")
    at = next(
        i
        for i, t in enumerate(txns)
        if i > 250
        and any(m[0] == "r" and m[1] == first[1] for m in t.mops)
        and not any(m[0] == "w" and m[1] == first[1] for m in t.mops)
    )
    t = txns[at]
    stale = tuple((f, k, first[2] if (f, k) == ("r", first[1]) else v) for f, k, v in t.mops)
    txns[at] = Txn(t.index, t.process, stale, t.call, t.ret, t.status)
    report = rw_register.check(txns)
    assert report.holds is False
    assert any(k.endswith("-realtime") for k in report.anomalies)


# -- the command line


def _op(process: int, kind: str, *mops: list[object]) -> dict[str, object]:
    return {"process": process, "type": kind, "f": "txn", "value": list(mops)}


def test_the_command_reports_and_exits(tmp_path: Path) -> None:
    good = history_checks.write_jsonl(
        tmp_path / "good.jsonl",
        [
            _op(0, "invoke", ["w", "x", 1], ["w", "y", 1]),
            _op(0, "ok", ["w", "x", 1], ["w", "y", 1]),
            _op(1, "invoke", ["r", "x", None], ["w", "y", 2]),
            _op(1, "ok", ["r", "x", 1], ["w", "y", 2]),
        ],
    )
    done = history_checks.check_file(str(good), "--model", "rw-register")
    assert done.returncode == 0, done.stderr
    assert "strict serializable (rw-register, 2 transactions on 2 keys" in done.stdout
    skew = Path(__file__).resolve().parent.parent / "traces/histories/rw_register_write_skew.jsonl"
    done = history_checks.check_file(
        str(skew), "--model", "rw-register", "--consistency", "serializable"
    )
    assert done.returncode == 1, done.stderr
    assert "not serializable" in done.stdout and "G2 (1)" in done.stdout
    assert (
        "rw x: T1 read x = 1, which T0 wrote, and T2's 3 came after it: before T0's, it would "
        "close T2 -> T0 -> T2 (G1c)"
    ) in done.stdout
    failed = history_checks.write_jsonl(
        tmp_path / "failed.jsonl",
        [_op(0, "invoke", ["w", "x", 1]), _op(0, "fail", ["w", "x", 1])],
    )
    done = history_checks.check_file(str(failed), "--model", "rw-register")
    assert done.returncode == 2 and done.stdout == ""
    assert "none of the history's 1 transactions committed (ok): nothing to check" in done.stderr
    empty = history_checks.write_jsonl(tmp_path / "empty.jsonl", [])
    done = history_checks.check_file(str(empty), "--model", "rw-register")
    assert done.returncode == 2 and "nothing to check" in done.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases: list[tuple[list[object], str]] = [
        (["append", "x", 1], 'expected ["w", k, v] or ["r", k, v]'),
        (["w", "x", None], "a written value is a number or a string"),
        (["r", "x", [1]], "a read's value is a number, a string or null"),
    ]
    for mop, why in cases:
        bad = history_checks.write_jsonl(
            tmp_path / "bad.jsonl", [_op(0, "invoke", ["w", "y", 1]), _op(1, "invoke", mop)]
        )
        done = history_checks.check_file(str(bad), "--model", "rw-register")
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1
        assert 'bad.jsonl:2: field "value"' in done.stderr and why in done.stderr


def test_undecided_exits_2_with_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rw_order, "ROUNDS", 0)
    monkeypatch.setattr(rw_history, "SEARCHED", 0)
    h = history_checks.write_jsonl(
        tmp_path / "h.jsonl",
        [
            _op(0, "invoke", ["w", "x", 1]),
            _op(0, "ok", ["w", "x", 1]),
            _op(1, "invoke", ["w", "x", 2]),
            _op(1, "ok", ["w", "x", 2]),
            _op(2, "invoke", ["r", "x", None]),
            _op(2, "ok", ["r", "x", 1]),
        ],
    )
    args = ["history", "check", str(h), "--model", "rw-register", "--consistency", "serializable"]
    assert cli.main(args) == 2
    assert "undecided" in capsys.readouterr().out


def test_jepsens_history_edn_is_read(tmp_path: Path) -> None:
    edn = tmp_path / "history.edn"
    edn.write_text(
        "{:type :invoke, :f :txn, :value [[:w :x 1] [:r :y nil]], :process 0, :index 0}\n"
        "{:type :invoke, :f :txn, :value [[:w :y 2] [:r :x nil]], :process 1, :index 1}\n"
        "{:type :ok, :f :txn, :value [[:w :x 1] [:r :y 2]], :process 0, :index 2}\n"
        "{:type :ok, :f :txn, :value [[:w :y 2] [:r :x 1]], :process 1, :index 3}\n",
        encoding="utf-8",
    )
    _name, txns = rw_register.read(str(edn))
    assert [t.mops for t in txns] == [
        (("w", "x", 1), ("r", "y", 2)),
        (("w", "y", 2), ("r", "x", 1)),
    ]
    assert set(rw_register.check(txns).anomalies) == {"G1c"}


# -- a known version order decides the models below serializability ---------------------------

SI, RR = "snapshot-isolation", "repeatable-read"
WRITE_SKEW = [
    txn(0, 1, 4, r("x"), r("y"), w("x", 1)),
    txn(1, 2, 5, r("x"), r("y"), w("y", 2)),
]


def test_a_known_version_order_decides_snapshot_isolation_with_a_g2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Write skew: each key has one writer, so the version order is known and the graph is the
    dependency graph: the G2 found, and no G-single or G-nonadjacent, decide snapshot isolation
    (it holds; the oracle of tests/test_history_consistency.py agrees). Without the known order
    (`_complete`) it stayed undecided."""
    report = rw_register.check(WRITE_SKEW, SI)
    assert report.complete and set(report.anomalies) == {"G2"} and report.holds is True
    assert oracle(WRITE_SKEW, SI, register=True) is True
    assert rw_register.check(WRITE_SKEW, RR).holds is False
    monkeypatch.setattr(rw_register, "_complete", lambda *_: False)
    assert rw_register.check(WRITE_SKEW, SI).holds is None


def test_a_known_version_order_decides_repeatable_read_with_an_internal_anomaly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An internal anomaly alone (T1 read x = 1, then null): Elle's repeatable read allows it,
    serializability does not, and the one writer of x leaves no order open: repeatable read
    holds, where it was undecided."""
    h = [txn(0, 1, 2, w("x", 1)), txn(1, 3, 4, r("x", 1), r("x"))]
    report = rw_register.check(h, RR)
    assert set(report.anomalies) == {"internal"} and report.holds is True
    assert rw_register.check(h, SI).holds is False
    monkeypatch.setattr(rw_register, "_complete", lambda *_: False)
    assert rw_register.check(h, RR).holds is None


def test_an_open_version_order_leaves_snapshot_isolation_undecided() -> None:
    """The same write skew with a blind write of x nobody read: whether it came before T0's or
    after is open (before, it would close a G-single with T0's read of null), so the graph is
    not the dependency graph, and snapshot isolation stays undecided (never claimed)."""
    h = [*WRITE_SKEW, txn(2, 6, 7, w("x", 3))]
    report = rw_register.check(h, SI)
    assert not report.complete and report.holds is None
    assert "snapshot isolation undecided" in rw_register.render(report, "h")


# -- writes follow reads (rw_keys.WFR, `--wfr-keys`) -------------------------------------------

# T0 wrote x = 1 and, after reading T1's z = 5, z = 6; T1 wrote z = 5 and, after reading T0's
# x = 1, x = 2. Each read the other's write: a G1c whatever the versions' order. Writes following
# reads put 1 before 2 and 5 before 6: ww both ways, a G0. Without that, 2 before 1 and 5 before 6
# make no G0: read uncommitted holds.
CROSSED = [
    txn(0, 1, 4, w("x", 1), r("z", 5), w("z", 6)),
    txn(1, 2, 5, w("z", 5), r("x", 1), w("x", 2)),
]


def test_wfr_keys_turn_read_uncommitted_from_held_to_ruled_out(tmp_path: Path) -> None:
    """Read uncommitted allows a write before the version its transaction read, so writes
    following reads is an assumption there: `--wfr-keys` makes it, and the G0 it closes rules
    read uncommitted out (exit 1), where without it read uncommitted holds (exit 0)."""
    assert rw_register.check(CROSSED, "read-uncommitted").holds is True
    assumed = rw_register.check(CROSSED, "read-uncommitted", (rw_keys.WFR,))
    assert assumed.holds is False and "G0" in assumed.anomalies
    path = tmp_path / "crossed.jsonl"
    history_checks.write_jsonl(
        path,
        [
            {"process": t.process, "type": typ, "f": "txn", "value": [list(m) for m in t.mops]}
            for t in CROSSED
            for typ in ("invoke", "ok")
        ],
    )
    args = ["--model", "rw-register", "--consistency", "read-uncommitted"]
    assert history_checks.check_file(str(path), *args).returncode == 0
    done = history_checks.check_file(str(path), *args, "--wfr-keys")
    assert done.returncode == 1 and "not read uncommitted" in done.stdout, done.stdout


def test_writes_follow_reads_under_read_committed_name_no_more_than_g1c() -> None:
    """Under read committed the same edges are implied (the other order closes a G1c), not
    assumed: the cycle through them is named G1c, never the G0 that would rule out read
    uncommitted too; with `--wfr-keys`, G0."""
    report = rw_register.check(CROSSED, "read-committed")
    assert report.holds is False and set(report.anomalies) == {"G1c"}, report.anomalies
    assumed = rw_register.check(CROSSED, "read-committed", (rw_keys.WFR,))
    assert "G0" in assumed.anomalies

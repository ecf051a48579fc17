"""The linearizability checker (meshcheck.traces.history): hand-built register histories with a
known answer, and a Hypothesis property against a brute-force checker (every order of every subset
of the pending operations) on small random histories."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import to_value
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import numbered
from meshcheck.traces.history.history import op
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import KeyValue
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.models import Rsm

REG = Model()
CAS = CasRegister()
KV = KeyValue()


def test_sequential_write_then_read_is_linearizable() -> None:
    h = [op(0, "write", 0, 1, input=1), op(1, "read", 2, 3, output=1)]
    result = check(h, REG)
    assert result.verdict == "linearizable"
    assert [o.f for o in result.linearization] == ["write", "read"]


def test_stale_read_after_a_completed_write_is_not_linearizable() -> None:
    h = numbered(
        [
            op(0, "write", 0, 1, input=1),
            op(0, "write", 2, 3, input=2),
            op(1, "read", 4, 5, output=1),  # write 2 completed before this read began
            op(2, "read", 6, 7, output=2),
        ]
    )
    result = check(h, REG)
    assert result.verdict == "not linearizable"
    # the smallest failing window stops at the stale read: the later read is not in it
    assert [o.index for o in result.window] == [0, 1, 2]
    assert result.cut == 6


def test_concurrent_writes_read_in_either_order_are_linearizable() -> None:
    for first, second in ((1, 2), (2, 1)):
        h = [
            op(0, "write", 0, 10, input=1),
            op(1, "write", 1, 11, input=2),
            op(2, "read", 12, 13, output=first),
            op(2, "read", 14, 15, output=first),
        ]
        assert check(h, REG).linearizable, (first, second)
        # but not both orders at once: once read as one value, the other cannot come back
        h2 = [*h[:3], op(2, "read", 14, 15, output=second)]
        assert check(h2, REG).verdict == "not linearizable"


def test_an_info_write_may_have_happened_or_not() -> None:
    w0 = op(2, "write", 0, 1, input=0)
    happened = [w0, op(0, "write", 2, None, input=1), op(1, "read", 5, 6, output=1)]
    assert check(happened, REG).linearizable
    not_happened = [w0, op(0, "write", 2, None, input=1), op(1, "read", 5, 6, output=0)]
    assert check(not_happened, REG).linearizable
    # it can only take effect after its invocation
    too_early = [w0, op(1, "read", 2, 3, output=1), op(0, "write", 4, None, input=1)]
    assert check(too_early, REG).verdict == "not linearizable"
    # and once seen, it has happened: a later read cannot see the old value again
    flicker = [*happened, op(1, "read", 7, 8, output=0)]
    assert check(flicker, REG).verdict == "not linearizable"
    # an ok read of nil saw the register empty, which it is not once a write completed (Knossos
    # took it as a read whose value was not known, which hid writes lost with their key); a read
    # that did not complete observed nothing and matches any state
    assert check([*happened, op(1, "read", 7, 8, output=None)], REG).verdict == "not linearizable"
    assert check([*happened, op(1, "read", 7, None)], REG).linearizable


def test_a_failed_write_took_no_effect() -> None:
    h = [op(0, "write", 0, 1, input=1, status="fail"), op(1, "read", 2, 3, output=1)]
    assert check(h, REG).verdict == "not linearizable"


def test_cas_register() -> None:
    ok = [
        op(0, "write", 0, 1, input=1),
        op(1, "cas", 2, 3, input=(1, 2)),
        op(2, "read", 4, 5, output=2),
    ]
    assert check(ok, CAS).linearizable
    bad = [op(0, "write", 0, 1, input=1), op(1, "cas", 2, 3, input=(3, 2))]
    assert check(bad, CAS).verdict == "not linearizable"
    pending = [
        op(0, "write", 0, 1, input=1),
        op(1, "cas", 2, None, input=(3, 2)),  # found 1: did nothing
        op(2, "read", 4, 5, output=1),
    ]
    assert check(pending, CAS).linearizable


def test_kv_is_checked_key_by_key_and_names_the_failing_key() -> None:
    h = numbered(
        [
            op(0, "write", 0, 1, input=1, key="a"),
            op(1, "write", 0, 1, input=1, key="b"),
            op(0, "read", 2, 3, output=1, key="a"),
            op(1, "read", 2, 3, output=2, key="b"),
        ]
    )
    result = check(h, KV)
    assert result.verdict == "not linearizable"
    assert result.partition == "b"
    assert {o.key for o in result.window} == {"b"}
    fixed = [*h[:3], op(1, "read", 2, 3, output=1, key="b")]
    assert check(fixed, KV).linearizable


def test_out_of_budget_is_unknown_with_a_proved_prefix_never_holds() -> None:
    # many concurrent writes of distinct values and pending writes: a large search space
    n = 40
    h = [op(p, "write", p, None, input=p) for p in range(n)]
    h += [op(n + i, "read", n + 2 * i, n + 2 * i + 1, output=i) for i in range(n)]
    result = check(h, REG, budget_seconds=0.2)
    assert result.verdict == "unknown"
    assert not result.linearizable
    assert result.prefix_ops < len(h)
    # the prefix it claims is linearizable is linearizable
    claimed = [o for o in h if o.call < result.cut]
    assert check(claimed, REG, budget_seconds=30).linearizable


def test_pending_writes_nobody_observed_do_not_blow_up_a_refutation() -> None:
    # 30 timed-out writes of values no one read: each may or may not have happened, 2**30 subsets
    # for a search that tries them; none can explain the stale read, so they are pruned
    h = [op(0, "write", 0, 1, input="a"), op(0, "write", 2, 3, input="b")]
    h += [op(10 + p, "write", 1 + p / 100, None, input=f"lost{p}") for p in range(30)]
    h.append(op(1, "read", 4, 5, output="a"))
    result = check(h, REG, budget_seconds=5)
    assert result.verdict == "not linearizable"
    # a pending write whose value was read is kept: it explains the read
    observed = [*h[:2], op(9, "write", 1.5, None, input="c"), op(1, "read", 4, 5, output="c")]
    assert check(observed, REG).linearizable


# --- against a brute-force checker ----------------------------------------------------------------


def brute_force(history: Sequence[Op], model: Model) -> bool:
    """Every subset of the pending operations, every order of the chosen ones: is one a legal
    sequential history of the model that respects real-time order?"""
    live = [o for o in history if o.status != "fail"]
    done = [o for o in live if not o.pending]
    pending = [o for o in live if o.pending]
    for r in range(len(pending) + 1):
        for chosen in itertools.combinations(pending, r):
            for order in itertools.permutations([*done, *chosen]):
                if _respects_real_time(order) and _legal(order, model):
                    return True
    return False


def _respects_real_time(order: Sequence[Op]) -> bool:
    return not any(b.ret < a.call for i, a in enumerate(order) for b in order[i + 1 :])


def _legal(order: Sequence[Op], model: Model) -> bool:
    states = {model.init()}
    for o in order:
        states = {s2 for s in states for s2 in model.step(s, o)}
        if not states:
            return False
    return True


@st.composite
def histories(draw: st.DrawFn, with_cas: bool) -> list[Op]:
    fs = ["read", "write", "cas"] if with_cas else ["read", "write"]
    n = draw(st.integers(1, 6))
    values = st.sampled_from([None, 1, 2]) if with_cas else st.sampled_from([1, 2])
    ops = []
    for p in range(n):
        f = draw(st.sampled_from(fs))
        call = draw(st.integers(0, 12))
        length = draw(st.integers(1, 6))
        status = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"]))
        inp = out = None
        if f == "write":
            inp = draw(st.sampled_from([1, 2]))
        elif f == "cas":
            inp = (draw(values), draw(st.sampled_from([1, 2])))
        else:
            out = draw(values)
        ret = math.inf if status == "info" else call + length + 0.5 * (p % 2)
        o = Op(p, f, inp, None if status == "info" else out, call + p / 100, ret, status)
        ops.append(o)
    return ops


@settings(max_examples=400, deadline=None)
@given(histories(with_cas=False))
def test_register_agrees_with_brute_force(h: list[Op]) -> None:
    assert check(h, REG).linearizable == brute_force(h, REG)


@settings(max_examples=400, deadline=None)
@given(histories(with_cas=True))
def test_cas_register_agrees_with_brute_force(h: list[Op]) -> None:
    result = check(h, CAS)
    assert result.linearizable == brute_force(h, CAS)
    if not result.linearizable:
        # the window fails on its own, and is no larger than the history
        assert not brute_force(result.window, CAS)
        assert len(result.window) <= len(h)


def test_random_histories_reach_both_verdicts() -> None:
    """The property above is not vacuous: its generator gives both answers often."""
    verdicts: list[bool] = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(histories(with_cas=True))
    def collect(h: list[Op]) -> None:
        verdicts.append(brute_force(h, CAS))

    collect()
    assert verdicts.count(True) > 20 and verdicts.count(False) > 20


# --- the rsm model's pruning of pending sets, against the search without it ------------------------


class UnprunedRsm(Rsm):
    def prune(self, ops: Sequence[Op]) -> list[Op]:
        return list(ops)


RSM, UNPRUNED = Rsm(), UnprunedRsm()


@st.composite
def custom_histories(draw: st.DrawFn) -> list[Op]:
    """Sets of two keys (distinct values, a delete now and then) and reads of them, some pending:
    the shape of the free runs' client histories, small enough for the unpruned search."""
    ops = []
    for p in range(draw(st.integers(1, 8))):
        key = draw(st.sampled_from(["a", "b"]))
        call = draw(st.integers(0, 12)) + p / 100
        ret = call + draw(st.integers(1, 6))
        status = draw(st.sampled_from(["ok", "ok", "info", "info", "fail"]))
        if draw(st.integers(0, 2)) > 0:
            value = None if draw(st.integers(0, 5)) == 0 else p
            inp = to_value(Custom(key, value))
            out: object = StateMachine().apply(Custom(key, value))
            if draw(st.booleans()):  # it existed
                out = FrozenDict({**out, "existed": True})  # type: ignore[dict-item]
            o = Op(p, "write", inp, out, call, ret, "ok")
        else:
            seen = draw(st.sampled_from([None, *range(p)]))
            answer = (
                StateMachine().read(("custom", key))
                if seen is None
                else FrozenDict({"ok": True, "value": seen})
            )
            o = Op(p, "read", ("custom", key), answer, call, ret, "ok")
        if status == "info":
            o = Op(p, o.f, o.input, None, call, math.inf, "info")
        elif status == "fail":
            o = Op(p, o.f, o.input, None, call, ret, "fail")
        ops.append(o)
    return ops


@settings(max_examples=500, deadline=None)
@given(custom_histories())
def test_rsm_pruning_never_changes_the_verdict(h: list[Op]) -> None:
    assert check(h, RSM).verdict == check(h, UNPRUNED).verdict


def test_rsm_pruning_drops_unobserved_pending_sets_after_the_key_exists() -> None:
    made = [
        Op("w", "write", to_value(Custom("k", 0)), None, 0, 1, "ok"),
        *(
            Op(f"p{i}", "write", to_value(Custom("k", i)), None, 2 + i, math.inf, "info")
            for i in range(1, 30)
        ),
        Op("r", "read", ("custom", "k"), FrozenDict({"ok": True, "value": 7}), 40, 41, "ok"),
    ]
    kept = RSM.prune(made)
    assert [o.process for o in kept] == ["w", "p7", "r"]  # the write the read saw stays

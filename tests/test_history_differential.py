"""The history checker and its smallest failing window against a brute-force oracle, for every
history model (traces/history/models.py's MODELS), on 400 small generated concurrent histories per
model in `make test`, 4,000 in `make test-all`.

The oracle knows nothing of the checker's search (no cache, no pruning of pending operations,
no classes of alike operations, no partition by key): it tries every order of the operations
that respects real time, every pending operation placed anywhere after its invocation or
nowhere, stepping the model's sequential specification (`Model.step`; for the kv model a
cas-register per key, stepped here on a map of keys). On each history it asks:

- the verdict: the checker's equals the oracle's;
- when not linearizable, the window `window.examine` gives: drawn from the history, closed under
  the model's dependencies (`Model.needs`), not linearizable by the oracle, and 1-minimal by the
  oracle (without any one of its operations, and what then lacks what it needs, linearizable);
- the same window, whatever order the history's operations come in (`examine` is deterministic:
  a report and its replay agree).

Hypothesis shrinks any history on which they disagree. The settings are derandomized (a fixed
seed, no example database): `make test` runs the same histories every time.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import StateMachine
from meshcheck.impl.rsm import to_value
from meshcheck.traces.history import window
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import Status
from meshcheck.traces.history.models import MODELS
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.models import rsm_objects

EXAMPLES = 400  # histories per model in make test; make test-all also runs DEEP
DEEP = 4000
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
Step = Callable[[Hashable, Op], Sequence[Hashable]]


# --- the oracle ----------------------------------------------------------------------------------


def oracle(history: Sequence[Op], model: Model) -> bool:
    """Is there an order of the history's operations (failed ones left out, pending ones
    anywhere after their invocation or nowhere) that respects real time and that the model's
    sequential specification accepts? Tried order by order, depth first, no memory."""
    ops = [o for o in history if o.status != "fail"]
    step, init = _spec(model)

    def extend(left: frozenset[int], state: Hashable) -> bool:
        if all(ops[i].pending for i in left):
            return True  # the pending ones left: never took effect
        for i in left:
            o = ops[i]
            if any(ops[j].ret < o.call for j in left):
                continue  # something left completed before it was invoked
            if any(extend(left - {i}, after) for after in step(state, o)):
                return True
        return False

    return extend(frozenset(range(len(ops))), init)


def _spec(model: Model) -> tuple[Step, Hashable]:
    if model.name != "kv":
        return model.step, model.init()
    register = CasRegister()

    def step(state: Hashable, o: Op) -> list[Hashable]:
        assert isinstance(state, frozenset)
        values = dict(state)
        out: list[Hashable] = []
        for after in register.step(values.get(o.key, register.init()), o):
            out.append(frozenset({**values, o.key: after}.items()))
        return out

    return step, frozenset()


# --- generated histories, one strategy per model ---------------------------------------------------


def _times(draw: st.DrawFn, p: int) -> tuple[float, float]:
    call = draw(st.integers(0, 10)) + p / 100  # distinct invocations
    return call, call + draw(st.integers(1, 5))


def _status(draw: st.DrawFn) -> Status:
    return draw(st.sampled_from(["ok", "ok", "ok", "ok", "info", "fail"]))


def _finish(o: Op, status: Status) -> Op:
    if status == "info":
        return Op(o.process, o.f, o.input, None, o.call, math.inf, "info", o.key, o.index)
    if status == "fail":
        return Op(o.process, o.f, o.input, None, o.call, o.ret, "fail", o.key, o.index)
    return o


@st.composite
def register_histories(
    draw: st.DrawFn, fs: tuple[str, ...], keys: tuple[str | None, ...]
) -> list[Op]:
    ops = []
    for p in range(draw(st.integers(1, 6))):
        f = draw(st.sampled_from(fs))
        key = draw(st.sampled_from(keys))
        call, ret = _times(draw, p)
        inp: Hashable = None
        out: Hashable = None
        if f == "write":
            inp = draw(st.integers(1, 3))
        elif f == "cas":
            inp = (draw(st.sampled_from([None, 1, 2, 3])), draw(st.integers(1, 3)))
        else:
            out = draw(st.sampled_from([None, 1, 2, 3]))
        ops.append(_finish(Op(p, f, inp, out, call, ret, "ok", key, p), _status(draw)))
    return ops


@st.composite
def mutex_histories(draw: st.DrawFn) -> list[Op]:
    """Clients that each take the lock with a lease of their own, release it (or not), and revoke
    the lease after an acquire or a release without an answer (etcd's lock workload)."""
    ops: list[Op] = []
    for c in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, 6)) + c / 100
        lease = f"l{c}"
        for f in ("acquire", "release", "revoke"):
            if f == "revoke" and ops[-1].status != "info" and not draw(st.booleans()):
                break
            length = draw(st.integers(1, 4))
            status: Status = "ok"
            if f != "revoke":
                status = draw(st.sampled_from(["ok", "ok", "ok", "info"]))
            o = Op(f"c{c}", f, lease, None, at, at + length, "ok", None, len(ops))
            ops.append(_finish(o, status))
            at += length + draw(st.integers(0, 2)) + 0.001
            if f == "release" and ops[-1].status == "ok" and draw(st.booleans()):
                break
            if f == "release" and draw(st.integers(0, 3)) == 0:
                break
    return ops


@st.composite
def rsm_histories(draw: st.DrawFn) -> list[Op]:
    """Sets (a delete now and then) and reads of two custom keys, each answer what the case
    store gives in one random order of them, or another (so some histories have none)."""
    n = draw(st.integers(1, 6))
    shapes = []
    for p in range(n):
        key = draw(st.sampled_from(["a", "b"]))
        write = draw(st.integers(0, 2)) > 0
        value = None if draw(st.integers(0, 5)) == 0 else p
        shapes.append((key, write, value))
    seeds = draw(st.lists(st.integers(0, 2**16), min_size=1, max_size=2))
    answers = [_answers(shapes, random.Random(s)) for s in seeds]
    ops = []
    for p, (key, write, value) in enumerate(shapes):
        call, ret = _times(draw, p)
        out = answers[draw(st.integers(0, len(answers) - 1))][p]
        if write:
            o = Op(p, "write", to_value(Custom(key, value)), out, call, ret, "ok", None, p)
        else:
            o = Op(p, "read", ("custom", key), out, call, ret, "ok", None, p)
        ops.append(_finish(o, _status(draw)))
    return ops


def _answers(shapes: list[tuple[str, bool, int | None]], rng: random.Random) -> list[Hashable]:
    machine = StateMachine()
    order = list(range(len(shapes)))
    rng.shuffle(order)
    out: list[Hashable] = [None] * len(shapes)
    for p in order:
        key, write, value = shapes[p]
        if write:
            out[p] = machine.apply_entry(to_value(Custom(key, value)))
        else:
            out[p] = machine.read(("custom", key))
    return out


STRATEGIES: dict[str, st.SearchStrategy[list[Op]]] = {
    "register": register_histories(("read", "write"), (None,)),
    "cas-register": register_histories(("read", "write", "cas"), (None,)),
    "kv": register_histories(("read", "write", "cas"), ("x", "y")),
    "mutex": mutex_histories(),
    "rsm": rsm_histories(),
}


# --- well-formed windows, stated apart from the models' `needs` -----------------------------------


def well_formed(found: Sequence[Op], history: Sequence[Op], model: Model) -> bool:
    """What a window must keep of the history for its failure to be one the history shows, said
    here without the model's own `needs`: a read (or a completed cas) of a value with the write of
    it the history had; a lease's operation with the other operations of its lease the history had;
    an rsm operation with every write the history had on its object invoked before it returned."""
    live = [o for o in history if o.status != "fail"]
    kept = {id(o) for o in found}
    if model.name == "mutex":
        return all(id(other) in kept for o in found for other in live if other.input == o.input)
    if model.name == "rsm":
        return all(
            id(w) in kept
            for o in found
            for w in live
            if w is not o and w.f == "write" and w.call < o.ret and _objects(w) & _objects(o)
        )
    for o in found:
        observed = o.output if o.f == "read" and o.status == "ok" else None
        if o.f == "cas" and o.status == "ok" and isinstance(o.input, tuple):
            observed = o.input[0]
        if observed is None:
            continue
        writers = [
            w
            for w in live
            if w is not o and w.key == o.key and w.call < o.ret and _stored(w) == observed
        ]
        if writers and not any(id(w) in kept for w in writers):
            return False
    return True


def _objects(o: Op) -> set[tuple[str, str]]:
    return set(rsm_objects(o))


def _stored(o: Op) -> Hashable:
    if o.f == "write":
        return o.input
    if o.f == "cas" and isinstance(o.input, tuple):
        stored: Hashable = o.input[1]
        return stored
    return object()


# --- the comparison --------------------------------------------------------------------------------


def differ(history: list[Op], model: Model) -> str:
    """What the checker says of `history`, asserted against the oracle."""
    if not window.items(history, model):
        with pytest.raises(window.NothingToCheck):
            window.examine(history, model)
        return "nothing to check"
    expected = oracle(history, model)
    examined = window.examine(history, model, budget_seconds=60)
    assert examined.result.linearizable == expected, (examined.result.verdict, expected)
    assert check(history, model).verdict == examined.result.verdict
    if expected:
        assert examined.window is None
        return "linearizable"
    found = examined.window
    assert found is not None and found.minimal
    ids = {id(o) for o in window.items(examined.part, model)}
    assert all(id(o) in ids for o in found.ops), "the window is drawn from the failing part"
    assert window.closed(found.ops, examined.part, model), "the window lacks what it needs"
    assert well_formed(found.ops, examined.part, model), "the window drops what it depends on"
    assert not oracle(found.ops, model), "the window is linearizable"
    for o in found.ops:
        rest = window.without(found.ops, o, model, examined.part)
        assert oracle(rest, model), f"the window without {o} still fails"
    again = window.examine(list(reversed(history)), model, budget_seconds=60)
    assert again.window is not None
    assert [(o.index, o.f) for o in again.window.ops] == [(o.index, o.f) for o in found.ops]
    return "not linearizable"


@pytest.mark.parametrize("examples", [EXAMPLES, pytest.param(DEEP, marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_checker_and_window_agree_with_the_oracle(name: str, examples: int) -> None:
    model = MODELS[name]
    seen: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=examples, database=None)
    @given(STRATEGIES[name])
    def compare(history: list[Op]) -> None:
        seen[differ(history, model)] += 1

    compare()
    print(f"{name}: {dict(seen)}")
    # the generators reach both verdicts, often: the comparison is not vacuous
    assert seen["linearizable"] >= examples // 10, seen
    assert seen["not linearizable"] >= examples // 10, seen


def test_every_model_has_a_generator() -> None:
    assert set(STRATEGIES) == set(MODELS)


def test_the_oracle_refuses_what_it_must() -> None:
    """The oracle on hand-built histories with known answers (it must not be vacuous either)."""
    reg, mutex = MODELS["register"], MODELS["mutex"]
    stale = [
        Op(0, "write", 1, None, 0, 1),
        Op(1, "write", 2, None, 2, 3),
        Op(2, "read", None, 1, 4, 5),
    ]
    assert not oracle(stale, reg)
    assert oracle([*stale[:2], Op(2, "read", None, 2, 4, 5)], reg)
    assert oracle([stale[0], Op(1, "write", 2, None, 0.5, 6), stale[2]], reg)  # concurrent
    both = [Op("a", "acquire", "a", None, 0, 1), Op("b", "acquire", "b", None, 2, 3)]
    assert not oracle(both, mutex)
    assert oracle([both[0], Op("a", "release", "a", None, 1.5, 1.8), both[1]], mutex)
    pending = Op("a", "release", "a", None, 1.5, math.inf, "info")
    assert oracle([both[0], pending, both[1]], mutex)

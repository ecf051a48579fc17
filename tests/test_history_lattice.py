"""The single-object lattice of `meshcheck history check --consistency` (traces/history/lattice.py)
against brute-force oracles, for the register, cas-register and kv models, on small generated
histories of clients that each run a few operations one after another.

The oracles know nothing of the checkers' search or graphs:

- sequential: every order of the operations that keeps each process's order (an operation after
  those of its process that returned before it was invoked; a pending one anywhere after them,
  or nowhere), stepping the model's sequential specification, key by key for kv;
- each session guarantee: every order of the writes (the arbitration) and every choice of the
  write each read read from (among the writes of its value), its constraints tested pair by
  pair (sessions.py's docstring states them).

On each history: the sequential verdict equals its oracle's; a session guarantee's verdict equals
its oracle's when every value is written once (per key), and with values written more than once
the checker never reports a violation the oracle does not (it is conservative there). Each
broken model's window is drawn from the history, breaks the model by the oracle, and (values
written once) holds without any one of its operations. The lattice's implications hold: a
linearizable history is sequential, a sequential one keeps every guarantee.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Hashable
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.cli import main
from meshcheck.traces.history import lattice
from meshcheck.traces.history import sequential_order
from meshcheck.traces.history import sessions
from meshcheck.traces.history import window
from meshcheck.traces.history.checker import check
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.history import Status
from meshcheck.traces.history.models import MODELS
from meshcheck.traces.history.models import CasRegister
from meshcheck.traces.history.models import Model
from meshcheck.traces.history.sequential import Sequential
from tests.test_history_differential import SETTINGS

GUARANTEES = ("pram", *sessions.GUARANTEES)
EXAMPLES = 300  # histories per model
REGISTERS = ("register", "cas-register", "kv")
INIT = "init"


# --- the oracles ---------------------------------------------------------------------------------


def first(a: Op, b: Op) -> bool:
    """Process order, stated apart from the checkers: one process, a returned before b began."""
    return a.process == b.process and a.ret != math.inf and a.ret < b.call


def keys(history: Sequence[Op], model: Model) -> list[list[Op]]:
    live = [o for o in history if o.status != "fail"]
    if not model.keyed:
        return [live]
    return [[o for o in live if o.key == k] for k in sorted({o.key for o in live}, key=repr)]


def sequential_oracle(history: Sequence[Op], model: Model) -> bool:
    """An order of each key's operations that keeps each process's order and that the model
    accepts, pending ones anywhere after their process's earlier ones or nowhere: tried order by
    order, depth first, no memory."""
    step = CasRegister().step if model.keyed else model.step

    def extend(ops: list[Op], left: frozenset[int], state: Hashable) -> bool:
        if all(ops[i].pending for i in left):
            return True
        for i in left:
            if any(first(ops[j], ops[i]) for j in left):
                continue
            if any(extend(ops, left - {i}, after) for after in step(state, ops[i])):
                return True
        return False

    return all(extend(ops, frozenset(range(len(ops))), None) for ops in keys(history, model))


def _wrote(o: Op) -> Hashable:
    return o.input if o.f == "write" else o.input[1] if isinstance(o.input, tuple) else None


def _saw(o: Op) -> tuple[bool, Hashable]:
    if o.status == "ok" and o.f == "read":
        return True, o.output
    if o.status == "ok" and o.f == "cas" and isinstance(o.input, tuple):
        return True, o.input[0]
    return False, None


def session_oracle(history: Sequence[Op], guarantee: str, model: Model) -> bool:
    """Every arbitration of the writes and every choice of the writes read from, tried."""
    for ops in keys(history, model):
        writes = [i for i, o in enumerate(ops) if o.f in ("write", "cas")]
        reads = [i for i, o in enumerate(ops) if _saw(o)[0]]
        choices = []
        for r in reads:
            value = _saw(ops[r])[1]
            options: list[int | str] = [w for w in writes if w != r and _wrote(ops[w]) == value]
            if value is None:
                options.append(INIT)
            if not options:
                return False
            choices.append(options)
        if not any(
            _fits(ops, writes, dict(zip(reads, rf, strict=True)), order, guarantee)
            for rf in itertools.product(*choices)
            for order in itertools.permutations(writes)
        ):
            return False
    return True


def _fits(
    ops: list[Op],
    writes: list[int],
    rf: dict[int, int | str],
    order: tuple[int, ...],
    guarantee: str,
) -> bool:
    at: dict[int | str, int] = {INIT: -1, **{w: k for k, w in enumerate(order)}}
    if guarantee == "pram":
        return all(
            _fits(ops, writes, rf, order, g)
            for g in ("read-your-writes", "monotonic-reads", "monotonic-writes")
        )
    if guarantee == "read-your-writes":
        return all(at[w] <= at[rf[r]] for w in writes for r in rf if first(ops[w], ops[r]))
    if guarantee == "monotonic-reads":
        return all(at[rf[a]] <= at[rf[b]] for a in rf for b in rf if first(ops[a], ops[b]))
    if guarantee == "monotonic-writes":
        return all(at[a] < at[b] for a in writes for b in writes if first(ops[a], ops[b]))
    assert guarantee == "writes-follow-reads"
    return all(at[rf[r]] < at[w] for r in rf for w in writes if first(ops[r], ops[w]) or r == w)


def _keeps_writers(found: Sequence[Op], history: Sequence[Op]) -> bool:
    """Every write of the history of a value an operation of `found` saw is in `found`."""
    return all(
        w in found
        for o in found
        if _saw(o)[0] and _saw(o)[1] is not None
        for w in history
        if w is not o
        and w.status != "fail"
        and w.key == o.key
        and w.f in ("write", "cas")
        and _wrote(w) == _saw(o)[1]
    )


def unique(history: Sequence[Op], model: Model) -> bool:
    """Every value written once on its key (and nil never written)."""
    for ops in keys(history, model):
        values = [_wrote(o) for o in ops if o.f in ("write", "cas")]
        if None in values or len(values) != len(set(values)):
            return False
    return True


# --- generated histories: clients running a few operations one after another ---------------------


@st.composite
def client_histories(draw: st.DrawFn, fs: tuple[str, ...], ks: tuple[str | None, ...]) -> list[Op]:
    """Up to three clients, each running up to three operations, mostly one after another (after
    a pending one, a client may go on, or end as Jepsen's crashed clients do); writes of values mostly written once, reads
    of a value written on their key (now and then of nil, or of a value nobody wrote)."""
    shapes: list[tuple[int, str, float, float, Status, str | None]] = []
    for p in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, 5)) + p / 100
        for _ in range(draw(st.integers(1, 3))):
            if len(shapes) == 6:
                break
            f = draw(st.sampled_from(fs))
            length = draw(st.integers(1, 4))
            status: Status = draw(st.sampled_from(["ok", "ok", "ok", "ok", "ok", "info", "fail"]))
            shapes.append((p, f, at, at + length, status, draw(st.sampled_from(ks))))
            if status == "info" and draw(st.booleans()):
                break  # Jepsen's crashed client: its later operations are another process's
            if status == "info":  # or the client goes on, its pending operation still open
                at += draw(st.integers(0, 2)) + 0.001
                continue
            # the next one after this one returned, or now and then while it runs (a client
            # with several operations at once, as the simulator's open-loop ones)
            at += draw(st.sampled_from([length, length, length, 0])) + draw(st.integers(0, 2))
            at += 0.001
    written: dict[str | None, list[int]] = {}
    values: list[int] = []
    for n, (_, f, _, _, _, key) in enumerate(shapes):
        value = n + 1
        if f != "read" and values and draw(st.integers(0, 5)) == 0:
            value = draw(st.sampled_from(values))  # written before
        values.append(value)
        if f != "read":
            written.setdefault(key, []).append(value)
    ops: list[Op] = []
    for n, (p, f, call, ret, status, key) in enumerate(shapes):
        seen = draw(st.sampled_from([None, 99, *written.get(key, []) * 3]))
        inp: Hashable = None if f == "read" else values[n]
        if f == "cas":
            inp = (seen, values[n])
        out = seen if f == "read" and status == "ok" else None
        if status == "info":
            ops.append(Op(p, f, inp, None, call, math.inf, "info", key, n))
        else:
            ops.append(Op(p, f, inp, out, call, ret, status, key, n))
    return ops


STRATEGIES = {
    "register": client_histories(("read", "write"), (None,)),
    "cas-register": client_histories(("read", "write", "cas"), (None,)),
    "kv": client_histories(("read", "write", "cas"), ("x", "y")),
}


# --- the comparison --------------------------------------------------------------------------------


def compare(history: list[Op], model: Model, seen: Counter[str]) -> None:
    if not window.items(history, model):
        return
    sequential = Sequential(model)
    expected = sequential_oracle(history, model)
    examined = window.examine(history, sequential, budget_seconds=60)
    assert examined.result.linearizable == expected, examined.result.verdict
    seen[f"sequential {'holds' if expected else 'broken'}"] += 1
    if sequential_order.holds(history, model):  # the graph's order: sound, never past the oracle
        assert expected, "the graph found an order of each key the oracle denies"
        seen["sequential by the graph"] += 1
    if check(history, model).linearizable:
        assert expected, "linearizable but not sequential"
    elif expected:
        seen["sequential, not linearizable"] += 1
    if not expected:
        found = examined.window
        assert found is not None and found.minimal
        assert all(o in history for o in found.ops), "the window is not the history's operations"
        assert _keeps_writers(found.ops, history), "the window lacks a write of a value read"
        assert not sequential_oracle(found.ops, model), "the window is sequential"
        for o in found.ops:
            rest = window.without(found.ops, o, sequential, examined.part)
            assert sequential_oracle(rest, model), f"the window without {o} is not sequential"
    once = unique(history, model)
    for g in GUARANTEES:
        broken = sessions.check(history, g, model.keyed)
        holds = session_oracle(history, g, model)
        if once:
            assert (broken is None) == holds, (g, broken)
        else:
            assert broken is None or not holds, ("a violation the oracle denies", g, broken)
        if expected:
            assert broken is None, f"sequential but not {g}"
        seen[f"{g} {'holds' if broken is None else 'broken'}"] += 1
        if broken is None:
            continue
        if "no write wrote" not in broken.why:
            seen[f"{g} cycle{' once' if once else ''}"] += 1
        ops, minimal = lattice.smallest(broken.ops, history, model, g)
        assert minimal and not session_oracle(ops, g, model), (g, ops)
        assert set(map(id, ops)) <= set(map(id, history)) and _keeps_writers(ops, history)
        if once:
            for o in ops:
                rest = window.without(ops, o, sequential, window.items(history, model))
                assert session_oracle(rest, g, model), (g, "not minimal", o)


@pytest.mark.parametrize("name", REGISTERS)
def test_the_lattice_agrees_with_the_oracles(name: str) -> None:
    model = MODELS[name]
    seen: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=EXAMPLES)
    @given(STRATEGIES[name])
    def run(history: list[Op]) -> None:
        compare(history, model, seen)

    run()
    print(f"{name}: {dict(seen)}")
    # every verdict is reached, often, and breaks by a cycle of the order, not only by a value
    # no write wrote: the comparison is not vacuous; monotonic-writes alone has no cycle (its
    # constraints follow each client's order)
    for g in ("sequential", *GUARANTEES):
        for verdict in ("holds", "broken"):
            assert seen[f"{g} {verdict}"] >= EXAMPLES // 50, (g, verdict, seen)
    assert seen["sequential, not linearizable"] >= 1, seen
    # the graph decides most of what holds (not all: values written twice, a pending cas, an
    # order its elimination and repair miss are left to the search)
    assert seen["sequential by the graph"] >= seen["sequential holds"] // 2, seen
    # (monotonic-reads' own cycle needs four reads by two clients, rare in six operations:
    # test_each_guarantee_breaks_on_its_own_cycle has one)
    assert seen["monotonic-writes cycle"] == 0, seen
    assert seen["pram cycle once"] >= 1 and seen["writes-follow-reads cycle once"] >= 1, seen
    assert sum(seen[f"{g} cycle once"] for g in GUARANTEES) >= EXAMPLES // 50, seen


def test_the_oracles_refuse_what_they_must() -> None:
    """Hand-built histories with known answers: the oracles are not vacuous either."""
    reg = MODELS["register"]
    w1, w2 = Op(0, "write", 1, None, 0, 1), Op(0, "write", 2, None, 2, 3)
    back = [w1, w2, Op(1, "read", None, 2, 4, 5), Op(1, "read", None, 1, 6, 7)]
    assert sequential_oracle(back[:3], reg) and not sequential_oracle(back, reg)
    # each guarantee alone holds (the arbitration may put 2 before 1); pram's one order does not
    assert all(session_oracle(back, g, reg) for g in sessions.GUARANTEES)
    assert not session_oracle(back, "pram", reg)
    own = [w1, Op(0, "read", None, None, 2, 3)]
    assert not session_oracle(own, "read-your-writes", reg)
    assert session_oracle(own, "monotonic-reads", reg)
    future = [Op(0, "read", None, 1, 0, 1), Op(0, "write", 1, None, 2, 3)]
    assert not session_oracle(future, "writes-follow-reads", reg)
    assert not sequential_oracle(future, reg)
    assert sequential_oracle([future[0], Op(1, "write", 1, None, 2, 3)], reg)


def test_each_guarantee_breaks_on_its_own_cycle() -> None:
    """A hand-made history per guarantee that breaks it alone (the checker and the oracle agree),
    beside one that keeps it; monotonic-writes alone breaks only on a value no write wrote."""
    reg = MODELS["register"]
    w1, w2 = Op(0, "write", 1, None, 0, 1), Op(0, "write", 2, None, 2, 3)
    # two readers see the two writes in opposite orders
    crossed = [
        Op(1, "write", 1, None, 0, 1),
        Op(2, "write", 2, None, 0, 1),
        Op(3, "read", None, 1, 2, 3),
        Op(3, "read", None, 2, 4, 5),
        Op(4, "read", None, 2, 2, 3),
        Op(4, "read", None, 1, 4, 5),
    ]
    cases = {
        "read-your-writes": [w1, Op(1, "write", 2, None, 0, 1), Op(0, "read", None, None, 2, 3)],
        "monotonic-reads": crossed,
        "writes-follow-reads": [
            Op(0, "read", None, 4, 13, 14),
            Op(0, "write", 1, None, 15, 16),
            Op(1, "write", 3, None, 7, 8),
            Op(2, "read", None, 3, 9, 10),
            Op(2, "write", 4, None, 11, 12),
            Op(1, "read", None, 1, 5, 6),
        ],
        "pram": [w1, w2, Op(1, "read", None, 2, 4, 5), Op(1, "read", None, 1, 6, 7)],
    }
    for g, history in cases.items():
        assert not session_oracle(history, g, reg), g
        broken = sessions.check(history, g)
        assert broken is not None and "no order of the writes fits" in broken.why, g
        assert sessions.check(history[:-1], g) is None and session_oracle(history[:-1], g, reg), g
    assert sessions.check(crossed, "monotonic-writes") is None
    unwritten = sessions.check([w1, Op(1, "read", None, 7, 2, 3)], "monotonic-writes")
    assert unwritten is not None and "returned a value no write wrote" in unwritten.why


# --- the command ---------------------------------------------------------------------------------


def _history(path: str, events: Sequence[tuple[int, str, str, object]]) -> str:

    with open(path, "w", encoding="utf-8") as out:
        for p, kind, f, value in events:
            out.write(json.dumps({"process": p, "type": kind, "f": f, "value": value}) + "\n")
    return path


BACK = [
    (0, "invoke", "write", 1),
    (0, "ok", "write", 1),
    (0, "invoke", "write", 2),
    (0, "ok", "write", 2),
    (1, "invoke", "read", None),
    (1, "ok", "read", 2),
    (1, "invoke", "read", None),
    (1, "ok", "read", 1),
]


def test_the_report_names_every_model_checked_and_the_strongest_that_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _history(f"{tmp_path}/back.jsonl", BACK)
    assert (
        main(["history", "check", path, "--model", "register", "--consistency", "linearizable"])
        == 1
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: not linearizable (register model, 4 operations")
    assert out[0].endswith(
        "the strongest that hold: read-your-writes, monotonic-reads, monotonic-writes, "
        "writes-follow-reads"
    )
    assert [line.split()[:2] for line in out[1:8]] == [
        ["linearizable", "broken:"],
        ["sequential", "broken:"],
        ["pram", "broken:"],
        *([g, "holds"] for g in sessions.GUARANTEES),
    ]
    assert "smallest window that is not sequential: 4 operations" in "\n".join(out)
    stale = _history(
        f"{tmp_path}/stale.jsonl", [*BACK[:4], (1, "invoke", "read", None), (1, "ok", "read", 1)]
    )
    assert (
        main(
            ["history", "check", stale, "--model", "cas-register", "--consistency", "linearizable"]
        )
        == 1
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("the strongest that hold: sequential")
    assert "  monotonic-reads      holds (implied by sequential)" in out
    assert (
        main(["history", "check", stale, "--model", "register", "--consistency", "sequential"]) == 0
    )
    assert "linearizable" not in capsys.readouterr().out
    # pram holds, writes-follow-reads breaks: pram implies its three guarantees, not the fourth
    own = _history(
        f"{tmp_path}/own.jsonl",
        [
            (0, "invoke", "read", None),
            (0, "ok", "read", 1),
            (0, "invoke", "write", 1),
            (0, "ok", "write", 1),
        ],
    )
    assert main(["history", "check", own, "--model", "register", "--consistency", "pram"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("the strongest that hold: pram")
    assert [line.split()[:2] for line in out[1:5]] == [
        ["pram", "holds"],
        *([g, "holds"] for g in sessions.TOGETHER["pram"]),
    ]
    assert (
        main(["history", "check", own, "--model", "register", "--consistency", "sequential"]) == 1
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("the strongest that hold: pram")
    assert out[-4:] == [
        "  (writes-follow-reads: no order of the writes fits 0:read()->1, 0:write(1))",
        "  process  operation  lines  status",
        "  0        read()->1  1..2   ok",
        "  0        write(1)   3..4   ok",
    ]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (
            ["--consistency", "causal"],
            "--consistency causal: not a model for register; expected one of "
            + ", ".join(lattice.NAMES),
        ),
        (["--consistency", "serializable"], "--consistency serializable: not a model for register"),
        (
            ["--consistency", "sequential", "--reads", "serializable"],
            "--reads: not with --consistency",
        ),
        (["--consistency", "sequential", "--out", "x.svg"], "--out: not with --consistency"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    tmp_path: Path, flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _history(f"{tmp_path}/back.jsonl", BACK)
    assert main(["history", "check", path, "--model", "register", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err


def test_out_of_budget_the_search_is_unknown_and_the_guarantees_still_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,500 operations of ten clients, each writing a value and reading it back: the graph
    (sequential_order.py) finds each key's order, within the budget; where it leaves the history
    to the search (here made to), the search of a sequential order runs past a budget of a
    microsecond (it looks at the clock every 1,024 configurations), so sequential is unknown,
    exit 2, never "holds"; the session guarantees, a graph search, decide."""
    events: list[tuple[int, str, str, object]] = []
    for k in range(75):
        for p in range(10):
            v = 10 * k + p + 1
            events += [(p, "invoke", "write", v), (p, "ok", "write", v)]
            events += [(p, "invoke", "read", None), (p, "ok", "read", v)]
    path = _history(str(tmp_path / "long.jsonl"), events)
    flags = ["--model", "register", "--consistency", "sequential"]
    assert main(["history", "check", path, *flags]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["sequential", "holds"]
    monkeypatch.setattr(sequential_order, "holds", lambda history, model: False)
    assert main(["history", "check", path, *flags, "--budget", "0.000001"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: unknown whether sequential (register model, 1500 operations")
    assert out[0].endswith("the strongest that hold: pram, writes-follow-reads")
    assert out[1].startswith("  sequential           unknown: the budget ran out; the first ")


KNOSSOS = Path(__file__).resolve().parent / "data" / "peers" / "knossos"


def test_knossos_histories_go_down_the_lattice() -> None:
    """Jepsen's Knossos's cas-register histories (tests/test_peer_histories_knossos.py, values
    written many times over): each one Knossos calls valid keeps every model when each is checked
    on its own, not taken as implied (no false alarm of the conservative guarantees on real
    runs); of the invalid ones, the three with stale reads are sequential, and the three whose
    reads return a value no write wrote break every model."""
    from meshcheck.traces.history import jepsen

    model = MODELS["cas-register"]
    sequential = Sequential(model)
    said: dict[str, list[str]] = {}
    for case in json.loads((KNOSSOS / "manifest.json").read_text("utf-8")):
        if case["model"] != "cas-register":
            continue
        history = jepsen.read(KNOSSOS / case["file"], model)
        if not window.items(history, model):
            continue
        held = [
            g
            for g in ("sequential", *GUARANTEES)
            if (
                check(history, sequential).linearizable
                if g == "sequential"
                else sessions.check(history, g) is None
            )
        ]
        said[case["file"].removeprefix("cas-register-")] = held
        if case["knossos"] == "valid":
            assert held == ["sequential", *GUARANTEES], case["file"]
    assert said == {
        **{
            f"good-{n}.jsonl": ["sequential", *GUARANTEES]
            for n in ("cas-register-bug", "memstress3-0", "memstress3-1", "memstress3-2")
        },
        **{
            f"bad-{n}.jsonl": ["sequential", *GUARANTEES]
            for n in ("cas-failure", "rethink-fail-smaller", "mongodb-v0-ack-rollback-6")
        },
        **{
            f"bad-{n}.jsonl": []
            for n in ("bad-analysis", "immediate-failure", "rethink-fail-minimal")
        },
    }


def test_the_graph_says_sequential_only_of_what_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Adversarial histories that are not sequential, each by a different rule: the graph
    (sequential_order.py) finds no order, and the command, left to the search, says broken; the
    ones beside them that are sequential, it decides. What it cannot say as one-operation
    transactions (a pending cas), or a model whose reads are not a register's, it leaves."""
    reg, cas = MODELS["register"], MODELS["cas-register"]

    def op(p: int, f: str, value: Hashable, out: Hashable, at: float, status: Status = "ok") -> Op:
        return Op(p, f, value, out, at, math.inf if status == "info" else at + 1, status)

    w1, w2 = op(0, "write", 1, None, 0), op(0, "write", 2, None, 2)
    broken = {
        # a reader sees 2 then 1, written in that process's order 1 then 2
        "back": [w1, w2, op(1, "read", None, 2, 4), op(1, "read", None, 1, 6)],
        # two readers see two writes of two clients in opposite orders
        "crossed": [
            op(0, "write", 1, None, 0),
            op(1, "write", 2, None, 0),
            op(2, "read", None, 1, 2),
            op(2, "read", None, 2, 4),
            op(3, "read", None, 2, 2),
            op(3, "read", None, 1, 4),
        ],
        # a read of its own process's later write
        "future": [op(0, "read", None, 1, 0), op(0, "write", 1, None, 2)],
        # a client reads nil after its own write
        "own": [w1, op(0, "read", None, None, 2)],
        # a value nobody wrote
        "garbage": [w1, op(1, "read", None, 99, 2)],
        # a cas that found 1 after 2 was written and read by its process
        "cas": [w1, w2, op(1, "read", None, 2, 4), op(1, "cas", (1, 3), None, 6)],
    }
    for name, history in broken.items():
        model = cas if name == "cas" else reg
        assert not sequential_oracle(history, model), name
        assert not sequential_order.holds(history, model), name
    path = _history(f"{tmp_path}/back.jsonl", BACK)
    assert (
        main(["history", "check", path, "--model", "register", "--consistency", "sequential"]) == 1
    )
    assert "  sequential           broken" in capsys.readouterr().out
    held = {
        "back cut": (broken["back"][:3], reg),
        "stale": ([w1, w2, op(1, "read", None, 1, 4), op(1, "read", None, 2, 6)], reg),
        "cas": ([w1, w2, op(1, "read", None, 1, 0.5), op(1, "cas", (2, 3), None, 6)], cas),
        "pending write read": (
            [op(0, "write", 1, None, 0, "info"), op(1, "read", None, 1, 3)],
            reg,
        ),
    }
    for name, (history, model) in held.items():
        assert sequential_oracle(history, model), name
        assert sequential_order.holds(history, model), name
    pending_cas = [w1, op(1, "cas", (1, 2), None, 2, "info"), op(2, "read", None, 2, 4)]
    assert sequential_oracle(pending_cas, cas) and not sequential_order.holds(pending_cas, cas)
    assert not sequential_order.holds(held["stale"][0], MODELS["rsm"])

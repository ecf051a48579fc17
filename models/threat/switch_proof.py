"""The obligations of the switch model (switch.py, switch_invariants.py), as `models.proof` runs them for
its EPR models: non-vacuity, initiation, consecution (one row per transition and invariant), and bounded
runs from init for the safety invariants, shortest first. The switch model is over integers and arrays
(a history is a sequence), which `models.proof.ProtocolModel`'s uninterpreted sorts do not express, so
it has this small checker of its own; results and counterexamples are the framework's.

Two differences, both for Z3's sake over quantified array formulas. Non-vacuity asks for a run from init
that ends with the transition (quantifier-free, so Z3 finds it at once) rather than for any state where
the invariants hold (a model of quantified array formulas, which Z3 often cannot build): a reachable
state is one where the proved invariants hold, so this is the stronger check. Consecution proves an
invariant conjunct by conjunct, for n1's step and n2's step apart: the row is proved when every part is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import z3

from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.models.proof import ASSUMED
from meshcheck.models.proof import Counterexample
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof.checks import result
from meshcheck.models.proof.solver import DEFAULT_TIMEOUT_MS
from meshcheck.models.proof.solver import Answer
from meshcheck.models.proof.solver import check_in_frame
from meshcheck.models.proof.solver import new_solver
from meshcheck.models.threat import switch
from meshcheck.models.threat.switch import MODEL
from meshcheck.models.threat.switch import NODES
from meshcheck.models.threat.switch import SWITCH
from meshcheck.models.threat.switch import S
from meshcheck.models.threat.switch import Transition
from meshcheck.models.threat.switch_invariants import INVARIANTS

_SHOW_MAX = 12  # entries shown per sequence in a counterexample


# --- reading a counterexample --------------------------------------------------------------------------


def _int(m: Any, term: Any) -> int:
    v = m.eval(term, model_completion=True)
    return int(v.as_long()) if z3.is_int_value(v) else 0


def _entry(x: int) -> str:
    return "switch" if x == SWITCH else f"o{x}"


def _seq(m: Any, arr: Any, length: int) -> tuple[str, ...]:
    n = max(0, min(length, _SHOW_MAX))
    shown = tuple(_entry(_int(m, arr[k])) for k in range(n))
    return shown + (("...",) if length > n else ())


def _state(m: Any, s: S, ghost: bool) -> FrozenDict:
    epochs = [_int(m, e) for e in s.epoch]
    top = _int(m, s.top)
    last = min(max([*epochs, top, 1]) + 1, 6)
    chain = {e: _seq(m, s.chain[e], _int(m, s.clen[e])) for e in range(1, last + 1)}
    out: dict[str, Value] = {
        "chain": FrozenDict({e: c for e, c in chain.items() if c}),
        "epoch": FrozenDict(zip(NODES, epochs, strict=True)),
        "applied": FrozenDict((n, _int(m, a)) for n, a in zip(NODES, s.applied, strict=True)),
        "history": FrozenDict(
            (n, _seq(m, h, _int(m, k))) for n, h, k in zip(NODES, s.history, s.hlen, strict=True)
        ),
    }
    if ghost:
        front = _int(m, s.front)
        out["ghost.front"] = (top, front)
        out["ghost.longest"] = _seq(m, s.longest, _int(m, s.glen[s.top][s.front]))
        out["ghost.sw"] = FrozenDict((e, _int(m, s.sw[e])) for e in range(1, min(top, 6)))
    return FrozenDict(out)


def _params(m: Any, t: Transition, ps: list[Any]) -> FrozenDict:
    out: dict[str, Value] = {}
    for name, p in zip(t.params, ps, strict=True):
        v = _int(m, p)
        out[name] = NODES[v - 1] if name == "i" and v in (1, 2) else (f"o{v}" if name == "o" else v)
    return FrozenDict(out)


# --- the obligations -------------------------------------------------------------------------------------


class _Unrolling:
    """States @0..@depth from init, step k+1 one of the transitions (a Bool per transition says which)."""

    def __init__(self, bugs: frozenset[str], depth: int) -> None:
        self.states = [S(f"@{k}") for k in range(depth + 1)]
        ts = switch.transitions(bugs)
        self.moves = [
            [(t, z3.Bool(f"fired.{t.name}@{k}"), switch.params(t, f"@{k}")) for t in ts]
            for k in range(1, depth + 1)
        ]
        self.relation = [
            z3.And(
                z3.Or(*(f for _, f, _ in step)),
                *(
                    z3.Implies(
                        f, switch.step(t, self.states[k], self.states[k + 1], ps, ghost=False)
                    )
                    for t, f, ps in step
                ),
            )
            for k, step in enumerate(self.moves)
        ]

    def small_ops(self, solver: Any) -> Any:
        """The model with the smallest op ids it can have (o18917 reads worse than o1)."""
        m = solver.model()
        ops = [ps[1] for step in self.moves for t, _, ps in step if t.name == "order_op"]
        for bound in range(1, len(self.moves) + 1):
            solver.push()
            try:
                solver.add(*(z3.And(o >= 1, o <= bound) for o in ops))
                if solver.check() == z3.sat:
                    return solver.model()
            finally:
                solver.pop()
        return m

    def trace(self, m: Any, d: int) -> tuple[Step, ...]:
        steps = [Step(_state(m, self.states[0], False), INIT)]
        for k in range(d):
            t, _, ps = next(mv for mv in self.moves[k] if z3.is_true(m.eval(mv[1])))
            steps.append(Step(_state(m, self.states[k + 1], False), t.name, _params(m, t, ps)))
        return tuple(steps)


def check_nonvacuous(bugs: frozenset[str], depth: int, timeout_ms: int) -> list[ProofResult]:
    """init is satisfiable, and each transition fires at the end of some run from init of at most
    `depth` steps (so in a reachable state, where every invariant holds once they are proved)."""
    run = _Unrolling(bugs, depth)
    solver = new_solver(timeout_ms)
    ans = check_in_frame(solver, [switch.init(run.states[0])], valid=False)
    results = [result(MODEL, "non-vacuity", None, "init", ans, failure="init is unsatisfiable")]
    for index, t in enumerate(switch.transitions(bugs)):
        solver = new_solver(timeout_ms)
        solver.add(switch.init(run.states[0]))
        seconds = 0.0
        for d in range(1, depth + 1):
            solver.add(run.relation[d - 1])
            ans = check_in_frame(solver, [run.moves[d - 1][index][1]], valid=False)
            seconds += ans.seconds
            if ans.status != "failed":
                break
        never = f"{t.name} fires in no run of <= {depth} steps: its proofs may be vacuous"
        results.append(
            result(
                MODEL,
                "non-vacuity",
                None,
                t.name,
                attrs.evolve(ans, seconds=seconds),
                failure=never,
            )
        )
    return results


def _conjuncts(f: Any) -> list[Any]:
    if z3.is_and(f):
        return [g for child in f.children() for g in _conjuncts(child)]
    return [f]


def _check_conjuncts(solver: Any, claim: Any) -> Answer:
    """`claim` proved conjunct by conjunct, one frame each (one negated conjunction makes Z3 split
    cases across all of them: measured 4 s against 0.6 s for OnLongest under apply); the first
    conjunct refuted or not proved gives the answer, with the time of all checked."""
    seconds = 0.0
    ans = Answer("proved", None, 0.0)
    for part in _conjuncts(claim):
        ans = check_in_frame(solver, [z3.Not(part)], valid=True)
        seconds += ans.seconds
        if ans.status != "proved":
            break
    return attrs.evolve(ans, seconds=seconds)


def check_inductive(bugs: frozenset[str], timeout_ms: int) -> list[ProofResult]:
    """Initiation and consecution of every invariant."""
    results: list[ProofResult] = []
    s0 = S("@0")
    solver = new_solver(timeout_ms)
    solver.add(switch.init(s0))
    for inv in INVARIANTS:
        ans = check_in_frame(solver, [z3.Not(inv.formula(s0))], valid=True)
        cex = None
        if ans.model is not None:
            cex = Counterexample(steps=(Step(_state(ans.model, s0, True)),), violated=inv.name)
        results.append(result(MODEL, "initiation", inv.name, "init", ans, cex))
    pre, post = S("@0"), S("@1")
    solver = new_solver(timeout_ms)
    solver.add(*(i.formula(pre) for i in INVARIANTS))
    for t in switch.transitions(bugs):
        ps = switch.params(t, "@1")
        # A node's step is checked for n1 and for n2, one frame each; the row sums their times.
        nodes: tuple[int | None, ...] = (1, 2) if t.params[0] == "i" else (None,)
        answers: dict[str, list[Answer]] = {inv.name: [] for inv in INVARIANTS}
        for node in nodes:
            solver.push()
            solver.add(switch.step(t, pre, post, ps, node=node))
            for inv in INVARIANTS:
                if answers[inv.name] and answers[inv.name][-1].status != "proved":
                    continue
                answers[inv.name].append(_check_conjuncts(solver, inv.formula(post)))
            solver.pop()
        for inv in INVARIANTS:
            got = answers[inv.name]
            ans = attrs.evolve(got[-1], seconds=sum(a.seconds for a in got))
            cex = None
            if ans.model is not None:
                m = ans.model
                steps = (
                    Step(_state(m, pre, True), ASSUMED),
                    Step(_state(m, post, True), t.name, _params(m, t, ps)),
                )
                cex = Counterexample(steps=steps, violated=inv.name)
            results.append(result(MODEL, "consecution", inv.name, t.name, ans, cex))
    return results


def check_bounded(bugs: frozenset[str], depth: int, timeout_ms: int) -> list[ProofResult]:
    """No run of at most `depth` steps from init violates a safety invariant; the shortest if one does.

    One solver for every invariant: depth by depth, each invariant not yet refuted gets a frame.
    """
    run = _Unrolling(bugs, depth)
    safety = [i for i in INVARIANTS if not i.auxiliary]
    answers = {inv.name: Answer("proved", None, 0.0) for inv in safety}
    seconds = dict.fromkeys(answers, 0.0)
    cexes: dict[str, Counterexample] = {}
    solver = new_solver(timeout_ms)
    solver.add(switch.init(run.states[0]))
    for d in range(depth + 1):
        if d > 0:
            solver.add(run.relation[d - 1])
        for inv in safety:
            if answers[inv.name].status != "proved":
                continue
            claim = [z3.Not(inv.formula(run.states[d]))]
            ans = check_in_frame(solver, claim, valid=True, shrink=run.small_ops)
            answers[inv.name] = ans
            seconds[inv.name] += ans.seconds
            if ans.model is not None:
                cexes[inv.name] = Counterexample(steps=run.trace(ans.model, d), violated=inv.name)
    return [
        result(
            MODEL,
            "bounded",
            inv.name,
            f"runs <= {depth} steps",
            attrs.evolve(answers[inv.name], seconds=seconds[inv.name]),
            cexes.get(inv.name),
        )
        for inv in safety
    ]


def check(
    bugs: Iterable[str] = (), *, depth: int = switch.DEPTH, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    """Every obligation of the switch model."""
    found = frozenset(bugs)
    return [
        *check_nonvacuous(found, depth, timeout_ms),
        *check_inductive(found, timeout_ms),
        *check_bounded(found, depth, timeout_ms),
    ]

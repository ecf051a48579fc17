"""The pending scenario: operations left without an answer, and the answers that follow them, held
to ManagerAnswers (answers.py).

One deterministic run per seed of `SEEDS`. After a critical and a coordination op with every node
up, each consensus layer loses two of its four nodes (more than f: no quorum) for one op, which
gets no answer within the bound (`NoAnswer`: the layer still holds it), and the nodes come back
before the next op of that layer: PBFT `PBFT_ROUNDS` times, the hybrid cluster once. Then
`CALM_OPS` more of each. The PBFT client keeps sending the pending request, and its reply can
come while the next critical op waits: the moment a manager that takes the first reply its
client accepts answers that op with the earlier one's result (the mutant
`reply_of_another_request`).

A run that holds but in which an outage left no op pending, or no such reply came while a later
op waited, did not exercise what it is for: that is an error (AssertionError naming it), never a
pass.
"""

from __future__ import annotations

from typing import Any

import hypothesis

from meshcheck.impl.manager import Manager
from meshcheck.impl.manager import NoAnswer
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.routing.answers import answers_problem
from meshcheck.property_tests.routing.free_runs import Data
from meshcheck.property_tests.routing.observe import Submitter
from meshcheck.property_tests.routing.observe import routing_problem

SEEDS = (4, 13)
GIVE_UP = 1000  # ticks a layer has to answer: PBFT's client timeout is 300, a view change 150
PBFT_ROUNDS = 2
CALM_OPS = 2


def pending_run(seed: int, bugs: frozenset[str] = frozenset()) -> tuple[Manager, Submitter, str]:
    """The run of one seed (the module doc): the manager, what its submitter saw, and what the run
    failed to exercise ("" when it left an op pending at each outage and a reply to a pending
    request came while a later critical op waited)."""
    m = Manager(seed=seed, bugs=bugs, give_up_after=GIVE_UP)
    sub = Submitter(m)
    op_data = Data()

    def submit(kind: str) -> None:
        sub(kind, op_data(kind, len(sub.seen) + 1))

    submit("critical")
    submit("coordination")
    hybrid = m.hybrid.sim
    outages: list[tuple[Simulator[Any], tuple[str, ...], str]] = [
        *[(m.pbft, ("r3", "r4"), "critical")] * PBFT_ROUNDS,
        (hybrid, tuple(hybrid.node_ids[2:]), "coordination"),
    ]
    missed: list[str] = []
    late = 0
    for sim, nodes, kind in outages:
        for node in nodes:
            sim.crash(node)
        submit(kind)
        left = sub.seen[-1]
        if not isinstance(left.error, NoAnswer):
            missed.append(f"{kind} op #{len(sub.seen)} was answered with {', '.join(nodes)} down")
        for node in nodes:
            sim.recover(node)
        before = len(m.pbft.replies)
        submit(kind)
        if kind == "critical":  # PBFT's requests are named by the client's timestamp
            timestamp = left.after[2]
            late += sum(1 for _, r in m.pbft.replies[before:] if r.request_id == timestamp)
    if not late:
        missed.append("no reply to a pending request came while a later critical op waited")
    for _ in range(CALM_OPS):
        submit("critical")
        submit("coordination")
    return m, sub, "; ".join(missed)


def pending_scenario(bugs: frozenset[str], settings: hypothesis.settings | None = None) -> None:
    """The check: the run of each of `SEEDS`; CheckFailed on a broken ManagerAnswers (or routing
    invariant), AssertionError when a run that holds did not exercise it."""
    for seed in SEEDS:
        m, sub, missed = pending_run(seed, bugs)
        problem = answers_problem(m, sub.seen) or routing_problem(m, sub.seen)
        if problem is not None:
            raise CheckFailed(f"{problem} (pending scenario, seed {seed})", steps=len(sub.seen))
        if missed:
            raise AssertionError(
                f"pending scenario, seed {seed}: {missed}: the run did not exercise what "
                "ManagerAnswers is for"
            )

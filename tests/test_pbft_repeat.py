"""A Byzantine primary that orders again what it ordered before (impl/pbft/byzantine/behaviours.py
`Repeat`): correct replicas execute the repeated requests as nothing, their reply tables keeping
each operation to one application, and the client histories hold; replicas with the catalogue
mutant `execute_again` apply an old write again, which the client-history checks see. The same
behaviour shows the mutant in processes (tests/test_cluster_pbft_byzantine.py)."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.pbft import Replica
from meshcheck.impl.pbft import pbft_cluster
from meshcheck.impl.pbft.byzantine import Repeat
from meshcheck.impl.pbft.byzantine.node import corrupt
from meshcheck.impl.pbft.mutants import EXECUTE_AGAIN
from meshcheck.impl.sim import Workload
from meshcheck.property_tests.histories import check_history
from meshcheck.property_tests.pbft.free_runs import honest
from meshcheck.property_tests.pbft.free_runs import request_key
from meshcheck.property_tests.pbft.free_runs import rsm_op


def repeated(bugs: frozenset[str], seed: int) -> tuple[int, str | None]:
    """Four replicas, r1 (the primary of view 0) repeating: how many requests the honest replicas
    executed at a second sequence number in all, and the first client-history check that fails."""
    sim = pbft_cluster(
        4,
        seed=seed,
        bugs=bugs,
        byzantine={"r1": corrupt(Repeat())},
        workload=Workload(every=20, until=1500, make=rsm_op),
    )
    sim.run(until=3000)
    again = 0
    for r in honest(sim):
        replica: Any = sim.nodes[r]
        assert isinstance(replica, Replica)
        requests = [request.body for batch in replica.executed for request in batch]
        again += len(requests) - len(set(requests))
    return again, check_history(sim, honest=honest(sim), dedup=True, identity=request_key)


@pytest.mark.parametrize("seed", [0, 1])
def test_correct_replicas_execute_a_repeated_request_as_nothing(seed: int) -> None:
    again, problem = repeated(frozenset(), seed)
    assert again > 0  # the repeated requests reached the honest replicas' logs
    assert problem is None, problem


@pytest.mark.parametrize("seed", [0, 1])
def test_replicas_that_execute_again_apply_an_old_write_twice(seed: int) -> None:
    _, problem = repeated(frozenset({EXECUTE_AGAIN}), seed)
    assert problem is not None and problem.startswith("applied at most once: r")


def test_a_repeat_of_every_zero_numbers_is_refused() -> None:
    with pytest.raises(ImplError, match="every must be at least 1, not 0"):
        Repeat(every=0)

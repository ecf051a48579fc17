"""What the BFT protocols' client-reply checks share (property_tests/pbft/client_replies.py,
property_tests/hotstuff/client_replies.py): each protocol says how a run of replies is drawn and
judged (`OneReplicaIsNeverBelieved` for one run and one delivery order) and how its latency under
one liar is checked (one run, from a seed, the liar and its lie); the drawing of the delivery order
and of the latency runs, the Check that runs both properties and the measurement over many runs are
the same for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.property_tests.failure import CheckFailed

Run = Mapping[str, Any]

# LatencyUnderOneLiar's examples: each is a whole simulation of the protocol's requests (45 to 75
# ms), and a lie that misleads the client shows in the first request of any run that draws it; the
# catalogue's sweep runs this check for every mutant the checks before it leave, so its budget is
# capped (the 200-run measurements in the protocols' test_client_replies.py run it in full)
LATENCY_EXAMPLES = 20


def never_believed(
    bugs: frozenset[str],
    settings: hypothesis.settings,
    reply_runs: Callable[[], st.SearchStrategy[Any]],
    reply_count: Callable[[Run], int],
    one_replica_is_never_believed: Callable[[Run, Sequence[int], frozenset[str]], None],
) -> None:
    """OneReplicaIsNeverBelieved over drawn runs, each delivered in a drawn order, a few replies
    twice. (The property's source is each protocol's as it was: Hypothesis derives a derandomized
    run's seed from it.)"""

    @hypothesis.settings(settings, report_multiple_bugs=False)
    @given(st.data())
    def prop(data: st.DataObject) -> None:
        run = data.draw(reply_runs(), "run")
        count = reply_count(run)
        order = data.draw(st.permutations(range(count)), "order")
        again = data.draw(st.lists(st.integers(0, count - 1), max_size=3), "delivered again")
        one_replica_is_never_believed(run, [*order, *again], bugs)

    prop()


@attrs.frozen
class ClientReplies:
    """One protocol's two client-reply properties: the pieces of OneReplicaIsNeverBelieved, and
    LatencyUnderOneLiar's: one run (`latency_under_one_liar(seed, liar, lie, bugs)`: what went
    wrong, or None), the lies drawn, the replicas r1..rN and the requests of a run."""

    reply_runs: Callable[[], st.SearchStrategy[Any]]
    reply_count: Callable[[Run], int]
    one_replica_is_never_believed: Callable[[Run, Sequence[int], frozenset[str]], None]
    latency_under_one_liar: Callable[[int, str, Any, frozenset[str]], str | None]
    lies: Callable[[], st.SearchStrategy[Any]]
    replicas: int
    requests: int

    def never_believed(self, bugs: frozenset[str], settings: hypothesis.settings) -> None:
        """OneReplicaIsNeverBelieved over drawn runs (`never_believed`)."""
        never_believed(
            bugs, settings, self.reply_runs, self.reply_count, self.one_replica_is_never_believed
        )

    def latency(
        self, bugs: frozenset[str], settings: hypothesis.settings, *, capped: bool = True
    ) -> None:
        """LatencyUnderOneLiar over drawn runs; `capped`: at most LATENCY_EXAMPLES of them."""
        replicas = [f"r{k}" for k in range(1, self.replicas + 1)]
        budget = min(settings.max_examples, LATENCY_EXAMPLES) if capped else settings.max_examples

        @hypothesis.settings(settings, report_multiple_bugs=False, max_examples=budget)
        @given(st.integers(0, 2**16), st.sampled_from(replicas), self.lies())
        def prop(seed: int, liar: str, lie: Any) -> None:
            problem = self.latency_under_one_liar(seed, liar, lie, bugs)
            if problem is not None:
                raise CheckFailed(problem, steps=self.requests)

        prop()

    def client_replies(self, bugs: frozenset[str], settings: hypothesis.settings) -> None:
        """The Check: both properties with `bugs` switched on; CheckFailed on the first that
        fails."""
        self.never_believed(bugs, settings)
        self.latency(bugs, settings)

    def measure(self, settings: hypothesis.settings) -> float:
        """Both properties over every example of `settings` (the latency runs uncapped) on the
        unmutated client and cores: the seconds they took."""
        start = time.monotonic()
        self.never_believed(frozenset(), settings)
        self.latency(frozenset(), settings, capped=False)
        return time.monotonic() - start

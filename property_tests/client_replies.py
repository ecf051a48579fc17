"""What the BFT protocols' client-reply checks share (property_tests/pbft/client_replies.py,
property_tests/hotstuff/client_replies.py): each protocol says how a run of replies is drawn and
judged (`OneReplicaIsNeverBelieved` for one run and one delivery order) and how its latency under
one liar is checked; the drawing of the delivery order, the Check that runs both properties and the
measurement over many runs are the same for both.
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

Run = Mapping[str, Any]


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
    LatencyUnderOneLiar, called as `latency(bugs, settings, *, capped=True)`."""

    reply_runs: Callable[[], st.SearchStrategy[Any]]
    reply_count: Callable[[Run], int]
    one_replica_is_never_believed: Callable[[Run, Sequence[int], frozenset[str]], None]
    latency: Callable[..., None]

    def never_believed(self, bugs: frozenset[str], settings: hypothesis.settings) -> None:
        """OneReplicaIsNeverBelieved over drawn runs (`never_believed`)."""
        never_believed(
            bugs, settings, self.reply_runs, self.reply_count, self.one_replica_is_never_believed
        )

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

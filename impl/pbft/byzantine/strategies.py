"""Hypothesis strategies that choose Byzantine replicas and what they do, for the property tests.

`byzantine_strategy(n, f)` draws an assignment {replica id: behaviours} of at most `max_faulty`
replicas (f by default: the runs whose safety PBFT promises; f + 1 to show the checks can fail).
Each chosen replica gets one to `max_behaviours` behaviours, at most one of them `Twins`; among
them the lies it may tell its clients (replies.py: `LieToClient`, `LyingReplies`, `FuzzReplies`),
so that every free run's client, and the checks of what it saw (linearizability of its history,
the probe's answer), face a replica that lies in its replies as well as to its peers. Every
value is a frozen attrs value with a `repr` that is valid Python, so a shrunk counterexample can be
pasted back as a regression test.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from meshcheck.impl.pbft.byzantine.behaviours import FORGERIES
from meshcheck.impl.pbft.byzantine.behaviours import AnyBehaviour
from meshcheck.impl.pbft.byzantine.behaviours import Equivocate
from meshcheck.impl.pbft.byzantine.behaviours import ForgeSignature
from meshcheck.impl.pbft.byzantine.behaviours import HidePrepared
from meshcheck.impl.pbft.byzantine.behaviours import MissingSignature
from meshcheck.impl.pbft.byzantine.behaviours import Replay
from meshcheck.impl.pbft.byzantine.behaviours import Silent
from meshcheck.impl.pbft.byzantine.behaviours import TamperDigest
from meshcheck.impl.pbft.byzantine.behaviours import Twins
from meshcheck.impl.pbft.byzantine.replies import LIES
from meshcheck.impl.pbft.byzantine.replies import FuzzReplies
from meshcheck.impl.pbft.byzantine.replies import LieToClient
from meshcheck.impl.pbft.byzantine.replies import LyingReplies

Assignment = dict[str, tuple[AnyBehaviour, ...]]


def replica_ids(n: int) -> tuple[str, ...]:
    return tuple(f"r{k}" for k in range(1, n + 1))


def behaviour_strategy(replica: str, replicas: Sequence[str]) -> st.SearchStrategy[AnyBehaviour]:
    """One behaviour for `replica` in a group of `replicas`."""
    others = sorted(r for r in replicas if r != replica)
    shares = st.sampled_from([1.0, 0.5, 0.1])
    # a proper, non-empty part of the peers (twins need two sides; an equivocator two audiences)
    parts = st.frozensets(st.sampled_from(others), min_size=1, max_size=len(others) - 1)

    @st.composite
    def twins(draw: st.DrawFn) -> Twins:
        a = draw(parts)
        rest = sorted(set(others) - a)
        shared = draw(st.frozensets(st.sampled_from(rest), max_size=len(rest) - 1))
        return Twins(a, shared)

    return st.one_of(
        st.builds(Silent, share=shares),
        st.builds(Equivocate, group=st.none() | parts),
        st.builds(TamperDigest, share=shares),
        st.builds(ForgeSignature, how=st.sampled_from(FORGERIES), share=shares),
        st.builds(MissingSignature, bare=st.booleans(), share=shares),
        st.builds(Replay, share=st.sampled_from([0.1, 0.3, 1.0]), burst=st.integers(1, 4)),
        st.builds(HidePrepared, keep=st.sampled_from([0.0, 0.5])),
        twins(),
        lies_to_clients(),
    )


def lies_to_clients() -> st.SearchStrategy[AnyBehaviour]:
    """What a replica tells its clients (replies.py): one branch of `behaviour_strategy`, its last,
    so that the lies to peers keep most of the draws and a failing run shrinks towards them."""
    shares = st.sampled_from([1.0, 0.5, 0.1])
    return st.one_of(
        st.builds(LyingReplies, share=shares, by=st.integers(1, 2), timestamp=st.booleans()),
        st.builds(LieToClient, field=st.sampled_from(LIES), share=shares, by=st.integers(1, 2)),
        st.builds(FuzzReplies, share=shares, resign=st.sampled_from([0.5, 0.0, 1.0])),
    )


def _one_twins(behaviours: list[AnyBehaviour]) -> tuple[AnyBehaviour, ...]:
    out: list[AnyBehaviour] = []
    for b in behaviours:
        if isinstance(b, Twins) and any(isinstance(o, Twins) for o in out):
            continue
        if b not in out:
            out.append(b)
    return tuple(out)


def byzantine_strategy(
    n: int,
    f: int | None = None,
    *,
    max_faulty: int | None = None,
    min_faulty: int = 0,
    max_behaviours: int = 2,
) -> st.SearchStrategy[Assignment]:
    """Assignments of behaviours to between `min_faulty` and `max_faulty` (default f, itself by
    default (n - 1) // 3) of the replicas r1..rn."""
    f = (n - 1) // 3 if f is None else f
    top = f if max_faulty is None else max_faulty
    replicas = replica_ids(n)

    @st.composite
    def assignment(draw: st.DrawFn) -> Assignment:
        chosen = draw(
            st.lists(st.sampled_from(replicas), min_size=min_faulty, max_size=top, unique=True)
        )
        out: Assignment = {}
        for r in sorted(chosen):
            drawn = draw(
                st.lists(behaviour_strategy(r, replicas), min_size=1, max_size=max_behaviours)
            )
            out[r] = _one_twins(drawn)
        return out

    return assignment()

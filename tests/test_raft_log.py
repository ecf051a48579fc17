"""impl/raft/log.py against a dumb twin: the whole log as a plain list of terms, the snapshot as a
prefix marked compacted (etcd-io/raft's log_test.go style: every accessor on every index, after
random appends, conflict truncations and compactions, including the boundaries)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from meshcheck.impl.raft.log import RaftLog
from meshcheck.impl.raft.messages import Entry


class Twin:
    """terms[i] is the term of entry i+1 of the whole history; the first `compacted` are folded
    into the snapshot, whose last term is `snap_term`."""

    def __init__(self) -> None:
        self.terms: list[int] = []
        self.compacted = 0
        self.snap_term = 0

    def term_at(self, index: int) -> int | None:
        if index == self.compacted:
            return self.snap_term
        if self.compacted < index <= len(self.terms):
            return self.terms[index - 1]
        return None

    def first_index_of_term(self, term: int, upto: int) -> int:
        """The lowest index from the snapshot's on from which every entry up to `upto` has `term`."""
        return min(
            first
            for first in range(self.compacted, upto + 1)
            if all(self.term_at(k) == term for k in range(first, upto + 1))
        )


step = st.one_of(
    st.tuples(st.just("append"), st.lists(st.integers(1, 4), max_size=3)),
    st.tuples(st.just("truncate"), st.integers(0, 8)),
    st.tuples(st.just("compact"), st.integers(0, 10), st.integers(0, 4)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(step, max_size=12))
def test_every_accessor_on_every_index_is_the_twins(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    log, twin = RaftLog(), Twin()
    for op in steps:
        version, base = log.version, log.base
        if op[0] == "append":
            log.append(Entry(t, f"v{t}") for t in op[1])
            twin.terms += op[1]
            assert log.version > version and log.base == base  # only appended
        elif op[0] == "truncate":
            # from just below the snapshot (everything after it goes) to one past the end
            low = max(1, twin.compacted - 1)
            index = low + op[1] % (len(twin.terms) + 2 - low)
            log.truncate_from(index)
            del twin.terms[max(index, twin.compacted + 1) - 1 :]
            assert log.version > version and log.base == log.version
        else:
            _, index, term = op
            keeps = index <= len(twin.terms) and twin.term_at(index) == term
            log.compact(index, term)
            if keeps:
                twin.terms = twin.terms[:index] + twin.terms[index:]
            else:  # a snapshot that does not match the log replaces it
                twin.terms = [term] * index
            twin.compacted, twin.snap_term = index, term
            assert log.version > version and log.base == log.version
        assert log.snapshot_index == twin.compacted and log.snapshot_term == twin.snap_term
        assert log.last_index == len(twin.terms)
        assert log.last_term == (
            twin.terms[-1] if len(twin.terms) > twin.compacted else twin.snap_term
        )
        for index in range(-1, len(twin.terms) + 3):
            assert log.term_at(index) == twin.term_at(index), index
        for upto in range(twin.compacted, len(twin.terms) + 1):
            term = twin.term_at(upto)
            assert term is not None
            assert log.first_index_of_term(term, upto) == twin.first_index_of_term(term, upto)
        for index in range(twin.compacted + 1, len(twin.terms) + 1):
            assert log.entry(index).term == twin.terms[index - 1]
            assert log.position(index) == index - twin.compacted - 1
            for stop in range(index, len(twin.terms) + 2):
                assert [e.term for e in log.slice(index, stop)] == twin.terms[index - 1 : stop - 1]


def test_the_fast_backup_hint_is_the_first_index_of_the_run() -> None:
    """The first index of the run of a term ending at `upto` (runs of odd and even length), never
    below the snapshot's index."""
    log = RaftLog(entries=[Entry(t, "v") for t in (1, 1, 2, 2, 2, 4)])
    assert [log.first_index_of_term(t, u) for t, u in ((1, 2), (2, 4), (2, 5), (4, 6))] == [
        1,
        3,
        3,
        6,
    ]
    log.compact(3, 2)
    assert log.first_index_of_term(2, 5) == 3


def test_a_snapshot_keeps_the_matching_suffix_and_replaces_a_conflicting_log() -> None:
    log = RaftLog(entries=[Entry(1, "a"), Entry(1, "b"), Entry(2, "c")])
    log.compact(2, 1)  # entry 2 has term 1: keep entry 3
    assert (log.snapshot_index, log.snapshot_term, log.entries) == (2, 1, [Entry(2, "c")])
    log.compact(3, 3)  # entry 3 has term 2, not 3: the log goes
    assert (log.snapshot_index, log.snapshot_term, log.entries) == (3, 3, [])
    assert log.last_index == 3 and log.last_term == 3
    log.compact(5, 3)  # beyond the log: nothing to keep
    assert (log.snapshot_index, log.entries) == (5, [])
    fresh = RaftLog(snapshot_index=4, snapshot_term=2, entries=[Entry(3, "x")])
    assert fresh.term_at(4) == 2 and fresh.term_at(5) == 3 and fresh.term_at(3) is None
    assert fresh.version == fresh.base

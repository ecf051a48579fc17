"""`meshcheck validate --spec HotStuff`: the logs of HotStuff replicas run as processes, validated
against specs/HotStuff.tla through specs/HotStuffLogs.tla (traces/logs/hotstuff.py: the blocks
by view and parent view, the fitted model; the runtime's side: impl/runtime/hotstuff_log.py).

tests/data/logs/hotstuff-run.ndjson is a real run's: four replicas as processes (`meshcheck cluster
test --protocol hotstuff --nodes 4 --time 4 --seed 1 --nemesis kill`, r3 killed at 0.9 s), its four
logs merged and cut at Lamport clock 240 (a prefix of every log up to one clock is a consistent
cut: each receive's send is in it). It holds votes, QCs, the timeouts of the views r3 led while
down and the new views after them, and commits.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from meshcheck.cli import main
from meshcheck.impl.base.values import FrozenDict
from meshcheck.traces.logs import LogRecord
from meshcheck.traces.logs import merge
from meshcheck.traces.logs import read
from meshcheck.traces.logs.format import LogFormatError
from meshcheck.traces.logs.format import write
from meshcheck.traces.logs.hotstuff import decode
from meshcheck.traces.logs.hotstuff import fit_hotstuff

DATA = Path(__file__).parent / "data" / "logs"
RUN = DATA / "hotstuff-run.ndjson"


def block(view: int, parent: int) -> FrozenDict:
    return FrozenDict({"view": view, "parent": parent})


@pytest.fixture(scope="module")
def records() -> list[LogRecord]:
    return merge([read(RUN)])


def test_the_run_of_processes_is_a_behaviour_of_the_spec(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--spec", "HotStuff", str(RUN)]) == 0
    assert capsys.readouterr().out.startswith("valid: 395 of 395 steps")


def test_the_model_is_fitted_to_the_logs(records: list[LogRecord]) -> None:
    fitted = fit_hotstuff(records, {})
    top = max(r.state["view"] for r in records)
    assert fitted["MaxView"] == fitted["GST"] == str(top + 1)
    # one edge per block the logs name, its parent's view first: a timeout shows as a gap
    assert fitted["LogEdges"].startswith("{{0, 1}, {0, 2}, {0, 4}, {4, 5}")
    new_views = [r for r in records if r.action == "NewView"]
    assert new_views and all(
        f"{{{r.state['highQC']['view']}, {r.params['v']}}}" in fitted["LogEdges"] for r in new_views
    )


def test_a_block_is_rebuilt_as_the_specs_chain(records: list[LogRecord]) -> None:
    decoded = decode(records)
    vote = next(r for r in decoded if r.action == "Vote" and len(r.params["b"]) >= 3)
    chain = vote.params["b"]
    views = [e["view"] for e in chain]
    assert views == sorted(views) and {e["cmd"] for e in chain} == {"a"}
    committed = next(r.state["committed"] for r in decoded if "committed" in r.state)
    head = max(committed, key=len)
    assert committed == {head[:k] for k in range(1, len(head) + 1)}


def _run(
    records: list[LogRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    path = write(records, tmp_path / "broken.ndjson")
    code = main(["validate", "--spec", "HotStuff", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_lock_left_behind_is_no_step(
    records: list[LogRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vote that does not move the lock to the two-chain (lock_not_updated): its record is
    named, with the lock logged against the spec's."""
    k = next(
        k
        for k, r in enumerate(records)
        if r.action == "Vote" and r.state["locked"]["view"] > 0 and k > 50
    )
    broken = list(records)
    broken[k] = attrs.evolve(
        records[k], state=FrozenDict({**records[k].state, "locked": block(0, 0)})
    )
    code, out = _run(broken, tmp_path, capsys)
    assert code == 1, out
    assert f"broken.ndjson:{k + 1}: Vote(i={records[k].node}" in out
    assert f"locked[{records[k].node}]: logged [parent |-> 0, view |-> 0], spec [parent" in out


def test_a_commit_on_a_two_chain_is_no_step(
    records: list[LogRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vote that commits the two-chain's head, one block above the three-chain's
    (commit_on_two_chain)."""
    k = next(k for k, r in enumerate(records) if "committed" in r.state)
    r = records[k]
    (head,) = r.state["committed"]
    one_up = next(
        b
        for b in (r.params["b"], r.state["highQC"], r.state["locked"])
        if b["parent"] == head["view"]
    )
    broken = list(records)
    broken[k] = attrs.evolve(r, state=FrozenDict({**r.state, "committed": frozenset({one_up})}))
    code, out = _run(broken, tmp_path, capsys)
    assert code == 1, out
    assert f"broken.ndjson:{k + 1}: Vote(i={r.node}" in out
    logged = f"[parent |-> {one_up['parent']}, view |-> {one_up['view']}]"
    assert f"committed[{r.node}]: logged {{{logged}}}, spec {{[parent" in out, out


@pytest.mark.parametrize(
    "change, says",
    [
        ({"b": FrozenDict({"view": 3})}, "params.b: [view |-> 3]: a block is {view, parent}"),
        ({"b": block(3, 5)}, "the parent's view below the block's"),
        ({"b": block(5, 0)}, "the block of view 5 has parent 4 here and 0 at"),
    ],
)
def test_bad_blocks_are_one_line_and_exit_2(
    records: list[LogRecord],
    change: dict[str, FrozenDict],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    k = next(k for k, r in enumerate(records) if r.action == "Vote" and k > 20)
    broken = list(records)
    broken[k] = attrs.evolve(records[k], params=FrozenDict({**records[k].params, **change}))
    code, out = _run(broken, tmp_path, capsys)
    assert code == 2, out
    assert out.count("\n") == 1 and says in out, out


def test_two_parents_of_a_view_are_refused() -> None:
    r = LogRecord("r1", "Vote", {"i": "r1", "b": block(2, 1)}, {}, 1, "x", "a:1")
    s = LogRecord("r2", "Vote", {"i": "r2", "b": block(2, 0)}, {}, 1, "x", "a:2")
    with pytest.raises(LogFormatError, match="one block per view"):
        decode([r, s])

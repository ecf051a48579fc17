"""The system runner's client loops (workloads.py's `Workload` driving checked_clients.py's and
stream_workload.py's clients) against a client in memory: each client is bound to a node, stays
the same process on it while its operations are answered, and after an `info` is a new process
(`c<k>.<round>.<generation + 1>`) on the next node; a fenced-lock acquire that fails (no lease
could be had) moves to the next node as the same process; the loop stops at its deadline and
closes its client. One test per workload, so each workload's loop is covered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshcheck.systems.plugin import ClientSettings
from meshcheck.systems.plugin import Completion
from meshcheck.systems.plugin import Endpoint
from meshcheck.systems.plugin import Invocation
from meshcheck.systems.run import RunOptions
from meshcheck.systems.run import _keep
from meshcheck.systems.workloads import Workload

ENDPOINTS = [Endpoint(f"e{i}", "127.0.0.1", 1000 + i) for i in (1, 2, 3)]
STEP = 0.1  # what one invocation takes on the fake clock
Answer = Callable[[Invocation], Completion]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Fake:
    """A client whose invocations advance `clock` and are answered by `answer`; every invocation
    is logged as (node, process, f, status), every open and close as (node, "open"/"close")."""

    def __init__(self, clock: Clock, answer: Answer, log: list[tuple[str, ...]]) -> None:
        self.clock, self.answer, self.log = clock, answer, log
        self.node = "-"

    async def open(self, endpoint: Endpoint, timeout: float) -> None:
        self.node = endpoint.node
        self.log.append((self.node, "open"))

    async def invoke(self, op: Invocation, timeout: float) -> Completion:
        self.clock.now += STEP
        done = self.answer(op)
        self.log.append((self.node, op.process, op.f, done.status))
        return done

    async def close(self) -> None:
        self.log.append((self.node, "close"))


def drive(
    workload: str,
    answer: Answer,
    *,
    clients: int = 1,
    until: float = 3.0,
    options: dict[str, Any] | None = None,
    client_pause: float = 0.0,
) -> tuple[Workload, list[tuple[str, ...]]]:
    """One round of `workload` until `until` on the fake clock (real sleeps cut to a yield), then
    what the run does after the faults (the stream's read-back, a checked workload's finish)."""
    clock = Clock()
    log: list[tuple[str, ...]] = []
    settings = ClientSettings(options or {}, "linearizable", workload)
    w = Workload(lambda _: Fake(clock, answer, log), settings, ENDPOINTS, clock, clients=clients,
                 rate=1000.0, seed=3, client_pause=client_pause)  # fmt: skip
    real_sleep = asyncio.sleep

    async def go() -> None:
        await w.run(until)
        if workload == "stream":
            await w.read_back()
        if w.checked is not None:
            await w.checked.finish()

    async def instant(_: float, result: Any = None) -> Any:
        return await real_sleep(0, result)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(asyncio, "sleep", instant)
        asyncio.run(go())
    return w, log


def invocations(log: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [e for e in log if len(e) == 4]


def once(status: str, at: int, then: Answer, f: str = "") -> Answer:
    """`then`'s answers, but the `at`-th invocation (1-based; of `f` only, if given) answers
    `status`."""
    seen = iter(range(1, 1_000_000))

    def answer(op: Invocation) -> Completion:
        if (not f or op.f == f) and next(seen) == at:
            return Completion(status, None)  # type: ignore[arg-type]
        return then(op)

    return answer


def split(log: list[tuple[str, ...]], at: int) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The (node, process) pairs of the invocations up to the `at`-th and of those after."""
    ops = invocations(log)
    return {(n, p) for n, p, *_ in ops[:at]}, {(n, p) for n, p, *_ in ops[at:]}


def test_list_append_turns_to_a_new_process_on_the_next_node_after_an_info() -> None:
    def txn(op: Invocation) -> Completion:
        return Completion("ok", [[f, k, [] if f == "r" else v] for f, k, v in op.value])

    w, log = drive("list-append", once("info", 3, txn))
    before, after = split(log, 3)
    assert before == {("e1", "c1.1.0")} and after == {("e2", "c1.1.1")}
    assert len(invocations(log)) > 6
    assert log[0] == ("e1", "open") and log[-1] == ("e2", "close")
    assert w.checked is not None
    lines = [json.loads(line) for line in w.checked.dumps().splitlines()]
    assert len(lines) == 2 * len(invocations(log))  # an invocation and a completion each
    assert [o.process for o in w.history.ops][:4] == ["c1.1.0"] * 3 + ["c1.1.1"]
    assert w.history.nodes[:4] == ["e1"] * 3 + ["e2"]


def test_lease_turns_after_an_unanswered_read_and_keeps_its_lease_alive() -> None:
    def lease(op: Invocation) -> Completion:
        return {"grant": Completion("ok", 7), "read": Completion("ok", "v")}.get(
            op.f, Completion("ok")
        )

    w, log = drive("lease", once("info", 3, lease), options={"lease_workload_ttl": 1})
    ops = invocations(log)
    assert [f for _, _, f, _ in ops[:3]] == ["grant", "put", "read"]
    before, after = split(log, 3)
    assert before == {("e1", "c1.1.0")} and after == {("e2", "c1.1.1")}
    assert "keepalive" in {f for _, _, f, _ in ops}
    assert w.checked is not None
    fs = [json.loads(line)["f"] for line in w.checked.dumps().splitlines()]
    assert fs[:2] == ["grant", "put"] and "keepalive" in fs


def test_watch_writers_and_watchers_turn_after_an_info() -> None:
    revision = iter(range(1, 1_000_000))

    def store(op: Invocation) -> Completion:
        if op.f == "watch":
            events = [[f"{op.key}k0", op.value[0], "put", "1"]]
            return Completion("ok", {"events": events, "ended": ""})
        return Completion("ok", next(revision))

    # client 1 writes from e1, client 2 watches from e2; the writer's 2nd put goes unanswered,
    # then the watcher's 2nd watch
    answer = once("info", 2, once("info", 2, store, "watch"), "put")
    w, log = drive("watch", answer, clients=2)
    ops = invocations(log)
    writer = [(n, p) for n, p, *_ in ops if p.startswith("c1.")]
    watcher = [(n, p) for n, p, *_ in ops if p.startswith("c2.")]
    puts = [i for i, (_, p, f, _) in enumerate(ops) if p.startswith("c1.") and f == "put"]
    assert writer[:2] == [("e1", "c1.1.0")] * 2 and set(writer[2:]) == {("e2", "c1.1.1")}, puts
    assert watcher[:2] == [("e2", "c2.1.0")] * 2 and set(watcher[2:]) == {("e3", "c2.1.1")}
    assert {f for _, p, f, _ in ops if p.startswith("c2.")} == {"watch"}
    assert {f for _, p, f, _ in ops if p.startswith("c1.")} <= {"put", "delete"}
    assert ops[-1][1] == "final"  # finish: the whole history read with one more watch
    assert w.checked is not None
    heads = [json.loads(line)["f"] for line in w.checked.dumps().splitlines()]
    assert {"change", "watch", "event"} <= set(heads)


def test_fenced_lock_moves_on_a_failed_acquire_and_turns_after_a_lost_one() -> None:
    tokens = iter(range(1, 1_000_000))

    def lock(op: Invocation) -> Completion:
        return Completion("ok", next(tokens)) if op.f == "acquire" else Completion("ok")

    _, log = drive("fenced-lock", once("fail", 1, lock))
    ops = invocations(log)
    assert ops[0][:3] == ("e1", "c1.1.0", "acquire") and ops[1][:2] == ("e2", "c1.1.0")
    _, log = drive("fenced-lock", once("info", 1, lock))
    before, after = split(log, 2)  # the lost acquire, then its revoke, as the old process
    assert before == {("e1", "c1.1.0")} and after == {("e2", "c1.1.1")}
    assert [f for _, _, f, _ in invocations(log)[:2]] == ["acquire", "revoke"]


def test_fenced_lock_first_client_stalls_once_holding_the_lock() -> None:
    tokens = iter(range(1, 1_000_000))

    def lock(op: Invocation) -> Completion:
        return Completion("ok", next(tokens)) if op.f == "acquire" else Completion("ok")

    w, log = drive("fenced-lock", lock, clients=2, client_pause=0.5)
    fs = [f for _, p, f, _ in invocations(log) if p.startswith("c1.")]
    assert fs[:5] == ["acquire", "fenced-write", "fenced-write", "release", "revoke"]
    assert w.checked is not None
    assert w.checked.client_pause == 0.5


def test_stream_turns_after_an_info_and_reads_every_node_back() -> None:
    def stream(op: Invocation) -> Completion:
        if op.f in ("consume", "read"):
            return Completion("ok", ["m1"])
        return Completion("ok", 1)

    w, log = drive("stream", once("info", 2, stream))
    ops = invocations(log)
    before, _ = split(log, 2)
    assert before == {("e1", "c1.1.0")}
    assert {(n, p) for n, p, *_ in ops if p.startswith("c")} - before == {("e2", "c1.1.1")}
    reads = [(n, p) for n, p, f, _ in ops if f == "read"]
    assert reads == [("e1", "e1"), ("e2", "e2"), ("e3", "e3")]
    recorded = {(o.f, o.output) for o in w.history.ops}
    assert ("read", ("m1",)) in recorded and ("publish", None) in recorded
    assert w.history.nodes[-3:] == ["e1", "e2", "e3"]


def test_a_stream_read_back_without_an_answer_is_recorded_failed_and_retried() -> None:
    def stream(op: Invocation) -> Completion:
        return Completion("ok", ["m1"])

    w, log = drive("stream", once("info", 1, stream, "read"), until=0.0)
    reads = [(o.process, o.status) for o in w.history.ops if o.f == "read"]
    assert sorted(reads) == [("e1", "fail"), ("e1", "ok"), ("e2", "ok"), ("e3", "ok")]
    assert ("e1", "close") in log and ("e1", "open") in log


@pytest.mark.parametrize("workload", ["registers", "cas"])
def test_registers_and_cas_turn_to_a_new_process_on_the_next_node_after_an_info(
    workload: str,
) -> None:
    def store(op: Invocation) -> Completion:
        if op.f == "cas":  # a revision with the answer, as etcd gives: not the operation's output
            return Completion("ok", 7) if op.value[0] is None else Completion("fail")
        return Completion("ok", "1" if op.f == "read" else 7)

    w, log = drive(workload, once("info", 3, store))
    before, after = split(log, 3)
    assert before == {("e1", "c1.1.0")} and after == {("e2", "c1.1.1")}
    fs = {f for _, _, f, _ in invocations(log)}
    assert fs == ({"read", "write", "cas"} if workload == "cas" else {"read", "write"})
    assert len(w.history.ops) == len(invocations(log)) == len(w.history.nodes)
    assert w.history.nodes[:4] == ["e1"] * 3 + ["e2"]
    assert all(o.output is None for o in w.history.ops if o.f != "read")


def test_lock_moves_on_a_failed_acquire_and_changes_process_after_a_lost_release() -> None:
    _, log = drive("lock", once("fail", 1, lambda op: Completion("ok")))
    ops = invocations(log)
    assert ops[0][:3] == ("e1", "c1.1.0", "acquire") and ops[1][:3] == ("e2", "c1.1.0", "acquire")
    # the release goes unanswered: the revoke is a new process's, on the same node (it was
    # answered); a revoke without an answer turns to the next node as a new process again
    _, log = drive("lock", once("info", 1, lambda op: Completion("ok"), "release"))
    ops = invocations(log)
    assert [(n, p, f) for n, p, f, _ in ops[:4]] == [
        ("e1", "c1.1.0", "acquire"), ("e1", "c1.1.0", "release"), ("e1", "c1.1.1", "revoke"),
        ("e1", "c1.1.1", "acquire"),
    ]  # fmt: skip
    _, log = drive("lock", once("info", 1, lambda op: Completion("ok"), "revoke"))
    ops = invocations(log)
    assert [(n, p, f) for n, p, f, _ in ops[2:4]] == [
        ("e1", "c1.1.0", "revoke"), ("e2", "c1.1.1", "acquire"),
    ]  # fmt: skip


def test_a_stream_runs_history_file_keeps_the_node_asked_and_the_node_that_served(
    tmp_path: Path,
) -> None:
    """The run's history.jsonl of a stream (run.py `_keep`): each invocation names the node its
    client asked, each completion the node the plug-in says served it (a read-back names none)."""

    def stream(op: Invocation) -> Completion:
        if op.f == "read":
            return Completion("ok", ["m1"])
        return Completion("ok", ["m1"] if op.f == "consume" else 1, served="e3")

    w, _ = drive("stream", stream, until=0.01)
    _keep(None, RunOptions(workload="stream"), tmp_path, w, [])  # type: ignore[arg-type]
    lines = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    invoked = {e["node"] for e in lines if e.get("type") == "invoke"}
    assert invoked == {"e1", "e2", "e3"}, lines[:4]
    served = [(e["f"], e.get("served")) for e in lines if e.get("type") == "ok"]
    assert {s for f, s in served if f != "read"} == {"e3"}
    assert [s for f, s in served if f == "read"] == [None] * 3

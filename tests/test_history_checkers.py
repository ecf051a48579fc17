"""The stream, watch, lease and fenced-lock checkers (traces/history/): each anomaly on a
hand-written history of its kind, the valid history beside it that holds, random histories against
a brute-force oracle where one is small enough (stream order: every pair of messages; fencing:
every pair of writes), and the command line's exits."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from meshcheck.traces.history import events
from meshcheck.traces.history import fenced_lock
from meshcheck.traces.history import lease
from meshcheck.traces.history import stream
from meshcheck.traces.history import watch


def evs(*objs: dict[str, object]) -> list[events.Event]:
    return [events.Event(float(i), o) for i, o in enumerate(objs, start=1)]


def op(
    p: object, f: str, value: object = None, out: object = None, status: str = "ok"
) -> list[dict[str, object]]:
    done = value if out is None else out
    return [
        {"process": p, "type": "invoke", "f": f, "value": value},
        {"process": p, "type": status, "f": f, "value": done},
    ]


def found(text: str) -> str:
    return text.splitlines()[0]


# -- stream


def _stream(
    *ops: list[dict[str, object]], header: dict[str, object] | None = None
) -> tuple[str, bool]:
    objs = [*([header] if header else []), *itertools.chain.from_iterable(ops)]
    return stream.check(evs(*objs), "s")


def test_stream_holds_and_each_anomaly_fails() -> None:
    pub = [op(0, "publish", 1), op(0, "publish", 2), op(1, "publish", 3, status="fail")]
    good = _stream(
        *pub,
        op("c1", "consume", None, [1, 2]),
        op("c2", "consume", None, [1]),
        op("c2", "consume", None, [2]),
        op("c1", "ack", [1, 2]),
        op("n1", "read", None, [1, 2]),
    )
    assert good[1], good[0]
    lost = _stream(*pub, op("n1", "read", None, [1, 2]), op("n2", "read", None, [2]))
    assert not lost[1] and "lost (1)" in found(lost[0]) and "1 (published ok by 0" in lost[0]
    # a message missing from several read-backs is one message lost, naming each node that lacks it
    three = [
        op("n1", "read", None, [2]),
        op("n2", "read", None, [2]),
        op("n3", "read", None, [1, 2]),
    ]
    lost = _stream(*pub, *three)
    assert "lost (1)" in found(lost[0]), lost[0]
    assert "is not in the read-back of n1, n2 (2 of 3)" in lost[0], lost[0]
    order = _stream(*pub, op("c1", "consume", None, [1, 2]), op("c2", "consume", None, [2, 1]))
    assert not order[1] and "order (1)" in found(order[0])
    assert "1 before 2 (consumer c1); 2 before 1 (consumer c2)" in order[0]
    # three consumers, each pair consistent, no one order
    cyc = _stream(
        op(0, "publish", 1),
        op(0, "publish", 2),
        op(0, "publish", 3),
        op("a", "consume", None, [1, 2]),
        op("b", "consume", None, [2, 3]),
        op("c", "consume", None, [3, 1]),
    )
    assert not cyc[1] and "order (1)" in found(cyc[0])
    dup = [*pub, op("c1", "consume", None, [1, 2]), op("c1", "consume", None, [2])]
    assert not _stream(*dup)[1] and "duplicate (1)" in found(_stream(*dup)[0])
    allowed = _stream(*dup, header={"delivery": "at-least-once"})
    assert allowed[1] and "duplicate: 1 (allowed)" in allowed[0]
    invented = _stream(*pub, op("c1", "consume", None, [9]))
    assert "invented (1)" in found(invented[0])
    failed = _stream(*pub, op("c1", "consume", None, [3]))
    assert "failed-publish-delivered (1)" in found(failed[0])
    ack = _stream(*pub, op("c1", "ack", 1), op("c1", "consume", None, [1]))
    assert "ack-undelivered (1)" in found(ack[0])
    # delivered (or read back) by an operation that completed before the publish was invoked
    early = _stream(op("c1", "consume", None, [1]), op(0, "publish", 1))
    assert not early[1] and "delivered-before-publish (1)" in found(early[0]), early[0]
    early = _stream(op("n1", "read", None, [1]), op(0, "publish", 1))
    assert "delivered-before-publish (1)" in found(early[0]), early[0]
    # a consume invoked before the publish and completed after it: it may have been delivered
    overlap = [
        {"process": "c1", "type": "invoke", "f": "consume", "value": None},
        {"process": 0, "type": "invoke", "f": "publish", "value": 1},
        {"process": "c1", "type": "ok", "f": "consume", "value": [1]},
        {"process": 0, "type": "ok", "f": "publish", "value": 1},
    ]
    assert _stream(overlap)[1], _stream(overlap)[0]
    # an acknowledgement of a message never delivered to that consumer
    never = _stream(*pub, op("c1", "consume", None, [1]), op("c1", "ack", 2))
    assert not never[1] and "ack-undelivered (1)" in found(never[0]), never[0]


def test_stream_order_agrees_with_every_pair() -> None:
    """One order exists iff the union of the observers' orders is acyclic; on 3 messages that is
    iff no pair is seen both ways and no 3-cycle: checked by trying every total order."""
    rng = random.Random(5)
    bad = 0
    for _ in range(500):
        ids = [1, 2, 3, 4]
        seqs = [rng.sample(ids, rng.randint(0, 4)) for _ in range(rng.randint(1, 3))]
        ok_oracle = any(
            all([m for m in total if m in s] == s for s in seqs)
            for total in itertools.permutations(ids)
        )
        text, holds = _stream(
            *(op(0, "publish", i) for i in ids),
            *(op(f"c{j}", "consume", None, s) for j, s in enumerate(seqs)),
        )
        assert holds == ok_oracle, (seqs, text)
        bad += not holds
    assert 50 < bad < 450


# -- watch


CHANGES = [
    {"f": "change", "key": "a", "revision": 2, "type": "put", "value": 1},
    {"f": "change", "key": "b", "revision": 3, "type": "put", "value": 1},
    {"f": "change", "key": "a", "revision": 4, "type": "put", "value": 2},
    {"f": "change", "key": "a", "revision": 5, "type": "delete"},
]


def ev(rev: int, key: str = "a", **kw: object) -> dict[str, object]:
    change = next(c for c in CHANGES if c["revision"] == rev)
    return {
        "f": "event",
        "watcher": "w",
        "key": key,
        "revision": rev,
        "type": change["type"],
        "value": change.get("value"),
        **kw,
    }


def _watch(*objs: dict[str, object]) -> tuple[str, bool]:
    return watch.check(evs(*CHANGES, *objs), "w")


def test_watch_holds_across_a_reconnect_and_each_anomaly_fails() -> None:
    start = {"f": "watch", "watcher": "w", "key": "a", "from": 1}
    resume = {"f": "watch", "watcher": "w", "key": "a", "from": 4}  # its last revision, again
    good = _watch(start, ev(2), ev(4), resume, ev(4), ev(5))
    assert good[1], good[0]
    assert _watch(
        start, ev(2), {"f": "watch", "watcher": "w", "key": "a", "from": 3}, ev(4), ev(5)
    )[1]
    skipped = _watch(start, ev(2), ev(5))
    assert "skipped (1)" in found(skipped[0]) and "was not sent a at 4" in skipped[0]
    resumed_late = _watch(
        start, ev(2), {"f": "watch", "watcher": "w", "key": "a", "from": 5}, ev(5)
    )
    assert "skipped (1)" in found(resumed_late[0]) and "resumed past a at 4" in resumed_late[0]
    assert "out-of-order (1)" in found(_watch(start, ev(4), ev(2))[0])
    assert "duplicate (1)" in found(_watch(start, ev(2), ev(2), ev(4))[0])
    wrong = dict(ev(4), value=7)
    assert "invented (1)" in found(_watch(start, ev(2), wrong)[0])
    assert "invented (1)" in found(_watch(start, ev(3, key="b"))[0])  # a key it does not watch
    # a progress notice at 5 obliges every change up to it
    assert "skipped (2)" in found(
        _watch(start, ev(2), {"f": "progress", "watcher": "w", "revision": 5})[0]
    )
    everything = {"f": "watch", "watcher": "w", "prefix": "", "from": 2}
    assert _watch(everything, ev(2), ev(3, key="b"), ev(4), ev(5))[1]


# -- lease


def _lease(*objs: dict[str, object], bound: float = 0.0) -> tuple[str, bool]:
    base = [
        {"f": "grant", "lease": 1, "ttl": 10, "time": 0.0, "ret": 0.1},
        {"f": "put", "key": "k", "lease": 1, "time": 0.2, "ret": 0.3},
        {"f": "keepalive", "lease": 1, "time": 5.0, "ret": 5.1},
    ]
    return lease.check(evs(*base, *objs), "l", bound)


def read(t: float, present: bool) -> dict[str, object]:
    return {"f": "read", "key": "k", "present": present, "time": t, "ret": t + 0.1}


def test_lease_holds_within_its_life_and_fails_outside() -> None:
    assert _lease(read(14.0, True), read(15.5, False))[1]
    early = _lease(read(12.0, False))
    assert "vanished-early (1)" in found(early[0])
    late = _lease(read(16.0, True))
    assert "outlived (1)" in found(late[0]) and "lapsed at 15.1" in late[0]
    # the bound (the clock faults' size) forgives both
    assert _lease(read(12.0, False), bound=3.0)[1] and _lease(read(16.0, True), bound=3.0)[1]
    assert not _lease(read(11.0, False), bound=3.0)[1]
    revoked = _lease({"f": "revoke", "lease": 1, "time": 6.0, "ret": 6.1}, read(7.0, True))
    assert "outlived (1)" in found(revoked[0]) and "revoked" in revoked[0]
    # absent, then present again with no put in between: whatever the bound
    back = _lease(read(16.0, False), read(17.0, True), bound=100.0)
    assert not back[1] and "reappeared (1)" in found(back[0]), back[0]
    assert "read absent at 16..16.1 (line 4), then present at 17..17.1 (line 5)" in back[0]
    again = _lease(
        read(16.0, False),
        {"f": "put", "key": "k", "lease": None, "time": 16.5, "ret": 16.6},
        read(17.0, True),
    )
    assert again[1], again[0]
    assert _lease(read(16.0, True), read(17.0, False), bound=100.0)[1]  # gone, and stays gone
    # a read concurrent with a put of the key is not judged
    assert _lease(
        {"f": "put", "key": "k", "lease": None, "time": 11.9, "ret": 12.2}, read(12.0, False)
    )[1]


# -- fenced lock


def _lock(*ops: list[dict[str, object]]) -> tuple[str, bool]:
    calls = events.pair(
        evs(*itertools.chain.from_iterable(ops)), "f", ("acquire", "release", "write")
    )
    return fenced_lock.check(calls, "f")


def test_fenced_lock_overlaps_and_fencing_are_told_apart() -> None:
    good = _lock(
        op(0, "acquire", None, 1),
        op(0, "write", [1, "a"]),
        op(0, "release"),
        op(1, "acquire", None, 2),
        op(1, "write", [2, "b"]),
        op(1, "release"),
    )
    assert good[1], good[0]
    # p0 is paused while holding; p1 acquires; p0's late write is rejected: overlap, fencing held
    held = _lock(
        op(0, "acquire", None, 1),
        op(1, "acquire", None, 2),
        op(1, "write", [2, "b"]),
        op(0, "write", [1, "a"], status="fail"),
        op(0, "release"),
        op(1, "release"),
    )
    assert not held[1] and "mutual exclusion: no (1 overlap); fencing: held" in found(held[0])
    broken = _lock(
        op(0, "acquire", None, 1),
        op(1, "acquire", None, 2),
        op(1, "write", [2, "b"]),
        op(0, "write", [1, "a"]),
        op(0, "release"),
        op(1, "release"),
    )
    assert "fencing: failed" in found(broken[0]) and "stale-write-accepted (1)" in found(broken[0])
    dup = _lock(
        op(0, "acquire", None, 1), op(0, "release"), op(1, "acquire", None, 1), op(1, "release")
    )
    assert "duplicate-token (1)" in found(dup[0])
    back = _lock(
        op(0, "acquire", None, 5), op(0, "release"), op(1, "acquire", None, 3), op(1, "release")
    )
    assert "token-regressed (1)" in found(back[0])
    # p0 holds throughout; p1 and then p2 each take the lock inside p0's hold, one after the other:
    # both overlap p0, though p2 does not overlap p1
    nested = _lock(
        op(0, "acquire", None, 1),
        op(1, "acquire", None, 2),
        op(1, "release"),
        op(2, "acquire", None, 3),
        op(2, "release"),
        op(0, "release"),
    )
    assert "mutual exclusion: no (2 overlaps)" in found(nested[0]), nested[0]


def test_fencing_agrees_with_every_pair_of_writes() -> None:
    rng = random.Random(9)
    for _ in range(300):
        ops: list[list[dict[str, object]]] = []
        spans = []
        for i in range(rng.randint(2, 6)):
            token = rng.randint(1, 4)
            ok = rng.random() < 0.8
            ops.append(op(i, "write", [token, i], status="ok" if ok else "fail"))
            spans.append((token, ok))
        # interleave the events at random, keeping each invocation before its completion
        flat: list[dict[str, object]] = []
        pending = [list(o) for o in ops]
        while pending:
            pick = rng.choice(pending)
            flat.append(pick.pop(0))
            if not pick:
                pending.remove(pick)
        calls = events.pair(evs(*flat), "f", ("acquire", "release", "write"))
        oracle = not any(
            a.status == b.status == "ok" and a.ret < b.call and a.invoked[0] > b.invoked[0]
            for a in calls
            for b in calls
        )
        text, holds = fenced_lock.check(calls, "f")
        assert holds == oracle, text


# -- the command line


def _cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshcheck", "history", "check", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _file(tmp_path: Path, objs: Sequence[dict[str, object]]) -> Path:
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("model", "objs", "extra"),
    [
        ("stream", [*op(0, "publish", 1), *op("c", "consume", None, [1, 1])], []),
        ("watch", [*CHANGES, {"f": "watch", "watcher": "w", "key": "a", "from": 1}, ev(4)], []),
        (
            "lease",
            [
                {"f": "grant", "lease": 1, "ttl": 10, "time": 0},
                {"f": "put", "key": "k", "lease": 1, "time": 1},
                read(30.0, True),
            ],
            ["--clock-bound", "5"],
        ),
        ("fenced-lock", [*op(0, "acquire", None, 1), *op(1, "acquire", None, 2)], []),
    ],
)
def test_the_command_exits_1_on_a_violation_and_2_on_bad_input(
    model: str, objs: list[dict[str, object]], extra: list[str], tmp_path: Path
) -> None:
    done = _cli(_file(tmp_path, objs), "--model", model, *extra)
    assert done.returncode == 1, done.stderr
    assert done.stdout.split(": ")[1].startswith("violated")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"f": 3, "process": 0, "type": "invoke"}\n', encoding="utf-8")
    done = _cli(bad, "--model", model, *extra)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert 'bad.jsonl:1: field "f"' in done.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    done = _cli(empty, "--model", model, *extra)
    assert done.returncode == 2 and "nothing to check" in done.stderr


def test_the_clock_bound_is_the_lease_models_alone(tmp_path: Path) -> None:
    path = _file(tmp_path, [*op(0, "publish", 1)])
    done = _cli(path, "--model", "stream", "--clock-bound", "2")
    assert done.returncode == 2 and "--clock-bound: only for the lease model" in done.stderr
    done = _cli(path, "--model", "lease", "--clock-bound", "-1")
    assert done.returncode == 2 and "--clock-bound -1.0: expected" in done.stderr


def _watch_oracle(
    changes: list[tuple[str, int]], conns: list[tuple[int, list[tuple[str, int]]]]
) -> bool:
    """The definition, stated whole: each connection from revision f was sent exactly the changes
    of key "a" from f up to the highest revision it was sent, each once, revisions never going
    back; and each connection starts no later than one past where the previous one reached."""
    reached = None
    for start, sent in conns:
        top = max((rev for _, rev in sent), default=-1)
        expected = sorted((k, r) for k, r in changes if k == "a" and start <= r <= top)
        revs = [r for _, r in sent]
        if sorted(sent) != expected or revs != sorted(revs) or len(set(sent)) != len(sent):
            return False
        if reached is not None and any(k == "a" and reached < r < start for k, r in changes):
            return False
        covered = max(top, start - 1)
        reached = covered if reached is None else max(reached, covered)
    return True


def test_watch_agrees_with_its_definition_on_random_histories() -> None:
    rng = random.Random(13)
    bad = 0
    for _ in range(1500):
        changes = [(rng.choice("ab"), rev) for rev in range(1, rng.randint(2, 7))]
        objs: list[dict[str, object]] = [
            {"f": "change", "key": k, "revision": r, "type": "put", "value": r} for k, r in changes
        ]
        conns = []
        for _ in range(rng.randint(1, 2)):
            start = rng.randint(1, 4)
            # mostly the right events, now and then one dropped, repeated, swapped or foreign
            sent = [(k, r) for k, r in changes if k == "a" and r >= start][: rng.randint(0, 6)]
            roll = rng.random()
            if roll < 0.15 and sent:
                sent.pop(rng.randrange(len(sent)))
            elif roll < 0.3 and sent:
                sent.insert(rng.randrange(len(sent) + 1), rng.choice(sent))
            elif roll < 0.45 and len(sent) > 1:
                i = rng.randrange(len(sent) - 1)
                sent[i], sent[i + 1] = sent[i + 1], sent[i]
            elif roll < 0.55:
                sent.append(rng.choice(changes))
            conns.append((start, sent))
            objs.append({"f": "watch", "watcher": "w", "key": "a", "from": start})
            objs.extend(
                {"f": "event", "watcher": "w", "key": k, "revision": r, "type": "put", "value": r}
                for k, r in sent
            )
        text, holds = watch.check(evs(*objs), "w")
        assert holds == _watch_oracle(changes, conns), (changes, conns, text)
        bad += not holds
    assert 200 < bad < 1300

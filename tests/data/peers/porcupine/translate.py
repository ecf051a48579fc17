"""Translates Porcupine's test histories into meshcheck's JSON lines (traces/history/jepsen.py),
as data: github.com/anishathalye/porcupine at 55508eb (2026-06-26), porcupine_test.go and
test_data/. Run once by hand (`python translate.py PORCUPINE_CHECKOUT`); its output, the .jsonl
files and manifest.json beside it, is what tests/test_peer_histories_porcupine.py reads.

- test_data/jepsen/etcd_NNN.log: Jepsen's etcd runs of a cas-register (Porcupine's test_data
  README: from github.com/ahorn/linearizability-checker), one `INFO jepsen.util - PROCESS TYPE F
  VALUE` line an event, each checked by TestEtcdJepsenNNN (`checkJepsen(t, N, verdict)`) against
  the test's etcdModel. Every event becomes the same event in Jepsen's JSON shape: a read's value
  on its completion, a write's and a cas's ([old, new]) on the invocation. `:info ... :timed-out`
  (Porcupine's parser matches no pattern for it, so the operation stays open to the end) is an
  `info` completion, open to the end in meshcheck too; `:fail :read :timed-out` (Porcupine: a read
  whose output is unknown) is a failed read, which constrains nothing in either.
- test_data/kv/cNN-{ok,bad}.txt: a key/value store's histories of get, put and append
  (TestKv*, checked key by key against the test's kvModel). Written as Jepsen events with their
  own f (get, put, append) and "key". meshcheck has no model with append (docs/peers.md), so only
  the two of one client are kept (`KV_KEPT`); the four of 10 and 50 clients (800 kB) wait for one.
- The histories porcupine_test.go builds inline (TestRegisterModel, TestZeroDuration,
  TestSetModel, TestNondeterministicRegisterModel, TestCheckNoPartitions): transcribed below as
  data. An `Operation` has a call and a return time; its events are written in time order, a call
  before a return at the same time (Porcupine's checker.go, byTime.Less), so operations of zero
  duration at the same instant overlap, as there. Porcupine's register starts at 0 and meshcheck's
  at nil: 0, which no write in these histories stores, is written as null.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent
Event = dict[str, Any]

_ETCD = re.compile(r"^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.*)$")
_ETCD_TEST = re.compile(
    r"func TestEtcdJepsen(\d+)\(t \*testing\.T\) \{\s*checkJepsen\(t, (\d+), (true|false)\)"
)
_KV = re.compile(r'^\{:process (\d+), :type :(\w+), :f :(\w+), :key "(.*)", :value (nil|"(.*)")\}$')
KV_KEPT = ("c01-ok", "c01-bad")
_KV_TEST = re.compile(
    r'func (TestKv\w+)\(t \*testing\.T\) \{\s*checkKv\(t, "([\w-]+)", (true|false), true\)'
)


def etcd_events(text: str, name: str) -> Iterator[Event]:
    for number, line in enumerate(text.splitlines(), 1):
        found = _ETCD.match(line)
        if found is None:
            raise ValueError(f"{name}:{number}: not an event: {line!r}")
        process, kind, f, raw = int(found[1]), found[2], found[3], found[4].strip()
        value: Any
        if raw == "nil" or raw == ":timed-out":
            value = None
        elif raw.startswith("["):
            value = [int(v) for v in raw.strip("[]").split()]
        else:
            value = int(raw)
        if kind == "invoke" and f == "read":
            value = None
        yield {"process": process, "type": kind, "f": f, "value": value}


def kv_events(text: str, name: str) -> Iterator[Event]:
    for number, line in enumerate(text.splitlines(), 1):
        found = _KV.match(line)
        if found is None:
            raise ValueError(f"{name}:{number}: not an event: {line!r}")
        yield {
            "process": int(found[1]),
            "type": found[2],
            "f": found[3],
            "key": found[4],
            "value": None if found[5] == "nil" else found[6],
        }


def from_operations(ops: Sequence[tuple[int, str, Any, Any, int, int]]) -> list[Event]:
    """(client, f, input, output, call, return) operations as events in Porcupine's time order."""
    timed: list[tuple[int, int, int, Event]] = []
    for i, (client, f, inp, out, call, ret) in enumerate(ops):
        invoked = None if f == "read" else inp
        timed.append((call, 0, i, {"process": client, "type": "invoke", "f": f, "value": invoked}))
        done = out if f == "read" else inp
        timed.append((ret, 1, i, {"process": client, "type": "ok", "f": f, "value": done}))
    return [e for *_, e in sorted(timed, key=lambda t: t[:3])]


def from_events(events: Sequence[tuple[int, str, int, Any]], fs: dict[int, str]) -> list[Event]:
    """(client, call|return, id, value) events: a call's value is the input, a return's the
    output; `fs` names each id's operation. Jepsen's shape puts a read's value on its completion,
    anything else's on its invocation (a set's read, a get-any: the output)."""
    inputs: dict[int, Any] = {}
    out: list[Event] = []
    for client, kind, op, value in events:
        f = fs[op]
        reads = f in ("read", "get-any", "get-all")
        if kind == "call":
            inputs[op] = value
            out.append(
                {"process": client, "type": "invoke", "f": f, "value": None if reads else value}
            )
        else:
            done = value if reads else inputs[op]
            out.append({"process": client, "type": "ok", "f": f, "value": done})
    return out


def inline() -> list[tuple[str, str, str, str, list[Event]]]:
    """(file, source, model, verdict, events) of the histories porcupine_test.go builds."""
    nil = None  # Porcupine's register's initial 0
    w, r = "write", "read"
    cases: list[tuple[str, str, str, str, list[Event]]] = [
        (
            "register-quiz-ok.jsonl",
            "porcupine_test.go TestRegisterModel (first history, as Operations and as Events;"
            " TestRegisterModelMetadata repeats it)",
            "register",
            "valid",
            from_operations(
                [(0, w, 100, nil, 0, 100), (1, r, nil, 100, 25, 75), (2, r, nil, nil, 30, 60)]
            ),
        ),
        (
            "register-quiz-bad.jsonl",
            "porcupine_test.go TestRegisterModel (second history, as Operations and as Events)",
            "register",
            "invalid",
            from_operations(
                [(0, w, 200, nil, 0, 100), (1, r, nil, 200, 10, 30), (2, r, nil, nil, 40, 90)]
            ),
        ),
        (
            "register-zero-duration-ok.jsonl",
            "porcupine_test.go TestZeroDuration (first history)",
            "register",
            "valid",
            from_operations(
                [
                    (0, w, 100, nil, 0, 100),
                    (1, r, nil, 100, 25, 75),
                    (2, r, nil, nil, 30, 30),
                    (3, r, nil, nil, 30, 30),
                ]
            ),
        ),
        (
            "register-zero-duration-bad.jsonl",
            "porcupine_test.go TestZeroDuration (second history)",
            "register",
            "invalid",
            from_operations(
                [
                    (0, w, 200, nil, 0, 100),
                    (1, r, nil, 200, 10, 10),
                    (2, r, nil, 200, 10, 10),
                    (3, r, nil, nil, 40, 90),
                ]
            ),
        ),
        ("kv-empty.jsonl", "porcupine_test.go TestCheckNoPartitions", "kv", "valid", []),
    ]
    # TestSetModel: adds by clients 0 and 1, a read by client 2 that returns before both; the
    # read's output is the set it saw, or unknown (null)
    add, read = "add", "read"
    for n, (first, second, seen, verdict) in enumerate(
        [
            (100, 0, [100], "valid"),
            (100, 110, [100, 110], "valid"),
            (100, 110, None, "valid"),
            (100, 110, [100, 100, 110], "invalid"),
        ],
        1,
    ):
        events = from_events(
            [
                (0, "call", 0, first),
                (1, "call", 1, second),
                (2, "call", 2, nil),
                (2, "return", 2, seen),
                (1, "return", 1, nil),
                (0, "return", 0, nil),
            ],
            {0: add, 1: add, 2: read},
        )
        if seen is None:  # an unknown output: the read's completion is info
            events[3] = {"process": 2, "type": "info", "f": read, "value": None}
        cases.append(
            (
                f"set-{n}.jsonl",
                f"porcupine_test.go TestSetModel (history {n})",
                "set",
                verdict,
                events,
            )
        )
    # TestNondeterministicRegisterModel (and ...WithHash, the same history): put-any of a subset
    # of {1, 2, 3, 4}, get-any (some of the values held), get-all (all of them)
    cases.append(
        (
            "nondeterministic-register.jsonl",
            "porcupine_test.go TestNondeterministicRegisterModel (TestNondeterministicRegisterModelWithHash"
            " repeats it)",
            "nondeterministic-register",
            "invalid",
            from_events(
                [
                    (0, "call", 0, [1, 2, 3, 4]),
                    (1, "call", 1, nil),
                    (2, "call", 2, nil),
                    (3, "call", 3, nil),
                    (2, "return", 2, [2]),
                    (1, "return", 1, [1, 4]),
                    (3, "return", 3, [1, 2, 3]),
                    (0, "return", 0, []),
                ],
                {0: "put-any", 1: "get-any", 2: "get-any", 3: "get-all"},
            ),
        )
    )
    return cases


def write(path: Path, events: Sequence[Event]) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")


def main(checkout: Path) -> None:
    tests = (checkout / "porcupine_test.go").read_text(encoding="utf-8")
    manifest: list[dict[str, str]] = []
    for file, source, model, verdict, events in inline():
        write(OUT / file, events)
        manifest.append({"file": file, "source": source, "model": model, "porcupine": verdict})
    for found in _ETCD_TEST.finditer(tests):
        number = int(found[2])
        log = f"test_data/jepsen/etcd_{number:03d}.log"
        file = f"etcd-{number:03d}.jsonl"
        write(OUT / file, list(etcd_events((checkout / log).read_text(encoding="utf-8"), log)))
        verdict = "valid" if found[3] == "true" else "invalid"
        source = f"{log} TestEtcdJepsen{found[1]}"
        manifest.append(
            {"file": file, "source": source, "model": "cas-register", "porcupine": verdict}
        )
    for found in _KV_TEST.finditer(tests):
        if found[2] not in KV_KEPT:
            continue
        log = f"test_data/kv/{found[2]}.txt"
        file = f"kv-{found[2]}.jsonl"
        write(OUT / file, list(kv_events((checkout / log).read_text(encoding="utf-8"), log)))
        verdict = "valid" if found[3] == "true" else "invalid"
        source = f"{log} {found[1]}"
        manifest.append({"file": file, "source": source, "model": "kv", "porcupine": verdict})
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

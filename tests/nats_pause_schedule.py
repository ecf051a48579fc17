"""The schedule of tests/test_nats_system.py's no-quorum test, run many times to pin why a publish
was once acknowledged while two of three servers were "paused" (docs/findings.md, "NATS: a publish
acknowledged through a pause that had not landed").

Each run starts three nats-server processes, finds the stream's leader, publishes `before`, pauses
the leader and one other server, publishes `stuck` through the third with a 2 s timeout, resumes,
waits 3 s and reads the stream back through every server. It records, per run: the leader as each
server named it before and after, every thread's state (/proc/PID/task/TID/stat) of both paused
servers just before and just after the `stuck` publish, the publish's outcome, and the read-backs.

    python -m tests.nats_pause_schedule --runs 30 --pause signal --load 4 --out signal.ndjson
    python -m tests.nats_pause_schedule --runs 30 --pause harness --load 4 --out harness.ndjson

`--pause signal` sends SIGSTOP and goes on, as the harness did before; `--pause harness` is the
harness's pause (impl/runtime/process_group.py), which returns once every thread is stopped.
`--load K` runs K busy processes beside it, as `make test`'s other worker loads the machine.
Needs nats-server (`make nats`). Ends with one summary table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from meshcheck.impl.runtime import process_group
from meshcheck.systems.nats_client import leader
from tests.test_nats_system import NAMES
from tests.test_nats_system import TIMEOUT
from tests.test_nats_system import Cluster
from tests.test_nats_system import _op
from tests.test_nats_system import _opened
from tests.test_nats_system import _stream_leader_after_open


def _states(pid: int) -> str:
    """Every thread's state letter, in thread order (`T`: stopped)."""
    states = process_group.thread_states(pid)
    return "".join(states[key] for key in sorted(states))


async def _leaders(c: Cluster) -> dict[str, str | None]:
    return {n: await leader([c.endpoint(n)], 1.0) for n in NAMES}


async def once(c: Cluster, harness: bool) -> dict[str, Any]:
    """One run of the schedule on a started cluster: what it saw."""
    rec: dict[str, Any] = {}
    first = await _stream_leader_after_open(c)
    others = [n for n in NAMES if n != first]
    paused = (first, others[1])
    client = await _opened(c, others[0])
    try:
        rec["before"] = (await client.invoke(_op("publish", "before"), TIMEOUT)).status
        rec["leader"] = first
        rec["leaders_before"] = await _leaders(c)
        for n in paused:
            if harness:
                c.procs.pause(n)
            else:
                os.kill(c.procs.procs[n].pid, signal.SIGSTOP)
        rec["states_at_publish"] = {n: _states(c.procs.procs[n].pid) for n in paused}
        stuck = await client.invoke(_op("publish", "stuck"), 2.0)
        rec["states_after_publish"] = {n: _states(c.procs.procs[n].pid) for n in paused}
        rec["stuck"] = stuck.status
        rec["stuck_seq"] = stuck.output if stuck.status == "ok" else None
        for n in paused:
            c.procs.resume(n)
        await asyncio.sleep(3)
        rec["leaders_after"] = await _leaders(c)
        backs: dict[str, Any] = {}
        for n in NAMES:
            reader = await _opened(c, n)
            try:
                back = await reader.invoke(_op("read"), 10.0)
            finally:
                await reader.close()
            backs[n] = back.output if back.status == "ok" else back.status
        rec["read_back"] = backs
    finally:
        await client.close()
    return rec


def _run(harness: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        c = Cluster(Path(folder))
        try:
            for n in NAMES:
                c.procs.start(n)
            return asyncio.run(once(c, harness))
        finally:
            c.procs.stop()


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The counts the finding rests on."""
    late = [r for r in rows if any(set(s) - {"T"} for s in r["states_at_publish"].values())]
    acked = [r for r in rows if r["stuck"] == "ok"]
    return {
        "runs": len(rows),
        "a paused server not stopped at the publish": len(late),
        "stuck publish acknowledged": len(acked),
        "acknowledged with a server not stopped": sum(1 for r in acked if r in late),
        "acknowledged, then missing from a read-back": sum(
            1
            for r in acked
            if any(isinstance(b, list) and "stuck" not in b for b in r["read_back"].values())
        ),
        "leader changed before the pause": sum(
            1 for r in rows if set(r["leaders_before"].values()) != {r["leader"]}
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pause", choices=("signal", "harness"), default="harness")
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the runs")
    parser.add_argument("--out", type=Path, required=True, help="one JSON line a run")
    args = parser.parse_args(argv)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    rows: list[dict[str, Any]] = []
    try:
        with args.out.open("w", encoding="utf-8") as out:
            for k in range(args.runs):
                rows.append(_run(args.pause == "harness"))
                out.write(json.dumps(rows[-1]) + "\n")
                out.flush()
                print(f"run {k + 1}/{args.runs}: stuck publish {rows[-1]['stuck']}", flush=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(f"\n{'pause = ' + args.pause + ', load = ' + str(args.load):<45} count")
    for what, count in summary(rows).items():
        print(f"{what:<45} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

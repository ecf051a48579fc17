"""meshcheck's `watch` workload (traces/history/watch.py checks it): writers put and delete keys
under a prefix, each change recorded at the revision the store answered with; watchers watch the
prefix from a revision, one connection at a time for a second or two (or until a fault cuts it),
and resume from the revision after the last event they were sent, on the next node after an
error: across reconnects and leader changes they must be sent every change, in revision order,
none skipped, invented or sent twice (etcd's API guarantees, etcd.io/docs/v3.4/learning/
api_guarantees/, "Watch APIs"; Jepsen's etcd 3.4.3 analysis tested the same).

At the end the store's whole history of the prefix is read with one more watch from revision 1:
its changes join the writers' (those of writes whose answer was lost), and every change a writer
was told of must be in it with its value (`acknowledged`).

Known mutant (`broken = "watch-skip"`): watchers resume one revision too far, as a client that
lost the revision after a reconnect would: the checker must report `skipped`."""

from __future__ import annotations

import json
from typing import Any

from meshcheck.systems.checked_clients import After
from meshcheck.systems.checked_clients import Clients
from meshcheck.systems.checked_clients import Seat
from meshcheck.systems.plugin import Invocation

PREFIX = "w/"
KEYS = 5
DELETES = 0.1  # the share of a writer's changes that delete
WATCH = (0.5, 2.0)  # seconds one connection of a watcher lasts
FINAL = 5.0  # seconds the final read of the history may take, per node tried


class WatchClients(Clients):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changes: dict[tuple[str, int], tuple[str, str | None]] = {}
        self.history_read: dict[tuple[str, int], tuple[str, str | None]] | None = None
        self.value = 0
        self.resume: dict[str, int] = {}  # watcher -> the revision it resumes from

    async def step(self, at: Seat) -> After:
        if at.k % 2 == 0:  # every second client watches; the others write
            return After.answered(await self._watch(at, f"w{at.k}"))
        return After.answered(await self._write(at))

    async def _write(self, at: Seat) -> str:
        key = f"{PREFIX}k{self.rng.randrange(KEYS)}"
        if self.rng.random() < DELETES:
            op = Invocation(at.process, "delete", key, None)
        else:
            self.value += 1
            op = Invocation(at.process, "put", key, str(self.value))
        done, _, _ = await self.invoke(at.client, op, self.timeout_until(at.until), at.home)
        if done.status == "ok" and done.output is not None:
            rev = int(done.output)
            kind = "delete" if op.f == "delete" else "put"
            self.changes[(key, rev)] = (kind, op.value)
        return done.status

    async def _watch(self, at: Seat, name: str) -> str:
        start = self.resume.get(name, 1)
        seconds = min(self.rng.uniform(*WATCH), max(0.2, at.until - self.clock()))
        op = Invocation(at.process, "watch", PREFIX, (start, 0))
        done, call, ret = await self.invoke(at.client, op, seconds, at.home, record=False)
        if done.status != "ok" or not isinstance(done.output, dict):
            return "info"
        seen = [tuple(e) for e in done.output["events"]]
        self.line(call, 0, {"f": "watch", "watcher": name, "prefix": PREFIX, "from": start})
        for i, (key, rev, kind, value) in enumerate(seen):
            event = {"f": "event", "watcher": name, "key": key, "revision": rev, "type": kind}
            self.line(call, i + 1, {**event, "value": value})
        if seen:
            skip = 2 if self.broken == "watch-skip" else 1
            self.resume[name] = int(seen[-1][1]) + skip
        ended = str(done.output.get("ended", ""))
        status = "info" if ended else "ok"
        # the run's History: one operation per connection, its output the events' revisions
        revs = tuple(int(e[1]) for e in seen)
        self.record(Invocation(at.process, "watch", PREFIX, start), "ok", revs, call, ret, at.home)
        return status

    async def finish(self) -> None:
        """The prefix's whole history, read with a watch from revision 1 (from the first node
        that answers): its changes, and whether every acknowledged one is among them."""
        for home in range(len(self.endpoints)):
            client = self.make(self.settings)
            await self.bind(client, home)
            try:
                op = Invocation("final", "watch", PREFIX, (1, 0))
                done, _, _ = await self.invoke(client, op, FINAL, home, record=False)
            finally:
                await client.close()
            if done.status == "ok" and isinstance(done.output, dict) and done.output["events"]:
                if done.output.get("ended"):
                    continue
                self.history_read = {
                    (str(k), int(r)): (str(kind), v) for k, r, kind, v in done.output["events"]
                }
                return

    def lost(self) -> list[str]:
        """Acknowledged changes the store's history does not hold as they were acknowledged."""
        if self.history_read is None:
            return []
        out = []
        for (key, rev), change in sorted(self.changes.items(), key=lambda c: c[0][1]):
            found = self.history_read.get((key, rev))
            if found != change:
                said = "nothing" if found is None else f"{found[0]} {found[1]}"
                out.append(f"{change[0]} {key}={change[1]} at {rev}: the history says {said}")
        return out

    def dumps(self) -> str:
        changes = dict(self.history_read or {})
        changes.update(self.changes)  # what the writers were told, where the two differ
        head = "".join(
            json.dumps({"f": "change", "key": key, "revision": rev, "type": kind, "value": value})
            + "\n"
            for (key, rev), (kind, value) in sorted(changes.items(), key=lambda c: c[0][1])
        )
        return head + super().dumps()

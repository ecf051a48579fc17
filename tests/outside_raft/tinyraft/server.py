"""One tinyraft server (see the package's docstring)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from dataclasses import field
from typing import Any

BUGS = {
    "vote_twice": "a vote granted without checking the vote already cast in the term",
    "match_regress": "matchIndex set from a reordered acknowledgement, so it can go back",
    "commit_stops_at_old_term": "the commit loop stops at an entry of an earlier term",
}
HEARTBEAT = 50


@dataclass
class Config:
    me: str
    servers: tuple[str, ...]
    timeout: tuple[int, int] = (150, 300)
    bugs: frozenset[str] = frozenset()


@dataclass
class Outbox:
    """What a call made the server do, for its host to carry out."""

    durable: dict[str, Any] = field(default_factory=dict)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    applied: list[tuple[int, Any, Any]] = field(default_factory=list)
    answers: list[tuple[int, bool, Any, str | None]] = field(default_factory=list)
    timers: dict[str, int] = field(default_factory=dict)


class Server:
    def __init__(self, config: Config, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.out = Outbox()
        self.term = 0
        self.voted_for: str | None = None
        self.log: list[dict[str, Any]] = []
        self.role = "follower"
        self.leader: str | None = None
        self.commit = 0
        self.applied = 0
        self.kv: dict[str, Any] = {}
        self.votes: set[str] = set()
        self.next: dict[str, int] = {}
        self.match: dict[str, int] = {}
        self.waiting: dict[int, int] = {}  # log index -> the client request waiting on it
        self.deadline = 0

    # -- what the host calls -----------------------------------------------------------------

    def start(self, durable: dict[str, Any], now: int) -> None:
        self.term = int(durable.get("term", 0))
        self.voted_for = durable.get("vote")
        self.log = [dict(e) for e in durable.get("log", ())]
        self._wait_for_election(now)

    def receive(self, sender: str, msg: dict[str, Any], now: int) -> None:
        if msg["term"] > self.term:
            self.term, self.voted_for = msg["term"], None
            self._follow(None)
            self._save()
        handler = getattr(self, "_on_" + msg["type"])
        handler(sender, msg, now)

    def timer(self, name: str, now: int) -> None:
        if name == "election" and self.role != "leader":
            if now < self.deadline:
                self.out.timers["election"] = self.deadline - now
            else:
                self._campaign(now)
        elif name == "heartbeat" and self.role == "leader":
            self._broadcast()
            self.out.timers["heartbeat"] = HEARTBEAT

    def propose(self, request: int, command: Any, read: bool, now: int) -> None:
        if self.role != "leader":
            self.out.answers.append((request, False, "not the leader", self.leader))
            return
        self.log.append({"term": self.term, "command": ("read", command) if read else command})
        self.waiting[len(self.log)] = request
        self._save()

    # -- elections ---------------------------------------------------------------------------

    def _wait_for_election(self, now: int) -> None:
        lo, hi = self.config.timeout
        wait = self.rng.randint(lo, hi)
        self.deadline = now + wait
        self.out.timers["election"] = wait

    def _campaign(self, now: int) -> None:
        self.term += 1
        self.role, self.voted_for, self.votes = "candidate", self.config.me, {self.config.me}
        self._save()
        self._wait_for_election(now)
        for peer in self._peers():
            self._send(
                peer,
                {
                    "type": "vote",
                    "last_index": len(self.log),
                    "last_term": self._term_at(len(self.log)),
                },
            )

    def _on_vote(self, sender: str, msg: dict[str, Any], now: int) -> None:
        mine = (self._term_at(len(self.log)), len(self.log))
        up_to_date = (msg["last_term"], msg["last_index"]) >= mine
        free = self.voted_for in (None, sender) or "vote_twice" in self.config.bugs
        granted = msg["term"] == self.term and up_to_date and free
        if granted:
            self.voted_for = sender
            self._save()
            self._wait_for_election(now)
        self._send(sender, {"type": "voted", "granted": granted})

    def _on_voted(self, sender: str, msg: dict[str, Any], now: int) -> None:
        if self.role != "candidate" or msg["term"] != self.term or not msg["granted"]:
            return
        self.votes.add(sender)
        if len(self.votes) >= self._majority():
            self.role, self.leader = "leader", self.config.me
            self.next = {p: len(self.log) + 1 for p in self._peers()}
            self.match = {p: 0 for p in self._peers()}
            self._broadcast()
            self.out.timers["heartbeat"] = HEARTBEAT

    # -- replication -------------------------------------------------------------------------

    def _broadcast(self) -> None:
        for peer in self._peers():
            prev = self.next[peer] - 1
            self._send(
                peer,
                {
                    "type": "append",
                    "prev_index": prev,
                    "prev_term": self._term_at(prev),
                    "entries": [dict(e) for e in self.log[prev:]],
                    "commit": self.commit,
                },
            )

    def _on_append(self, sender: str, msg: dict[str, Any], now: int) -> None:
        if msg["term"] < self.term:
            self._send(sender, {"type": "appended", "ok": False, "index": 0})
            return
        self._follow(sender)
        self._wait_for_election(now)
        prev = msg["prev_index"]
        if prev > len(self.log) or self._term_at(prev) != msg["prev_term"]:
            self._send(sender, {"type": "appended", "ok": False, "index": 0})
            return
        changed = False
        for k, entry in enumerate(msg["entries"]):
            index = prev + 1 + k
            if index <= len(self.log) and self.log[index - 1]["term"] != entry["term"]:
                del self.log[index - 1 :]
            if index > len(self.log):
                self.log.append(dict(entry))
                changed = True
        if changed:
            self._save()
        last_new = prev + len(msg["entries"])
        if msg["commit"] > self.commit:
            self.commit = max(self.commit, min(msg["commit"], last_new))
            self._apply()
        self._send(sender, {"type": "appended", "ok": True, "index": last_new})

    def _on_appended(self, sender: str, msg: dict[str, Any], now: int) -> None:
        if self.role != "leader" or msg["term"] != self.term:
            return
        if not msg["ok"]:
            self.next[sender] = max(1, self.next[sender] - 1)
            return
        if "match_regress" in self.config.bugs:
            self.match[sender] = msg["index"]
        else:
            self.match[sender] = max(self.match[sender], msg["index"])
        self.next[sender] = self.match[sender] + 1
        self._advance()

    def _advance(self) -> None:
        def stored(n: int) -> bool:
            return 1 + sum(m >= n for m in self.match.values()) >= self._majority()

        if "commit_stops_at_old_term" in self.config.bugs:
            n = self.commit + 1
            while n <= len(self.log) and self.log[n - 1]["term"] == self.term and stored(n):
                self.commit = n
                n += 1
        else:
            for n in range(len(self.log), self.commit, -1):
                if self.log[n - 1]["term"] == self.term and stored(n):
                    self.commit = n
                    break
        self._apply()

    def _apply(self) -> None:
        while self.applied < self.commit:
            self.applied += 1
            command = self.log[self.applied - 1]["command"]
            if isinstance(command, tuple) and command[0] == "read":
                result = self.kv.get(command[1][1])
            else:
                result = {"previous": self.kv.get(command["key"])}
                self.kv[command["key"]] = command["value"]
            self.out.applied.append((self.applied, command, result))
            request = self.waiting.pop(self.applied, None)
            if request is not None:
                self.out.answers.append((request, True, result, None))

    # -- helpers -----------------------------------------------------------------------------

    def _follow(self, leader: str | None) -> None:
        if self.role == "leader":
            self.waiting.clear()  # their outcome is unknown to the clients
        self.role, self.leader = "follower", leader

    def _peers(self) -> list[str]:
        return [s for s in self.config.servers if s != self.config.me]

    def _majority(self) -> int:
        return len(self.config.servers) // 2 + 1

    def _term_at(self, index: int) -> int:
        return int(self.log[index - 1]["term"]) if index > 0 else 0

    def _save(self) -> None:
        self.out.durable.update(term=self.term, vote=self.voted_for, log=list(self.log))

    def _send(self, to: str, msg: dict[str, Any]) -> None:
        self.out.messages.append((to, {**msg, "term": self.term, "from": self.config.me, "to": to}))

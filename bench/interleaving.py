"""How bench_history.py and bench_list_append.py make their synthetic histories: P processes run
n operations in all, their events interleaved at random. At each event (the time ticks once) one
of the P client slots, drawn at random, either starts its process's next operation or takes the
running one a step further (to its linearization point, then to its completion: what a step does
is the generator's). A process whose operation is left pending (info) never runs another: its
slot goes on as a new process (p + P), as a Jepsen client does. Times are event numbers, as in a
history file."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Generic
from typing import TypeVar

T = TypeVar("T")


class Interleaving(Generic[T]):
    """`running` holds each process's operation in flight (the generator's own record of it),
    which the generator sets when an operation starts and deletes when it completes."""

    def __init__(self, n: int, processes: int, rng: random.Random) -> None:
        self.n = n
        self.processes = processes
        self.rng = rng
        self.running: dict[int, T] = {}
        self.now = 0  # the current event's time
        self.started = 0
        self._names = list(range(processes))  # each slot's process

    def turns(self) -> Iterator[tuple[int, bool]]:
        """Each event's process, and whether it starts an operation (else its running one takes a
        step), until n operations have started and none is running."""
        while self.started < self.n or self.running:
            self.now += 1
            p = self._names[self.rng.randrange(self.processes)]
            if p in self.running:
                yield p, False
            elif self.started < self.n:
                self.started += 1
                yield p, True

    def renew(self, p: int) -> None:
        """Process p left its operation pending: its slot goes on as a new process."""
        self._names[p % self.processes] = p + self.processes

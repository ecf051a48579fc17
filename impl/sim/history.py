"""The client history of a run: every client operation's invocation and completion, as plain data.

What a client saw, in the shape linearizability checkers read (Herlihy and Wing, TOPLAS 1990;
Jepsen's histories): an operation is invoked (client, request id, what it asks: a write's value or a
read's query, the node it went to, the time) and completes `ok` with its result, `fail` with an error
that says it took no effect, or never completes as far as the client knows: `info` (a reply that
says the outcome is unknown, `Reply.unknown`, or no reply by the end of the run), which may or may
not have taken effect.

`call` and `ret` are positions in one sequence of history events (each invocation and completion
takes the next number), so real-time order is exact even when both happen in one tick; `call_time`
and `ret_time` are the simulated times, for reports. This module keeps raw records only; the
checker that reads them is traces/history (this package may not import it).

Recording costs one small object per operation and one dictionary look-up per reply.
"""

from __future__ import annotations

from typing import Any
from typing import Literal

import attrs

from meshcheck.impl.base.effects import Reply

WORKLOAD = "client"  # the process name of the simulator's own workload client (workload.py)

Kind = Literal["write", "read"]
Status = Literal["ok", "fail", "info"]


@attrs.frozen
class ClientOp:
    """One client operation: `value` is the write's value or the read's query; `result` the ok
    answer's result, `error` a failed (or unknown) one's message; `ret` None while outstanding."""

    process: str
    request_id: int
    kind: Kind
    value: Any
    node: str | None
    call: int
    call_time: int
    status: Status = "info"
    ret: int | None = None
    ret_time: int | None = None
    result: Any = None
    error: str = ""
    answers: int = 0  # completions received (more than one: the client was answered twice)


@attrs.frozen
class Anomaly:
    """A completion the history cannot take: an answer to an operation already answered with a
    different outcome, or to one never invoked."""

    process: str
    request_id: int
    what: str
    time: int


class HistoryRecorder:
    """Invocations and completions as they happen; `history()` is the run's history so far."""

    def __init__(self) -> None:
        self._ops: dict[tuple[str, int], ClientOp] = {}
        self._order: list[tuple[str, int]] = []
        self._clock = 0
        self.anomalies: list[Anomaly] = []

    def invoke(
        self, process: str, request_id: int, kind: Kind, value: Any, node: str | None, time: int
    ) -> None:
        key = (process, request_id)
        if key in self._ops:  # a request id used twice: a new operation, under a fresh id
            request_id = -len(self._order) - 1
            key = (process, request_id)
        self._clock += 1
        self._ops[key] = ClientOp(process, request_id, kind, value, node, self._clock, time)
        self._order.append(key)

    def is_open(self, process: str, request_id: int) -> bool:
        return (process, request_id) in self._ops

    def complete(self, process: str, reply: Reply, time: int) -> None:
        """The client learns `reply` to its request `reply.request_id`."""
        key = (process, reply.request_id)
        op = self._ops.get(key)
        if op is None:
            self.anomalies.append(Anomaly(process, reply.request_id, "answer to no request", time))
            return
        if reply.ok:
            status: Status = "ok"
        elif reply.unknown:
            status = "info"
        else:
            status = "fail"
        if op.answers:
            same = (op.status, op.result, op.error) == (status, reply.result, reply.error)
            if not same and op.status != "info":
                self.anomalies.append(
                    Anomaly(
                        process,
                        reply.request_id,
                        f"answered {op.status} {op.result if op.status == 'ok' else op.error!r}, "
                        f"then {status} {reply.result if reply.ok else reply.error!r}",
                        time,
                    )
                )
            if op.status != "info":
                self._ops[key] = attrs.evolve(op, answers=op.answers + 1)
                return
        if status == "info":  # nothing learnt: still outstanding as far as the history goes
            self._ops[key] = attrs.evolve(op, answers=op.answers + 1, error=reply.error)
            return
        self._clock += 1
        self._ops[key] = attrs.evolve(
            op,
            status=status,
            ret=self._clock,
            ret_time=time,
            result=reply.result,
            error=reply.error,
            answers=op.answers + 1,
        )

    def history(self) -> tuple[ClientOp, ...]:
        """Every operation in invocation order; those not completed are `info` (ret None)."""
        return tuple(self._ops[k] for k in self._order)

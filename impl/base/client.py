"""What the BFT clients (impl/pbft/client.py, impl/hotstuff/client.py) share: a workload's
requests on a timer, and every outstanding request sent again to every replica after a timeout.

A client that uses `RetryingClient` sets the attributes it declares and defines `_request`; its
`step` calls `_next` on the workload's timer and `_retry` on the retry timer.
"""

from __future__ import annotations

from typing import Any
from typing import Final
from typing import Protocol

from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.effects import SetTimer
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.node import Workload
from meshcheck.impl.base.values import Value

NEXT: Final = "next"  # the workload's next request
RETRY: Final = "retry"  # send what is outstanding to every replica
CLOCK: Final = "clock"  # the key of (last timestamp, workload requests issued) in the durable store


class ClientSettings(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def replicas(self) -> tuple[str, ...]: ...
    @property
    def workload(self) -> Workload | None: ...
    @property
    def timeout(self) -> int: ...


def check_not_a_replica(client: str, replicas: tuple[str, ...]) -> None:
    if client in replicas:
        raise ImplError(f"client {client} may not also be a replica")


class RetryingClient:
    config: ClientSettings
    now: int  # the `now` of the event being handled (the workload's `until`)
    issued: int  # workload requests so far
    outstanding: dict[int, Any]  # the signed requests not answered yet, by timestamp
    _retry_pending: bool
    _out: list[Effect]

    def _request(self, operation: Value) -> None:
        raise NotImplementedError

    def _may_issue(self) -> bool:
        """Whether the workload may issue a request now (a closed loop says no at its limit)."""
        return True

    def _next(self) -> None:
        workload = self.config.workload
        if workload is None or (workload.until is not None and self.now > workload.until):
            return
        self._out.append(SetTimer(NEXT, workload.every))
        if not self._may_issue():
            return
        self.issued += 1
        self._request(workload.make(self.issued))

    def _retry(self) -> None:
        self._retry_pending = False
        for timestamp in sorted(self.outstanding):
            for replica in self.config.replicas:
                self._out.append(Send(replica, self.outstanding[timestamp]))
        self._arm_retry_if_outstanding()

    def _arm_retry(self) -> None:
        """The retry timer, unless it runs already."""
        if not self._retry_pending:
            self._retry_pending = True
            self._out.append(SetTimer(RETRY, self.config.timeout))

    def _arm_retry_if_outstanding(self) -> None:
        if self.outstanding:
            self._retry_pending = True
            self._out.append(SetTimer(RETRY, self.config.timeout))

"""What a client plug-in gives meshcheck: a `SystemPlugin`, the object of an entry point of the group
`meshcheck.systems` (pyproject's `[project.entry-points."meshcheck.systems"]`), found by the name a
system file gives in `[client] plugin = "NAME"`.

A client is Jepsen's client (jepsen/src/jepsen/client.clj): opened on one node, it invokes one
operation at a time and says how it completed. `ok`: it took effect, `output` is its result; `fail`:
it certainly did not take effect; `info`: nobody knows (a timeout, a lost connection, an error the
system gives for something it may still have done); which error is which is one rule for every
plug-in (outcomes.py). The harness records the invocation and the completion with their times;
the checkers judge the history (traces/history/).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Literal
from typing import Protocol

import attrs

Status = Literal["ok", "fail", "info"]


@attrs.frozen
class Invocation:
    """One operation a client is asked to do: `f` is the workload's verb (`read`, `write`, `cas`,
    `acquire`, `release`, `revoke`, ...), `key` the key it acts on (None where a workload has none),
    `value` its argument (a write's value, a cas's (old, new), a lock's lease id)."""

    process: str
    f: str
    key: str | None
    value: Any


@attrs.frozen
class Completion:
    """How an operation completed: its `status` and `output` (the module's docstring); where the
    plug-in can tell, the node that `served` it (a replica's write the primary did: the primary)
    and the `leader` (or primary) as that node said it. Both are optional: a plug-in that cannot
    tell leaves them None, and the report names the node the client asked instead."""

    status: Status
    output: Any = None
    served: str | None = None
    leader: str | None = None


@attrs.frozen
class Endpoint:
    """Where a client reaches node `node`: its host and the port the system file names for
    clients, and every other named port of the node."""

    node: str
    host: str
    port: int
    ports: Mapping[str, int] = attrs.field(factory=dict)
    # every node's client address, so that a client told who leads can reach it (etcd's clientv3
    # and ZooKeeper's connect string take every server too): the runner fills it
    cluster: Mapping[str, tuple[str, int]] = attrs.field(factory=dict)


class Client(Protocol):
    """One client, bound to one node at a time (Jepsen binds clients to nodes)."""

    async def open(self, endpoint: Endpoint, timeout: float) -> None: ...

    async def invoke(self, op: Invocation, timeout: float) -> Completion: ...

    async def close(self) -> None: ...


@attrs.frozen
class ClientSettings:
    """What a client is built with: the system file's `[client]` table (`options`, as written),
    the read mode the run asked for (one of the file's `reads`), and the workload."""

    options: Mapping[str, Any]
    reads: str
    workload: str


# A system meshcheck runs by code of its own rather than from a file (the project's own cores:
# meshcheck/cluster/cores_cmd.py): given `cluster test`'s arguments and where progress lines go,
# the run's exit status.
Runner = Callable[[argparse.Namespace, Callable[[str], None]], int]

# Which node leads now, as the system itself says (the nemesis's `@leader` targets); None when no
# node answers. Given every node's endpoint.
Leader = Callable[[Sequence[Endpoint]], Awaitable[str | None]]


@attrs.frozen
class Ended:
    """What a plug-in's post-run hook (`SystemPlugin.after`) is given once the nodes stopped: the
    nodes' names and each one's placeholders' values (its `data`, its `dir`), the file's `[client]`
    options, the report folder, the history's operations, the kinds of fault the plan held,
    whether the file's logs are to be validated and within what budget, and where progress lines
    go."""

    names: Sequence[str]
    values: Mapping[str, Mapping[str, str]]
    options: Mapping[str, Any]
    folder: Path
    ops: Sequence[Any]
    kinds: frozenset[str]
    validate: bool
    budget: float
    progress: Callable[[str], None]
    watched: Sequence[Any] = ()  # what the plug-in's `watch` saw beside the clients


# What a plug-in watches of the running nodes beside the clients (the cores' state machines, read
# over their control channels), from when the clients start until they stop (then cancelled):
# given the file's `[client]` options, every node's endpoint, the run's clock, and the list it
# appends what it saw to, which the post-run hook is given (`Ended.watched`).
Watch = Callable[
    [Mapping[str, Any], Sequence[Endpoint], Callable[[], float], list[Any]], Awaitable[None]
]


# What a system's own checks judge once a run is over (its nodes' files, their logs against its
# spec), beside the history's: the verdicts (meshcheck/cluster/checks.py `Verdict`), judged as
# the history's are.
After = Callable[[Ended], Sequence[Any]]


@attrs.frozen
class SystemPlugin:
    """The object of a `meshcheck.systems` entry point: its `name` (the entry point's), how to build
    a client, optionally how to ask who leads, and optionally the system file it ships (so that
    `--system NAME` finds it). A plug-in with a `runner` runs its system itself (`--system NAME`
    hands `cluster test` to it) and needs no client. `after`: the post-run hook, verdicts of the
    system's own (`After`); `watch`: what it reads of the running nodes for them (`Watch`)."""

    name: str
    client: Callable[[ClientSettings], Client] | None = None
    workloads: tuple[str, ...] = ()
    leader: Leader | None = None
    file: Path | None = None
    runner: Runner | None = None
    after: After | None = None
    watch: Watch | None = None

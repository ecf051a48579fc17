"""Where a campaign's tasks run: a local process pool, or an existing distributed engine.

Four calls are all the campaign asks of an engine: `warm()` (start every worker and have it
import what a task needs, `tasks.warm_up`, before the campaign's clock starts), `submit(task)`
(run `tasks.run_task` on some worker), `wait(pending, timeout)` (the handles done so far, at least
one unless the timeout passes) and `result(handle)`. Each engine below is those calls on the
engine's own API; the scheduling, the transport and the workers' lives are the engine's. Workers
live as long as the campaign and take task after task: a worker's start-up (importing meshcheck,
Hypothesis and the protocols' checks, about a CPU-second; a JVM for TLC when a check needs one)
is paid once, not per task. A campaign of cluster tests (meshcheck/campaign/cluster_run.py) asks
two more: `call(fn, *args)` (any module-level function on some worker) and `value(handle)`.

- `local`: `concurrent.futures.ProcessPoolExecutor` with N processes started by `spawn` (each
  worker imports meshcheck afresh, and may start its own JVM for TLC: a JVM does not survive a
  fork), warmed by the pool's initializer;
- `dask`: Dask distributed (https://distributed.dask.org): `Client(address)` to a running
  scheduler whose workers run on other machines (`dask scheduler`, `dask worker ADDRESS
  --nworkers N --nthreads 1`), or, without an address, a `LocalCluster` of N one-thread
  processes on this machine; warmed with `Client.run` (every worker at once);
- `ray`: Ray (https://docs.ray.io): `ray.init(address)` to a running cluster (`ray start
  --head`, `ray start --address HEAD:6379`), or a local Ray of N CPUs; one task per CPU.

Dask is the one the `campaign` extra installs: measured on this machine with two local workers,
it started in 15.5 s against Ray's 25.4 s and added 39 ms per task against Ray's 64 ms, and it
installs a fraction of Ray's weight (docs/campaigns.md; bench/campaign_engines.py). Ray works
the same way when installed.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import logging
import multiprocessing
from collections.abc import Callable
from collections.abc import Collection
from typing import Any
from typing import Protocol

from meshcheck.campaign import tasks
from meshcheck.campaign.tasks import Result
from meshcheck.campaign.tasks import Task
from meshcheck.campaign.tasks import run_task
from meshcheck.impl.base.errors import MeshcheckError

ENGINES = ("local", "dask", "ray")


class Engine(Protocol):
    workers: int

    def warm(self) -> None: ...

    def submit(self, task: Task) -> Any: ...

    def wait(self, pending: Collection[Any], timeout: float) -> set[Any]: ...

    def result(self, handle: Any) -> Result: ...

    def call(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def value(self, handle: Any) -> Any: ...

    def close(self) -> None: ...


class Local:
    def __init__(self, workers: int, protocols: tuple[str, ...] = ()) -> None:
        self.workers = workers
        context = multiprocessing.get_context("spawn")
        self.ready = context.Semaphore(0)
        self.pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_warm_local, initargs=(protocols, self.ready)
        )

    def warm(self) -> None:
        # the pool starts a process per submission while none is idle: N no-ops start all N,
        # and each releases `ready` once its initializer has imported everything
        for f in [self.pool.submit(tasks.worker_name) for _ in range(self.workers)]:
            f.result()
        for _ in range(self.workers):
            if not self.ready.acquire(timeout=300):
                raise MeshcheckError("campaign: a local worker did not start within 5 minutes")

    def submit(self, task: Task) -> Any:
        return self.pool.submit(run_task, task)

    def wait(self, pending: Collection[Any], timeout: float) -> set[Any]:
        done, _ = concurrent.futures.wait(
            pending, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        return set(done)

    def result(self, handle: Any) -> Result:
        found: Result = handle.result()
        return found

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def value(self, handle: Any) -> Any:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _warm_local(protocols: tuple[str, ...], ready: Any) -> None:
    tasks.warm_up(protocols)
    ready.release()


# how long a Dask scheduler named by --address has to answer
CONNECT_SECONDS = 30


class Dask:
    def __init__(self, workers: int, address: str | None, protocols: tuple[str, ...] = ()) -> None:
        self.protocols = protocols
        try:
            self.dd: Any = importlib.import_module("dask.distributed")
        except ImportError:
            raise MeshcheckError(
                "--engine dask needs Dask distributed: pip install 'meshcheck[campaign]'"
            ) from None
        self.cluster: Any = None
        if address:
            try:
                self.client = self.dd.Client(address, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as exc:
                raise MeshcheckError(
                    f"campaign: --address {address}: no Dask scheduler answers ({exc})"
                ) from None
            info = self.client.scheduler_info()
            self.workers = max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))
        else:
            self.cluster = self.dd.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            self.client = self.dd.Client(self.cluster)
            self.workers = workers

    def warm(self) -> None:
        if self.cluster is not None:
            self.client.wait_for_workers(self.workers, timeout=300)
        self.client.run(tasks.warm_up, self.protocols)

    def submit(self, task: Task) -> Any:
        return self.client.submit(run_task, task, pure=False)

    def wait(self, pending: Collection[Any], timeout: float) -> set[Any]:
        try:
            done, _ = self.dd.wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
        except (self.dd.TimeoutError, TimeoutError):
            return set()
        return set(done)

    def result(self, handle: Any) -> Result:
        found: Result = handle.result()
        return found

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def value(self, handle: Any) -> Any:
        return handle.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class Ray:
    def __init__(self, workers: int, address: str | None, protocols: tuple[str, ...] = ()) -> None:
        self.protocols = protocols
        try:
            ray: Any = importlib.import_module("ray")
        except ImportError:
            raise MeshcheckError("--engine ray needs Ray: pip install ray") from None
        self.ray = ray
        if address:
            try:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            except (ConnectionError, OSError, TimeoutError) as exc:
                raise MeshcheckError(
                    f"campaign: --address {address}: no Ray head answers ({exc})"
                ) from None
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        else:
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                logging_level=logging.ERROR,
                log_to_driver=False,
            )
            self.workers = workers
        self.remote = ray.remote(num_cpus=1)(run_task)

    def warm(self) -> None:  # Ray has no call that reaches every worker: one warm-up per CPU
        warm = self.ray.remote(num_cpus=1)(tasks.warm_up)
        self.ray.get([warm.remote(self.protocols) for _ in range(self.workers)])

    def submit(self, task: Task) -> Any:
        return self.remote.remote(task)

    def wait(self, pending: Collection[Any], timeout: float) -> set[Any]:
        done, _ = self.ray.wait(list(pending), num_returns=1, timeout=timeout)
        return set(done)

    def result(self, handle: Any) -> Result:
        found: Result = self.ray.get(handle)
        return found

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.ray.remote(num_cpus=1)(fn).remote(*args)

    def value(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def close(self) -> None:
        self.ray.shutdown()


def start(
    engine: str, workers: int, address: str | None = None, protocols: tuple[str, ...] = ()
) -> Engine:
    """The engine by name, with `workers` local workers or joined to the cluster at `address`,
    whose workers `warm()` for `protocols`."""
    if engine == "local":
        if address:
            raise MeshcheckError("--address is for --engine dask or ray: local runs here")
        return Local(workers, protocols)
    if engine == "dask":
        return Dask(workers, address, protocols)
    if engine == "ray":
        return Ray(workers, address, protocols)
    raise MeshcheckError(f"no engine {engine!r} (engines: {', '.join(ENGINES)})")

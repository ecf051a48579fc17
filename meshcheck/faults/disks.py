"""The data directories of a cluster's nodes, one a node, on a lazy filesystem each when a power
failure is planned (docs/faults.md): what the nemesis's `power` and `corrupt` faults act on, for
the project's own nodes (meshcheck/cluster/layer.py) and for any system run from its file.

```python
with NodeDisks(run / "data", ["n1", "n2", "n3"], lazy=True) as disks:
    ...  # start each node on disks.data(node)
    ...  # kill n1's process, then:
    dropped = disks.power_failure("n1")  # its unsynced writes gone
    done = disks.corrupt("n2", random.Random(7), ["*.wal"])  # n2 stopped first
```

Lazy, node `n`'s directory `root/n` is the mountpoint of a `LazyMount` whose backing folder is
`root/.durable/n`: the backing holds what `n` synced, the mountpoint what it wrote. Not lazy, the
directories are plain folders and a power failure is refused (nothing could be dropped: the page
cache of this machine keeps every write).

Leaving the block however it ends unmounts every mount; when the block ends in this process (an
exception too) the run is over and its nodes stopped, so each node's directory is left holding
what its node last wrote, as a clean shutdown flushes the page cache: the report reads the state
files there. A harness killed with SIGKILL leaves the mounts to their daemons, which unmount
(lazyfs.py); the directories then hold nothing, their backing folders what was synced.
"""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

from meshcheck.faults.corrupt import Corruption
from meshcheck.faults.corrupt import corrupt_one
from meshcheck.faults.lazyfs import DaemonDied
from meshcheck.faults.lazyfs import LazyFsError
from meshcheck.faults.lazyfs import LazyMount
from meshcheck.impl.base.errors import MeshcheckError

DURABLE = ".durable"  # the backing folders, under the root
_FINAL = ".final"  # each mount's last live image, copied out before it is unmounted


class NodeDisks:
    """Each of `nodes`' data directory under `root`, lazily mounted when `lazy`."""

    def __init__(
        self, root: Path, nodes: Sequence[str], *, lazy: bool, durability: str = "strict"
    ) -> None:
        self.root = Path(root)
        self.nodes = tuple(nodes)
        self.lazy = lazy
        self.durability = durability  # the lazy mounts' model (meshcheck/faults/lazy_tree.py)
        self._mounts: dict[str, LazyMount] = {}

    def __enter__(self) -> NodeDisks:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            for node in self.nodes:
                here = self.data(node)
                here.mkdir(parents=True, exist_ok=True)
                if self.lazy:
                    backing = self.root / DURABLE / node
                    backing.mkdir(parents=True, exist_ok=True)
                    for old in here.iterdir():  # what was there before is on the disk already
                        shutil.move(old, backing / old.name)
                    mount = LazyMount(backing, here, self.durability)
                    mount.mount()
                    self._mounts[node] = mount
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for node, mount in list(self._mounts.items()):
            final = self.root / _FINAL / node
            with contextlib.suppress(OSError, shutil.Error):
                shutil.rmtree(final, ignore_errors=True)
                shutil.copytree(mount.mountpoint, final)
            mount.unmount()
            del self._mounts[node]
            kept = final if final.is_dir() else self.root / DURABLE / node
            with contextlib.suppress(OSError, shutil.Error):
                for item in kept.iterdir():
                    shutil.move(item, self.data(node) / item.name)
        for leftover in (_FINAL, DURABLE):
            shutil.rmtree(self.root / leftover, ignore_errors=True)

    def data(self, node: str) -> Path:
        """The node's data directory."""
        if node not in self.nodes:
            raise MeshcheckError(f"{node}: not one of the nodes {', '.join(self.nodes)}")
        return self.root / node

    def power_failure(self, node: str) -> int:
        """Every write to the node's directory it did not fsync dropped (its process must be dead,
        as a power failure leaves it); returns how many files and folders had unsynced changes."""
        mount = self._mounts.get(node)
        if mount is None:
            raise LazyFsError(
                f"{node}: a power failure needs its data directory on a lazy filesystem "
                "(NodeDisks(..., lazy=True))"
            )
        with self._daemon_of(node, mount):
            changed = mount.unsynced()
            mount.power_failure()
        return changed

    def losses(self, node: str) -> list[str]:
        """What a power failure of the node would now lose, path by path (none when not lazy)."""
        mount = self._mounts.get(node)
        if mount is None:
            return []
        with self._daemon_of(node, mount):
            return mount.losses()

    def dead(self) -> list[DaemonDied]:
        """The mounts whose daemon has ended while mounted (none when not lazy)."""
        ended = [(n, m.exit_code()) for n, m in self._mounts.items()]
        return [DaemonDied(n, code) for n, code in ended if code is not None]

    @contextlib.contextmanager
    def _daemon_of(self, node: str, mount: LazyMount) -> Iterator[None]:
        """A question to the node's daemon that failed because the daemon died: said so, with
        the node (the socket's broken pipe or end of file alone names neither)."""
        try:
            yield
        except (OSError, LazyFsError) as e:
            code = mount.exit_code()
            if code is None:
                raise
            raise DaemonDied(node, code) from e

    def corrupt(self, node: str, rng: random.Random, globs: Sequence[str]) -> list[Corruption]:
        """One non-empty file of the node's matching `globs` (every file when none is given),
        drawn by `rng`, truncated or given one to three flipped bits, the damage fsynced; what
        was done, the file named relative to the node's directory. None when no file matches.
        The node must be stopped."""
        return corrupt_one(self.data(node), rng, globs)

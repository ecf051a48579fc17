"""The nodes' data directories (meshcheck/faults/disks.py): on a lazy filesystem each, a power
failure of one node drops only its unsynced writes; corruption is seeded, recorded and durable;
the mounts go however the block ends and leave each directory holding what its node wrote."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import time
from pathlib import Path

import pytest

from meshcheck.cluster import disk_faults
from meshcheck.cluster.left_down import LeftDown
from meshcheck.cluster.nemesis import Fault
from meshcheck.faults.corrupt import flip_bits
from meshcheck.faults.corrupt import truncate_file
from meshcheck.faults.disks import DURABLE
from meshcheck.faults.disks import NodeDisks
from meshcheck.faults.lazyfs import DaemonDied
from meshcheck.faults.lazyfs import LazyFsError
from meshcheck.faults.lazyfs import fuse_unavailable
from meshcheck.faults.lazyfs import is_mounted
from meshcheck.impl.base.errors import ImplError

_WHY = fuse_unavailable()
fuse = pytest.mark.skipif(_WHY is not None, reason=f"FUSE cannot be mounted: {_WHY}")
NODES = ("n1", "n2", "n3")


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if sync:
        fd = os.open(path.parent, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)


def test_plain_directories_refuse_a_power_failure_and_corrupt_with_a_record(
    tmp_path: Path,
) -> None:
    with NodeDisks(tmp_path / "data", NODES, lazy=False) as disks:
        assert [disks.data(n).is_dir() for n in NODES] == [True] * 3
        with pytest.raises(LazyFsError, match="lazy filesystem"):
            disks.power_failure("n1")
        (disks.data("n2") / "state.wal").write_bytes(bytes(range(200)))
        (disks.data("n2") / "node.log").write_bytes(b"x" * 50)
        first = disks.corrupt("n2", random.Random(4), ["*.wal"])
        assert first and {c.file for c in first} == {"state.wal"}  # the glob, not the log
        assert disks.corrupt("n1", random.Random(4), ["*.wal"]) == []  # nothing to damage
    # the same seed on the same file does the same thing
    with NodeDisks(tmp_path / "again", NODES, lazy=False) as disks:
        (disks.data("n2") / "state.wal").write_bytes(bytes(range(200)))
        assert disks.corrupt("n2", random.Random(4), ["*.wal"]) == first


@fuse
def test_a_power_failure_drops_one_nodes_unsynced_writes_and_no_one_elses(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with NodeDisks(root, NODES, lazy=True) as disks:
        assert all(is_mounted(disks.data(n)) for n in NODES)
        for n in NODES:
            _write(disks.data(n) / "state.wal", b"synced;", sync=True)
            _write(disks.data(n) / "state.wal", b"unsynced;", sync=False)
            _write(disks.data(n) / "new.log", b"never synced", sync=False)
        assert disks.power_failure("n2") == 3  # state.wal's tail, new.log, the folder's new name
        assert (disks.data("n2") / "state.wal").read_bytes() == b"synced;"
        assert not (disks.data("n2") / "new.log").exists()
        assert (disks.data("n1") / "state.wal").read_bytes() == b"synced;unsynced;"
        assert disks.power_failure("n2") == 0  # nothing unsynced left
    # the block left: no mount, each folder what its node last wrote (a clean shutdown)
    assert not any(is_mounted(root / n) for n in NODES)
    assert (root / "n1" / "state.wal").read_bytes() == b"synced;unsynced;"
    assert (root / "n1" / "new.log").read_bytes() == b"never synced"
    assert (root / "n2" / "state.wal").read_bytes() == b"synced;"
    assert not (root / DURABLE).exists()


@fuse
def test_corruption_is_durable_through_a_power_failure(tmp_path: Path) -> None:
    with NodeDisks(tmp_path / "data", NODES, lazy=True) as disks:
        wal = disks.data("n1") / "state.wal"
        _write(wal, bytes(range(256)), sync=True)
        done = disks.corrupt("n1", random.Random(1), ["state.wal"])
        damaged = wal.read_bytes()
        assert damaged != bytes(range(256))
        disks.power_failure("n1")  # the damage is on the disk, not in its cache
        assert wal.read_bytes() == damaged
        for change in done:
            if change.kind == "truncate":
                assert len(damaged) == change.after < change.before == 256
            else:
                assert (damaged[change.offset] ^ change.offset) >> change.bit & 1


@fuse
def test_flipped_bits_and_a_truncation_are_each_durable_through_a_power_failure(
    tmp_path: Path,
) -> None:
    """Each kind of damage is fsynced by itself (a bad disk's is what the disk holds): a power
    failure right after it keeps it, whichever the draw."""
    with NodeDisks(tmp_path / "data", NODES, lazy=True) as disks:
        wal = disks.data("n1") / "state.wal"
        _write(wal, bytes(range(256)), sync=True)
        flips = flip_bits(wal, random.Random(3), "state.wal", 3)
        flipped = wal.read_bytes()
        assert [c.kind for c in flips] == ["flip"] * 3 and flipped != bytes(range(256))
        disks.power_failure("n1")
        assert wal.read_bytes() == flipped
        cut = truncate_file(wal, random.Random(3), "state.wal")
        disks.power_failure("n1")
        assert wal.read_bytes() == flipped[: cut.after]


def test_an_empty_file_is_never_the_one_damaged(tmp_path: Path) -> None:
    """Only a file with bytes in it can be truncated or flipped: an empty one beside it that
    matches the globs is never drawn."""
    with NodeDisks(tmp_path / "data", NODES, lazy=False) as disks:
        (disks.data("n1") / "a.wal").write_bytes(b"")
        for seed in range(20):
            (disks.data("n1") / "b.wal").write_bytes(bytes(range(50)))
            done = disks.corrupt("n1", random.Random(seed), ["*.wal"])
            assert done and {c.file for c in done} == {"b.wal"}, seed


@fuse
def test_an_exception_in_the_block_still_unmounts(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(RuntimeError), NodeDisks(root, NODES, lazy=True) as disks:
        _write(disks.data("n3") / "f", b"kept", sync=False)
        raise RuntimeError("the run failed")
    assert not any(is_mounted(root / n) for n in NODES)
    assert (root / "n3" / "f").read_bytes() == b"kept"


def test_an_unknown_node_is_one_clear_error(tmp_path: Path) -> None:
    with NodeDisks(tmp_path, NODES, lazy=False) as disks, pytest.raises(Exception, match="n9"):
        disks.data("n9")


class _Nodes:
    """Processes that refuse to start once their state file was damaged; those named in `quits`
    open their port and exit at once, as etcd does with a data directory it refuses."""

    def __init__(self, disks: NodeDisks, quits: frozenset[str] = frozenset()) -> None:
        self.disks = disks
        self.quits = quits
        self.calls: list[str] = []
        self.up = set(NODES)

    def kill(self, name: str) -> None:
        self.calls.append(f"kill {name}")
        self.up.discard(name)

    def start(self, name: str) -> None:
        self.calls.append(f"start {name}")
        if (self.disks.data(name) / "state.wal").read_bytes() != bytes(range(200)):
            raise ImplError(f"{name} exited with 2: the state file is damaged")
        if name not in self.quits:
            self.up.add(name)

    def running(self) -> list[str]:
        return sorted(self.up)

    def tail(self, name: str, lines: int = 3) -> str:
        return f"{name}: has already been bootstrapped" if name in self.quits else ""

    def pause(self, name: str) -> None: ...

    def resume(self, name: str) -> None: ...


def test_the_corrupt_callback_kills_damages_and_leaves_a_refusing_node_down(
    tmp_path: Path,
) -> None:
    notes: list[str] = []
    with NodeDisks(tmp_path / "data", NODES, lazy=False) as disks:
        for n in NODES:
            (disks.data(n) / "state.wal").write_bytes(bytes(range(200)))
        nodes = _Nodes(disks)
        _power, corrupt = disk_faults.callbacks(nodes, disks, 5, ["state.wal"], notes.append)

        async def strike() -> None:
            restart = await corrupt(Fault(1.0, "corrupt", ("n1", "n3"), 0.5))
            assert nodes.calls == ["kill n1", "kill n3"]  # both stopped before any damage
            await restart()

        asyncio.run(strike())
    # each that refused killed again: what is left of a node that never got ready is not kept
    assert nodes.calls[2:] == ["start n1", "kill n1", "start n3", "kill n3"]
    assert notes[0].startswith("corrupt n1: state.wal: ")
    assert notes[1].startswith("corrupt n3: state.wal: ")
    assert notes[2:] == [
        "n1 did not come back, left down: n1 exited with 2: the state file is damaged",
        "n3 did not come back, left down: n3 exited with 2: the state file is damaged",
    ]


@fuse
def test_a_node_that_exits_right_after_it_opened_its_port_is_said_down(tmp_path: Path) -> None:
    """A node restarted after a power failure whose port accepted a connection and which then
    exited (etcd refusing a data directory that lost its WAL) did not come back: the note says so,
    as for one that never listened; the one that stays up gets no note."""
    notes: list[str] = []
    with NodeDisks(tmp_path / "data", NODES, lazy=True) as disks:
        for n in NODES:
            _write(disks.data(n) / "state.wal", bytes(range(200)), sync=True)
        nodes = _Nodes(disks, quits=frozenset({"n2"}))
        down = LeftDown(lambda: 1.5, lambda n, k: [f"{n}: bootstrapped"], most=1)
        power, _corrupt = disk_faults.callbacks(
            nodes, disks, 5, ["state.wal"], notes.append, settle=0.05, down=down
        )

        async def strike() -> None:
            restart = await power(Fault(1.0, "power", ("n1", "n2"), 0.5))
            await restart()

        asyncio.run(strike())
    assert nodes.calls == ["kill n1", "kill n2", "start n1", "start n2"]
    assert nodes.running() == ["n1", "n3"]
    assert notes[0].startswith("power failure of n1,n2: ")
    assert notes[1:] == [
        "n2 did not come back, left down: it exited within 0.05 s of opening its port: "
        "n2: has already been bootstrapped"
    ]
    # and declared down for the rest of the run: no later fault waits for it (left_down.py)
    assert list(down.nodes) == ["n2"] and down.nodes["n2"].last == ("n2: bootstrapped",)


@fuse
def test_a_daemon_that_died_is_named_with_its_node(tmp_path: Path) -> None:
    """issue [23] item 4: the daemon of a node's lazy filesystem killed mid-run made the run exit
    141 with no word (a broken pipe to its socket). `dead` names it with its node and how it
    ended; a question to it says the same, not the broken pipe; the block still unmounts."""
    root = tmp_path / "data"
    with NodeDisks(root, NODES, lazy=True) as disks:
        assert disks.dead() == []
        daemon = disks._mounts["n2"].pid
        assert daemon is not None
        os.kill(daemon, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not disks.dead() and time.monotonic() < deadline:
            time.sleep(0.01)
        said = "the lazy file system's daemon for node n2 died (killed by SIGKILL) during the run"
        assert [str(d) for d in disks.dead()] == [said]
        with pytest.raises(DaemonDied, match=re.escape(said)):
            disks.losses("n2")
        with pytest.raises(DaemonDied, match=re.escape(said)):
            disks.power_failure("n2")
        assert disks.losses("n1") == []  # the others go on
    assert not any(is_mounted(root / n) for n in NODES)

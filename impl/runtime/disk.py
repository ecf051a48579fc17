"""A node's stable storage on a real disk: a write-ahead file of `Persist` batches, each fsynced
before the step's sends leave (the rule impl/base/effects.py states and the simulator enforces).

The file is a sequence of records, each four bytes of length, four of CRC-32, then one batch's
writes in the node's codec. A batch is written with one `write` call and then `fsync`ed, so a
process killed at any instant leaves either the whole record or none of it (the kernel has the
bytes once `write` returns; `fsync` makes them survive the machine as well). Reading it back
replays the batches in order; the node restarts with exactly that (`Restart(persisted)`).

What is never done: start empty because the file could not be read. A truncated record, a wrong
checksum or bytes the codec refuses is a `StateFileError` naming the file and the offset, and the
node does not start. Only a file that does not exist is a first boot.

A participant that is not a node (a client core the harness hosts, impl/runtime/member.py) writes
its file the same way without the fsyncs (`sync=False`): the harness kills its clients, never the
machine, and a killed process keeps what it wrote.

The file is compacted once it holds `compact_after` records: the current content is written as one
record to a temporary file, fsynced, renamed over the old one, and the directory fsynced.

`bugs` switches on the mutants of this discipline (impl/runtime/mutants.py): `skip_fsync` never
fsyncs, `ack_before_fsync` lets a record's fsync wait up to a second, after the step's answers left.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Splice
from meshcheck.impl.base.effects import Write
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.codec import CodecError
from meshcheck.impl.runtime.mutants import ACK_BEFORE_FSYNC
from meshcheck.impl.runtime.mutants import BUGS
from meshcheck.impl.runtime.mutants import DEFERRED_SECONDS
from meshcheck.impl.runtime.mutants import SKIP_FSYNC

_HEADER = struct.Struct(">II")  # length, CRC-32 of the payload


def _fsync_directory(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class StateFileError(MeshcheckError):
    """A state file that cannot be read back exactly."""


def _writes(raw: Any) -> list[Write]:
    if not isinstance(raw, list):
        raise CodecError("a record is not a list of writes")
    writes: list[Write] = []
    for w in raw:
        if isinstance(w, list) and len(w) == 2 and isinstance(w[0], str):
            writes.append(Put(w[0], w[1]))
        elif (
            isinstance(w, list)
            and len(w) == 3
            and isinstance(w[0], str)
            and isinstance(w[1], int)
            and isinstance(w[2], tuple)
        ):
            writes.append(Splice(w[0], w[1], w[2]))
        else:
            raise CodecError(f"a record holds a write that is neither a put nor a splice: {w!r}")
    return writes


def _record(raw: bytes, at: int, codec: Codec) -> tuple[str | None, list[Write] | str, int]:
    """The record at byte `at`: (why it is cut short, None if it is whole; its writes, or why they
    cannot be read; the byte after it)."""
    if len(raw) - at < _HEADER.size:
        return "a truncated record header", [], at
    size, crc = _HEADER.unpack_from(raw, at)
    payload = raw[at + _HEADER.size : at + _HEADER.size + size]
    if len(payload) < size:
        return f"a truncated record ({len(payload)} of {size} bytes)", [], at
    after = at + _HEADER.size + size
    if zlib.crc32(payload) != crc:
        return None, "a record whose checksum does not match", after
    try:
        return None, _writes(codec.decode(payload)), after
    except CodecError as e:
        return None, str(e), after


def whole_records(raw: bytes, codec: Codec, at: int = 0) -> tuple[list[list[Write]], int]:
    """The whole records of `raw` from byte `at` on, and the byte where the first one cut short
    begins (len(raw) when none is): what a reader of a file its node is still appending to takes,
    reading on from that byte later. A whole record that cannot be read is a StateFileError."""
    out: list[list[Write]] = []
    while at < len(raw):
        truncated, writes, after = _record(raw, at, codec)
        if truncated is not None:
            break
        if isinstance(writes, str):
            raise StateFileError(f"{writes} at byte {at}")
        out.append(writes)
        at = after
    return out, at


class Disk:
    """One node's write-ahead file at `path`."""

    def __init__(
        self,
        path: Path,
        codec: Codec,
        *,
        compact_after: int = 1000,
        sync: bool = True,
        bugs: Collection[str] = (),
    ) -> None:
        self.path = path
        unknown = sorted(set(bugs) - set(BUGS))
        if unknown:
            raise StateFileError(f"{unknown[0]} is not a runtime mutant ({', '.join(BUGS)})")
        # False: records are written, not fsynced (a client process's own crash keeps what it
        # wrote; impl/runtime/member.py), so no participant's write stalls the harness's loop
        self._sync = sync and SKIP_FSYNC not in bugs
        # the mutant: a record's fsync waits for a later write, a second after the last fsync
        self._deferred = ACK_BEFORE_FSYNC in bugs
        self._synced_at = time.monotonic()
        self._codec = codec
        self._compact_after = compact_after
        self._data: dict[str, Any] = {}
        self._records = 0
        self._fd: int | None = None
        self.fsyncs = 0

    # -- reading --------------------------------------------------------------------------------------

    def load(self) -> Mapping[str, Any]:
        """Read the file (none: a first boot) and open it for appending; what was persisted."""
        self._data = {}
        self._records = 0
        if self.path.exists():
            raw = self.path.read_bytes()
            at = 0
            while at < len(raw):
                truncated, writes, after = _record(raw, at, self._codec)
                if truncated is not None:
                    raise self._bad(at, truncated)
                if isinstance(writes, str):
                    raise self._bad(at, writes)
                self._apply(writes)
                self._records += 1
                at = after
        first_boot = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if first_boot and self._sync:
            # the file's name, and those of the folders above it (made here or just before by the
            # node's process), durable before any record: an fsync of the file alone does not make
            # a new name survive the machine (POSIX; tests/test_lazy_fs.py shows the whole file
            # lost otherwise). Once, at first boot.
            for directory in (self.path.parent, *self.path.parent.parents):
                _fsync_directory(directory)
        return self.view()

    def _bad(self, at: int, what: str) -> StateFileError:
        return StateFileError(f"{self.path}: {what} at byte {at}; the node will not start on it")

    def view(self) -> Mapping[str, Any]:
        """What a restart gets: lists as tuples (the core cannot alias them)."""
        return {k: tuple(v) if isinstance(v, list) else v for k, v in self._data.items()}

    # -- writing --------------------------------------------------------------------------------------

    def persist(self, writes: tuple[Write, ...], written: Callable[[], None] | None = None) -> None:
        """Make one batch durable: appended, written in one call, fsynced. `written`, if given,
        runs once the record is written and before the fsync: what must outlive a kill -9 of the
        process exactly when the record does (a killed process's writes stay with the operating
        system; the fsync is for the machine's own crash), as the host's log lines (host.py)."""
        if self._fd is None:
            raise StateFileError(f"{self.path}: persist before load")
        raw = [
            [w.key, w.value] if isinstance(w, Put) else [w.key, w.start, tuple(w.items)]
            for w in writes
        ]
        self._write(self._fd, self._codec.encode(raw), written)
        self._apply(writes)
        if self._records >= self._compact_after:
            self._compact()

    def _write(self, fd: int, payload: bytes, then: Callable[[], None] | None = None) -> None:
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        written = os.write(fd, record)
        if written != len(record):  # a full disk: say so, never go on half-written
            raise StateFileError(f"{self.path}: wrote {written} of {len(record)} bytes")
        if then is not None:
            then()
        if self._sync and not (
            self._deferred and time.monotonic() - self._synced_at < DEFERRED_SECONDS
        ):
            os.fsync(fd)
            self.fsyncs += 1
            self._synced_at = time.monotonic()
        self._records += 1

    def _apply(self, writes: list[Write] | tuple[Write, ...]) -> None:
        for w in writes:
            if isinstance(w, Put):
                self._data[w.key] = w.value
            else:
                current = self._data.get(w.key)
                current = list(current) if current is not None else []
                del current[w.start :]
                current.extend(w.items)
                self._data[w.key] = current

    def _compact(self) -> None:
        tmp = self.path.with_name(self.path.name + ".compact")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self._records = 0
            view = self.view()
            self._write(fd, self._codec.encode([[k, v] for k, v in sorted(view.items())]))
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_directory(self.path.parent)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

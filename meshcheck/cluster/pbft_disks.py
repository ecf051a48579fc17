"""What the honest replicas of a PBFT cluster wrote to disk, judged write by write: the rules the
simulator's rejection oracle holds them to after every step (property_tests/pbft/oracle.py), on
what a replica persists (impl/pbft/storage.py: the messages it sent, the certificates its commits
rest on, its stable checkpoint with the proof, its audit log), in the order it persisted them.

- Signatures: every signed message a replica kept, and every one inside it, is what its signer
  signed (impl/pbft/byzantine/fuzz.py `forged_part`, checked here with the cluster's own key ring,
  not the replica's checks): a replica that took a message in another replica's name, or a
  pre-prepare whose batch is not the one its digest names, keeps it in the certificate it acted on.
- Evidence: an honest replica's audit log accuses Byzantine replicas only (section 2 of the paper
  lets a faulty replica relay what a signature does not cover; that must not get its honest signer
  blamed). In a run without Byzantine replicas, no accusation at all.
- Certificates, counted by distinct eligible signers (impl/pbft/byzantine/certificates.py): each
  view-change and new-view message kept; the certificate each of the replica's own commits above
  its stable checkpoint rests on when the commit is written (the pre-prepare of that view's
  primary, a quorum less one of distinct backups' matching prepares); each stable checkpoint's
  proof (a quorum of distinct replicas).

A correct replica writes nothing else, whatever a Byzantine one sends it: the simulator's free runs
check the same rules after every event. Read once the processes ended, a state file shows only what
was still kept (garbage collection at a stable checkpoint drops the certificates below it), so
`Tail` follows each honest replica's file while the run goes on and hands every whole record to
the replica's `DiskJudge` as it appears. What a tail can miss: records written and compacted
into one (impl/runtime/disk.py, every 1,000 records) between two of its reads; the compacted
record still holds what was kept then. A tail tells a compacted file by its new inode; two
compactions between two reads (2,000 records in 0.2 s, where a replica writes about a hundred a
second) could give the file back its old inode, which nothing here guards against.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from meshcheck import words
from meshcheck.cluster.checks import Verdict
from meshcheck.impl.base.effects import Put
from meshcheck.impl.base.effects import Write
from meshcheck.impl.pbft.byzantine.certificates import certificate_problem
from meshcheck.impl.pbft.byzantine.certificates import checkpoint_proof_problem
from meshcheck.impl.pbft.byzantine.certificates import commit_problem
from meshcheck.impl.pbft.byzantine.fuzz import forged_part
from meshcheck.impl.pbft.crypto import KeyRing
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.storage import AUDIT
from meshcheck.impl.pbft.storage import LOG
from meshcheck.impl.pbft.storage import STABLE
from meshcheck.impl.runtime.codec import Codec
from meshcheck.impl.runtime.disk import StateFileError
from meshcheck.impl.runtime.disk import whole_records

NAME = "honest disks (signatures, evidence, certificates)"


class DiskJudge:
    """One honest replica's state, rebuilt from its writes in order, each batch judged by the rules
    of the module doc as it is applied. `problem` is the first rule broken (None: none yet)."""

    def __init__(
        self, node: str, replicas: tuple[str, ...], byzantine: frozenset[str], keys: KeyRing
    ) -> None:
        self.node = node
        self.replicas = replicas
        self.byzantine = byzantine
        self.keys = keys
        self.content: dict[str, Any] = {}
        self.problem: str | None = None
        self.batches = 0
        self.messages = 0  # distinct messages kept, each judged once
        self.certificates = 0  # view changes, new views, commits and stable checkpoints counted
        self.accusations = 0
        self._judged: set[Any] = set()
        self._stable: Any = None

    def fresh(self) -> DiskJudge:
        """A judge of the same replica that has read nothing, holding the problem this one found
        (what a replica wrote stays written, whatever its disk lost since)."""
        new = DiskJudge(self.node, self.replicas, self.byzantine, self.keys)
        new.problem = self.problem
        return new

    def apply(self, writes: Sequence[Write]) -> None:
        """One persisted batch: applied, then what it added judged."""
        if self.problem is not None:
            return
        self.batches += 1
        for w in writes:
            if isinstance(w, Put):
                self.content[w.key] = w.value
            else:
                current = list(self.content.get(w.key, ()))
                del current[w.start :]
                current.extend(w.items)
                self.content[w.key] = current
        self.problem = self._audit() or self._stable_proof() or self._kept()

    def _audit(self) -> str | None:
        records = self.content.get(AUDIT, ())
        for record in records[self.accusations :]:
            if record.accused not in self.byzantine:
                return f"{self.node} accuses honest {record.accused} of {record.kind} ({record.detail})"
        self.accusations = len(records)
        return None

    def _stable_proof(self) -> str | None:
        stable = self.content.get(STABLE)
        if stable is None or stable[0] == 0 or stable == self._stable:
            return None
        self._stable = stable
        self.certificates += 1
        why = checkpoint_proof_problem(stable[0], stable[1], stable[2], self.replicas)
        return None if why is None else f"{self.node}'s stable checkpoint {stable[0]}: {why}"

    def _kept(self) -> str | None:
        log = tuple(self.content.get(LOG, ()))
        stable = self.content.get(STABLE)
        low = stable[0] if stable is not None else 0
        fresh = [m for m in _kept(log, stable) if _key(m) not in self._judged]
        if not fresh:
            return None
        for m in fresh:
            self._judged.add(_key(m))
            self.messages += 1
            try:
                why = forged_part(m, self._verify)
            except Exception:  # a shape no one signs: forged through and through
                why = "a message no one can have signed"
            if why is not None:
                what = type(m.body).__name__ if isinstance(m, Signed) else type(m).__name__
                return f"{self.node} keeps a {what}: {why}"
            if isinstance(m.body, ViewChange | NewView):
                self.certificates += 1
                why = certificate_problem(m, self.replicas)
                if why is not None:
                    return f"{self.node} keeps a {type(m.body).__name__}: {why}"
        pre_prepares = [m for m in log if isinstance(m.body, PrePrepare)]
        prepares = [m for m in log if isinstance(m.body, Prepare)]
        for m in fresh:
            body = m.body
            if isinstance(body, Commit) and m.signer == self.node and body.seq > low:
                self.certificates += 1
                why = commit_problem(
                    body.view, body.seq, body.digest, pre_prepares, prepares, self.replicas
                )
                if why is not None:
                    return f"{self.node} committed view {body.view}, number {body.seq} on {why}"
        return None

    def _verify(self, m: Signed[Any]) -> bool:
        return self.keys.verify(m.signer, m.signature, signing_bytes(m.body))


def _kept(log: Sequence[Any], stable: Any) -> Iterator[Any]:
    yield from log
    if stable is not None:
        yield from stable[2]


def _key(m: Any) -> Any:
    """What tells two kept messages apart (one a Byzantine replica built may not hash)."""
    try:
        hash(m)
    except TypeError:
        return repr(m)
    return m


def verdict(judges: Mapping[str, DiskJudge]) -> Verdict:
    """The check's row: the first problem of any replica, or what was judged."""
    for node in sorted(judges):
        if judges[node].problem is not None:
            return Verdict(NAME, False, str(judges[node].problem))
    js = judges.values()
    accusations = sum(j.accusations for j in js)
    byzantine = next(iter(js)).byzantine if judges else frozenset()
    accused = f"{accusations}, all of {', '.join(sorted(byzantine))}" if accusations else "none"
    return Verdict(
        NAME,
        True,
        f"{words.count(len(judges), 'replica')}, {words.count(sum(j.batches for j in js), 'write')}: "
        f"{words.count(sum(j.messages for j in js), 'message')} signed by their signers, "
        f"{sum(j.certificates for j in js)} certificates held; accusations: {accused}",
    )


class Tail:
    """A node's state file, read on from where the last read stopped: each whole record once, to
    its judge (impl/runtime/disk.py's format). A compaction replaces the file (a new inode): the
    reading starts again from its first record, which holds the whole content. A file that lost
    what was read of it (a power failure dropped its unsynced tail, a corruption cut it, and the
    node wrote on from there: meshcheck/faults/disks.py) is read again from its start by a new
    judge, which keeps a problem the old one found."""

    _SEEN = 16  # the bytes before where the last read stopped, kept to see them change

    def __init__(self, path: Path, codec: Codec, judge: DiskJudge) -> None:
        self.path = path
        self.codec = codec
        self.judge = judge
        self._at = 0
        self._inode: int | None = None
        self._seen = b""

    def read(self) -> None:
        try:
            with self.path.open("rb") as f:
                inode = os.fstat(f.fileno()).st_ino
                if inode != self._inode:
                    self._inode, self._at, self._seen = inode, 0, b""
                f.seek(self._at - len(self._seen))
                if f.read(len(self._seen)) != self._seen:  # what was read is no longer there
                    self.judge = self.judge.fresh()
                    self._at, self._seen = 0, b""
                f.seek(self._at)
                raw = f.read()
        except FileNotFoundError:
            return  # not written yet, or between a compaction's rename and its reopening
        try:
            records, used = whole_records(raw, self.codec)
        except StateFileError as e:  # a whole record no reader can take: the node's own start fails
            self.judge.problem = self.judge.problem or f"{self.path}: {e}"
            return
        if used:
            self._seen = (self._seen + raw[:used])[-self._SEEN :]
        self._at += used
        for writes in records:
            self.judge.apply(writes)

"""A replica's message log (OSDI 1999 section 4.2 and 4.3): pre-prepares, prepares and commits per
(view, sequence number), checkpoints per sequence number, the predicates `prepared` and
`committed-local`, and garbage collection below the low watermark.

The log stores only messages whose signatures were checked (replica.py does that); it decides
nothing about views or watermarks itself. The quorum sizes live here, once: `prepares_needed`
(2f matching prepares from distinct backups) and `stable_quorum` (2f+1 matching checkpoints), each
with the mutant that breaks it.
"""

from __future__ import annotations

from meshcheck.impl.base import quorum
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Commit
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed

Slot = tuple[int, int]  # (view, sequence number)
Vote = tuple[int, int, bytes]  # (view, sequence number, digest)


def prepares_needed(config: PbftConfig) -> int:
    """Prepares from distinct backups that, with the pre-prepare, make a request prepared: a quorum
    less the primary (2f at n = 3f+1), so that a quorum of replicas agree (section 4.2). The mutant
    stops one short: a quorum less one in all."""
    if mutants.PREPARE_QUORUM_2F in config.bugs:
        return max(config.quorum - 2, 0)
    return config.quorum - 1  # the pre-prepare is the primary's vote


def stable_quorum(config: PbftConfig) -> int:
    """Matching checkpoint messages that make a checkpoint stable (section 4.3): 2f+1."""
    if mutants.CHECKPOINT_STABLE_ON_F_PLUS_1 in config.bugs:
        return quorum.one_correct(config.f)
    return config.quorum


class MessageLog:
    """The messages a replica holds above its low watermark."""

    def __init__(self, config: PbftConfig) -> None:
        self.config = config
        self.pre_prepares: dict[Slot, Signed[PrePrepare]] = {}  # the one accepted per slot
        self.prepares: dict[Vote, dict[str, Signed[Prepare]]] = {}
        self.commits: dict[Vote, dict[str, Signed[Commit]]] = {}
        self.accepted: dict[Slot, bytes] = {}  # what this replica pre-prepared or prepared there
        self.commit_sent: set[Slot] = set()
        self.checkpoints: dict[int, dict[bytes, dict[str, Signed[Checkpoint]]]] = {}
        # per sequence number, the prepared certificate of the highest view this replica sent a
        # Commit for: the claims of its view-change messages (the set P)
        self.certificates: dict[int, PreparedProof] = {}
        # slots with a pre-prepare and no commit of this replica yet (what may still need a
        # prepare or a commit), and the views with a pre-prepare per sequence number: indexes
        # that spare a replica a scan of its whole log after every step
        self.open: set[Slot] = set()
        self.views_at: dict[int, list[int]] = {}

    # -- adding --------------------------------------------------------------------------------------

    def add_pre_prepare(self, m: Signed[PrePrepare]) -> Signed[PrePrepare] | None:
        """Keep the first pre-prepare of its slot; a different one already there is returned
        (equivocation, when both are the primary's)."""
        slot = (m.body.view, m.body.seq)
        held = self.pre_prepares.get(slot)
        if held is None:
            self.pre_prepares[slot] = m
            self.open.add(slot)
            self.views_at.setdefault(slot[1], []).append(slot[0])
            return None
        return held if held.body.digest != m.body.digest else None

    # A vote is kept once per sender: the first of each sender's votes for one (view, seq, digest);
    # a duplicate changes nothing (the callers never needed to know it was one).

    def add_prepare(self, m: Signed[Prepare]) -> None:
        votes = self.prepares.setdefault((m.body.view, m.body.seq, m.body.digest), {})
        votes.setdefault(m.body.src, m)

    def add_commit(self, m: Signed[Commit]) -> None:
        votes = self.commits.setdefault((m.body.view, m.body.seq, m.body.digest), {})
        votes.setdefault(m.body.src, m)

    def add_checkpoint(self, m: Signed[Checkpoint]) -> None:
        votes = self.checkpoints.setdefault(m.body.seq, {}).setdefault(m.body.digest, {})
        votes.setdefault(m.body.src, m)

    # -- predicates ----------------------------------------------------------------------------------

    def prepared(self, view: int, seq: int) -> PreparedProof | None:
        """The prepared certificate of (view, seq), if this replica has one: the pre-prepare it
        accepted, and prepares for the same digest from `prepares_needed` distinct backups (its
        own counts)."""
        pp = self.pre_prepares.get((view, seq))
        if pp is None or self.accepted.get((view, seq)) != pp.body.digest:
            return None
        votes = self.prepares.get((view, seq, pp.body.digest), {})
        backups = [votes[s] for s in sorted(votes) if s != pp.signer]
        needed = prepares_needed(self.config)
        if mutants.PREPARES_2F_AT_ANY_N in self.config.bugs:
            needed = 2 * self.config.f  # the bug: the count of n = 3f + 1 at every n
        if len(backups) < needed:
            return None
        return PreparedProof(pp, tuple(backups[:needed]))

    def committed_local(self, view: int, seq: int) -> bytes | None:
        """The digest committed-local at (view, seq) (section 4.2): this replica sent its commit
        and 2f+1 distinct replicas' commits match it (its own counts)."""
        if mutants.COMMIT_WITHOUT_COMMIT_PHASE in self.config.bugs:
            proof = self.prepared(view, seq)  # the bug: prepared is taken for committed
            return proof.digest if proof is not None else None
        if (view, seq) not in self.commit_sent:
            return None
        digest = self.accepted[(view, seq)]
        votes = self.commits.get((view, seq, digest), {})
        return digest if quorum.reaches(votes, self.config.quorum) else None

    def stable_candidate(
        self, low: int
    ) -> tuple[int, bytes, tuple[Signed[Checkpoint], ...]] | None:
        """The highest checkpoint above `low` with `stable_quorum` matching messages: its sequence
        number, digest and proof."""
        needed = stable_quorum(self.config)
        for seq in sorted(self.checkpoints, reverse=True):
            if seq <= low:
                break
            for digest in sorted(self.checkpoints[seq]):
                votes = self.checkpoints[seq][digest]
                if quorum.reaches(votes, needed):
                    return seq, digest, tuple(votes[s] for s in sorted(votes))[:needed]
        return None

    def mark_committed(self, slot: Slot) -> None:
        self.commit_sent.add(slot)
        self.open.discard(slot)

    def slots(self) -> list[Slot]:
        return sorted(self.pre_prepares)

    def open_slots(self, view: int) -> list[Slot]:
        """This view's slots (in order) where this replica has not committed yet."""
        return sorted(s for s in self.open if s[0] == view)

    # -- garbage collection (section 4.3) ------------------------------------------------------------

    def collect(self, low: int) -> None:
        """Discard everything at or below the new low watermark."""
        self.pre_prepares = {k: v for k, v in self.pre_prepares.items() if k[1] > low}
        self.prepares = {k: v for k, v in self.prepares.items() if k[1] > low}
        self.commits = {k: v for k, v in self.commits.items() if k[1] > low}
        self.accepted = {k: v for k, v in self.accepted.items() if k[1] > low}
        self.commit_sent = {k for k in self.commit_sent if k[1] > low}
        self.checkpoints = {k: v for k, v in self.checkpoints.items() if k > low}
        self.certificates = {k: v for k, v in self.certificates.items() if k > low}
        self.open = {k for k in self.open if k[1] > low}
        self.views_at = {k: v for k, v in self.views_at.items() if k > low}

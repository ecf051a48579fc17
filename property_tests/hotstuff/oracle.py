"""What honest HotStuff replicas must do with what Byzantine ones send them, checked after every step
of an honest replica in a free run (the plug-in's observers), as PBFT's oracle
(property_tests/pbft/oracle.py):

- Rejection: a message that is not a valid message of its signers (impl/hotstuff/fuzz.py
  `forged_part`: a signature inside that does not check, a QC without a quorum of distinct valid
  votes, a NEW-VIEW in another replica's name) is not taken: the replica does not vote for a forged
  proposal nor keep it, and keeps no forged vote, NEW-VIEW or request (the QCs it forms and
  accepts are the free-run monitor's Certified).
- Evidence: a message whose own signature does not check (a proposal's leader signature, a vote
  from its voter, a request) is recorded as `bad_signature` against the link's sender.
- No false accusation: an honest replica accuses Byzantine replicas only (a relayer that alters
  what a signature does not cover, a QC's votes, must not get an honest leader blamed).

The oracle checks signatures with its own code (the replica's may be a mutant's).
"""

from __future__ import annotations

from typing import Any

from meshcheck.impl.base import quorum
from meshcheck.impl.base.effects import Effect
from meshcheck.impl.base.effects import Send
from meshcheck.impl.base.events import Deliver
from meshcheck.impl.hotstuff.crypto import KeyRing
from meshcheck.impl.hotstuff.fuzz import forged_part
from meshcheck.impl.hotstuff.fuzz import qc_problem
from meshcheck.impl.hotstuff.messages import QC
from meshcheck.impl.hotstuff.messages import NewView
from meshcheck.impl.hotstuff.messages import Proposal
from meshcheck.impl.hotstuff.messages import SignedRequest
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.hotstuff.messages import proposal_bytes
from meshcheck.impl.hotstuff.messages import request_bytes
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hotstuff.replica import BAD_SIGNATURE
from meshcheck.impl.hotstuff.replica import Replica


class RejectionOracle:
    """Call it as an observer `(replica, event, effects)`; `violation` is the first rule broken."""

    def __init__(self, keys: KeyRing, replicas: tuple[str, ...], byzantine: frozenset[str]) -> None:
        self.keys = keys
        self.replicas = replicas
        n = len(replicas)
        self.quorum = quorum.byzantine_quorum(n, quorum.max_faulty(n))  # 2f+1 at n = 3f+1 only
        self.byzantine = byzantine
        self.violation: str | None = None
        self.checked = 0  # forged messages delivered to honest replicas
        self._read: dict[str, tuple[int, int]] = {}  # replica -> (id of object, records read)
        self._good_qcs: set[QC] = set()

    def _qc_ok(self, qc: QC) -> bool:
        if qc in self._good_qcs:
            return True
        if qc_problem(qc, self.keys, self.replicas, self.quorum) is not None:
            return False
        self._good_qcs.add(qc)
        return True

    def _outer_bad(self, source: str, m: Any) -> bool:
        """The message's own signature does not check (what must be blamed on `source`)."""
        if isinstance(m, Proposal):
            return not self.keys.verify(m.block.proposer, m.signature, proposal_bytes(m.block))
        if isinstance(m, Vote):
            return m.voter == source and not self.keys.verify(
                m.voter, m.signature, vote_bytes(m.block, m.view)
            )
        if isinstance(m, SignedRequest):
            return not self.keys.verify(m.request.client, m.signature, request_bytes(m.request))
        return False

    def __call__(self, r: Replica, event: Any, effects: list[Effect]) -> None:
        if self.violation is not None:
            return
        mark, read = self._read.get(r.id, (id(r), 0))
        if mark != id(r):
            read = 0  # a restarted replica: a new object
        new = r.accusations[read:] if read <= len(r.accusations) else r.accusations
        self._read[r.id] = (id(r), len(r.accusations))
        for a in new:
            if a.accused not in self.byzantine:
                self.violation = f"{r.id} accuses honest {a.accused} of {a.kind} ({a.detail})"
                return
        if not isinstance(event, Deliver) or event.source not in self.byzantine:
            return
        source, m = event.source, event.message
        why = forged_part(m, source, self.keys, self.replicas, self.quorum)
        if why is None:
            return
        self.checked += 1
        if self._outer_bad(source, m) and not any(
            a.accused == source and a.kind == BAD_SIGNATURE for a in new
        ):
            self.violation = f"{r.id} took {why} from {source} without recording {BAD_SIGNATURE}"
            return
        taken = self._taken(r, m, effects)
        if taken is not None:
            self.violation = f"{r.id} {taken} from {source}: {why}"

    def _taken(self, r: Replica, m: Any, effects: list[Effect]) -> str | None:
        if isinstance(m, Proposal):
            h = m.block.hash
            voted = any(
                isinstance(e, Send) and isinstance(e.message, Vote) and e.message.block == h
                for e in effects
            )
            if m in r._verified or r.waiting.get(h) == m:
                return "voted for a forged proposal" if voted else "took a forged proposal"
        elif isinstance(m, Vote):
            if r.votes.get((m.block, m.view), {}).get(m.voter) == m.signature:
                return "keeps a forged vote"
        elif isinstance(m, NewView):
            held = r.new_views.get(m.view, {}).get(m.src)
            if held == m.qc and not self._qc_ok(m.qc):
                return "keeps a NEW-VIEW with a forged QC"
        elif isinstance(m, SignedRequest) and r.pending.get(m.key) == m:
            return "keeps a forged request"
        return None

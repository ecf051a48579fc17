"""Evidence of Byzantine behaviour, the audit log that keeps it, reputation and quarantine.

Two kinds of evidence. Self-proving evidence carries messages the accused signed that no correct
replica signs: two different pre-prepares for one view and sequence number (`equivocation`), a
pre-prepare or new-view from a replica that is not the primary of its view (`wrong_primary`), a
pre-prepare of a request its client did not sign (`forged_request`), a view-change or new-view
message whose content its own signatures refute (`bad_view_change`, `bad_new_view`), a message
whose signed fields are not of their types, a string for a sequence number (`malformed`). Anyone can
check it (`proves`), so one piece is enough: the replica is quarantined at once. Evidence that
proves nothing to a third party, a message with a bad or missing signature (`bad_signature`: its
sender could be anyone who can reach the link) or a state that does not match its checkpoint's
digest (`bad_state`), costs reputation; a replica whose score falls below the threshold is
quarantined too.

A quarantined replica's messages are ignored from then on. That is safe (PBFT needs only 2f+1
correct replicas to answer), and it is what the audit log is for: each record says who reported,
about whom, what kind, the messages, and the reporter's clock time (a value the host passes in,
never the wall clock), so that an operator can check the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import Final

import attrs

from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.messages import NewView
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.messages import malformed
from meshcheck.impl.pbft.viewchange import check_new_view
from meshcheck.impl.pbft.viewchange import check_view_change
from meshcheck.impl.pbft.viewchange import relayed_intact

BAD_SIGNATURE: Final = "bad_signature"
EQUIVOCATION: Final = "equivocation"
WRONG_PRIMARY: Final = "wrong_primary"
FORGED_REQUEST: Final = "forged_request"
BAD_VIEW_CHANGE: Final = "bad_view_change"
BAD_NEW_VIEW: Final = "bad_new_view"
BAD_STATE: Final = "bad_state"
MALFORMED: Final = "malformed"

SELF_PROVING: Final = frozenset(
    {EQUIVOCATION, WRONG_PRIMARY, FORGED_REQUEST, BAD_VIEW_CHANGE, BAD_NEW_VIEW, MALFORMED}
)
FULL_SCORE: Final = 100


@attrs.frozen
class Evidence:
    """One record of the audit log."""

    reporter: str
    accused: str
    kind: str
    messages: tuple[Any, ...] = attrs.field(repr=False)
    time: int
    detail: str = ""

    @property
    def self_proving(self) -> bool:
        return self.kind in SELF_PROVING


class AuditLog:
    """A replica's evidence records, the reputation score of every other replica, and who is
    quarantined. Records are deduplicated: a message delivered twice is one offence."""

    def __init__(self, config: PbftConfig) -> None:
        self.config = config
        self.records: list[Evidence] = []
        self.scores: dict[str, int] = dict.fromkeys(config.replicas, FULL_SCORE)
        self.quarantined: set[str] = set()
        self._seen: set[tuple[str, str, Any]] = set()

    def report(
        self, accused: str, kind: str, messages: Iterable[Any], time: int, detail: str = ""
    ) -> Evidence | None:
        """Record evidence against `accused` (None: already on record, or about oneself or a
        stranger). Updates the score and the quarantine."""
        messages = tuple(messages)
        key: tuple[str, str, Any] = (accused, kind, messages)
        try:
            hash(key)
        except TypeError:  # garbage that cannot even be hashed: remember it by its text
            key = (accused, kind, repr(messages))
        if accused == self.config.id or accused not in self.scores or key in self._seen:
            return None
        self._seen.add(key)
        record = Evidence(self.config.id, accused, kind, messages, time, detail)
        self.records.append(record)
        self._judge(record)
        return record

    def restore(self, records: Iterable[Evidence]) -> None:
        """Rebuild scores and quarantine from persisted records (after a restart)."""
        for record in records:
            self._seen.add((record.accused, record.kind, record.messages))
            self.records.append(record)
            self._judge(record)

    def _judge(self, record: Evidence) -> None:
        if record.self_proving:
            self.scores[record.accused] = 0
        else:
            self.scores[record.accused] -= self.config.reputation_penalty
        if self.config.quarantine and self.scores[record.accused] < self.config.quarantine_below:
            self.quarantined.add(record.accused)

    def is_quarantined(self, replica: str) -> bool:
        return replica in self.quarantined


def proves(record: Evidence, config: PbftConfig, verify: Callable[[Signed[Any]], bool]) -> bool:
    """Whether a self-proving record proves what it says to anyone holding the public keys (what
    an operator, or another replica, checks before believing the audit log)."""
    msgs = record.messages
    signed_by_accused = all(
        isinstance(m, Signed) and m.signer == record.accused and verify(m) for m in msgs
    )
    if not msgs or not signed_by_accused:
        return False
    if record.kind == EQUIVOCATION and len(msgs) == 2:
        a, b = msgs[0].body, msgs[1].body
        return (
            isinstance(a, PrePrepare)
            and isinstance(b, PrePrepare)
            and (a.view, a.seq) == (b.view, b.seq)
            and a.digest != b.digest
        )
    if record.kind == WRONG_PRIMARY and len(msgs) == 1:
        body = msgs[0].body
        return (
            isinstance(body, PrePrepare | NewView) and config.primary(body.view) != record.accused
        )
    if record.kind == FORGED_REQUEST and len(msgs) == 1:
        body = msgs[0].body
        return (
            isinstance(body, PrePrepare)
            and batch_digest(body.batch) == body.digest
            and not all(verify(r) and r.signer == r.body.client for r in body.batch)
        )
    if record.kind == MALFORMED and len(msgs) == 1:
        return malformed(msgs[0]) is not None
    if record.kind in (BAD_VIEW_CHANGE, BAD_NEW_VIEW) and len(msgs) == 1:
        if not relayed_intact(msgs[0]):
            return False  # a batch inside is not the one its signer's digest names: not signed
        body = msgs[0].body
        if isinstance(body, ViewChange):
            return check_view_change(msgs[0], config, verify) is not None
        if isinstance(body, NewView):
            return isinstance(check_new_view(msgs[0], config, verify), str)
    return False

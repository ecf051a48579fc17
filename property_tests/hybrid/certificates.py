"""The hybrid layer's certificates: every check that takes a set of signed statements as a quorum
or as a proof counts each eligible signer (or each proof) once, and nothing else
(docs/certificates.md).

The statements are committed entries, applied by `HybridMachine.apply_entry` (the replicated
state's one door: impl/hybrid/machine.py), so what is checked is the path every honest node takes:

- **Reports** (`ThreatModel.counts`, levels.py): bad signatures and timing anomalies are counted
  by distinct *reporter* inside the window, so that f Byzantine reporters count f at most
  (`sig_high` = f+1). A drawn set of signed reports: distinct nodes' reports around the
  threshold, and the same record twice, a second report of one reporter (another clock reading),
  a report signed by a client's key or by no known key, a report accusing no node, a report
  whose signature is broken. Oracle: the count is the number of distinct nodes with a good report.
- **The replicated clock** (`ThreatModel.clock`): the (f+1)-th highest of the latest reports of
  distinct nodes, never going back. Drawn clock entries: nodes' reports, a node's second (higher
  or lower) report, a client's or a stranger's, a broken signature. Oracle: the same value
  computed from the eligible entries alone, each node's latest once.
- **Self-proving evidence** (proofs.py): an equivocation is one proof whoever reports it, in
  whatever order (`Evidence.key`); a HotStuff equivocation proof is two votes the accused signed
  for one view and different blocks. Drawn pairs: the same vote twice, a vote of another signer,
  of another view, of the same block, a broken signature. Oracle: accepted exactly when the two
  are the accused's good votes of one view for two blocks, and counted once per distinct proof.

`certificates(bugs, settings)` is the `Check` (property_tests/hybrid/checks.py) that runs them
with the catalogue's `bugs` switched on; tests/test_hybrid_certificates.py runs them with none.
"""

from __future__ import annotations

from typing import Any
from typing import Final

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from meshcheck.impl.hotstuff.messages import Vote as HsVote
from meshcheck.impl.hotstuff.messages import vote_bytes
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.entries import EvidenceEntry
from meshcheck.impl.hybrid.entries import Keys
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import EQUIVOCATION
from meshcheck.impl.hybrid.levels import TIMING
from meshcheck.impl.hybrid.proofs import HOTSTUFF_EQUIVOCATION
from meshcheck.impl.hybrid.proofs import EvidenceChecker
from meshcheck.impl.hybrid.threat import Evidence
from meshcheck.impl.hybrid.threat import ThreatModel
from meshcheck.property_tests.failure import CheckFailed

SIZES: Final = (4, 7)
CLIENT: Final = "c1"  # holds a key of the base ring (its operations), but is no node
OUTSIDER: Final = "n99"  # no node, no key
EXAMPLES: Final = 200
_KEYS: dict[int, Keys] = {}


def nodes(n: int) -> tuple[str, ...]:
    return tuple(f"n{k}" for k in range(1, n + 1))


def keys(n: int) -> Keys:
    if n not in _KEYS:  # key generation is the cost: once per size
        _KEYS[n] = Keys(7, nodes(n), (CLIENT,))
    return _KEYS[n]


class Threat:
    """The replicated threat state as `HybridMachine.apply_entry` feeds it (impl/hybrid/machine.py:
    an evidence entry through `ThreatModel.intake` with the `EvidenceChecker`, a clock entry
    through `Keys.clock_ok` and `ThreatModel.clock`), without the switch that closes an epoch
    once the level demands another protocol (after which the machine ignores what follows)."""

    def __init__(self, n: int, bugs: frozenset[str]) -> None:
        self.keys = keys(n)
        self.verify = EvidenceChecker(self.keys)
        self.threat = ThreatModel.for_f((n - 1) // 3, bugs=bugs, window=10_000)

    def apply(self, entry: EvidenceEntry | ClockEntry) -> None:
        if isinstance(entry, EvidenceEntry):
            self.threat, _ = self.threat.intake(entry.record, self.verify)
        elif self.keys.clock_ok(entry):
            self.threat = self.threat.clock(entry.node, entry.time)


def _broken(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:] if signature else b"\1"


# -- reports counted by distinct reporter --------------------------------------------------------------

REPORT_HOW: Final = ("good", "good", "again", "twice", "accuses_none", "broken")


def report(n: int, kind: str, reporter: str, time: int, accused: str = "n2") -> Evidence:
    record = Evidence(kind, reporter, accused, (), time)
    if reporter == OUTSIDER:
        return record  # no key: unsigned
    return keys(n).sign_evidence(record)


def report_items(n: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Distinct nodes' good reports around the threshold (f to f+2), and up to three others of
    any kind, in any order."""
    f = (n - 1) // 3
    size = st.one_of(st.integers(max(f - 1, 0), f + 2), st.integers(0, n))
    honest = size.flatmap(
        lambda k: st.permutations(nodes(n)).map(lambda rs: [(r, "good") for r in rs[:k]])
    )
    who = st.one_of(st.sampled_from((CLIENT, OUTSIDER)), st.sampled_from(nodes(n)))
    extra = st.lists(st.tuples(who, st.sampled_from(REPORT_HOW)), max_size=3)
    return st.tuples(honest, extra).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))


def reports(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), kind=st.sampled_from((BAD_SIGNATURE, TIMING)), data=st.data())
    def reports_count_distinct_reporters(n: int, kind: str, data: st.DataObject) -> None:
        m = Threat(n, bugs)
        found = data.draw(report_items(n), "reports")
        entries: list[Evidence] = []
        for k, (reporter, how) in enumerate(found):
            if how == "twice" and entries:
                entries.append(entries[-1])  # the same record again
                continue
            record = report(n, kind, reporter, k, "n99" if how == "accuses_none" else "n2")
            if how == "broken":
                record = Evidence(
                    kind, reporter, record.accused, (), k, signature=_broken(record.signature)
                )
            entries.append(record)
        for record in entries:
            m.apply(EvidenceEntry(record))
        counts = m.threat.counts()
        counted = counts.bad_signature if kind == BAD_SIGNATURE else counts.timing
        # a "twice" copies the record before it: eligible exactly when that one was
        eligible = {e.reporter for e in entries if _good(n, e)}
        if counted != len(eligible):
            raise CheckFailed(
                f"{kind} reports at n={n}: {found} counted {counted}, "
                f"distinct eligible reporters {sorted(eligible)}",
                steps=len(found),
            )

    reports_count_distinct_reporters()


def _good(n: int, record: Evidence) -> bool:
    """The oracle's own check of a report: a node's good signature over a record accusing a node."""
    if record.reporter not in nodes(n) or record.accused not in nodes(n):
        return False
    return keys(n).sign_evidence(record).signature == record.signature  # Ed25519: deterministic


# -- the replicated clock ----------------------------------------------------------------------------

CLOCK_HOW: Final = ("good", "good", "good", "broken")


def clock_items(n: int) -> st.SearchStrategy[list[tuple[str, int, str]]]:
    who = st.one_of(st.sampled_from(nodes(n)), st.sampled_from((CLIENT, OUTSIDER)))
    return st.lists(
        st.tuples(who, st.integers(1, 50), st.sampled_from(CLOCK_HOW)), min_size=1, max_size=12
    )


def clock(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), data=st.data())
    def the_clock_is_the_f_plus_1th_node(n: int, data: st.DataObject) -> None:
        m = Threat(n, bugs)
        f = (n - 1) // 3
        found = data.draw(clock_items(n), "clock reports")
        latest: dict[str, int] = {}
        now = 0
        for node, t, how in found:
            entry = ClockEntry(node, t)
            if node != OUTSIDER:
                entry = keys(n).sign_clock(entry)
            if how == "broken":
                entry = ClockEntry(node, t, _broken(entry.signature))
            m.apply(entry)
            if node in nodes(n) and how == "good":
                latest[node] = max(latest.get(node, 0), t)
                ranked = sorted(latest.values(), reverse=True)
                if len(ranked) > f:
                    now = max(now, ranked[f])
            if m.threat.now != now:
                raise CheckFailed(
                    f"the replicated clock at n={n} after {found}: {m.threat.now}, "
                    f"the (f+1)-th of the nodes' latest reports {latest}: {now}",
                    steps=len(found),
                )

    the_clock_is_the_f_plus_1th_node()


# -- self-proving evidence: one proof, counted once --------------------------------------------------

PROOF_HOW: Final = ("other_block", "other_block", "same", "other_signer", "other_view", "broken")


def hs_vote(n: int, voter: str, block: bytes, view: int, epoch: int = 1) -> HsVote:
    ring = keys(n).hotstuff(epoch)
    return HsVote(block, view, voter, ring.signer(voter).sign(vote_bytes(block, view)))


def proofs(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    @hypothesis.settings(settings, max_examples=max(EXAMPLES, settings.max_examples))
    @given(n=st.sampled_from(SIZES), data=st.data())
    def a_proof_is_two_votes_of_the_accused_and_counts_once(n: int, data: st.DataObject) -> None:
        m = Threat(n, bugs)
        accused = "n2"
        hows = data.draw(st.lists(st.sampled_from(PROOF_HOW), min_size=1, max_size=3), "proofs")
        reporters = data.draw(
            st.lists(st.sampled_from(nodes(n)), min_size=len(hows), max_size=len(hows)),
            "reporters",
        )
        flips = data.draw(st.lists(st.booleans(), min_size=len(hows), max_size=len(hows)))
        first = hs_vote(n, accused, b"\1" * 32, 3)
        proven: set[frozenset[Any]] = set()
        for k, (how, reporter, flip) in enumerate(zip(hows, reporters, flips, strict=True)):
            if how == "other_block":
                second = hs_vote(n, accused, bytes([2 + k % 2]) * 32, 3)
            elif how == "same":
                second = first
            elif how == "other_signer":
                second = hs_vote(n, "n3", b"\2" * 32, 3)
            elif how == "other_view":
                second = hs_vote(n, accused, b"\2" * 32, 4)
            else:
                good = hs_vote(n, accused, b"\2" * 32, 3)
                second = HsVote(good.block, good.view, good.voter, _broken(good.signature))
            pair = (second, first) if flip else (first, second)
            record = keys(n).sign_evidence(
                Evidence(EQUIVOCATION, reporter, accused, pair, k, 1, HOTSTUFF_EQUIVOCATION)
            )
            m.apply(EvidenceEntry(record))
            if how == "other_block":
                proven.add(frozenset(pair))
        counted = m.threat.counts().equivocation
        if counted != len(proven):
            raise CheckFailed(
                f"HotStuff equivocation proofs at n={n}: {hows} by {reporters} counted "
                f"{counted}, distinct proofs {len(proven)}",
                steps=len(hows),
            )

    a_proof_is_two_votes_of_the_accused_and_counts_once()


PROPERTIES: Final = (("reports", reports), ("clock", clock), ("proofs", proofs))


def certificates(bugs: frozenset[str], settings: hypothesis.settings) -> None:
    """The Check: every property with `bugs` switched on; CheckFailed on the first that fails."""
    for _, prop in PROPERTIES:
        prop(bugs, settings)

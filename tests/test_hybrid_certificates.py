"""The hybrid layer's certificates: bad-signature and timing reports counted by distinct reporter,
the replicated clock as the (f+1)-th of distinct nodes' latest reports, a self-proving proof
counted once whoever reports it (property_tests/hybrid/certificates.py has the properties and
their oracles; docs/certificates.md the rules).

Each property runs here with no bug switched on, and the reports' against the catalogue mutant
that counts records rather than reporters (impl/hybrid/mutants.py
`reports_counted_not_reporters`), which it must kill (lockstep against ThreatLevel.tla kills it
first in `meshcheck mutants hybrid`: traces/hybrid/reports_counted_not_reporters.itf.json).
"""

from __future__ import annotations

import pytest

from meshcheck.impl.hybrid import mutants
from meshcheck.impl.hybrid.entries import ClockEntry
from meshcheck.impl.hybrid.levels import BAD_SIGNATURE
from meshcheck.impl.hybrid.levels import Level
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.hybrid import certificates
from meshcheck.property_tests.hybrid.certificates import PROPERTIES
from meshcheck.property_tests.hybrid.certificates import Threat
from meshcheck.property_tests.hybrid.certificates import keys
from meshcheck.property_tests.hybrid.certificates import report
from tests.certificate_checks import SETTINGS
from tests.certificate_checks import Property


@pytest.mark.parametrize("prop", [p for _, p in PROPERTIES], ids=[n for n, _ in PROPERTIES])
def test_each_quorum_and_proof_counts_distinct_eligible_signers(prop: Property) -> None:
    prop(frozenset(), SETTINGS)  # 200 examples each (certificates.EXAMPLES)


def test_counting_reports_not_reporters_is_caught() -> None:
    """One node reporting twice reaches sig_high = f+1 = 2 at n = 4 with the mutant: High, a
    switch to BFT on one (maybe Byzantine) node's word."""
    bug = frozenset({mutants.REPORTS_COUNTED_NOT_REPORTERS})
    with pytest.raises(CheckFailed) as failed:
        certificates.reports(bug, SETTINGS)
    assert failed.value.steps == 2
    for bugs, level in ((frozenset(), Level.LOW), (bug, Level.HIGH)):
        m = Threat(4, bugs)
        m.apply(_entry(report(4, BAD_SIGNATURE, "n3", 1)))
        m.apply(_entry(report(4, BAD_SIGNATURE, "n3", 2)))
        assert m.threat.level == level


def test_a_clock_report_of_no_node_moves_nothing() -> None:
    """A client's key signs a clock reading (it holds a key of the same ring, for its
    operations): not a node's, not counted, however many."""
    m = Threat(4, frozenset())
    for t in (10, 20, 30):
        m.apply(keys(4).sign_clock(ClockEntry("c1", t)))
    m.apply(keys(4).sign_clock(ClockEntry("n1", 40)))
    assert m.threat.now == 0 and set(m.threat.clocks) == {"n1"}
    m.apply(keys(4).sign_clock(ClockEntry("n2", 25)))
    assert m.threat.now == 25


def _entry(record: certificates.Evidence) -> certificates.EvidenceEntry:
    return certificates.EvidenceEntry(record)

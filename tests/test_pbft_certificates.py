"""PBFT's certificates: every check that accepts a set of signed messages as a quorum counts each
eligible signer once, and nothing else (property_tests/pbft/certificates.py has the properties
and their oracles; docs/certificates.md the rules).

Each property runs here with no bug switched on, and against the catalogue mutant that miscounts
(impl/pbft/mutants.py `prepared_counts_primary`), which it must kill: the same `Check` that
`meshcheck mutants pbft` runs (property_tests/pbft/checks.py, "certificates").
"""

from __future__ import annotations

import attrs
import hypothesis
import pytest
from hypothesis import Phase

from meshcheck.impl.pbft import PreparedProof
from meshcheck.impl.pbft import mutants
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import PrePrepare
from meshcheck.impl.pbft.messages import Request
from meshcheck.impl.pbft.messages import batch_digest
from meshcheck.impl.pbft.viewchange import check_prepared
from meshcheck.property_tests.failure import CheckFailed
from meshcheck.property_tests.pbft import certificates
from meshcheck.property_tests.pbft.certificates import PROPERTIES
from meshcheck.property_tests.pbft.certificates import keys
from meshcheck.property_tests.pbft.certificates import replicas
from meshcheck.property_tests.pbft.certificates import sign
from meshcheck.property_tests.pbft.certificates import verifier
from tests.certificate_checks import SETTINGS
from tests.certificate_checks import Property


@pytest.mark.parametrize("prop", [p for _, p in PROPERTIES], ids=[n for n, _ in PROPERTIES])
def test_each_certificate_counts_distinct_eligible_signers(prop: Property) -> None:
    prop(frozenset(), SETTINGS)  # 300 examples each (certificates.EXAMPLES)


def test_counting_the_primarys_prepare_is_caught() -> None:
    """The mutant counts the primary's prepare among the 2f: the Byzantine primary and one
    backup make a certificate at n = 4, alone or carried in a view change. Both properties fail
    (not shrunk here: seconds saved); the smallest counterexample is those two prepares."""
    bug = frozenset({mutants.PREPARED_COUNTS_PRIMARY})
    unshrunk = hypothesis.settings(SETTINGS, phases=[Phase.explicit, Phase.generate])
    with pytest.raises(CheckFailed, match=r"a prepared certificate .* taken"):
        certificates.prepared(bug, unshrunk)
    with pytest.raises(CheckFailed, match=r"a view change's prepared certificate .* taken"):
        certificates.prepared_in_a_view_change(bug, unshrunk)
    two = [("r1", "matching"), ("r2", "matching")]  # r1 is view 0's primary
    for carried in (False, True):
        assert certificates.prepared_verdict(4, 0, two, bug, carried=carried) == (True, False)
        assert certificates.prepared_verdict(4, 0, two, frozenset(), carried=carried) == (
            False,
            False,
        )


def test_a_clients_vote_is_no_replicas_vote() -> None:
    """Found by the certificate property (2026-11-25): a prepare signed by a client (whose key
    the replicas know, for its requests) counted as a backup's, so one backup and one Byzantine
    client made a prepared certificate at n = 4; a client's checkpoints and view changes counted
    the same way."""
    ring = keys(4)
    config = PbftConfig("r1", replicas(4), clients=("c1", "c2"))
    request = sign(ring, "c1", Request("c1", 1, "a"))
    pp = sign(ring, "r1", PrePrepare(0, 1, batch_digest((request,)), "r1", (request,)))
    honest = sign(ring, "r2", Prepare(0, 1, pp.body.digest, "r2"))
    client = sign(ring, "c2", Prepare(0, 1, pp.body.digest, "c2"))
    assert check_prepared(PreparedProof(pp, (honest, client)), config, verifier(ring)) is not None
    third = sign(ring, "r3", Prepare(0, 1, pp.body.digest, "r3"))
    assert check_prepared(PreparedProof(pp, (honest, third)), config, verifier(ring)) is None
    assert attrs.evolve(honest.body, src="c2") == client.body
